// Package app holds Kyso's use-cases: sign a document with a server-side key,
// prepare a signature for a key outside the server and complete it later, verify,
// issue an approved document (number, identifier codes and the organisation's
// signature with the seal, Decree 30/2020) and receive an incoming one. It ties the
// signing engines (signer/), the key providers (hsm/) and the document store
// (pkg/store) together; HTTP and the CLI stand above it and call only these methods.
// *Service implements every interface the API declares, in the types of this package
// and pkg/wire (access.go: principals, clients, grants; records.go: what the store
// shows; front.go: the use-cases as a client asks for them), so nothing adapts between
// them. Refusals are pkg/fault errors made where they happen.
//
// It must never import api/ or cmd/.
package app

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/kyso-vn/kyso/hsm"
	"github.com/kyso-vn/kyso/pkg/config"
	"github.com/kyso-vn/kyso/pkg/docid"
	"github.com/kyso-vn/kyso/pkg/fault"
	"github.com/kyso-vn/kyso/pkg/pki"
	"github.com/kyso-vn/kyso/pkg/store"
	"github.com/kyso-vn/kyso/signer/cms"
	"github.com/kyso-vn/kyso/signer/pades"
	"github.com/kyso-vn/kyso/signer/pdf"
	"github.com/kyso-vn/kyso/signer/verify"
)

// Refusals are *fault.Error values made where they happen, with a detail for people;
// the surfaces render them from their kind (and Code) alone. These names are the fault
// kinds, kept for callers that ask errors.Is(err, app.ErrNotFound).
var (
	ErrNotFound    = fault.NotFound
	ErrExpired     = fault.Expired
	ErrConflict    = fault.Conflict
	ErrInvalid     = fault.Invalid
	ErrBadDocument = fault.BadDocument
)

// Codes refine a fault kind for clients that branch on them (the API's problem types).
const (
	// CodeKeyUnavailable: a server key, its HSM or token, or a remote signing
	// provider failed (kind Unavailable).
	CodeKeyUnavailable = "key-unavailable"
	// CodeKeyNotGranted: the caller may not sign with the key, or it does not exist
	// (kind Forbidden; the two are not told apart).
	CodeKeyNotGranted = "key-not-granted"
	// CodeNotVerified: the leader's signature does not verify, so the document is not
	// issued (kind BadDocument, Decree 30/2020, Art. 32).
	CodeNotVerified = "not-verified"
)

// ServerKey is a signing key the server holds (HSM, organisation token, demo key),
// with the name clients use and the principals that may use it.
type ServerKey struct {
	Name string
	Key  hsm.Key
	// StoreID is the key's row in the store, whose grants list who may use it.
	StoreID int64
	URI     string // without any PIN
	// Owner is who the key belongs to; Allowed the grants written in the
	// configuration (client ids, "role:<role>"), next to those in the store.
	Owner   string
	Allowed []string
	// Demo marks a software key from the test PKI, so every listing says so.
	Demo bool
}

// Service is Kyso's use-cases over one store and one set of keys.
type Service struct {
	Store       *store.Store
	Keys        map[string]*ServerKey
	Timestamper cms.Timestamper        // nil: no B-T and above
	Validation  pades.ValidationSource // nil: no B-LT and above
	Verify      verify.Options
	Now         func() time.Time
	// PendingTTL is how long a prepared signature waits for completion (default 30 min).
	PendingTTL time.Duration
	// TempDir holds documents while they are signed (default os.TempDir()).
	TempDir string
	// Remote is remote signing (SIM PKI, CSC); nil when none is configured.
	Remote *Remote
	// CompletingGrace is how long a completion may take (timestamp, revocation data,
	// storing) before a pending signature still "completing" is taken for the
	// leftover of a crash and completed again (default 5 min). The version and the
	// pending signature's end are written in one transaction, so this never makes a
	// second version.
	CompletingGrace time.Duration
	// PublicRegisters are the agencies whose issued documents anyone may look up
	// (public.registers; see PublicDocument).
	PublicRegisters []string
	// RegisterSeries chooses the register series of each document stored (registers:;
	// nil: config.DefaultRegisters, the main series only).
	RegisterSeries *config.Registers
	// PublicBaseURL is where the public reaches this server (public.base_url, e.g.
	// "https://vanban.ninhthuan.gov.vn"). With it, issuing a document of a public
	// register draws a QR code on its first page that links to the document's lookup
	// page, PublicBaseURL + "/tra-cuu/" + identifier. Empty: no QR code.
	PublicBaseURL string
}

