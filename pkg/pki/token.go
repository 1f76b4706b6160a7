package pki

import (
	"bytes"
	"crypto"
	"crypto/subtle"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/kyso-vn/kyso/signer/cms"
)

// TimestampInfo is what an RFC 3161 timestamp token says, once its signature verified.
type TimestampInfo struct {
	// GenTime is when the TSA says the imprint existed.
	GenTime  time.Time
	Accuracy time.Duration
	// HashAlgorithm and HashedMessage are the message imprint.
	HashAlgorithm crypto.Hash
	HashedMessage []byte
	SerialNumber  *big.Int
	Nonce         *big.Int // nil when the token has none
	Policy        asn1.ObjectIdentifier
	// Signer is the TSA certificate whose key signed the token.
	Signer *x509.Certificate
	// Certificates are those the token carries (the TSA's and possibly its chain).
	Certificates []*x509.Certificate
	// Raw is the token (a CMS ContentInfo) as given.
	Raw []byte
}

// CheckImprint reports whether the token covers digest made with hash h.
func (ti *TimestampInfo) CheckImprint(h crypto.Hash, digest []byte) error {
	if ti.HashAlgorithm != h || subtle.ConstantTimeCompare(ti.HashedMessage, digest) != 1 {
		return newErr("timestamp", "", ErrTSAMismatch, "token imprint %v:%x does not cover %v:%x",
			ti.HashAlgorithm, ti.HashedMessage, h, digest)
	}
	return nil
}

// CheckData hashes data with the token's hash and checks the imprint.
func (ti *TimestampInfo) CheckData(data []byte) error {
	if !ti.HashAlgorithm.Available() {
		return newErr("timestamp", "", ErrUnsupportedAlgorithm, "hash %v", ti.HashAlgorithm)
	}
	h := ti.HashAlgorithm.New()
	h.Write(data)
	return ti.CheckImprint(ti.HashAlgorithm, h.Sum(nil))
}

// maxTimestampTokenSize bounds a token from a TSA; one with its chain is a few KiB.
const maxTimestampTokenSize = 1 << 20

// ParseTimestampToken parses an RFC 3161 TimeStampToken (DER CMS SignedData holding a
// TSTInfo) and verifies its signature: the signed attributes' content type and message
// digest, the signature with the TSA certificate's key, the ESS signing-certificate
// attribute binding that certificate, and that the certificate is fit for timestamping
// (EKU timeStamping only, critical). The TSA certificate is looked for in the token and
// then in extra. Whether the TSA chains to a trust anchor, and its revocation, are the
// caller's to check (TrustStore.BuildChain, RevocationChecker).
//
// The parsing and the signature check are signer/cms's (ParseTimestampToken); this
// adds what a TSA client requires of a fresh token and a verifier reading old
// documents does not: DER with nothing after it, signed attributes with an ESS
// signing-certificate, SHA-2 only (an algorithm refused by policy is refused here even
// when the token is intact), and an imprint as long as its hash.
func ParseTimestampToken(der []byte, extra ...*x509.Certificate) (*TimestampInfo, error) {
	ti, err := parseTimestampToken(der, extra)
	if err != nil {
		var pe *Error
		if errors.As(err, &pe) {
			return nil, err
		}
		kind := ErrTimestampInvalid
		if errors.Is(err, cms.ErrUnsupportedAlgorithm) {
			kind = ErrUnsupportedAlgorithm
		}
		return nil, &Error{Op: "parse timestamp", Kind: kind, Err: err}
	}
	return ti, nil
}

func parseTimestampToken(der []byte, extra []*x509.Certificate) (*TimestampInfo, error) {
	if len(der) > maxTimestampTokenSize {
		return nil, fmt.Errorf("token of %d bytes is larger than %d", len(der), maxTimestampTokenSize)
	}
	t, err := cms.ParseTimestampToken(der, extra...)
	if err != nil {
		return nil, err
	}
	// cms.Parse normalises BER and allows trailing zero bytes (a PDF's padding); its
	// DER is the input itself only when the input was DER with nothing after it.
	if !bytes.Equal(t.Token.Raw, der) {
		return nil, errors.New("the token is not DER, or has data after it")
	}
	if !t.Signer.HasSignedAttrs {
		return nil, errors.New("signer has no signed attributes")
	}
	// RFC 3161 2.4.1 requires the ESS signing-certificate attribute, so a token cannot be
	// re-attributed to another certificate of the same key; cms checks it when present.
	if t.Signer.SigningCertificate == "" {
		return nil, errors.New("no signing-certificate attribute")
	}
	h, ok := cms.HashByOID(t.Info.HashAlgorithm)
	if !ok {
		return nil, &Error{Op: "parse timestamp", Kind: ErrUnsupportedAlgorithm,
			Err: fmt.Errorf("imprint hash %v", t.Info.HashAlgorithm)}
	}
	if len(t.Info.HashedMessage) != h.Size() {
		return nil, fmt.Errorf("imprint of %d bytes for %v", len(t.Info.HashedMessage), h)
	}
	signer := t.Signer.Certificate
	if err := CheckTSACertificate(signer); err != nil {
		return nil, err
	}
	return &TimestampInfo{
		GenTime:       t.Info.GenTime.UTC(),
		Accuracy:      t.Info.Accuracy,
		HashAlgorithm: h,
		HashedMessage: t.Info.HashedMessage,
		SerialNumber:  t.Info.SerialNumber,
		Nonce:         t.Info.Nonce,
		Policy:        t.Info.Policy,
		Signer:        signer,
		Certificates:  t.Token.Certificates,
		Raw:           der,
	}, nil
}

// CheckTSACertificate checks RFC 3161 2.3: the certificate's only extended key usage is
// timeStamping, and the extension is critical.
func CheckTSACertificate(c *x509.Certificate) error {
	for _, e := range c.Extensions {
		if !e.Id.Equal(cms.OIDExtKeyUsage) {
			continue
		}
		// crypto/x509 has parsed the extension: timeStamping is known to it, so it is
		// in ExtKeyUsage, and anything else would be there or in UnknownExtKeyUsage.
		if len(c.ExtKeyUsage) != 1 || c.ExtKeyUsage[0] != x509.ExtKeyUsageTimeStamping || len(c.UnknownExtKeyUsage) != 0 || !e.Critical {
			return newErr("timestamp", "", ErrTimestampInvalid,
				"TSA certificate %q: extended key usage must be timeStamping only and critical", c.Subject.CommonName)
		}
		if c.KeyUsage != 0 && c.KeyUsage&(x509.KeyUsageDigitalSignature|x509.KeyUsageContentCommitment) == 0 {
			return newErr("timestamp", "", ErrTimestampInvalid, "TSA certificate %q: key usage forbids signatures", c.Subject.CommonName)
		}
		return nil
	}
	return newErr("timestamp", "", ErrTimestampInvalid, "TSA certificate %q has no extended key usage timeStamping", c.Subject.CommonName)
}
