// Package pades signs PDF documents as PAdES baseline signatures (ETSI EN 319 142-1):
// B-B, B-T, B-LT and B-LTA, approval and certification signatures, into an existing
// empty field or a new one, invisible or with a Decree 30/2020 appearance.
//
// Every signature is one pipeline: Prepare builds the incremental update with a
// placeholder and computes the digest the key must sign; the key signs (in process, on
// the desktop agent, on a phone); Complete embeds the CMS, the timestamp and the
// validation data. Sign runs the pipeline in one call. The original bytes are a
// byte-for-byte prefix of the output, they are read once, and never held in memory:
// the hash state after them is kept, so later revisions (DSS, document timestamp) hash
// only what they add.
//
// The package depends on crypto.Signer, signer/pdf, signer/cms and the standard
// library; never on HTTP, gorm or PKCS#11.
package pades

import (
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/kyso-vn/kyso/signer/cms"
)

// Level is a PAdES baseline level.
type Level int

// The PAdES baseline levels.
const (
	LevelBB Level = iota + 1
	LevelBT
	LevelBLT
	LevelBLTA
)

func (l Level) String() string {
	switch l {
	case LevelBB:
		return "B-B"
	case LevelBT:
		return "B-T"
	case LevelBLT:
		return "B-LT"
	case LevelBLTA:
		return "B-LTA"
	}
	return fmt.Sprintf("Level(%d)", int(l))
}

// ParseLevel reads "B-B", "B-T", "B-LT" or "B-LTA".
func ParseLevel(s string) (Level, error) {
	for _, l := range []Level{LevelBB, LevelBT, LevelBLT, LevelBLTA} {
		if l.String() == s {
			return l, nil
		}
	}
	return 0, fmt.Errorf("pades: unknown level %q (want B-B, B-T, B-LT or B-LTA)", s)
}

// Certify is the DocMDP permission of a certification signature; CertifyNone makes an
// approval signature.
type Certify int

// DocMDP permissions (ISO 32000-1, 12.8.2.2).
const (
	CertifyNone        Certify = 0
	CertifyNoChanges   Certify = 1
	CertifyFormFilling Certify = 2
	CertifyAnnotations Certify = 3
)

// ParseCertify reads "no-changes", "form-filling" or "annotations" ("" is none).
func ParseCertify(s string) (Certify, error) {
	switch s {
	case "", "none":
		return CertifyNone, nil
	case "no-changes":
		return CertifyNoChanges, nil
	case "form-filling":
		return CertifyFormFilling, nil
	case "annotations":
		return CertifyAnnotations, nil
	}
	return 0, fmt.Errorf("pades: unknown certification mode %q (want no-changes, form-filling or annotations)", s)
}

// ValidationSource gathers the revocation data of a certificate chain (leaf first) for
// the DSS of B-LT: DER OCSP responses and CRLs.
type ValidationSource interface {
	ValidationData(ctx context.Context, chain []*x509.Certificate) (ocsps, crls [][]byte, err error)
}

// Options describe one signature.
type Options struct {
	Level Level // default B-B
	// Hash is the digest algorithm: SHA-256 (default), SHA-384 or SHA-512.
	Hash crypto.Hash
	// PSS signs with RSA-PSS instead of PKCS#1 v1.5 (RSA keys only).
	PSS         bool
	Certificate *x509.Certificate
	// Chain is the issuer certificates, nearest first; embedded in the CMS.
	Chain []*x509.Certificate
	// Field names an existing empty signature field to sign into; when no such field
	// exists a new one of that name is made. Empty: a new field "SignatureN".
	Field   string
	Certify Certify
	// Reason, Location, ContactInfo and Name go into the signature dictionary.
	Reason, Location, ContactInfo, Name string
	// Time is the claimed signing time written as /M (default: now).
	Time time.Time
	// Appearance makes the signature visible; nil is invisible.
	Appearance *Appearance
	// LockFields locks these form fields once the signature is made (a FieldMDP
	// /Lock on its field and the FieldMDP transform in its /Reference, ISO 32000-1
	// 12.7.4.5, 12.8.2.4): the issuing signature locks the number and the date it
	// filled, so a later revision that changes them is not allowed form filling.
	LockFields []string
	// Blanks are empty, read-only text fields made in the signature's revision where
	// the page leaves the number and date blank (the leader's approval), for the
	// issuing revision to fill; see Blank.
	Blanks []Blank
	// Metadata, when set, is written in the signature's own revision (the clerk's
	// number, date and identifier codes).
	Metadata *Metadata
	// Timestamper is required from B-T up; it also stamps the document at B-LTA.
	Timestamper cms.Timestamper
	// Validation is required from B-LT up.
	Validation ValidationSource
	// TimestampReserve is the room kept for the signature timestamp token (default
	// 16 KiB). A token larger than this fails the signature instead of re-signing.
	TimestampReserve int

	// estimate is the CMS size bound kept by Precompute; shared by copies, never
	// changed after it is made.
	estimate *cmsEstimate
}

