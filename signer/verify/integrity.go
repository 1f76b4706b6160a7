package verify

import (
	"bytes"
	"crypto"
	"crypto/sha1"
	"crypto/x509"
	"errors"
	"fmt"
	"hash"
	"io"
	"time"

	"github.com/kyso-vn/kyso/signer/cms"
	"github.com/kyso-vn/kyso/signer/pdf"
)

// sigCheck carries one signature through the checks.
type sigCheck struct {
	found     *foundSig
	rep       *SignatureReport
	dict      pdf.Dict // the signature dictionary as of the signed revision
	br        []int64
	signedEnd int64
	contents  []byte // the DER from the ByteRange gap
	docTS     bool
	// certP is the DocMDP permission this signature sets as a certification, lockP
	// the PDF 2.0 /P of its field's lock; 0 if none.
	certP, lockP int
	// locks are the FieldMDP locks of this signature: its field's /Lock and the
	// FieldMDP references of its signature dictionary.
	locks []fieldLock

	cms *cmsOutcome
	// sd or tok is the parsed signature value; hash, hasher and digest the digest of
	// the signed ranges, computed in one pass with the others (nil digest: compute
	// while verifying).
	sd     *cms.SignedData
	tok    *cms.Timestamp
	hash   crypto.Hash
	hasher hash.Hash
	digest []byte
	// failed is set once the signature is TOTAL_FAILED for integrity or format.
	integrityErr error
	// whys are the reasons found for sub-indications, in both languages.
	whys map[SubIndication]msg
}

// cmsOutcome is what the CMS step found.
type cmsOutcome struct {
	signer      *x509.Certificate
	certs       []*x509.Certificate
	hash        crypto.Hash
	algorithm   string
	claimedTime time.Time
	signedAttrs bool
	signingCert string // "v2", "v1", ""
	hasSignTime bool
	sigTS       *tsOutcome
	// sha1Doc: adbe.pkcs7.sha1, the signer signed the document's SHA-1 digest.
	sha1Doc bool
	ocsps   [][]byte
	crls    [][]byte
	err     error
}

// tsOutcome is a timestamp token checked for integrity (imprint and TSA signature).
type tsOutcome struct {
	genTime time.Time
	signer  *x509.Certificate
	certs   []*x509.Certificate
	err     error
	// algs are the token's algorithms, for the dated constraints.
	algs []usedAlgorithm
}

// maxContentsHex bounds the /Contents gap: no CMS signature with its chain, timestamp
// and revocation data comes near 8 MiB of hex.
const maxContentsHex = 8 << 20

