package cms

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// Timestamper obtains an RFC 3161 timestamp token (the DER ContentInfo, not the whole
// TimeStampResp) over digest. pkg/pki's TSA client implements it; it should check the
// reply against its request (nonce, imprint) itself.
type Timestamper interface {
	Timestamp(ctx context.Context, digest []byte, hash crypto.Hash) ([]byte, error)
}

// SignatureTimestamp asks ts for a token over the SHA-256 of signature and returns it
// as the id-aa-signatureTimeStampToken unsigned attribute. The token is parsed, its
// own signature and its imprint checked, before it goes into a signature.
func SignatureTimestamp(ctx context.Context, ts Timestamper, signature []byte) (Attribute, error) {
	if ts == nil {
		return Attribute{}, errors.New("cms: no timestamper")
	}
	d := sha256.Sum256(signature)
	tok, err := ts.Timestamp(ctx, d[:], crypto.SHA256)
	if err != nil {
		return Attribute{}, fmt.Errorf("cms: signature timestamp: %w", err)
	}
	t, err := ParseTimestampToken(tok)
	if err != nil {
		return Attribute{}, fmt.Errorf("cms: signature timestamp from the TSA: %w", err)
	}
	if err := t.MatchesDigest(d[:], crypto.SHA256); err != nil {
		return Attribute{}, fmt.Errorf("cms: signature timestamp from the TSA: %w", err)
	}
	return Attribute{Type: OIDAttrSignatureTimeStampToken, Values: [][]byte{t.Token.Raw}}, nil
}

// AddSignatureTimestamp adds a signature timestamp from ts to an existing CMS (raising
// B-B to B-T after the fact).
func AddSignatureTimestamp(ctx context.Context, der []byte, ts Timestamper) ([]byte, error) {
	sd, err := Parse(der)
	if err != nil {
		return nil, err
	}
	si, err := sd.onlySigner()
	if err != nil {
		return nil, err
	}
	attr, err := SignatureTimestamp(ctx, ts, si.Signature)
	if err != nil {
		return nil, err
	}
	return AddUnsignedAttributes(sd.Raw, attr)
}

// TSTInfo is the content of an RFC 3161 timestamp token.
type TSTInfo struct {
	Version       int
	Policy        asn1.ObjectIdentifier
	HashAlgorithm asn1.ObjectIdentifier
	HashedMessage []byte
	SerialNumber  *big.Int
	GenTime       time.Time
	Accuracy      time.Duration
	Ordering      bool
	Nonce         *big.Int // nil when absent
	TSAName       []byte   // raw GeneralName; nil when absent
	Raw           []byte
}

// Timestamp is a parsed timestamp token whose signature has been verified (integrity
// only: whether the TSA is trusted is for the caller to decide from Signer.Certificate).
type Timestamp struct {
	Token  *SignedData
	Info   TSTInfo
	Signer *Result
}

// ParseTimestampToken parses an RFC 3161 token, verifies its signature over the TSTInfo
// and returns it. When the token is intact but uses an algorithm refused by policy
// (a SHA-1 TSA), the token is returned with an *AlgorithmError whose Verified is set.
//
// The TSA certificate is looked for among the token's certificates, then among extra:
// a token asked for without certReq carries none, and the caller knows it from
// elsewhere.
func ParseTimestampToken(der []byte, extra ...*x509.Certificate) (*Timestamp, error) {
	sd, err := Parse(der)
	if err != nil {
		return nil, err
	}
	if !sd.ContentType.Equal(OIDTSTInfo) || sd.Content == nil {
		return nil, formatErrorf("timestamp token does not contain a TSTInfo")
	}
	info, err := parseTSTInfo(sd.Content)
	if err != nil {
		return nil, err
	}
	res, err := sd.verifyContent(bytes.NewReader(sd.Content), extra)
	if res == nil {
		return nil, fmt.Errorf("cms: timestamp token: %w", err)
	}
	return &Timestamp{Token: sd, Info: *info, Signer: res}, err
}

// Hash is the hash of the message imprint, to hash the timestamped data with; like
// SignerInfo.Hash it may come with a policy error (SHA-1) and still be usable.
func (t *Timestamp) Hash() (crypto.Hash, error) { return hashFromOID(t.Info.HashAlgorithm) }

// MatchesDigest checks the token's message imprint against digest (under hash). A
// matching imprint under a hash refused by policy gives an *AlgorithmError with
// Verified set.
func (t *Timestamp) MatchesDigest(digest []byte, hash crypto.Hash) error {
	h, weak := t.Hash()
	if h == 0 {
		return weak
	}
	if h != hash {
		return fmt.Errorf("%w: timestamp imprint uses %s, not %s", ErrDigestMismatch, h, hash)
	}
	if !bytes.Equal(t.Info.HashedMessage, digest) {
		return fmt.Errorf("%w: timestamp imprint", ErrDigestMismatch)
	}
	if weak != nil {
		return verifiedButWeak(weak)
	}
	return nil
}

// Matches checks the token's message imprint against data.
func (t *Timestamp) Matches(data []byte) error {
	h, err := t.Hash()
	if h == 0 {
		return err
	}
	hh := h.New()
	hh.Write(data)
	return t.MatchesDigest(hh.Sum(nil), h)
}

