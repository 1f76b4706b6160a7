package pki

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"time"
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

var (
	oidSignedData         = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2}
	oidTSTInfo            = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 1, 4}
	oidAttrContentType    = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 3}
	oidAttrMessageDigest  = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 4}
	oidAttrSigningCert    = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 2, 12}
	oidAttrSigningCertV2  = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 2, 47}
	oidSHA256             = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}
	oidSHA384             = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 2}
	oidSHA512             = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 3}
	oidRSAEncryption      = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 1}
	oidSHA256WithRSA      = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 11}
	oidSHA384WithRSA      = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 12}
	oidSHA512WithRSA      = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 13}
	oidRSAPSS             = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 10}
	oidECPublicKey        = asn1.ObjectIdentifier{1, 2, 840, 10045, 2, 1}
	oidECDSAWithSHA256    = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}
	oidECDSAWithSHA384    = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 3}
	oidECDSAWithSHA512    = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 4}
	oidExtKeyUsage        = asn1.ObjectIdentifier{2, 5, 29, 37}
	oidKPTimeStamping     = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 8}
	errTrailingData       = errors.New("trailing data")
	hashByOID             = map[string]crypto.Hash{oidSHA256.String(): crypto.SHA256, oidSHA384.String(): crypto.SHA384, oidSHA512.String(): crypto.SHA512}
	hashOIDs              = map[crypto.Hash]asn1.ObjectIdentifier{crypto.SHA256: oidSHA256, crypto.SHA384: oidSHA384, crypto.SHA512: oidSHA512}
	maxTimestampTokenSize = 1 << 20
)

// rawElement captures a whole (optionally tagged) element with its tag. A struct is
// used rather than asn1.RawValue because encoding/asn1 lets an optional RawValue match
// any tag, which would swallow the next field.
type rawElement struct{ Raw asn1.RawContent }

type contentInfo struct {
	ContentType asn1.ObjectIdentifier
	Content     asn1.RawValue `asn1:"explicit,tag:0"`
}

type signedData struct {
	Version          int
	DigestAlgorithms asn1.RawValue
	EncapContentInfo struct {
		EContentType asn1.ObjectIdentifier
		EContent     []byte `asn1:"explicit,optional,tag:0"`
	}
	Certificates rawElement   `asn1:"optional,tag:0"`
	CRLs         rawElement   `asn1:"optional,tag:1"`
	SignerInfos  []signerInfo `asn1:"set"`
}

type signerInfo struct {
	Version            int
	SID                asn1.RawValue
	DigestAlgorithm    pkix.AlgorithmIdentifier
	SignedAttrs        rawElement `asn1:"optional,tag:0"`
	SignatureAlgorithm pkix.AlgorithmIdentifier
	Signature          []byte
	UnsignedAttrs      rawElement `asn1:"optional,tag:1"`
}

type attribute struct {
	Type   asn1.ObjectIdentifier
	Values []asn1.RawValue `asn1:"set"`
}

type issuerAndSerial struct {
	Issuer asn1.RawValue
	Serial *big.Int
}

type messageImprint struct {
	HashAlgorithm pkix.AlgorithmIdentifier
	HashedMessage []byte
}

type tstInfo struct {
	Version        int
	Policy         asn1.ObjectIdentifier
	MessageImprint messageImprint
	SerialNumber   *big.Int
	GenTime        asn1.RawValue
	Accuracy       struct {
		Seconds int `asn1:"optional"`
		Millis  int `asn1:"optional,tag:0"`
		Micros  int `asn1:"optional,tag:1"`
	} `asn1:"optional"`
	Ordering   bool             `asn1:"optional,default:false"`
	Nonce      *big.Int         `asn1:"optional"`
	TSA        asn1.RawValue    `asn1:"optional,explicit,tag:0"`
	Extensions []pkix.Extension `asn1:"optional,tag:1"`
}

func unmarshalDER(der []byte, v any, params string) error {
	rest, err := asn1.UnmarshalWithParams(der, v, params)
	if err != nil {
		return err
	}
	if len(rest) != 0 {
		return errTrailingData
	}
	return nil
}