// checkByteRange checks that the signature's ByteRange is sane and that its gap is
// exactly the /Contents hex string of this signature dictionary in the revision it
// signs (read by openRevision). It fills sc.br, sc.signedEnd, sc.dict and sc.contents.
func checkByteRange(f io.ReaderAt, size int64, final *pdf.Reader, openRevision func(end int64) (*pdf.Reader, error), sc *sigCheck) error {
	br, err := byteRange(final, sc.found.dict)
	if err != nil {
		return err
	}
	sc.br = br
	sc.rep.ByteRange = br
	if br[0] != 0 {
		return fmt.Errorf("verify: /ByteRange does not start at byte 0")
	}
	if br[1] <= 0 || br[2] <= br[1] || br[3] <= 0 {
		return fmt.Errorf("verify: /ByteRange %v is not two ranges around a gap", br)
	}
	end := br[2] + br[3]
	if end < br[2] || end > size {
		return fmt.Errorf("verify: /ByteRange %v reaches past the end of the file (%d bytes)", br, size)
	}
	if br[2]-br[1] > maxContentsHex {
		return fmt.Errorf("verify: /ByteRange gap of %d bytes is larger than any signature", br[2]-br[1])
	}
	sc.signedEnd = end
	if sc.found.dictRef.Num == 0 {
		return fmt.Errorf("verify: the signature dictionary is not an indirect object")
	}
	rev, err := openRevision(end)
	if err != nil {
		return fmt.Errorf("verify: the signed revision cannot be read: %w", err)
	}
	off, inStream, ok := rev.ObjectOffset(sc.found.dictRef.Num)
	if !ok || inStream != 0 {
		return fmt.Errorf("verify: the signature dictionary (object %d) is not a plain object of the signed revision", sc.found.dictRef.Num)
	}
	d := rev.Dict(sc.found.dictRef)
	if d == nil {
		return fmt.Errorf("verify: the signature dictionary (object %d) cannot be read in the signed revision", sc.found.dictRef.Num)
	}
	sc.dict = d
	cs, ce, kind, err := contentsExtent(io.NewSectionReader(f, 0, end), end, off)
	if err != nil {
		return err
	}
	if kind != '<' {
		return fmt.Errorf("verify: /Contents is not a hex string")
	}
	if cs != br[1] || ce != br[2] {
		return fmt.Errorf("verify: the /ByteRange gap [%d, %d) is not the /Contents string [%d, %d)", br[1], br[2], cs, ce)
	}
	raw := make([]byte, ce-cs)
	if _, err := f.ReadAt(raw, cs); err != nil {
		return fmt.Errorf("verify: reading /Contents: %w", err)
	}
	der, err := unhexContents(raw)
	if err != nil {
		return err
	}
	if s, ok := d["Contents"].(pdf.String); !ok || string(s) != string(der) {
		return fmt.Errorf("verify: /Contents of the dictionary differs from the bytes in the gap")
	}
	sc.contents = der
	return nil
}

// parseSignatureValue parses the /Contents of a signature (CMS) or document
// timestamp (token) and picks the hash of its digest. It reports false when the
// digest cannot be chosen (the verification then reports why).
func parseSignatureValue(sc *sigCheck) bool {
	if isDocTimestamp(sc.dict) {
		t, err := cms.ParseTimestampToken(sc.contents)
		if err != nil {
			return false
		}
		h, err := t.Hash()
		if err != nil {
			return false
		}
		sc.tok, sc.hash = t, h
		return true
	}
	sd, err := cms.Parse(sc.contents)
	if err != nil {
		return false
	}
	sc.sd = sd
	if sc.dict["SubFilter"] == pdf.Name("adbe.pkcs7.sha1") || len(sd.SignerInfos) != 1 {
		return false
	}
	// a hash refused by policy (SHA-1) is still computed here: integrity is always
	// checked, the algorithm judged afterwards
	h, _ := sd.SignerInfos[0].Hash()
	if h == 0 {
		return false
	}
	sc.hash = h
	return true
}

// unhexContents decodes "<hex>" allowing white space, refusing anything else.
func unhexContents(raw []byte) ([]byte, error) {
	if len(raw) < 2 || raw[0] != '<' || raw[len(raw)-1] != '>' {
		return nil, fmt.Errorf("verify: /Contents is not a hex string")
	}
	out := make([]byte, 0, len(raw)/2)
	var hi byte
	half := false
	for _, c := range raw[1 : len(raw)-1] {
		var v byte
		switch {
		case c >= '0' && c <= '9':
			v = c - '0'
		case c >= 'a' && c <= 'f':
			v = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			v = c - 'A' + 10
		case isWS(c):
			continue
		default:
			return nil, fmt.Errorf("verify: /Contents holds a non-hex byte 0x%02x", c)
		}
		if half {
			out = append(out, hi<<4|v)
		} else {
			hi = v
		}
		half = !half
	}
	if half {
		out = append(out, hi<<4)
	}
	return out, nil
}

// rangesReader reads the two signed ranges once, in order.
func rangesReader(f io.ReaderAt, br []int64) io.Reader {
	return io.MultiReader(io.NewSectionReader(f, br[0], br[1]), io.NewSectionReader(f, br[2], br[3]))
}