func parseTSTInfo(der []byte) (*TSTInfo, error) {
	in := cryptobyte.String(der)
	var s cryptobyte.String
	info := &TSTInfo{Raw: der, SerialNumber: new(big.Int)}
	var version int64
	var imprint cryptobyte.String
	if !in.ReadASN1(&s, cbasn1.SEQUENCE) || !in.Empty() ||
		!s.ReadASN1Int64WithTag(&version, cbasn1.INTEGER) || version != 1 ||
		!s.ReadASN1ObjectIdentifier(&info.Policy) ||
		!s.ReadASN1(&imprint, cbasn1.SEQUENCE) {
		return nil, formatErrorf("TSTInfo")
	}
	info.Version = int(version)
	alg, err := readAlgorithm(&imprint)
	if err != nil {
		return nil, err
	}
	info.HashAlgorithm = alg.Algorithm
	var hashed cryptobyte.String
	if !imprint.ReadASN1(&hashed, cbasn1.OCTET_STRING) || !imprint.Empty() {
		return nil, formatErrorf("TSTInfo messageImprint")
	}
	info.HashedMessage = []byte(hashed)
	var gt cryptobyte.String
	if !s.ReadASN1Integer(info.SerialNumber) || !s.ReadASN1(&gt, cbasn1.GeneralizedTime) {
		return nil, formatErrorf("TSTInfo serial or genTime")
	}
	if info.GenTime, err = parseGeneralizedTime(string(gt)); err != nil {
		return nil, err
	}
	if s.PeekASN1Tag(cbasn1.SEQUENCE) {
		var acc cryptobyte.String
		s.ReadASN1(&acc, cbasn1.SEQUENCE)
		if info.Accuracy, err = parseAccuracy(acc); err != nil {
			return nil, err
		}
	}
	if s.PeekASN1Tag(cbasn1.BOOLEAN) && !s.ReadASN1Boolean(&info.Ordering) {
		return nil, formatErrorf("TSTInfo ordering")
	}
	if s.PeekASN1Tag(cbasn1.INTEGER) {
		info.Nonce = new(big.Int)
		if !s.ReadASN1Integer(info.Nonce) {
			return nil, formatErrorf("TSTInfo nonce")
		}
	}
	if tag := cbasn1.Tag(0).Constructed().ContextSpecific(); s.PeekASN1Tag(tag) {
		var name cryptobyte.String
		s.ReadASN1(&name, tag)
		info.TSAName = []byte(name)
	}
	if tag := cbasn1.Tag(1).Constructed().ContextSpecific(); s.PeekASN1Tag(tag) {
		var ext cryptobyte.String
		s.ReadASN1(&ext, tag) // extensions carry nothing this package acts on
	}
	if !s.Empty() {
		return nil, formatErrorf("data after the TSTInfo fields")
	}
	return info, nil
}

func parseAccuracy(s cryptobyte.String) (time.Duration, error) {
	var sec, ms, us int64
	if s.PeekASN1Tag(cbasn1.INTEGER) && !s.ReadASN1Int64WithTag(&sec, cbasn1.INTEGER) {
		return 0, formatErrorf("TSTInfo accuracy seconds")
	}
	if tag := cbasn1.Tag(0).ContextSpecific(); s.PeekASN1Tag(tag) && !s.ReadASN1Int64WithTag(&ms, tag) {
		return 0, formatErrorf("TSTInfo accuracy millis")
	}
	if tag := cbasn1.Tag(1).ContextSpecific(); s.PeekASN1Tag(tag) && !s.ReadASN1Int64WithTag(&us, tag) {
		return 0, formatErrorf("TSTInfo accuracy micros")
	}
	if !s.Empty() || sec < 0 || sec > 1<<20 || ms < 0 || ms > 999 || us < 0 || us > 999 {
		return 0, formatErrorf("TSTInfo accuracy")
	}
	return time.Duration(sec)*time.Second + time.Duration(ms)*time.Millisecond + time.Duration(us)*time.Microsecond, nil
}

// parseGeneralizedTime reads the DER GeneralizedTime of RFC 3161: YYYYMMDDhhmmss, an
// optional fraction without trailing zeros, then Z. cryptobyte's reader rejects the
// fraction TSAs commonly send.
func parseGeneralizedTime(s string) (time.Time, error) {
	bad := func() (time.Time, error) { return time.Time{}, formatErrorf("GeneralizedTime %q", s) }
	if len(s) < 15 || s[len(s)-1] != 'Z' {
		return bad()
	}
	base, frac := s[:14], s[14:len(s)-1]
	for i := 0; i < len(base); i++ {
		if base[i] < '0' || base[i] > '9' {
			return bad()
		}
	}
	t, err := time.Parse("20060102150405", base)
	if err != nil {
		return bad()
	}
	if frac != "" {
		if frac[0] != '.' || len(frac) < 2 || len(frac) > 10 || frac[len(frac)-1] == '0' {
			return bad()
		}
		digits := frac[1:]
		n, err := strconv.ParseUint(digits, 10, 64)
		if err != nil {
			return bad()
		}
		for i := len(digits); i < 9; i++ {
			n *= 10
		}
		t = t.Add(time.Duration(n))
	}
	return t, nil
}