// ParseTimestampToken parses an RFC 3161 TimeStampToken (DER CMS SignedData holding a
// TSTInfo) and verifies its signature: the signed attributes' content type and message
// digest, the signature with the TSA certificate's key, the ESS signing-certificate
// attribute binding that certificate, and that the certificate is fit for timestamping
// (EKU timeStamping only, critical). The TSA certificate is looked for in the token and
// then in extra. Whether the TSA chains to a trust anchor, and its revocation, are the
// caller's to check (TrustStore.BuildChain, RevocationChecker).
func ParseTimestampToken(der []byte, extra ...*x509.Certificate) (*TimestampInfo, error) {
	ti, err := parseTimestampToken(der, extra)
	if err != nil {
		var pe *Error
		if errors.As(err, &pe) {
			return nil, err
		}
		return nil, &Error{Op: "parse timestamp", Kind: ErrTimestampInvalid, Err: err}
	}
	return ti, nil
}

func parseTimestampToken(der []byte, extra []*x509.Certificate) (*TimestampInfo, error) {
	if len(der) > maxTimestampTokenSize {
		return nil, fmt.Errorf("token of %d bytes is larger than %d", len(der), maxTimestampTokenSize)
	}
	var ci contentInfo
	if err := unmarshalDER(der, &ci, ""); err != nil {
		return nil, fmt.Errorf("content info: %w", err)
	}
	if !ci.ContentType.Equal(oidSignedData) {
		return nil, fmt.Errorf("content type %v is not signed-data", ci.ContentType)
	}
	var sd signedData
	if err := unmarshalDER(ci.Content.Bytes, &sd, ""); err != nil {
		return nil, fmt.Errorf("signed data: %w", err)
	}
	if !sd.EncapContentInfo.EContentType.Equal(oidTSTInfo) {
		return nil, fmt.Errorf("encapsulated content %v is not a TSTInfo", sd.EncapContentInfo.EContentType)
	}
	if len(sd.SignerInfos) != 1 {
		return nil, fmt.Errorf("token has %d signers, want 1", len(sd.SignerInfos))
	}
	content := sd.EncapContentInfo.EContent
	var info tstInfo
	if err := unmarshalDER(content, &info, ""); err != nil {
		return nil, fmt.Errorf("TSTInfo: %w", err)
	}
	if info.Version != 1 {
		return nil, fmt.Errorf("TSTInfo version %d", info.Version)
	}
	genTime, err := parseGeneralizedTime(info.GenTime)
	if err != nil {
		return nil, err
	}
	h, ok := hashByOID[info.MessageImprint.HashAlgorithm.Algorithm.String()]
	if !ok {
		return nil, &Error{Op: "parse timestamp", Kind: ErrUnsupportedAlgorithm,
			Err: fmt.Errorf("imprint hash %v", info.MessageImprint.HashAlgorithm.Algorithm)}
	}
	if len(info.MessageImprint.HashedMessage) != h.Size() {
		return nil, fmt.Errorf("imprint of %d bytes for %v", len(info.MessageImprint.HashedMessage), h)
	}
	certs, err := parseCertificateSet(sd.Certificates.Raw)
	if err != nil {
		return nil, err
	}
	si := sd.SignerInfos[0]
	signer, err := findSigner(si.SID, append(append([]*x509.Certificate{}, certs...), extra...))
	if err != nil {
		return nil, err
	}
	if err := verifySignerInfo(si, content, signer); err != nil {
		return nil, err
	}
	if err := CheckTSACertificate(signer); err != nil {
		return nil, err
	}
	return &TimestampInfo{
		GenTime: genTime,
		Accuracy: time.Duration(info.Accuracy.Seconds)*time.Second + time.Duration(info.Accuracy.Millis)*time.Millisecond +
			time.Duration(info.Accuracy.Micros)*time.Microsecond,
		HashAlgorithm: h,
		HashedMessage: info.MessageImprint.HashedMessage,
		SerialNumber:  info.SerialNumber,
		Nonce:         info.Nonce,
		Policy:        info.Policy,
		Signer:        signer,
		Certificates:  certs,
		Raw:           der,
	}, nil
}