// cmsEstimate is cms.EstimateSize's answer for one signer.
type cmsEstimate struct {
	cert  *x509.Certificate
	chain []*x509.Certificate
	hash  crypto.Hash
	pss   bool
	size  int
}

// Precompute does once what every Prepare with these options would otherwise
// repeat: the bound of the CMS size, which builds a whole CMS around the certificates.
// A batch that signs many documents with one key calls it first. A later change of
// the certificate, chain, digest or PSS is noticed: Prepare then estimates afresh.
func (o *Options) Precompute() error {
	c := *o
	if err := c.normalize(); err != nil {
		return err
	}
	n, err := cms.EstimateSize(c.cmsSpec(), nil, 0)
	if err != nil {
		return err
	}
	o.estimate = &cmsEstimate{cert: c.Certificate, chain: slices.Clone(c.Chain), hash: c.Hash, pss: c.PSS, size: n}
	return nil
}

// Errors a caller branches on.
var (
	// ErrNotAllowed: the document's permissions forbid this signature (DocMDP P=1, a
	// FieldMDP lock, a certification on an already signed document).
	ErrNotAllowed = errors.New("pades: signature not allowed by the document's permissions")
	// ErrField: the named field cannot be signed (already signed, not a signature field).
	ErrField = errors.New("pades: signature field")
	// ErrTooLarge: the CMS does not fit the reserved space. The signer is never asked
	// again: this fails the signature.
	ErrTooLarge = errors.New("pades: signature larger than the reserved space")
	// ErrOptions: the options are inconsistent.
	ErrOptions = errors.New("pades: invalid options")
)

func (o *Options) normalize() error {
	if o.Level == 0 {
		o.Level = LevelBB
	}
	if o.Hash == 0 {
		o.Hash = crypto.SHA256
	}
	switch o.Hash {
	case crypto.SHA256, crypto.SHA384, crypto.SHA512:
	default:
		return fmt.Errorf("%w: digest %v not allowed (SHA-256, SHA-384, SHA-512)", ErrOptions, o.Hash)
	}
	if o.Certificate == nil {
		return fmt.Errorf("%w: no signing certificate", ErrOptions)
	}
	if o.Level >= LevelBT && o.Timestamper == nil {
		return fmt.Errorf("%w: level %v needs a timestamp authority", ErrOptions, o.Level)
	}
	if o.Level >= LevelBLT && o.Validation == nil {
		return fmt.Errorf("%w: level %v needs a revocation data source", ErrOptions, o.Level)
	}
	if o.Time.IsZero() {
		o.Time = time.Now()
	}
	if o.TimestampReserve == 0 {
		o.TimestampReserve = 16 << 10
	}
	if o.Certify < CertifyNone || o.Certify > CertifyAnnotations {
		return fmt.Errorf("%w: certification mode %d", ErrOptions, o.Certify)
	}
	if a := o.Appearance; a != nil {
		for _, v := range a.Rect {
			if !usableCoord(v) {
				return fmt.Errorf("%w: the appearance rectangle %v is not a place on a page", ErrOptions, a.Rect)
			}
		}
		if math.IsNaN(a.FontSize) || a.FontSize < 0 || a.FontSize > 1000 {
			return fmt.Errorf("%w: font size %v", ErrOptions, a.FontSize)
		}
	}
	return nil
}

// contentsReserve is an honest upper bound of the CMS size in bytes: the exact bound
// of the signature cms.EstimateSize builds (certificates, signed attributes, the
// largest signature the key can make), and the timestamp allowance.
func (o *Options) contentsReserve() (int, error) {
	var n int
	if e := o.estimate; e != nil && e.cert == o.Certificate && slices.Equal(e.chain, o.Chain) && e.hash == o.Hash && e.pss == o.PSS {
		n = e.size
	} else {
		var err error
		if n, err = cms.EstimateSize(o.cmsSpec(), nil, 0); err != nil {
			return 0, err
		}
	}
	if o.Level >= LevelBT {
		n += o.TimestampReserve
	}
	return n, nil
}

func (o *Options) cmsSpec() cms.SignerInfoSpec {
	return cms.SignerInfoSpec{Certificate: o.Certificate, Chain: o.Chain, Hash: o.Hash, PSS: o.PSS, Profile: cms.ProfilePAdES}
}