// checkCMS verifies a signature's CMS over the byte ranges (integrity only).
func checkCMS(f io.ReaderAt, sc *sigCheck) *cmsOutcome {
	out := &cmsOutcome{}
	sd := sc.sd
	if sd == nil {
		var err error
		if sd, err = cms.Parse(sc.contents); err != nil {
			out.err = err
			return out
		}
	}
	out.certs = sd.Certificates
	out.crls = sd.CRLs
	for _, o := range sd.OtherRevocation {
		if o.Format.Equal(cms.OIDRevocationInfoOCSP) {
			out.ocsps = append(out.ocsps, o.Info)
		}
	}
	if len(sd.SignerInfos) == 1 {
		if c, err := sd.SignerCertificate(sd.SignerInfos[0]); err == nil {
			out.signer = c
		}
	}
	sub, _ := sc.dict["SubFilter"].(pdf.Name)
	var res *cms.Result
	var err error
	switch {
	case sub == "adbe.pkcs7.sha1":
		// The SignedData encapsulates the SHA-1 digest of the ranges, and the signer
		// signs that: both are checked; whether SHA-1 is still acceptable is the
		// cryptographic constraints' question, asked later with the proof of time.
		out.sha1Doc = true
		if len(sd.Content) != sha1.Size {
			out.err = fmt.Errorf("%w: adbe.pkcs7.sha1: the SignedData encapsulates %d bytes, not a SHA-1 digest", cms.ErrFormat, len(sd.Content))
			return out
		}
		h := sha1.New()
		if _, err := io.Copy(h, rangesReader(f, sc.br)); err != nil {
			out.err = fmt.Errorf("verify: reading the signed ranges: %w", err)
			return out
		}
		if !bytes.Equal(h.Sum(nil), sd.Content) {
			out.err = fmt.Errorf("%w: the SHA-1 digest adbe.pkcs7.sha1 encapsulates is not the document's", cms.ErrDigestMismatch)
			return out
		}
		res, err = sd.VerifyContent(bytes.NewReader(sd.Content))
	case sc.digest != nil:
		res, err = sd.Verify(sc.digest, sc.hash)
	default:
		res, err = sd.VerifyContent(rangesReader(f, sc.br))
	}
	if weakButIntact(res, err) {
		// intact; the algorithm is judged by the dated constraints (crypto.go)
		err = nil
	}
	if err != nil {
		out.err = err
		return out
	}
	out.signer = res.Certificate
	out.hash = res.Hash
	out.algorithm = res.SignatureAlgorithm
	out.signedAttrs = res.HasSignedAttrs
	out.signingCert = res.SigningCertificate
	out.claimedTime = res.SigningTime
	out.hasSignTime = res.HasSignedAttribute(cms.OIDAttrSigningTime)
	si := res.SignerInfo
	if a, ok := si.SignedAttribute(cms.OIDAttrAdbeRevocationInfoArchival); ok {
		o, c := parseAdbeRevocation(a)
		out.ocsps = append(out.ocsps, o...)
		out.crls = append(out.crls, c...)
	}
	if a, ok := si.UnsignedAttribute(cms.OIDAttrSignatureTimeStampToken); ok && len(a.Values) > 0 {
		out.sigTS = checkTimestampToken(a.Values[0], func(h crypto.Hash) []byte {
			hh := h.New()
			hh.Write(si.Signature)
			return hh.Sum(nil)
		})
	}
	return out
}

