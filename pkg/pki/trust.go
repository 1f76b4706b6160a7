package pki

import (
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

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

// ChainOptions say what the leaf must be fit for.
type ChainOptions struct {
	// KeyUsageAnyOf: the leaf's key usage, when it has the extension, must hold at
	// least one of these bits (signatures: DigitalSignature|ContentCommitment). Zero
	// checks nothing.
	KeyUsageAnyOf x509.KeyUsage
	// ExtKeyUsages: every certificate of the chain must allow one of these (nested, as
	// crypto/x509 checks them). Empty means any.
	ExtKeyUsages []x509.ExtKeyUsage
	// TimeStamping additionally requires the leaf to be a TSA certificate
	// (CheckTSACertificate: timeStamping EKU only, critical).
	TimeStamping bool
}

// ChainError says why no chain was built, and about which certificate.
type ChainError struct {
	Kind error // ErrNoChain, ErrExpired, ErrNotYetValid or ErrKeyUsage
	// Cert is the certificate at fault, when one is.
	Cert *x509.Certificate
	Err  error
}

func (e *ChainError) Error() string {
	msg := "pki: chain: " + e.Kind.Error()
	if e.Cert != nil {
		msg += fmt.Sprintf(" (%q)", e.Cert.Subject.String())
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *ChainError) Unwrap() []error {
	if e.Err == nil {
		return []error{e.Kind}
	}
	return []error{e.Kind, e.Err}
}

// SignatureKeyUsage is the key usage a document signature needs (ETSI EN 319 412-2:
// nonRepudiation or digitalSignature).
const SignatureKeyUsage = x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment

// BuildChain builds every chain from leaf to an anchor of s, valid at time at, using
// intermediates (typically what a document carries) only as intermediates: a
// self-signed certificate among them is never a root. Chains run leaf first, anchor
// last. The error is a *ChainError whose Kind is ErrNoChain, ErrExpired,
// ErrNotYetValid or ErrKeyUsage.
func (s *TrustStore) BuildChain(leaf *x509.Certificate, intermediates []*x509.Certificate, at time.Time, opts ChainOptions) ([][]*x509.Certificate, error) {
	if leaf == nil {
		return nil, &ChainError{Kind: ErrNoChain, Err: errors.New("no certificate")}
	}
	if opts.KeyUsageAnyOf != 0 && leaf.KeyUsage != 0 && leaf.KeyUsage&opts.KeyUsageAnyOf == 0 {
		return nil, &ChainError{Kind: ErrKeyUsage, Cert: leaf, Err: fmt.Errorf("key usage %#x has none of %#x", leaf.KeyUsage, opts.KeyUsageAnyOf)}
	}
	if opts.TimeStamping {
		if err := CheckTSACertificate(leaf); err != nil {
			return nil, &ChainError{Kind: ErrKeyUsage, Cert: leaf, Err: err}
		}
	}
	if at.IsZero() {
		// crypto/x509 reads a zero time as "now"; validation time is always injected.
		return nil, &ChainError{Kind: ErrNoChain, Err: errors.New("no validation time given")}
	}
	pool := x509.NewCertPool()
	for _, c := range intermediates {
		pool.AddCert(c)
	}
	ekus := opts.ExtKeyUsages
	if len(ekus) == 0 {
		ekus = []x509.ExtKeyUsage{x509.ExtKeyUsageAny}
	}
	chains, err := leaf.Verify(x509.VerifyOptions{Roots: s.pool, Intermediates: pool, CurrentTime: at, KeyUsages: ekus})
	if err == nil {
		return chains, nil
	}
	return nil, classify(err, leaf, at)
}

// classify turns a crypto/x509 failure into a ChainError. crypto/x509 reports a
// certificate out of its validity only when no other chain exists, and says "expired"
// for both ends of the validity, so the time is compared again to tell them apart.
func classify(err error, leaf *x509.Certificate, at time.Time) error {
	var inv x509.CertificateInvalidError
	if errors.As(err, &inv) {
		switch inv.Reason {
		case x509.Expired:
			kind := ErrExpired
			if at.Before(inv.Cert.NotBefore) {
				kind = ErrNotYetValid
			}
			return &ChainError{Kind: kind, Cert: inv.Cert, Err: err}
		case x509.IncompatibleUsage:
			return &ChainError{Kind: ErrKeyUsage, Cert: inv.Cert, Err: err}
		}
		return &ChainError{Kind: ErrNoChain, Cert: inv.Cert, Err: err}
	}
	return &ChainError{Kind: ErrNoChain, Cert: leaf, Err: err}
}
