package cms

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/subtle"
	"crypto/x509"
	"encoding/asn1"
	"fmt"
	"io"
	"math/big"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// Result describes a signer whose signature verified.
type Result struct {
	Certificate        *x509.Certificate
	Hash               crypto.Hash
	SignatureAlgorithm string // e.g. "RSASSA-PSS with SHA-256"
	SignerInfo         *SignerInfo
	// HasSignedAttrs is false for a signature made over the content digest directly.
	HasSignedAttrs bool
	// SignedAttributes lists the types of the signed attributes present, in order.
	SignedAttributes []asn1.ObjectIdentifier
	// SigningTime is the signing-time attribute (the signer's claim, not proof), or
	// zero when absent.
	SigningTime time.Time
	// SigningCertificate is "v2", "v1" or "" for the ESS attribute found (and matched).
	SigningCertificate string
}

// HasSignedAttribute reports whether a signed attribute of type oid is present.
func (r *Result) HasSignedAttribute(oid asn1.ObjectIdentifier) bool {
	for _, o := range r.SignedAttributes {
		if o.Equal(oid) {
			return true
		}
	}
	return false
}

// Hash returns the digest algorithm of si, refusing those policy forbids.
func (si *SignerInfo) Hash() (crypto.Hash, error) { return hashFromOID(si.DigestAlgorithm.Algorithm) }

// onlySigner returns the single SignerInfo PAdES and CAdES baseline signatures have.
func (sd *SignedData) onlySigner() (*SignerInfo, error) {
	if len(sd.SignerInfos) != 1 {
		return nil, formatErrorf("%d signer infos; exactly one expected", len(sd.SignerInfos))
	}
	return sd.SignerInfos[0], nil
}

// VerifyContent reads the signed content from r (the detached file, or the PDF byte
// ranges), hashing it with the signer's digest algorithm, and verifies.
func (sd *SignedData) VerifyContent(r io.Reader) (*Result, error) {
	si, err := sd.onlySigner()
	if err != nil {
		return nil, err
	}
	h, err := si.Hash()
	if err != nil {
		return nil, err
	}
	hh := h.New()
	if _, err := io.Copy(hh, r); err != nil {
		return nil, fmt.Errorf("cms: reading content: %w", err)
	}
	return sd.VerifySigner(si, hh.Sum(nil), h)
}

// Verify checks the only signer against contentDigest (the content hashed with hash,
// which must be the signer's digest algorithm: see SignerInfo.Hash).
func (sd *SignedData) Verify(contentDigest []byte, hash crypto.Hash) (*Result, error) {
	si, err := sd.onlySigner()
	if err != nil {
		return nil, err
	}
	return sd.VerifySigner(si, contentDigest, hash)
}

// VerifySigner checks one signer: the signer certificate is present, the
// messageDigest matches, the signature verifies, and a signing-certificate(-v2)
// attribute names that certificate.
func (sd *SignedData) VerifySigner(si *SignerInfo, contentDigest []byte, hash crypto.Hash) (*Result, error) {
	h, err := si.Hash()
	if err != nil {
		return nil, err
	}
	if h != hash {
		return nil, fmt.Errorf("cms: content digest computed with %s, the signer used %s", hashName(hash), h)
	}
	cert, err := sd.SignerCertificate(si)
	if err != nil {
		return nil, err
	}
	res := &Result{Certificate: cert, Hash: h, SignerInfo: si, HasSignedAttrs: si.RawSignedAttrs != nil}
	signedDigest, message := contentDigest, []byte(nil)
	if si.RawSignedAttrs != nil {
		if err := sd.checkSignedAttrs(si, contentDigest, res); err != nil {
			return nil, err
		}
		hh := h.New()
		hh.Write(si.RawSignedAttrs)
		signedDigest, message = hh.Sum(nil), si.RawSignedAttrs
	}
	if res.SignatureAlgorithm, err = verifySignature(cert.PublicKey, si.SignatureAlgorithm, h, signedDigest, message, si.Signature); err != nil {
		return nil, err
	}
	if si.RawSignedAttrs != nil {
		if res.SigningCertificate, err = checkSigningCertificate(si, cert); err != nil {
			return nil, err
		}
	}
	return res, nil
}