// checkTimestampToken parses a token, verifies its signature and compares its imprint
// with digestOf(the token's hash).
//
// A token intact under an algorithm signer/cms refuses by its fixed policy (a SHA-1
// token) is kept, with its algorithms, for the dated constraints to judge.
func checkTimestampToken(der []byte, digestOf func(crypto.Hash) []byte) *tsOutcome {
	t, err := cms.ParseTimestampToken(der)
	if t == nil || (err != nil && !weakButIntact(t.Signer, err)) {
		return &tsOutcome{err: err}
	}
	out := &tsOutcome{genTime: t.Info.GenTime, certs: t.Token.Certificates}
	if t.Signer != nil {
		out.signer = t.Signer.Certificate
	}
	h, herr := t.Hash()
	if h == 0 {
		out.err = herr
		return out
	}
	if err := t.MatchesDigest(digestOf(h), h); err != nil && !weakImprint(err) {
		out.err = err
	}
	out.algs = tokenAlgorithms(t, h)
	return out
}

// weakImprint tells a matching imprint under a hash refused by signer/cms's policy.
func weakImprint(err error) bool {
	var ae *cms.AlgorithmError
	return errors.As(err, &ae) && ae.Verified
}

// tokenAlgorithms are what a timestamp token relies on: its imprint's hash, its
// signature's digest and the TSA's key.
func tokenAlgorithms(t *cms.Timestamp, imprint crypto.Hash) []usedAlgorithm {
	out := []usedAlgorithm{{hashAlgName(imprint), msg{"hàm băm của dấu thời gian", "the timestamp's imprint"}}}
	if t.Signer != nil {
		out = append(out, usedAlgorithm{hashAlgName(t.Signer.Hash), msg{"hàm băm của chữ ký dấu thời gian", "the timestamp's signature digest"}})
		if t.Signer.Certificate != nil {
			out = append(out, usedAlgorithm{keyAlgName(t.Signer.Certificate.PublicKey), msg{"khóa của máy chủ dấu thời gian", "the timestamp authority's key"}})
		}
	}
	var kept []usedAlgorithm
	for _, a := range out {
		if a.name != "" {
			kept = append(kept, a)
		}
	}
	return kept
}

// checkDocTimestamp verifies a document timestamp: the token over the byte ranges.
func checkDocTimestamp(f io.ReaderAt, sc *sigCheck) (*tsOutcome, error) {
	if sc.tok != nil && sc.digest != nil {
		t := sc.tok
		out := &tsOutcome{genTime: t.Info.GenTime, certs: t.Token.Certificates}
		if t.Signer != nil {
			out.signer = t.Signer.Certificate
		}
		out.err = t.MatchesDigest(sc.digest, sc.hash)
		out.algs = tokenAlgorithms(t, sc.hash)
		return out, nil
	}
	var readErr error
	ts := checkTimestampToken(sc.contents, func(h crypto.Hash) []byte {
		hh := h.New()
		if _, err := io.Copy(hh, rangesReader(f, sc.br)); err != nil {
			readErr = err
		}
		return hh.Sum(nil)
	})
	return ts, readErr
}

// weakButIntact tells an intact signature whose algorithm signer/cms refuses by its
// own fixed policy (SHA-1, RSA-1024): the Result is there and the AlgorithmError says
// Verified.
func weakButIntact(res *cms.Result, err error) bool {
	var ae *cms.AlgorithmError
	return res != nil && errors.As(err, &ae) && ae.Verified
}

// integrityFromError maps a CMS error to the integrity verdict and sub-indication.
func integrityFromError(err error) (string, Indication, SubIndication) {
	switch {
	case errors.Is(err, cms.ErrUnsupportedAlgorithm):
		return IntegrityUnsupported, Indeterminate, CryptoConstraintsFailure
	case errors.Is(err, cms.ErrDigestMismatch):
		return IntegrityHashFailure, TotalFailed, HashFailure
	case errors.Is(err, cms.ErrSignatureInvalid):
		return IntegritySigFailure, TotalFailed, SigCryptoFailure
	case errors.Is(err, cms.ErrSignerCertNotFound):
		return IntegrityFormat, Indeterminate, NoSigningCertificateFound
	case errors.Is(err, cms.ErrSigningCertificateMismatch):
		return IntegritySigFailure, TotalFailed, SigCryptoFailure
	}
	return IntegrityFormat, TotalFailed, FormatFailure
}
