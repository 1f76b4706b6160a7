package pki

import (
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/kyso-vn/kyso/internal/certfile"
)

// TrustStore holds the trust anchors chains are built to: the national root and the
// government CA's roots, as configuration. Nothing else is ever a root: certificates a
// document carries serve only as intermediates. Safe for concurrent use.
type TrustStore struct {
	anchors []*x509.Certificate
	pool    *x509.CertPool
}

// NewTrustStore makes a trust store of the given anchors.
func NewTrustStore(anchors ...*x509.Certificate) *TrustStore {
	s := &TrustStore{pool: x509.NewCertPool()}
	for _, a := range anchors {
		if slices.ContainsFunc(s.anchors, a.Equal) {
			continue
		}
		s.anchors = append(s.anchors, a)
		s.pool.AddCert(a)
	}
	return s
}

// ErrNoAnchors: LoadTrustStore found no certificate at all, because every path given is
// a directory without certificate files. A caller for whom an empty directory is a
// deployment not filled yet, rather than a typo, branches on it with errors.Is.
var ErrNoAnchors = errors.New("no certificate")

// LoadTrustStore reads anchors from files (PEM with one or more certificates, or one
// DER certificate) and directories (every *.pem, *.crt, *.cer and *.der file in them,
// links followed, not recursively). A file that holds no certificate is an error, so a
// wrong path is not silently an empty trust store; so is finding no certificate at all
// (ErrNoAnchors).
func LoadTrustStore(paths ...string) (*TrustStore, error) {
	var anchors []*x509.Certificate
	for _, p := range paths {
		info, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("pki: trust store: %w", err)
		}
		files := []string{p}
		if info.IsDir() {
			entries, err := os.ReadDir(p)
			if err != nil {
				return nil, fmt.Errorf("pki: trust store: %w", err)
			}
			files = files[:0]
			for _, e := range entries {
				switch strings.ToLower(filepath.Ext(e.Name())) {
				case ".pem", ".crt", ".cer", ".der":
					// Stat follows links: Kubernetes mounts a ConfigMap as links into
					// ..data, and an OS certificate directory is mostly links. A link
					// leading nowhere is an error, like a missing file.
					f := filepath.Join(p, e.Name())
					info, err := os.Stat(f)
					if err != nil {
						return nil, fmt.Errorf("pki: trust store: %w", err)
					}
					if info.Mode().IsRegular() {
						files = append(files, f)
					}
				}
			}
		}
		for _, f := range files {
			certs, err := ReadCertificatesFile(f)
			if err != nil {
				return nil, err
			}
			anchors = append(anchors, certs...)
		}
	}
	if len(anchors) == 0 {
		return nil, fmt.Errorf("pki: trust store: %w in %s", ErrNoAnchors, strings.Join(paths, ", "))
	}
	return NewTrustStore(anchors...), nil
}

// ReadCertificatesFile reads every certificate of a PEM file, or the one certificate of
// a DER file.
func ReadCertificatesFile(path string) ([]*x509.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("pki: %w", err)
	}
	certs, err := ParseCertificates(data)
	if err != nil {
		return nil, fmt.Errorf("pki: %s: %w", path, err)
	}
	return certs, nil
}

// ParseCertificates reads every CERTIFICATE block of PEM data, or one DER certificate.
func ParseCertificates(data []byte) ([]*x509.Certificate, error) {
	certs, err := certfile.Parse(data)
	if err != nil {
		return nil, err
	}
	if len(certs) == 0 {
		return nil, errors.New("no CERTIFICATE in PEM data")
	}
	return certs, nil
}

// Anchors returns the trust anchors.
func (s *TrustStore) Anchors() []*x509.Certificate { return slices.Clone(s.anchors) }

// IsAnchor reports whether c is one of the anchors.
func (s *TrustStore) IsAnchor(c *x509.Certificate) bool {
	return slices.ContainsFunc(s.anchors, c.Equal)
}