func (sd *SignedData) checkSignedAttrs(si *SignerInfo, contentDigest []byte, res *Result) error {
	for _, a := range si.SignedAttrs {
		res.SignedAttributes = append(res.SignedAttributes, a.Type)
	}
	ct, ok, err := si.singleValue(OIDAttrContentType)
	if err != nil {
		return err
	}
	if !ok {
		return formatErrorf("signed attributes lack contentType")
	}
	var oid asn1.ObjectIdentifier
	s := cryptobyte.String(ct)
	if !s.ReadASN1ObjectIdentifier(&oid) || !s.Empty() {
		return formatErrorf("contentType attribute")
	}
	if !oid.Equal(sd.ContentType) {
		return formatErrorf("contentType attribute %s differs from eContentType %s", oid, sd.ContentType)
	}
	md, ok, err := si.singleValue(OIDAttrMessageDigest)
	if err != nil {
		return err
	}
	if !ok {
		return formatErrorf("signed attributes lack messageDigest")
	}
	var digest cryptobyte.String
	s = cryptobyte.String(md)
	if !s.ReadASN1(&digest, cbasn1.OCTET_STRING) || !s.Empty() {
		return formatErrorf("messageDigest attribute")
	}
	if subtle.ConstantTimeCompare(digest, contentDigest) != 1 {
		return ErrDigestMismatch
	}
	st, ok, err := si.singleValue(OIDAttrSigningTime)
	if err != nil {
		return err
	}
	if ok {
		if res.SigningTime, err = parseTime(st); err != nil {
			return err
		}
	}
	return nil
}

// SigningTime returns the signing-time attribute, if present.
func (si *SignerInfo) SigningTime() (time.Time, bool, error) {
	st, ok, err := si.singleValue(OIDAttrSigningTime)
	if err != nil || !ok {
		return time.Time{}, ok, err
	}
	t, err := parseTime(st)
	return t, true, err
}

func parseTime(der []byte) (time.Time, error) {
	s := cryptobyte.String(der)
	var t time.Time
	switch {
	case s.PeekASN1Tag(cbasn1.UTCTime):
		if !s.ReadASN1UTCTime(&t) {
			return t, formatErrorf("signing time UTCTime")
		}
	case s.PeekASN1Tag(cbasn1.GeneralizedTime):
		var g cryptobyte.String
		s.ReadASN1(&g, cbasn1.GeneralizedTime)
		var err error
		if t, err = parseGeneralizedTime(string(g)); err != nil {
			return t, err
		}
	default:
		return t, formatErrorf("signing time")
	}
	if !s.Empty() {
		return t, formatErrorf("signing time")
	}
	return t, nil
}

// checkSigningCertificate matches an ESS signing-certificate(-v2) attribute, when
// present, against cert. Its purpose is to stop certificate substitution, so a
// mismatch fails the signature.
func checkSigningCertificate(si *SignerInfo, cert *x509.Certificate) (string, error) {
	if v, ok, err := si.singleValue(OIDAttrSigningCertificateV2); err != nil {
		return "", err
	} else if ok {
		return "v2", matchESSCertID(v, cert, true)
	}
	if v, ok, err := si.singleValue(OIDAttrSigningCertificate); err != nil {
		return "", err
	} else if ok {
		return "v1", matchESSCertID(v, cert, false)
	}
	return "", nil
}

