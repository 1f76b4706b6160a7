package cms

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/asn1"
	"fmt"
)

// Content types and attribute types that callers look for.
var (
	OIDData       = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 1}
	OIDSignedData = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2}
	OIDTSTInfo    = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 1, 4}

	OIDAttrContentType          = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 3}
	OIDAttrMessageDigest        = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 4}
	OIDAttrSigningTime          = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 5}
	OIDAttrSigningCertificate   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 2, 12}
	OIDAttrSigningCertificateV2 = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 2, 47}
	// OIDAttrSignatureTimeStampToken is id-aa-signatureTimeStampToken (RFC 3161
	// appendix A): an unsigned attribute holding a timestamp over the signature value.
	OIDAttrSignatureTimeStampToken = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 2, 14}
	// OIDAttrAdbeRevocationInfoArchival is Adobe's signed attribute carrying CRLs and
	// OCSP responses (PDF 1.6+, ISO 32000-1 12.8.3.3.2).
	OIDAttrAdbeRevocationInfoArchival = asn1.ObjectIdentifier{1, 2, 840, 113583, 1, 1, 8}
	// OIDRevocationInfoOCSP is id-ri-ocsp-response, the OtherRevocationInfoFormat for an
	// OCSP response in the SignedData crls field (RFC 5940).
	OIDRevocationInfoOCSP = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 16, 2}
)

var (
	oidSHA1   = asn1.ObjectIdentifier{1, 3, 14, 3, 2, 26}
	oidSHA256 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}
	oidSHA384 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 2}
	oidSHA512 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 3}
	oidSHA224 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 4}
	oidMD5    = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 5}
	// SHAKE256 is the digest of Ed448 signatures (RFC 8419).
	oidSHAKE256 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 12}

	oidRSAEncryption = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 1}
	oidMD5WithRSA    = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 4}
	oidSHA1WithRSA   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 5}
	oidMGF1          = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 8}
	oidRSASSAPSS     = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 10}
	oidSHA256WithRSA = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 11}
	oidSHA384WithRSA = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 12}
	oidSHA512WithRSA = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 13}
	oidSHA224WithRSA = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 14}

	oidECPublicKey     = asn1.ObjectIdentifier{1, 2, 840, 10045, 2, 1}
	oidECDSAWithSHA1   = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 1}
	oidECDSAWithSHA224 = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 1}
	oidECDSAWithSHA256 = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}
	oidECDSAWithSHA384 = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 3}
	oidECDSAWithSHA512 = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 4}

	oidEd25519       = asn1.ObjectIdentifier{1, 3, 101, 112}
	oidEd448         = asn1.ObjectIdentifier{1, 3, 101, 113}
	oidDSA           = asn1.ObjectIdentifier{1, 2, 840, 10040, 4, 1}
	oidDSAWithSHA1   = asn1.ObjectIdentifier{1, 2, 840, 10040, 4, 3}
	oidDSAWithSHA256 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 3, 2}
)

// hashFromOID maps a digest algorithm to a hash. SHA-1 and SHA-224 are refused by
// policy (SHA-1 is broken for signatures; SHA-224 is not among the ETSI TS 119 312
// hashes for signatures) but can still be computed: for them it returns the hash AND
// an *AlgorithmError, so a verifier can tell an intact weak signature from a broken
// one. A zero hash means it cannot be computed at all.
func hashFromOID(oid asn1.ObjectIdentifier) (crypto.Hash, error) {
	switch {
	case oid.Equal(oidSHA256):
		return crypto.SHA256, nil
	case oid.Equal(oidSHA384):
		return crypto.SHA384, nil
	case oid.Equal(oidSHA512):
		return crypto.SHA512, nil
	case oid.Equal(oidSHA1):
		return crypto.SHA1, unsupported("SHA-1", "refused by policy")
	case oid.Equal(oidSHA224):
		return crypto.SHA224, unsupported("SHA-224", "refused by policy")
	case oid.Equal(oidMD5):
		return 0, unsupported("MD5", "refused by policy")
	case oid.Equal(oidSHAKE256):
		return 0, unsupported("Ed448 (SHAKE256 digest)", "")
	}
	return 0, unsupported("digest "+oid.String(), "")
}

func oidFromHash(h crypto.Hash) (asn1.ObjectIdentifier, error) {
	switch h {
	case crypto.SHA256:
		return oidSHA256, nil
	case crypto.SHA384:
		return oidSHA384, nil
	case crypto.SHA512:
		return oidSHA512, nil
	}
	return nil, unsupported(hashName(h), "signing needs SHA-256, SHA-384 or SHA-512")
}

func hashName(h crypto.Hash) string {
	if h == 0 {
		return "hash(none)"
	}
	return h.String()
}

// checkSigningKey applies the signing policy: RSA of at least 2048 bits, ECDSA on
// P-256, P-384 or P-521. PSS needs an RSA key.
func checkSigningKey(pub crypto.PublicKey, pss bool) error {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if k.N.BitLen() < 2048 {
			return unsupported(fmt.Sprintf("RSA-%d", k.N.BitLen()), "RSA keys need at least 2048 bits")
		}
		return nil
	case *ecdsa.PublicKey:
		if pss {
			return unsupported("RSA-PSS", "the key is ECDSA")
		}
		return checkCurve(k)
	}
	return unsupported(fmt.Sprintf("key %T", pub), "signing needs RSA or ECDSA")
}

// checkCurve is the signing and verification policy for ECDSA curves.
func checkCurve(k *ecdsa.PublicKey) error {
	switch k.Curve {
	case elliptic.P256(), elliptic.P384(), elliptic.P521():
		return nil
	}
	return unsupported("ECDSA "+k.Curve.Params().Name, "curves below P-256 are refused")
}
