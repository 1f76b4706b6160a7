package cms

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/asn1"
	"fmt"
)

// The object identifiers Kyso reads and writes. This is the one table: pkg/pki, hsm/remote,
// signer/verify, signer/pades and signer/cades name these rather than keep copies.

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

// Digest algorithms.
var (
	OIDSHA1   = asn1.ObjectIdentifier{1, 3, 14, 3, 2, 26}
	OIDSHA256 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}
	OIDSHA384 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 2}
	OIDSHA512 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 3}
	OIDSHA224 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 4}
	OIDMD5    = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 5}
	// OIDSHAKE256 is the digest of Ed448 signatures (RFC 8419).
	OIDSHAKE256 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 12}
)

// Signature and public-key algorithms.
var (
	OIDRSAEncryption = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 1}
	OIDMD5WithRSA    = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 4}
	OIDSHA1WithRSA   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 5}
	// OIDMGF1 is the mask generation function of RSASSA-PSS (RFC 4055).
	OIDMGF1          = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 8}
	OIDRSASSAPSS     = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 10}
	OIDSHA256WithRSA = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 11}
	OIDSHA384WithRSA = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 12}
	OIDSHA512WithRSA = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 13}
	OIDSHA224WithRSA = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 14}

	OIDECPublicKey     = asn1.ObjectIdentifier{1, 2, 840, 10045, 2, 1}
	OIDECDSAWithSHA1   = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 1}
	OIDECDSAWithSHA224 = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 1}
	OIDECDSAWithSHA256 = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}
	OIDECDSAWithSHA384 = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 3}
	OIDECDSAWithSHA512 = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 4}

	OIDEd25519       = asn1.ObjectIdentifier{1, 3, 101, 112}
	OIDEd448         = asn1.ObjectIdentifier{1, 3, 101, 113}
	OIDDSA           = asn1.ObjectIdentifier{1, 2, 840, 10040, 4, 1}
	OIDDSAWithSHA1   = asn1.ObjectIdentifier{1, 2, 840, 10040, 4, 3}
	OIDDSAWithSHA256 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 3, 2}
)

// Certificate extensions and extended key usages that signers and timestamp
// authorities are judged by.
var (
	// OIDExtKeyUsage is the extended key usage extension (RFC 5280 4.2.1.12).
	OIDExtKeyUsage = asn1.ObjectIdentifier{2, 5, 29, 37}
	// OIDEKUTimeStamping is id-kp-timeStamping, the only EKU a TSA certificate may
	// have (RFC 3161 2.3).
	OIDEKUTimeStamping = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 8}
	// OIDEKUDocumentSigning is id-kp-documentSigning (RFC 9336).
	OIDEKUDocumentSigning = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 36}
	// OIDEKUAdobeAuthenticDocuments is Adobe's authentic-documents trust EKU.
	OIDEKUAdobeAuthenticDocuments = asn1.ObjectIdentifier{1, 2, 840, 113583, 1, 1, 5}
	// OIDEKUMicrosoftDocumentSigning is Microsoft's document-signing EKU.
	OIDEKUMicrosoftDocumentSigning = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 311, 10, 3, 12}
)

// HashOID is the digest algorithm identifier of h, for the hashes Kyso signs and asks
// timestamps with: SHA-256, SHA-384 and SHA-512.
func HashOID(h crypto.Hash) (asn1.ObjectIdentifier, bool) {
	oid, err := oidFromHash(h)
	return oid, err == nil
}

// HashByOID is the hash oid names, among those HashOID gives (SHA-256, SHA-384 and
// SHA-512); anything else, weak or unknown, is not found.
func HashByOID(oid asn1.ObjectIdentifier) (crypto.Hash, bool) {
	h, err := hashFromOID(oid)
	return h, err == nil && h != 0
}

// hashFromOID maps a digest algorithm to a hash. SHA-1 and SHA-224 are refused by
// policy (SHA-1 is broken for signatures; SHA-224 is not among the ETSI TS 119 312
// hashes for signatures) but can still be computed: for them it returns the hash AND
// an *AlgorithmError, so a verifier can tell an intact weak signature from a broken
// one. A zero hash means it cannot be computed at all.
func hashFromOID(oid asn1.ObjectIdentifier) (crypto.Hash, error) {
	switch {
	case oid.Equal(OIDSHA256):
		return crypto.SHA256, nil
	case oid.Equal(OIDSHA384):
		return crypto.SHA384, nil
	case oid.Equal(OIDSHA512):
		return crypto.SHA512, nil
	case oid.Equal(OIDSHA1):
		return crypto.SHA1, unsupported("SHA-1", "refused by policy")
	case oid.Equal(OIDSHA224):
		return crypto.SHA224, unsupported("SHA-224", "refused by policy")
	case oid.Equal(OIDMD5):
		return 0, unsupported("MD5", "refused by policy")
	case oid.Equal(OIDSHAKE256):
		return 0, unsupported("Ed448 (SHAKE256 digest)", "")
	}
	return 0, unsupported("digest "+oid.String(), "")
}

func oidFromHash(h crypto.Hash) (asn1.ObjectIdentifier, error) {
	switch h {
	case crypto.SHA256:
		return OIDSHA256, nil
	case crypto.SHA384:
		return OIDSHA384, nil
	case crypto.SHA512:
		return OIDSHA512, nil
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