func matchESSCertID(v []byte, cert *x509.Certificate, v2 bool) error {
	s := cryptobyte.String(v)
	var sc, certs, id cryptobyte.String
	if !s.ReadASN1(&sc, cbasn1.SEQUENCE) || !sc.ReadASN1(&certs, cbasn1.SEQUENCE) || !certs.ReadASN1(&id, cbasn1.SEQUENCE) {
		return formatErrorf("signing-certificate attribute")
	}
	var hasher crypto.Hash = crypto.SHA1
	if v2 {
		hasher = crypto.SHA256
		if id.PeekASN1Tag(cbasn1.SEQUENCE) {
			alg, err := readAlgorithm(&id)
			if err != nil {
				return err
			}
			if hasher, err = hashFromOID(alg.Algorithm); err != nil {
				return err
			}
		}
	}
	var certHash cryptobyte.String
	if !id.ReadASN1(&certHash, cbasn1.OCTET_STRING) {
		return formatErrorf("signing-certificate hash")
	}
	var sum []byte
	if hasher == crypto.SHA1 {
		// SHA-1 here identifies a certificate; it is not a signature, so it is allowed.
		s := sha1.Sum(cert.Raw)
		sum = s[:]
	} else {
		hh := hasher.New()
		hh.Write(cert.Raw)
		sum = hh.Sum(nil)
	}
	if !bytes.Equal(certHash, sum) {
		return fmt.Errorf("%w: certificate hash differs", ErrSigningCertificateMismatch)
	}
	if id.Empty() {
		return nil
	}
	var is, names cryptobyte.String
	serial := new(big.Int)
	if !id.ReadASN1(&is, cbasn1.SEQUENCE) || !is.ReadASN1(&names, cbasn1.SEQUENCE) || !is.ReadASN1Integer(serial) {
		return formatErrorf("signing-certificate issuerSerial")
	}
	if serial.Cmp(cert.SerialNumber) != 0 {
		return fmt.Errorf("%w: serial number differs", ErrSigningCertificateMismatch)
	}
	for !names.Empty() {
		var gn cryptobyte.String
		var tag cbasn1.Tag
		if !names.ReadAnyASN1(&gn, &tag) {
			return formatErrorf("signing-certificate issuer")
		}
		if tag == cbasn1.Tag(4).Constructed().ContextSpecific() && !bytes.Equal(gn, cert.RawIssuer) {
			return fmt.Errorf("%w: issuer differs", ErrSigningCertificateMismatch)
		}
	}
	return nil
}

// verifySignature checks sig with pub under the signature algorithm alg. digest is
// what RSA and ECDSA verify; message (the signed attributes) is what Ed25519 needs.
func verifySignature(pub crypto.PublicKey, alg AlgorithmIdentifier, h crypto.Hash, digest, message, sig []byte) (string, error) {
	oid := alg.Algorithm
	rsaHash := func(want crypto.Hash) error {
		if want != 0 && want != h {
			return formatErrorf("signature algorithm %s does not match the digest algorithm %s", oid, h)
		}
		return nil
	}
	switch {
	case oid.Equal(oidRSAEncryption), oid.Equal(oidSHA256WithRSA), oid.Equal(oidSHA384WithRSA), oid.Equal(oidSHA512WithRSA):
		var want crypto.Hash
		switch {
		case oid.Equal(oidSHA256WithRSA):
			want = crypto.SHA256
		case oid.Equal(oidSHA384WithRSA):
			want = crypto.SHA384
		case oid.Equal(oidSHA512WithRSA):
			want = crypto.SHA512
		}
		if err := rsaHash(want); err != nil {
			return "", err
		}
		k, err := rsaKey(pub)
		if err != nil {
			return "", err
		}
		name := h.String() + " with RSA"
		if rsa.VerifyPKCS1v15(k, h, digest, sig) != nil {
			return name, fmt.Errorf("%w (%s)", ErrSignatureInvalid, name)
		}
		return name, nil
	case oid.Equal(oidRSASSAPSS):
		ph, salt, err := parsePSSParams(alg.Parameters)
		if err != nil {
			return "", err
		}
		if err := rsaHash(ph); err != nil {
			return "", err
		}
		k, err := rsaKey(pub)
		if err != nil {
			return "", err
		}
		name := "RSASSA-PSS with " + h.String()
		if rsa.VerifyPSS(k, h, digest, sig, &rsa.PSSOptions{SaltLength: salt, Hash: h}) != nil {
			return name, fmt.Errorf("%w (%s)", ErrSignatureInvalid, name)
		}
		return name, nil
	case oid.Equal(oidECPublicKey), oid.Equal(oidECDSAWithSHA256), oid.Equal(oidECDSAWithSHA384), oid.Equal(oidECDSAWithSHA512):
		k, ok := pub.(*ecdsa.PublicKey)
		if !ok {
			return "", formatErrorf("ECDSA signature with a %T key", pub)
		}
		if err := checkCurve(k); err != nil {
			return "", err
		}
		name := "ECDSA with " + h.String()
		if !ecdsa.VerifyASN1(k, digest, sig) {
			return name, fmt.Errorf("%w (%s)", ErrSignatureInvalid, name)
		}
		return name, nil
	case oid.Equal(oidEd25519):
		k, ok := pub.(ed25519.PublicKey)
		if !ok {
			return "", formatErrorf("Ed25519 signature with a %T key", pub)
		}
		if message == nil {
			return "", unsupported("Ed25519", "without signed attributes the content itself is signed")
		}
		if !ed25519.Verify(k, message, sig) {
			return "Ed25519", fmt.Errorf("%w (Ed25519)", ErrSignatureInvalid)
		}
		return "Ed25519", nil
	case oid.Equal(oidEd448):
		return "", unsupported("Ed448", "")
	case oid.Equal(oidDSA), oid.Equal(oidDSAWithSHA1), oid.Equal(oidDSAWithSHA256):
		return "", unsupported("DSA", "refused by policy")
	case oid.Equal(oidSHA1WithRSA), oid.Equal(oidECDSAWithSHA1):
		return "", unsupported("SHA-1", "refused by policy")
	case oid.Equal(oidMD5WithRSA):
		return "", unsupported("MD5", "refused by policy")
	case oid.Equal(oidSHA224WithRSA), oid.Equal(oidECDSAWithSHA224):
		return "", unsupported("SHA-224", "refused by policy")
	}
	return "", unsupported("signature "+oid.String(), "")
}

