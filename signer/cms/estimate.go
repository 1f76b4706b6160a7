package cms

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"errors"
	"fmt"
	"time"
)

// TimestampAllowance describes the timestamp tokens a signature will carry, for
// EstimateSize.
type TimestampAllowance struct {
	// CertificatesDER is the total DER size of the certificates the TSA puts in its
	// tokens (its own, and its chain when it sends one).
	CertificatesDER int
	// SignatureBytes is the TSA's signature size; 0 means 512 (RSA-4096, the
	// largest in common use).
	SignatureBytes int
}

// Bounds for the parts of a timestamp token that depend on the TSA rather than on the
// caller: three copies of a distinguished name (the SignerInfo sid, the ESSCertID
// issuerSerial, the TSTInfo tsa field) of at most 1 KiB each, and the fixed framing,
// signed attributes and TSTInfo fields (policy, SHA-512 imprint, 20-byte serial and
// nonce, fractional genTime, accuracy) within 1.5 KiB.
const (
	tokenNameAllowance  = 3 * 1024
	tokenFixedAllowance = 1536
	// A SET of one attribute around a token, and the length octets of the enclosing
	// SignerInfo, SET, SignedData, [0] and ContentInfo growing by up to 4 bytes each.
	unsignedWrapper = 32 + 5*4
)

// EstimateSize is an upper bound of the DER size of the CMS that Prepare and Complete
// produce for spec, with a signature timestamp when ts is non-nil, plus extraBytes
// (revocation data, later attributes). It builds the real structure with a
// maximum-size signature, so the bound is exact apart from the timestamp, whose bound
// rests on the documented allowances. Use it to size a PDF /Contents placeholder once,
// so the key is never asked twice.
func EstimateSize(spec SignerInfoSpec, ts *TimestampAllowance, extraBytes int) (int, error) {
	if spec.Certificate == nil {
		return 0, errors.New("cms: no signer certificate")
	}
	if extraBytes < 0 {
		return 0, errors.New("cms: negative extra bytes")
	}
	if spec.Profile == ProfileCAdES && spec.SigningTime.IsZero() {
		// GeneralizedTime is the longer encoding.
		spec.SigningTime = time.Date(2050, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	var digest []byte
	if spec.Hash.Available() {
		digest = make([]byte, spec.Hash.Size())
	}
	if spec.EncapsulatedContent != nil && spec.Hash.Available() {
		h := spec.Hash.New()
		h.Write(spec.EncapsulatedContent)
		digest = h.Sum(nil)
	}
	p, err := Prepare(spec, digest)
	if err != nil {
		return 0, err
	}
	n, err := maxSignatureSize(spec.Certificate.PublicKey)
	if err != nil {
		return 0, err
	}
	der, err := p.assemble(make([]byte, n), nil)
	if err != nil {
		return 0, err
	}
	size := len(der) + extraBytes
	if ts != nil {
		if ts.CertificatesDER < 0 || ts.SignatureBytes < 0 {
			return 0, errors.New("cms: negative timestamp allowance")
		}
		sig := ts.SignatureBytes
		if sig == 0 {
			sig = 512
		}
		size += unsignedWrapper + ts.CertificatesDER + sig + tokenNameAllowance + tokenFixedAllowance
	}
	return size, nil
}

// maxSignatureSize is the largest signature value the key can produce: the modulus
// size for RSA, and for ECDSA a SEQUENCE of two INTEGERs each one byte longer than the
// coordinate (a leading zero).
func maxSignatureSize(pub crypto.PublicKey) (int, error) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return (k.N.BitLen() + 7) / 8, nil
	case *ecdsa.PublicKey:
		n := (k.Curve.Params().BitSize + 7) / 8
		body := 2 * (2 + n + 1)
		if body < 128 {
			return 2 + body, nil
		}
		return 3 + body, nil
	}
	return 0, fmt.Errorf("cms: cannot size a signature for %T", pub)
}
