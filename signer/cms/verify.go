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
	"errors"
	"fmt"
	"io"
	"math/big"
	"time"

	"github.com/kyso-vn/kyso/internal/rsapub"
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

// Hash returns the digest algorithm of si. For one refused by policy but computable
// (SHA-1, SHA-224) it returns the hash together with an *AlgorithmError, so the caller
// can still hash the content and let Verify tell intact from broken. A zero hash
// means the content cannot be hashed at all.
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
	return sd.verifyContent(r, nil)
}

func (sd *SignedData) verifyContent(r io.Reader, extra []*x509.Certificate) (*Result, error) {
	si, err := sd.onlySigner()
	if err != nil {
		return nil, err
	}
	h, err := si.Hash()
	if h == 0 {
		return nil, err
	}
	hh := h.New()
	if _, err := io.Copy(hh, r); err != nil {
		return nil, fmt.Errorf("cms: reading content: %w", err)
	}
	return sd.verifySigner(si, hh.Sum(nil), h, extra)
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
//
// When everything holds but an algorithm is refused by policy (SHA-1, RSA-1024,
// P-224), the error is an *AlgorithmError with Verified set and the Result is
// returned too; it is never a plain success.
func (sd *SignedData) VerifySigner(si *SignerInfo, contentDigest []byte, hash crypto.Hash) (*Result, error) {
	return sd.verifySigner(si, contentDigest, hash, nil)
}

func (sd *SignedData) verifySigner(si *SignerInfo, contentDigest []byte, hash crypto.Hash, extra []*x509.Certificate) (*Result, error) {
	h, weak := si.Hash()
	if h == 0 {
		return nil, weak
	}
	if h != hash {
		return nil, fmt.Errorf("cms: content digest computed with %s, the signer used %s", hashName(hash), h)
	}
	// The SignedData announces its digest algorithms; a signer using one it does not
	// announce is refused, as OpenSSL and pdfsig do (pdfsig hashes with the announced one).
	announced := false
	for _, a := range sd.DigestAlgorithms {
		announced = announced || a.Algorithm.Equal(si.DigestAlgorithm.Algorithm)
	}
	if !announced {
		return nil, fmt.Errorf("%w: the signer's digest algorithm %s is not among the SignedData's digest algorithms", ErrDigestMismatch, h)
	}
	cert, err := sd.signerCertificate(si, extra)
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
	name, weakSig, err := verifySignature(cert.PublicKey, si.SignatureAlgorithm, h, signedDigest, message, si.Signature)
	if err != nil {
		return nil, err
	}
	res.SignatureAlgorithm = name
	if si.RawSignedAttrs != nil {
		if res.SigningCertificate, err = checkSigningCertificate(si, cert); err != nil {
			return nil, err
		}
	}
	if weak == nil {
		weak = weakSig
	}
	if weak != nil {
		return res, verifiedButWeak(weak)
	}
	return res, nil
}

// verifiedButWeak marks a policy refusal as concerning an intact signature.
func verifiedButWeak(err error) error {
	var ae *AlgorithmError
	if errors.As(err, &ae) {
		c := *ae
		c.Verified = true
		return &c
	}
	return err
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
			// Any computable hash will do to identify a certificate.
			if hasher, err = hashFromOID(alg.Algorithm); hasher == 0 {
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
// weak reports an algorithm refused by policy that was still checked (and held).
//
// A signature algorithm that names another hash than the digest algorithm (say
// sha256WithRSAEncryption over SHA-1) is refused as invalid, as NSS and pdfsig do;
// OpenSSL would accept it.
func verifySignature(pub crypto.PublicKey, alg AlgorithmIdentifier, h crypto.Hash, digest, message, sig []byte) (name string, weak, err error) {
	oid := alg.Algorithm
	sameHash := func(want crypto.Hash) error {
		if want != 0 && want != h {
			return fmt.Errorf("%w: the signature algorithm names %s, the digest algorithm is %s", ErrSignatureInvalid, hashName(want), h)
		}
		return nil
	}
	invalid := func(name string) (string, error, error) {
		return name, nil, fmt.Errorf("%w (%s)", ErrSignatureInvalid, name)
	}
	rsaAlgs := map[string]crypto.Hash{
		OIDRSAEncryption.String(): 0, OIDSHA256WithRSA.String(): crypto.SHA256,
		OIDSHA384WithRSA.String(): crypto.SHA384, OIDSHA512WithRSA.String(): crypto.SHA512,
		OIDSHA1WithRSA.String(): crypto.SHA1, OIDSHA224WithRSA.String(): crypto.SHA224,
	}
	ecdsaAlgs := map[string]crypto.Hash{
		OIDECPublicKey.String(): 0, OIDECDSAWithSHA256.String(): crypto.SHA256,
		OIDECDSAWithSHA384.String(): crypto.SHA384, OIDECDSAWithSHA512.String(): crypto.SHA512,
		OIDECDSAWithSHA1.String(): crypto.SHA1, OIDECDSAWithSHA224.String(): crypto.SHA224,
	}
	if want, ok := rsaAlgs[oid.String()]; ok {
		if err := sameHash(want); err != nil {
			return "", nil, err
		}
		k, weak, err := rsaKey(pub)
		if err != nil {
			return "", nil, err
		}
		name := h.String() + " with RSA"
		if rsapub.VerifyPKCS1v15(k, h, digest, sig) != nil {
			return invalid(name)
		}
		return name, weak, nil
	}
	if want, ok := ecdsaAlgs[oid.String()]; ok {
		if err := sameHash(want); err != nil {
			return "", nil, err
		}
		k, ok := pub.(*ecdsa.PublicKey)
		if !ok {
			return "", nil, formatErrorf("ECDSA signature with a %T key", pub)
		}
		name := "ECDSA with " + h.String()
		if !ecdsa.VerifyASN1(k, digest, sig) {
			return invalid(name)
		}
		return name, checkCurve(k), nil
	}
	switch {
	case oid.Equal(OIDRSASSAPSS):
		if alg.Parameters == nil {
			return "", nil, unsupported("RSASSA-PSS", "parameters absent")
		}
		ph, salt, weak, err := parsePSSParams(alg.Parameters)
		if err != nil {
			return "", nil, err
		}
		if err := sameHash(ph); err != nil {
			return "", nil, err
		}
		k, weakKey, err := rsaKey(pub)
		if err != nil {
			return "", nil, err
		}
		name := "RSASSA-PSS with " + h.String()
		if rsa.VerifyPSS(k, h, digest, sig, &rsa.PSSOptions{SaltLength: salt, Hash: h}) != nil {
			return invalid(name)
		}
		if weak == nil {
			weak = weakKey
		}
		return name, weak, nil
	case oid.Equal(OIDEd25519):
		k, ok := pub.(ed25519.PublicKey)
		if !ok {
			return "", nil, formatErrorf("Ed25519 signature with a %T key", pub)
		}
		if message == nil {
			return "", nil, unsupported("Ed25519", "without signed attributes the content itself is signed")
		}
		if !ed25519.Verify(k, message, sig) {
			return invalid("Ed25519")
		}
		return "Ed25519", nil, nil
	case oid.Equal(OIDEd448):
		return "", nil, unsupported("Ed448", "")
	case oid.Equal(OIDDSA), oid.Equal(OIDDSAWithSHA1), oid.Equal(OIDDSAWithSHA256):
		return "", nil, unsupported("DSA", "refused by policy")
	case oid.Equal(OIDMD5WithRSA):
		return "", nil, unsupported("MD5", "refused by policy")
	}
	return "", nil, unsupported("signature "+oid.String(), "")
}

// rsaKey returns the RSA key; keys of 1024 to 2047 bits are checked but weak.
func rsaKey(pub crypto.PublicKey) (*rsa.PublicKey, error, error) {
	k, ok := pub.(*rsa.PublicKey)
	if !ok {
		return nil, nil, formatErrorf("RSA signature with a %T key", pub)
	}
	bits := k.N.BitLen()
	policy := unsupported(fmt.Sprintf("RSA-%d", bits), "RSA keys need at least 2048 bits")
	if bits < 1024 {
		return nil, nil, policy
	}
	if bits < 2048 {
		return k, policy, nil
	}
	return k, nil, nil
}

// parsePSSParams reads RSASSA-PSS-params (RFC 4055). Absent fields default to SHA-1,
// which policy refuses, so only explicit SHA-2 parameters with a matching MGF1 pass.
func parsePSSParams(der []byte) (crypto.Hash, int, error, error) {
	bad := func(what string) (crypto.Hash, int, error, error) {
		return 0, 0, nil, formatErrorf("RSASSA-PSS %s", what)
	}
	s := cryptobyte.String(der)
	var p cryptobyte.String
	if !s.ReadASN1(&p, cbasn1.SEQUENCE) || !s.Empty() {
		return bad("parameters")
	}
	// Absent hash and MGF1 hash default to SHA-1 (RFC 4055).
	h, weak := crypto.SHA1, unsupported("RSASSA-PSS with SHA-1", "refused by policy")
	if tag := cbasn1.Tag(0).Constructed().ContextSpecific(); p.PeekASN1Tag(tag) {
		var e cryptobyte.String
		p.ReadASN1(&e, tag)
		a, err := readAlgorithm(&e)
		if err != nil || !e.Empty() {
			return bad("hash algorithm")
		}
		if h, weak = hashFromOID(a.Algorithm); h == 0 {
			return 0, 0, nil, weak
		}
	}
	mgf := crypto.SHA1
	if tag := cbasn1.Tag(1).Constructed().ContextSpecific(); p.PeekASN1Tag(tag) {
		var e cryptobyte.String
		p.ReadASN1(&e, tag)
		a, err := readAlgorithm(&e)
		if err != nil || !e.Empty() {
			return bad("mask generation")
		}
		if !a.Algorithm.Equal(OIDMGF1) {
			return 0, 0, nil, unsupported("RSASSA-PSS mask generation "+a.Algorithm.String(), "")
		}
		ps := cryptobyte.String(a.Parameters)
		ma, err := readAlgorithm(&ps)
		if err != nil {
			return bad("MGF1 hash")
		}
		mgf, _ = hashFromOID(ma.Algorithm)
	}
	if mgf != h {
		return 0, 0, nil, unsupported("RSASSA-PSS with MGF1 "+hashName(mgf)+" and "+hashName(h), "mixed hashes")
	}
	salt := int64(20)
	if tag := cbasn1.Tag(2).Constructed().ContextSpecific(); p.PeekASN1Tag(tag) {
		var e cryptobyte.String
		if !p.ReadASN1(&e, tag) || !e.ReadASN1Int64WithTag(&salt, cbasn1.INTEGER) || !e.Empty() || salt < 0 || salt > 1024 {
			return bad("salt length")
		}
	}
	if tag := cbasn1.Tag(3).Constructed().ContextSpecific(); p.PeekASN1Tag(tag) {
		var e cryptobyte.String
		var trailer int64
		if !p.ReadASN1(&e, tag) || !e.ReadASN1Int64WithTag(&trailer, cbasn1.INTEGER) || trailer != 1 {
			return bad("trailer field")
		}
	}
	if !p.Empty() {
		return bad("parameters")
	}
	return h, int(salt), weak, nil
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
// token's signature and checks its imprint against si's signature value. A token that
// is intact but uses an algorithm refused by policy is returned, with its
// *AlgorithmError (Verified set) as the error; a broken one stops the walk.
func (si *SignerInfo) SignatureTimestamps() ([]*Timestamp, error) {
	var out []*Timestamp
	var policy error
	for _, a := range si.UnsignedAttrs {
		if !a.Type.Equal(OIDAttrSignatureTimeStampToken) {
			continue
		}
		for _, v := range a.Values {
			t, err := ParseTimestampToken(v)
			if t == nil {
				return out, fmt.Errorf("cms: signature timestamp: %w", err)
			}
			if err == nil {
				err = t.Matches(si.Signature)
			} else if merr := t.Matches(si.Signature); merr != nil && !errors.Is(merr, ErrUnsupportedAlgorithm) {
				err = merr
			}
			if err != nil && !errors.Is(err, ErrUnsupportedAlgorithm) {
				return out, fmt.Errorf("cms: signature timestamp: %w", err)
			}
			if err != nil && policy == nil {
				policy = err
			}
			out = append(out, t)
		}
	}
	return out, policy
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