func rsaKey(pub crypto.PublicKey) (*rsa.PublicKey, error) {
	k, ok := pub.(*rsa.PublicKey)
	if !ok {
		return nil, formatErrorf("RSA signature with a %T key", pub)
	}
	if k.N.BitLen() < 2048 {
		return nil, unsupported(fmt.Sprintf("RSA-%d", k.N.BitLen()), "RSA keys need at least 2048 bits")
	}
	return k, nil
}

// parsePSSParams reads RSASSA-PSS-params (RFC 4055). Absent fields default to SHA-1,
// which policy refuses, so only explicit SHA-2 parameters with a matching MGF1 pass.
func parsePSSParams(der []byte) (crypto.Hash, int, error) {
	if der == nil {
		return 0, 0, unsupported("RSASSA-PSS with SHA-1", "refused by policy (default parameters)")
	}
	s := cryptobyte.String(der)
	var p cryptobyte.String
	if !s.ReadASN1(&p, cbasn1.SEQUENCE) || !s.Empty() {
		return 0, 0, formatErrorf("RSASSA-PSS parameters")
	}
	h := crypto.SHA1
	if tag := cbasn1.Tag(0).Constructed().ContextSpecific(); p.PeekASN1Tag(tag) {
		var e cryptobyte.String
		p.ReadASN1(&e, tag)
		a, err := readAlgorithm(&e)
		if err != nil {
			return 0, 0, err
		}
		if h, err = hashFromOID(a.Algorithm); err != nil {
			return 0, 0, err
		}
	}
	if h == crypto.SHA1 {
		return 0, 0, unsupported("RSASSA-PSS with SHA-1", "refused by policy")
	}
	mgf := crypto.SHA1
	if tag := cbasn1.Tag(1).Constructed().ContextSpecific(); p.PeekASN1Tag(tag) {
		var e cryptobyte.String
		p.ReadASN1(&e, tag)
		a, err := readAlgorithm(&e)
		if err != nil {
			return 0, 0, err
		}
		if !a.Algorithm.Equal(oidMGF1) {
			return 0, 0, unsupported("RSASSA-PSS mask generation "+a.Algorithm.String(), "")
		}
		ps := cryptobyte.String(a.Parameters)
		ma, err := readAlgorithm(&ps)
		if err != nil {
			return 0, 0, err
		}
		if mgf, err = hashFromOID(ma.Algorithm); err != nil {
			return 0, 0, err
		}
	}
	if mgf != h {
		return 0, 0, unsupported("RSASSA-PSS with MGF1 "+mgf.String()+" and "+h.String(), "mixed hashes")
	}
	salt := int64(20)
	if tag := cbasn1.Tag(2).Constructed().ContextSpecific(); p.PeekASN1Tag(tag) {
		var e cryptobyte.String
		if !p.ReadASN1(&e, tag) || !e.ReadASN1Int64WithTag(&salt, cbasn1.INTEGER) || !e.Empty() || salt < 0 || salt > 1024 {
			return 0, 0, formatErrorf("RSASSA-PSS salt length")
		}
	}
	if tag := cbasn1.Tag(3).Constructed().ContextSpecific(); p.PeekASN1Tag(tag) {
		var e cryptobyte.String
		var trailer int64
		if !p.ReadASN1(&e, tag) || !e.ReadASN1Int64WithTag(&trailer, cbasn1.INTEGER) || trailer != 1 {
			return 0, 0, formatErrorf("RSASSA-PSS trailer field")
		}
	}
	if !p.Empty() {
		return 0, 0, formatErrorf("RSASSA-PSS parameters")
	}
	return h, int(salt), nil
}