// CheckTSACertificate checks RFC 3161 2.3: the certificate's only extended key usage is
// timeStamping, and the extension is critical.
func CheckTSACertificate(c *x509.Certificate) error {
	for _, e := range c.Extensions {
		if !e.Id.Equal(oidExtKeyUsage) {
			continue
		}
		var ekus []asn1.ObjectIdentifier
		if err := unmarshalDER(e.Value, &ekus, ""); err != nil || len(ekus) != 1 || !ekus[0].Equal(oidKPTimeStamping) || !e.Critical {
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

// parseGeneralizedTime reads YYYYMMDDHHMMSS[.f+]Z, which encoding/asn1 refuses when it
// has a fraction (most TSAs write milliseconds).
func parseGeneralizedTime(rv asn1.RawValue) (time.Time, error) {
	if rv.Class != asn1.ClassUniversal || rv.Tag != asn1.TagGeneralizedTime {
		return time.Time{}, errors.New("genTime is not a GeneralizedTime")
	}
	s := string(rv.Bytes)
	if len(s) < 15 || s[len(s)-1] != 'Z' {
		return time.Time{}, fmt.Errorf("genTime %q is not UTC GeneralizedTime", s)
	}
	body := s[:len(s)-1]
	layout := "20060102150405"
	if len(body) > 14 {
		frac := body[14:]
		if len(frac) < 2 || frac[0] != '.' || frac[len(frac)-1] == '0' {
			return time.Time{}, fmt.Errorf("genTime %q has a malformed fraction", s)
		}
		if _, err := strconv.ParseUint(frac[1:], 10, 64); err != nil || len(frac) > 10 {
			return time.Time{}, fmt.Errorf("genTime %q has a malformed fraction", s)
		}
		layout += "." + string(bytes.Repeat([]byte("0"), len(frac)-1))
	}
	t, err := time.Parse(layout, body)
	if err != nil {
		return time.Time{}, fmt.Errorf("genTime %q: %w", s, err)
	}
	return t.UTC(), nil
}

func parseCertificateSet(raw []byte) ([]*x509.Certificate, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	var set asn1.RawValue
	if err := unmarshalDER(raw, &set, ""); err != nil {
		return nil, fmt.Errorf("certificates: %w", err)
	}
	var certs []*x509.Certificate
	rest := set.Bytes
	for len(rest) > 0 {
		var el asn1.RawValue
		var err error
		if rest, err = asn1.Unmarshal(rest, &el); err != nil {
			return nil, fmt.Errorf("certificates: %w", err)
		}
		// Only plain certificates count; attribute and other certificates are skipped.
		if el.Class != asn1.ClassUniversal || el.Tag != asn1.TagSequence {
			continue
		}
		c, err := x509.ParseCertificate(el.FullBytes)
		if err != nil {
			return nil, fmt.Errorf("certificates: %w", err)
		}
		certs = append(certs, c)
	}
	return certs, nil
}

func findSigner(sid asn1.RawValue, certs []*x509.Certificate) (*x509.Certificate, error) {
	switch {
	case sid.Class == asn1.ClassUniversal && sid.Tag == asn1.TagSequence:
		var ias issuerAndSerial
		if err := unmarshalDER(sid.FullBytes, &ias, ""); err != nil || ias.Serial == nil {
			return nil, fmt.Errorf("signer identifier: %v", err)
		}
		for _, c := range certs {
			if c.SerialNumber.Cmp(ias.Serial) == 0 && bytes.Equal(c.RawIssuer, ias.Issuer.FullBytes) {
				return c, nil
			}
		}
	case sid.Class == asn1.ClassContextSpecific && sid.Tag == 0:
		for _, c := range certs {
			if len(sid.Bytes) > 0 && bytes.Equal(c.SubjectKeyId, sid.Bytes) {
				return c, nil
			}
		}
	default:
		return nil, errors.New("signer identifier of unknown form")
	}
	return nil, errors.New("the TSA certificate is neither in the token nor given")
}

// verifySignerInfo checks a CMS SignerInfo over content signed by cert (RFC 5652 5.4).
func verifySignerInfo(si signerInfo, content []byte, cert *x509.Certificate) error {
	h, ok := hashByOID[si.DigestAlgorithm.Algorithm.String()]
	if !ok {
		return &Error{Op: "parse timestamp", Kind: ErrUnsupportedAlgorithm, Err: fmt.Errorf("digest %v", si.DigestAlgorithm.Algorithm)}
	}
	if len(si.SignedAttrs.Raw) == 0 {
		return errors.New("signer has no signed attributes")
	}
	// The signature covers the attributes DER-encoded as a SET OF, not with the [0]
	// tag they carry in the SignerInfo (RFC 5652 5.4).
	signed := append([]byte{0x31}, si.SignedAttrs.Raw[1:]...)
	var attrs []attribute
	if err := unmarshalDER(signed, &attrs, "set"); err != nil {
		return fmt.Errorf("signed attributes: %w", err)
	}
	var contentType, digest, signingCert, signingCertV2 []byte
	for _, a := range attrs {
		if len(a.Values) != 1 {
			return fmt.Errorf("signed attribute %v has %d values", a.Type, len(a.Values))
		}
		v := a.Values[0].FullBytes
		switch {
		case a.Type.Equal(oidAttrContentType):
			contentType = v
		case a.Type.Equal(oidAttrMessageDigest):
			digest = v
		case a.Type.Equal(oidAttrSigningCert):
			signingCert = v
		case a.Type.Equal(oidAttrSigningCertV2):
			signingCertV2 = v
		}
	}
	var ct asn1.ObjectIdentifier
	if err := unmarshalDER(contentType, &ct, ""); err != nil || !ct.Equal(oidTSTInfo) {
		return errors.New("content-type attribute missing or not TSTInfo")
	}
	var md []byte
	if err := unmarshalDER(digest, &md, ""); err != nil {
		return errors.New("message-digest attribute missing")
	}
	hh := h.New()
	hh.Write(content)
	if subtle.ConstantTimeCompare(md, hh.Sum(nil)) != 1 {
		return errors.New("message digest does not match the TSTInfo")
	}
	if err := checkESSCertID(signingCert, signingCertV2, cert); err != nil {
		return err
	}
	hh = h.New()
	hh.Write(signed)
	return verifyDigestSignature(cert.PublicKey, si.SignatureAlgorithm, h, hh.Sum(nil), si.Signature)
}

// checkESSCertID checks the signing-certificate attribute (RFC 2634 / RFC 5035) that
// RFC 3161 requires, so a token cannot be re-attributed to another certificate of the
// same key.
func checkESSCertID(v1, v2 []byte, cert *x509.Certificate) error {
	var ids []asn1.RawValue
	var wantHash crypto.Hash
	switch {
	case v2 != nil:
		var sc struct {
			Certs    []asn1.RawValue
			Policies asn1.RawValue `asn1:"optional"`
		}
		if err := unmarshalDER(v2, &sc, ""); err != nil || len(sc.Certs) == 0 {
			return errors.New("malformed signing-certificate-v2 attribute")
		}
		ids, wantHash = sc.Certs[:1], crypto.SHA256
	case v1 != nil:
		var sc struct {
			Certs    []asn1.RawValue
			Policies asn1.RawValue `asn1:"optional"`
		}
		if err := unmarshalDER(v1, &sc, ""); err != nil || len(sc.Certs) == 0 {
			return errors.New("malformed signing-certificate attribute")
		}
		ids, wantHash = sc.Certs[:1], crypto.SHA1
	default:
		return errors.New("no signing-certificate attribute")
	}
	var fields []asn1.RawValue
	if err := unmarshalDER(ids[0].FullBytes, &fields, ""); err != nil || len(fields) == 0 {
		return errors.New("malformed ESS certificate identifier")
	}
	if v2 != nil && fields[0].Tag == asn1.TagSequence {
		var alg pkix.AlgorithmIdentifier
		if err := unmarshalDER(fields[0].FullBytes, &alg, ""); err != nil {
			return errors.New("malformed ESS certificate hash algorithm")
		}
		var ok bool
		if wantHash, ok = hashByOID[alg.Algorithm.String()]; !ok {
			return &Error{Op: "parse timestamp", Kind: ErrUnsupportedAlgorithm, Err: fmt.Errorf("ESS certificate hash %v", alg.Algorithm)}
		}
		fields = fields[1:]
	}
	var certHash []byte
	if len(fields) == 0 || unmarshalDER(fields[0].FullBytes, &certHash, "") != nil {
		return errors.New("malformed ESS certificate hash")
	}
	var sum []byte
	switch wantHash {
	case crypto.SHA1:
		s := sha1.Sum(cert.Raw)
		sum = s[:]
	case crypto.SHA256:
		s := sha256.Sum256(cert.Raw)
		sum = s[:]
	case crypto.SHA384:
		s := sha512.Sum384(cert.Raw)
		sum = s[:]
	case crypto.SHA512:
		s := sha512.Sum512(cert.Raw)
		sum = s[:]
	}
	if !bytes.Equal(sum, certHash) {
		return errors.New("signing-certificate attribute names another certificate")
	}
	return nil
}

// verifyDigestSignature checks sig over digest (made with h) with pub, for the
// signature algorithms CMS signers use with RSA and ECDSA keys.
func verifyDigestSignature(pub crypto.PublicKey, alg pkix.AlgorithmIdentifier, h crypto.Hash, digest, sig []byte) error {
	switch key := pub.(type) {
	case *rsa.PublicKey:
		switch {
		case alg.Algorithm.Equal(oidRSAEncryption),
			alg.Algorithm.Equal(oidSHA256WithRSA) && h == crypto.SHA256,
			alg.Algorithm.Equal(oidSHA384WithRSA) && h == crypto.SHA384,
			alg.Algorithm.Equal(oidSHA512WithRSA) && h == crypto.SHA512:
			if err := rsa.VerifyPKCS1v15(key, h, digest, sig); err != nil {
				return fmt.Errorf("signature: %w", err)
			}
			return nil
		case alg.Algorithm.Equal(oidRSAPSS):
			var params struct {
				Hash pkix.AlgorithmIdentifier `asn1:"explicit,optional,tag:0"`
				MGF  asn1.RawValue            `asn1:"explicit,optional,tag:1"`
				Salt int                      `asn1:"explicit,optional,tag:2,default:20"`
			}
			if err := unmarshalDER(alg.Parameters.FullBytes, &params, ""); err != nil {
				return fmt.Errorf("RSASSA-PSS parameters: %w", err)
			}
			if hashByOID[params.Hash.Algorithm.String()] != h {
				return &Error{Op: "verify", Kind: ErrUnsupportedAlgorithm, Err: errors.New("RSASSA-PSS hash differs from the digest algorithm")}
			}
			if err := rsa.VerifyPSS(key, h, digest, sig, &rsa.PSSOptions{SaltLength: params.Salt, Hash: h}); err != nil {
				return fmt.Errorf("signature: %w", err)
			}
			return nil
		}
	case *ecdsa.PublicKey:
		switch {
		case alg.Algorithm.Equal(oidECPublicKey),
			alg.Algorithm.Equal(oidECDSAWithSHA256) && h == crypto.SHA256,
			alg.Algorithm.Equal(oidECDSAWithSHA384) && h == crypto.SHA384,
			alg.Algorithm.Equal(oidECDSAWithSHA512) && h == crypto.SHA512:
			if !ecdsa.VerifyASN1(key, digest, sig) {
				return errors.New("signature: ECDSA verification failed")
			}
			return nil
		}
	}
	return &Error{Op: "verify", Kind: ErrUnsupportedAlgorithm, Err: fmt.Errorf("signature algorithm %v with %T", alg.Algorithm, pub)}
}