// seriesFor is the register series of a document of direction, type and
// confidentiality, or the override, checked (config.Registers.SeriesFor).
func (s *Service) seriesFor(dir store.Direction, docType string, conf store.Confidentiality, override string) (string, error) {
	r := config.DefaultRegisters()
	if s.RegisterSeries != nil {
		r = *s.RegisterSeries
	}
	return r.SeriesFor(string(dir), docType, string(conf), override)
}

// cutOff reports whether a pending signature still "completing" has been so for longer
// than CompletingGrace (default 5 min): its completion was cut off by a crash and
// wrote no version, so it may be completed again.
func (s *Service) cutOff(ps store.PendingSignature) bool {
	grace := s.CompletingGrace
	if grace <= 0 {
		grace = 5 * time.Minute
	}
	return ps.Status == statusCompleting && s.now().Sub(ps.UpdatedAt) > grace
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// SignOptions are what a caller may choose of a signature: the one statement of
// them, onto which both `kyso sign`'s flags and the API's JSON are mapped. The rules
// (defaults, what a level needs, the visible signature) are padesOptions' and
// cadesSpec's.
type SignOptions struct {
	Level pades.Level
	// Hash is the digest: SHA-256 (the default), SHA-384 or SHA-512 (ParseHash).
	Hash crypto.Hash
	// PSS signs with RSA-PSS instead of PKCS#1 v1.5 (RSA keys).
	PSS        bool
	Reason     string
	Location   string
	Contact    string
	Name       string // the signer's name in the signature dictionary
	Field      string
	Certify    pades.Certify
	Appearance *pades.Appearance
	Metadata   *pades.Metadata
	// VisiblePage, when Appearance is nil, draws a visible signature on that page at
	// VisibleRect (zero: the top right corner): the handwritten signature VisibleImage
	// (PNG) and the seal VisibleSeal laid over it, with the text VisibleLines; with
	// neither image nor lines, the text block of Decree 30/2020 (TextBlock: the
	// signing organisation and the signing time in Vietnam's zone).
	VisiblePage  int
	VisibleRect  [4]float64
	VisibleImage []byte
	VisibleSeal  []byte
	VisibleLines []string
	// Blanks, for an approval, are the places where issuing will write the number
	// and the date, given when the draft's first page has no blanks Kyso finds
	// itself (the last resort: pades.BlanksAt); none given, Kyso looks for them.
	Blanks []pades.Blank
}

// CheckSignOptions tells whether o can be signed with this service's timestamp
// authority and revocation sources, before any key or document is at hand.
func (s *Service) CheckSignOptions(o SignOptions) error {
	if o.Level >= pades.LevelBT && s.Timestamper == nil {
		return fault.Errorf(fault.Invalid, "level %v needs a timestamp authority, and none is configured", o.Level)
	}
	if o.Level >= pades.LevelBLT && s.Validation == nil {
		return fault.Errorf(fault.Invalid, "level %v needs revocation data, and no source of it is configured", o.Level)
	}
	return nil
}

func (s *Service) padesOptions(o SignOptions, cert *x509.Certificate, chain []*x509.Certificate) (pades.Options, error) {
	po := pades.Options{
		Level: o.Level, Hash: o.Hash, PSS: o.PSS, Certificate: cert, Chain: chain, Reason: o.Reason, Location: o.Location,
		ContactInfo: o.Contact, Name: o.Name, Field: o.Field, Certify: o.Certify, Appearance: o.Appearance,
		Metadata: o.Metadata, Time: s.now(), Timestamper: s.Timestamper, Validation: s.Validation, Blanks: o.Blanks,
	}
	if po.Level == 0 {
		po.Level = pades.LevelBB
	}
	if po.Appearance == nil && o.VisiblePage > 0 {
		po.Appearance = &pades.Appearance{Page: o.VisiblePage, Rect: o.VisibleRect, Image: o.VisibleImage,
			Seal: o.VisibleSeal, Lines: o.VisibleLines}
		if o.VisibleImage == nil && len(o.VisibleLines) == 0 {
			po.Appearance.Lines = TextBlock(cert, po.Time)
		}
	}
	return po, s.CheckSignOptions(SignOptions{Level: po.Level})
}

// serverKeyOptions is the named server key and the PAdES options o gives with its
// certificate and chain: what every signing with a server key starts from.
func (s *Service) serverKeyOptions(keyName string, o SignOptions) (*ServerKey, pades.Options, error) {
	k, ok := s.Keys[keyName]
	if !ok {
		return nil, pades.Options{}, fault.Errorf(fault.NotFound, "no key %q", keyName)
	}
	cert := k.Key.Certificate()
	if cert == nil {
		return nil, pades.Options{}, fault.Errorf(fault.Invalid, "key %q has no certificate", keyName)
	}
	po, err := s.padesOptions(o, cert, s.completeChain(cert, k.Key.Chain()))
	return k, po, err
}

// SignPDF signs size bytes of in with the named server key and writes the signed
// document to out. The caller has checked MayUse.
func (s *Service) SignPDF(ctx context.Context, keyName string, in io.ReaderAt, size int64, out io.Writer, o SignOptions) error {
	k, po, err := s.serverKeyOptions(keyName, o)
	if err != nil {
		return err
	}
	return mapSignError(pades.Sign(ctx, s.useOf(k), in, size, out, po))
}

// keyFailures marks every failure of the key itself as Unavailable with
// CodeKeyUnavailable, so that the layers above tell a broken HSM from a broken request.
type keyFailures struct {
	hsm.Key
	name string
}

func (k keyFailures) SignContext(ctx context.Context, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	sig, err := k.Key.SignContext(ctx, digest, opts)
	if err != nil && ctx.Err() == nil {
		return nil, fault.WithCode(fault.Wrap(fault.Unavailable, err,
			fmt.Sprintf("the signing key %q is unavailable", k.name)), CodeKeyUnavailable)
	}
	return sig, err
}

func (k keyFailures) Sign(_ io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	return k.SignContext(context.Background(), digest, opts)
}

// mapSignError gives the engines' errors their fault kind: input errors are
// BadDocument or Invalid with the engine's message for people, an unanswered timestamp
// authority or revocation server is Unavailable; the rest (a key's fault) are kept.
func mapSignError(err error) error {
	var fe *fault.Error
	if err == nil || errors.As(err, &fe) {
		return err
	}
	if errors.Is(err, pki.ErrTSAUnavailable) || errors.Is(err, pki.ErrOCSPUnavailable) || errors.Is(err, pki.ErrCRLUnavailable) {
		return fault.Wrap(fault.Unavailable, err, "a timestamp authority or revocation server did not answer usefully; try again later")
	}
	if errors.Is(err, pdf.ErrEncrypted) {
		return fault.Errorf(fault.BadDocument, "%v (decrypt it first: Kyso does not write into encrypted files)", err)
	}
	for _, e := range inputErrors {
		if errors.Is(err, e) {
			return fault.Errorf(fault.BadDocument, "%v", err)
		}
	}
	if errors.Is(err, pades.ErrOptions) {
		return fault.Errorf(fault.Invalid, "%v", err)
	}
	return err
}

var inputErrors = []error{pades.ErrNotAllowed, pades.ErrField, pdf.ErrNotPDF, pdf.ErrDamaged, pdf.ErrEncrypted, pdf.ErrUnsupportedFilter}

// spool copies r to a temporary file (deleted by the returned cleanup) and hashes it.
func (s *Service) spool(r io.Reader) (*os.File, int64, string, func(), error) {
	f, err := os.CreateTemp(s.TempDir, "kyso-doc-*")
	if err != nil {
		return nil, 0, "", nil, err
	}
	cleanup := func() { f.Close(); os.Remove(f.Name()) }
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, h), r)
	if err != nil {
		cleanup()
		return nil, 0, "", nil, err
	}
	return f, n, hex.EncodeToString(h.Sum(nil)), cleanup, nil
}

func newID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// openContent copies a stored blob to a temporary file, for the engines' random
// access, and checks its hash on the way.
func (s *Service) openContent(ctx context.Context, sha string) (*os.File, int64, string, func(), error) {
	rc, err := s.Store.OpenBlob(ctx, sha)
	if err != nil {
		return nil, 0, "", nil, err
	}
	defer rc.Close()
	f, n, got, cleanup, err := s.spool(rc)
	if err != nil {
		return nil, 0, "", nil, err
	}
	if got != sha {
		cleanup()
		return nil, 0, "", nil, fmt.Errorf("app: stored content %s reads back as %s", sha, got)
	}
	return f, n, got, cleanup, nil
}

func docidCode(s string) docid.AgencyCode { return docid.AgencyCode(s) }