// RevocationInfoArchival is the content of Adobe's adbe-revocationInfoArchival attribute.
type RevocationInfoArchival struct {
	CRLs          [][]byte // DER CertificateLists
	OCSPResponses [][]byte // DER OCSPResponses
	Other         [][]byte // DER OtherRevInfo, uninterpreted
}

// RevocationInfoArchival returns the adbe-revocationInfoArchival signed attribute, or
// nil when absent.
func (si *SignerInfo) RevocationInfoArchival() (*RevocationInfoArchival, error) {
	v, ok, err := si.singleValue(OIDAttrAdbeRevocationInfoArchival)
	if err != nil || !ok {
		return nil, err
	}
	s := cryptobyte.String(v)
	var seq cryptobyte.String
	if !s.ReadASN1(&seq, cbasn1.SEQUENCE) {
		return nil, formatErrorf("adbe-revocationInfoArchival")
	}
	out := &RevocationInfoArchival{}
	for i, dst := range []*[][]byte{&out.CRLs, &out.OCSPResponses, &out.Other} {
		tag := cbasn1.Tag(i).Constructed().ContextSpecific()
		if !seq.PeekASN1Tag(tag) {
			continue
		}
		var explicit, list cryptobyte.String
		if !seq.ReadASN1(&explicit, tag) || !explicit.ReadASN1(&list, cbasn1.SEQUENCE) {
			return nil, formatErrorf("adbe-revocationInfoArchival [%d]", i)
		}
		for !list.Empty() {
			var e cryptobyte.String
			var t cbasn1.Tag
			if !list.ReadAnyASN1Element(&e, &t) {
				return nil, formatErrorf("adbe-revocationInfoArchival [%d] entry", i)
			}
			*dst = append(*dst, []byte(e))
		}
	}
	return out, nil
}

// SignatureTimestamps parses the signature timestamp tokens of si, verifies each
// token's signature and checks its imprint against si's signature value.
func (si *SignerInfo) SignatureTimestamps() ([]*Timestamp, error) {
	var out []*Timestamp
	for _, a := range si.UnsignedAttrs {
		if !a.Type.Equal(OIDAttrSignatureTimeStampToken) {
			continue
		}
		for _, v := range a.Values {
			t, err := ParseTimestampToken(v)
			if err != nil {
				return out, fmt.Errorf("cms: signature timestamp: %w", err)
			}
			if err := t.Matches(si.Signature); err != nil {
				return out, fmt.Errorf("cms: signature timestamp: %w", err)
			}
			out = append(out, t)
		}
	}
	return out, nil
}

// AddUnsignedAttributes returns der with attrs appended to the unsigned attributes of
// its only signer. Every signed byte stays as it was, so the signature still verifies
// (used for B-T after the fact and for archive timestamps).
func AddUnsignedAttributes(der []byte, attrs ...Attribute) ([]byte, error) {
	sd, err := Parse(der)
	if err != nil {
		return nil, err
	}
	si, err := sd.onlySigner()
	if err != nil {
		return nil, err
	}
	all := append(append([]Attribute(nil), si.UnsignedAttrs...), attrs...)
	unsigned, err := encodeAttributes(cbasn1.Tag(1).Constructed().ContextSpecific(), all)
	if err != nil {
		return nil, err
	}
	return sd.parts.marshal([]signerInfoParts{{head: si.parts.head, unsigned: unsigned}})
}
