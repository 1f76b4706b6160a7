// Package vntrust is Kyso's built-in Vietnamese trust list: the roots of Vietnam's
// public PKIs that two or more independent public sources hold identically, as default
// trust anchors, and the licensed CAs' intermediates and timestamping certificates as
// material for building chains only (never anchors).
//
// The three PKIs: NEAC's public roots (MIC National Root CA 2008, Vietnam National Root
// CA 2014, G3 2024 and the 2025–2026 RS / USBTOKEN / MOBILEPKI / TSA / EMA roots) with
// the licensed public CAs under them, and Ban Cơ yếu Chính phủ's government-specialised
// PKI (G1 2010–2030 and G2 2018–2048). The certificates were collected from public
// source repositories (../shared/research/vn-trust/TRUST.md); every one's SHA-256
// fingerprint is written in table.go and checked against the embedded file whenever the
// list is loaded, so a changed file fails loudly instead of becoming trusted. Whoever
// deploys Kyso must compare the anchors' fingerprints (`kyso trust list`) with those
// NEAC (rootca.gov.vn) and Ban Cơ yếu Chính phủ (ca.gov.vn) publish.
package vntrust

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"embed"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/kyso-vn/kyso/internal/certfile"
	"github.com/kyso-vn/kyso/pkg/fault"
)

//go:embed certs/*.pem
var certsFS embed.FS

// Role is what a certificate of the list is for.
type Role string

// The roles. Only Anchor certificates are ever trust anchors.
const (
	// Anchor: a root confirmed by two or more independent sources; trusted by default.
	Anchor Role = "anchor"
	// Intermediate: a CA under an anchor, used only to build chains (a document that
	// does not carry it still finds its chain); its own signature is checked.
	Intermediate Role = "intermediate"
	// TSA: a timestamping certificate, used only to build chains.
	TSA Role = "tsa"
)

type entrySpec struct {
	Role       Role
	Name       string
	PKI        string
	SHA256     string
	Sources    int
	File       string
	Provenance []string
}

// Entry is one certificate of the list.
type Entry struct {
	// Name is the certificate's common name.
	Name string
	// PKI names the PKI the certificate belongs to, by its root ("Ban Cơ yếu Chính phủ
	// – G2", "NEAC – Vietnam National Root CA").
	PKI  string
	Role Role
	// SHA256 is the fingerprint of the DER certificate, lower-case hex.
	SHA256 string
	// Sources is how many independent public repositories hold the identical
	// certificate; Provenance names up to three of them (repository:path@commit).
	Sources    int
	Provenance []string
	// File is the embedded file's name.
	File        string
	Certificate *x509.Certificate
}

var (
	loadOnce sync.Once
	loaded   []Entry
	loadErr  error
)

// Entries returns the whole list, anchors first, in the table's order. The error says
// which embedded file does not match its recorded fingerprint (a broken build).
func Entries() ([]Entry, error) {
	loadOnce.Do(func() { loaded, loadErr = load() })
	if loadErr != nil {
		return nil, loadErr
	}
	return slices.Clone(loaded), nil
}

func load() ([]Entry, error) {
	var out []Entry
	for _, s := range table {
		data, err := certsFS.ReadFile("certs/" + s.File)
		if err != nil {
			return nil, fault.Wrap(fault.Internal, err, "the built-in trust list lacks "+s.File)
		}
		certs, err := certfile.Parse(data)
		if err != nil || len(certs) != 1 {
			return nil, fault.Errorf(fault.Internal, "the built-in trust list's %s is not one certificate", s.File)
		}
		sum := sha256.Sum256(certs[0].Raw)
		if got := hex.EncodeToString(sum[:]); got != s.SHA256 {
			return nil, fault.Errorf(fault.Internal, "the built-in trust list's %s has SHA-256 %s, the table says %s", s.File, got, s.SHA256)
		}
		if s.Role == Anchor && !bytes.Equal(certs[0].RawIssuer, certs[0].RawSubject) {
			return nil, fault.Errorf(fault.Internal, "the built-in trust list's anchor %s is not a root", s.File)
		}
		out = append(out, Entry{Name: s.Name, PKI: s.PKI, Role: s.Role, SHA256: s.SHA256, Sources: s.Sources,
			Provenance: s.Provenance, File: s.File, Certificate: certs[0]})
	}
	slices.SortStableFunc(out, func(a, b Entry) int {
		return boolInt(b.Role == Anchor) - boolInt(a.Role == Anchor)
	})
	return out, nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Anchors are the default trust anchors: the roots two or more sources confirm.
func Anchors() ([]*x509.Certificate, error) {
	return certsOf(func(e Entry) bool { return e.Role == Anchor })
}

// Intermediates are the certificates the list holds for building chains only.
func Intermediates() ([]*x509.Certificate, error) {
	return certsOf(func(e Entry) bool { return e.Role != Anchor })
}

func certsOf(keep func(Entry) bool) ([]*x509.Certificate, error) {
	es, err := Entries()
	if err != nil {
		return nil, err
	}
	var out []*x509.Certificate
	for _, e := range es {
		if keep(e) {
			out = append(out, e.Certificate)
		}
	}
	return out, nil
}

// Lookup finds the entry of the certificate c (by its fingerprint), if the list has it.
func Lookup(c *x509.Certificate) (Entry, bool) {
	if c == nil {
		return Entry{}, false
	}
	sum := sha256.Sum256(c.Raw)
	return Find(hex.EncodeToString(sum[:]))
}

// Find finds an entry by its SHA-256 fingerprint (hex, any case, colons allowed), or by
// a unique prefix of at least 8 hex digits.
func Find(fingerprint string) (Entry, bool) {
	fp := strings.ToLower(strings.ReplaceAll(strings.TrimSpace(fingerprint), ":", ""))
	es, err := Entries()
	if err != nil || len(fp) < 8 {
		return Entry{}, false
	}
	var hit []Entry
	for _, e := range es {
		if strings.HasPrefix(e.SHA256, fp) {
			hit = append(hit, e)
		}
	}
	if len(hit) != 1 {
		return Entry{}, false
	}
	return hit[0], true
}

// PKIName names the PKI whose root is anchor: the list's name for a built-in root, else
// the anchor's common name (a root the deployer configured).
func PKIName(anchor *x509.Certificate) string {
	if anchor == nil {
		return ""
	}
	if e, ok := Lookup(anchor); ok {
		return e.PKI
	}
	if anchor.Subject.CommonName != "" {
		return anchor.Subject.CommonName
	}
	return fmt.Sprint(anchor.Subject)
}
