package pki

import (
	"bytes"
	"crypto/x509"
	"errors"
	"fmt"
	"time"
)

// This file is Kyso's one certificate-chain builder. Two questions are asked of it:
//
//   - Is there a chain from a leaf through the intermediates at hand to a configured
//     anchor, valid at a given time, for the given use? TrustStore.BuildChain, for
//     verification, a remote holder's certificate and every other decision of trust.
//     Its time is always the caller's: the signing time, the time a timestamp proves,
//     or now; ChainOptions.ValidityFallback serves a verifier that reports a chain
//     found outside the time asked.
//   - Which certificates, among those a document, a token or a key's files carry, are
//     a leaf's issuers, up to a self-issued one? IssuerPath, for gathering what a chain
//     needs (DSS validation data, the chain shown with a token's certificate). It
//     decides no trust and reads no time.
//
// Both link a certificate to an issuer the same way: the issuer's subject is the
// certificate's issuer name and the issuer's key verifies its signature as a CA.

// ChainOptions say what the leaf must be fit for, and at what time.
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
	// ValidityFallback: when no chain is valid at the time asked because a certificate
	// is out of its validity then, look again at the middle of the leaf's validity and at its ends. A
	// chain found there is returned together with the *ChainError for the time asked
	// (ErrExpired or ErrNotYetValid), so that a verifier can report the chain and say
	// it lacks a proof of existence (OUT_OF_BOUNDS_NO_POE, NOT_YET_VALID). Without it,
	// chains and error never come together.
	ValidityFallback bool
	// LegacySHA1 also builds chains whose certificates are signed with SHA-1, which
	// crypto/x509 refuses (legacy.go), for a verifier that judges the algorithms of the
	// chain itself against dated constraints. Never for a decision that does not.
	LegacySHA1 bool
}

// ChainError says why no chain was built, and about which certificate.
type ChainError struct {
	Kind error // ErrNoChain, ErrExpired, ErrNotYetValid or ErrKeyUsage
	// Cert is the certificate at fault, when one is.
	Cert *x509.Certificate
	// Err is the cause: crypto/x509's verdict, or what was checked here.
	Err error
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

// ChainCause is the cause of a BuildChain failure (crypto/x509's own words), for a
// caller that reports it in its own sentence; err itself when it is no *ChainError.
func ChainCause(err error) error {
	var ce *ChainError
	if errors.As(err, &ce) && ce.Err != nil {
		return ce.Err
	}
	return err
}

// SignatureKeyUsage is the key usage a document signature needs (ETSI EN 319 412-2:
// nonRepudiation or digitalSignature).
const SignatureKeyUsage = x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment

// BuildChain builds every chain from leaf to an anchor of s, valid at time at, using
// intermediates (typically what a document carries) only as intermediates: a
// self-signed certificate among them is never a root. Chains run leaf first, anchor
// last. The error is a *ChainError whose Kind is ErrNoChain, ErrExpired,
// ErrNotYetValid or ErrKeyUsage; with opts.ValidityFallback it may come with chains
// valid at another time.
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
		if !c.Equal(leaf) {
			pool.AddCert(c)
		}
	}
	ekus := opts.ExtKeyUsages
	if len(ekus) == 0 {
		ekus = []x509.ExtKeyUsage{x509.ExtKeyUsageAny}
	}
	vo := x509.VerifyOptions{Roots: s.pool, Intermediates: pool, CurrentTime: at, KeyUsages: ekus}
	chains, err := leaf.Verify(vo)
	if err == nil {
		return chains, nil
	}
	cerr := classify(err, leaf, at)
	if opts.ValidityFallback && (errors.Is(cerr, ErrExpired) || errors.Is(cerr, ErrNotYetValid)) {
		// the middle of the leaf's validity, else its ends: an intermediate renewed
		// during the leaf's life is valid at one of them
		for _, t := range fallbackTimes(leaf) {
			vo.CurrentTime = t
			if chains, err := leaf.Verify(vo); err == nil {
				return chains, cerr
			}
		}
	}
	if opts.LegacySHA1 {
		if chains, lerr := s.legacyBuild(leaf, intermediates, at, opts.ValidityFallback); chains != nil {
			return chains, lerr
		}
	}
	return nil, cerr
}

// fallbackTimes are the times ValidityFallback looks again at.
func fallbackTimes(leaf *x509.Certificate) []time.Time {
	return []time.Time{leaf.NotBefore.Add(leaf.NotAfter.Sub(leaf.NotBefore) / 2), leaf.NotBefore.Add(time.Minute), leaf.NotAfter.Add(-time.Minute)}
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

// maxIssuerPath bounds IssuerPath: no real chain has more than a few CAs.
const maxIssuerPath = 10

// IssuerPath orders certificates from pool into a path from leaf upwards, leaf first:
// each next certificate is the first of pool that issued the one before (Issuer),
// until a self-issued certificate, a certificate with no issuer in pool, or
// maxIssuerPath issuers. It decides no trust and checks no validity time: it says
// which of the certificates at hand a chain would use, for gathering validation data
// or showing a chain. Trust is BuildChain's.
func IssuerPath(leaf *x509.Certificate, pool []*x509.Certificate) []*x509.Certificate {
	path := []*x509.Certificate{leaf}
	for cur := leaf; len(path) <= maxIssuerPath && !bytes.Equal(cur.RawIssuer, cur.RawSubject); {
		next := firstIssuer(cur, pool)
		if next == nil {
			break
		}
		path = append(path, next)
		cur = next
	}
	return path
}

// EndEntityPaths is IssuerPath for each certificate of pool that is not a CA, in
// pool's order.
func EndEntityPaths(pool []*x509.Certificate) [][]*x509.Certificate {
	var out [][]*x509.Certificate
	for _, c := range pool {
		if !c.IsCA {
			out = append(out, IssuerPath(c, pool))
		}
	}
	return out
}

// Issuer reports whether candidate issued cert: its subject is cert's issuer name and
// its key verifies cert's signature as a CA may sign (crypto/x509's
// CheckSignatureFrom: basic constraints and key usage). A self-signed CA is its own
// issuer; IssuerPath stops before asking.
//
// A SHA-1 signature, which CheckSignatureFrom refuses, links too (legacy.go): this is
// about which certificate issued which, and trust is BuildChain's.
func Issuer(cert, candidate *x509.Certificate) bool {
	if !bytes.Equal(candidate.RawSubject, cert.RawIssuer) {
		return false
	}
	return cert.CheckSignatureFrom(candidate) == nil || (SHA1Signed(cert) && legacyLink(cert, candidate))
}

// Issuers lists the certificates of pool that issued cert (Issuer), in pool's order.
func Issuers(cert *x509.Certificate, pool []*x509.Certificate) []*x509.Certificate {
	var out []*x509.Certificate
	for _, c := range pool {
		if Issuer(cert, c) {
			out = append(out, c)
		}
	}
	return out
}

func firstIssuer(cert *x509.Certificate, pool []*x509.Certificate) *x509.Certificate {
	for _, c := range pool {
		if Issuer(cert, c) {
			return c
		}
	}
	return nil
}
