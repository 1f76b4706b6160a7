package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"fmt"
	"slices"
	"time"
)

// Legacy chains. crypto/x509 refuses every certificate signed with SHA-1, and with it
// the whole of Ban Cơ yếu's G1 PKI (2010–2030) and NEAC's MIC-era CAs, which verifiers
// in Vietnam still meet on signed documents. A verifier that judges algorithms itself,
// by the dates of a cryptographic policy (ChainOptions.LegacySHA1), gets such chains
// from BuildChain: the links are checked here the way crypto/x509 checks them (name,
// signature, CA basic constraints and key usage, validity at the time asked), the
// SHA-1 signatures included. A chain is returned by this path only when one of its
// links is a SHA-1 signature; anything crypto/x509 refused for another reason stays
// refused.

const maxLegacyDepth = 8

// SHA1Signed reports whether c's signature is SHA-1 based (RSA or ECDSA).
func SHA1Signed(c *x509.Certificate) bool {
	return c.SignatureAlgorithm == x509.SHA1WithRSA || c.SignatureAlgorithm == x509.ECDSAWithSHA1
}

// legacyLink reports whether candidate issued cert, accepting SHA-1 signatures.
func legacyLink(cert, candidate *x509.Certificate) bool {
	if string(candidate.RawSubject) != string(cert.RawIssuer) {
		return false
	}
	if candidate.BasicConstraintsValid && !candidate.IsCA {
		return false
	}
	if candidate.KeyUsage != 0 && candidate.KeyUsage&x509.KeyUsageCertSign == 0 {
		return false
	}
	if !SHA1Signed(cert) {
		return cert.CheckSignatureFrom(candidate) == nil
	}
	sum := sha1.Sum(cert.RawTBSCertificate)
	switch pub := candidate.PublicKey.(type) {
	case *rsa.PublicKey:
		return cert.SignatureAlgorithm == x509.SHA1WithRSA && pub.N.BitLen() >= 1024 &&
			rsa.VerifyPKCS1v15(pub, crypto.SHA1, sum[:], cert.Signature) == nil
	case *ecdsa.PublicKey:
		return cert.SignatureAlgorithm == x509.ECDSAWithSHA1 && ecdsa.VerifyASN1(pub, sum[:], cert.Signature)
	}
	return false
}

func validAt(c *x509.Certificate, at time.Time) bool {
	return !at.Before(c.NotBefore) && !at.After(c.NotAfter)
}

// legacyChain finds a chain from leaf to an anchor of s, every certificate valid at
// at, with at least one SHA-1 link; nil when there is none.
func (s *TrustStore) legacyChain(leaf *x509.Certificate, intermediates []*x509.Certificate, at time.Time) []*x509.Certificate {
	pool := append(slices.Clone(s.anchors), intermediates...)
	var found []*x509.Certificate
	var walk func(path []*x509.Certificate) bool
	walk = func(path []*x509.Certificate) bool {
		cur := path[len(path)-1]
		if !validAt(cur, at) {
			return false
		}
		if s.IsAnchor(cur) {
			if slices.ContainsFunc(path[:len(path)-1], func(c *x509.Certificate) bool { return SHA1Signed(c) }) {
				found = slices.Clone(path)
				return true
			}
			return false
		}
		if len(path) > maxLegacyDepth {
			return false
		}
		for _, c := range pool {
			if slices.ContainsFunc(path, c.Equal) || !legacyLink(cur, c) {
				continue
			}
			if walk(append(path, c)) {
				return true
			}
		}
		return false
	}
	walk([]*x509.Certificate{leaf})
	return found
}

// legacyBuild is BuildChain's path for SHA-1 chains (see above), with the same
// validity fallback.
func (s *TrustStore) legacyBuild(leaf *x509.Certificate, intermediates []*x509.Certificate, at time.Time, fallback bool) ([][]*x509.Certificate, error) {
	if chain := s.legacyChain(leaf, intermediates, at); chain != nil {
		return [][]*x509.Certificate{chain}, nil
	}
	if !fallback {
		return nil, nil
	}
	var chain []*x509.Certificate
	for _, t := range fallbackTimes(leaf) {
		if chain = s.legacyChain(leaf, intermediates, t); chain != nil {
			break
		}
	}
	if chain == nil {
		return nil, nil
	}
	for _, c := range chain {
		if validAt(c, at) {
			continue
		}
		kind := ErrExpired
		if at.Before(c.NotBefore) {
			kind = ErrNotYetValid
		}
		return [][]*x509.Certificate{chain}, &ChainError{Kind: kind, Cert: c,
			Err: fmt.Errorf("certificate %q is valid from %s to %s", c.Subject.CommonName,
				c.NotBefore.UTC().Format(time.RFC3339), c.NotAfter.UTC().Format(time.RFC3339))}
	}
	return [][]*x509.Certificate{chain}, nil
}
