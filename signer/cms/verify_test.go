package cms_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/kyso-vn/kyso/signer/cms"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

type asn1Tag = cbasn1.Tag

// signed returns a fresh PAdES CMS over content and the PKI that made it.
func signed(t testing.TB, kind string, pss bool, content []byte) ([]byte, *testPKI) {
	t.Helper()
	p := newPKI(t, kind)
	der, err := cms.Sign(context.Background(), p.leafKey, spec(p, crypto.SHA256, pss, cms.ProfilePAdES), digestOf(crypto.SHA256, content))
	if err != nil {
		t.Fatal(err)
	}
	return der, p
}

// replaceLast replaces the last occurrence of old in der (the SignerInfo comes after
// the certificates, so the last occurrence of an algorithm identifier is its own).
func replaceLast(t testing.TB, der, old, new []byte) []byte {
	t.Helper()
	i := bytes.LastIndex(der, old)
	if i < 0 || len(old) != len(new) {
		t.Fatalf("pattern %x not found", old)
	}
	out := bytes.Clone(der)
	copy(out[i:], new)
	return out
}

func replaceFirst(t testing.TB, der, old, new []byte) []byte {
	t.Helper()
	i := bytes.Index(der, old)
	if i < 0 || len(old) != len(new) {
		t.Fatalf("pattern %x not found", old)
	}
	out := bytes.Clone(der)
	copy(out[i:], new)
	return out
}

var (
	derSHA256WithRSA  = []byte{0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b}
	derSHA1WithRSA    = []byte{0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x05}
	derSHA384         = []byte{0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02}
	derDSAWithSHA256  = []byte{0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x03, 0x02}
	derSHA256         = []byte{0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01}
	derSHA224         = []byte{0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x04}
	derUnknownSigAlgo = []byte{0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x7f}
)

func TestVerifyFailures(t *testing.T) {
	content := []byte("nội dung đã ký")
	rsaDER, rsaPKI := signed(t, "RSA-2048", false, content)
	ecDER, _ := signed(t, "P-256", false, content)
	sd, err := cms.Parse(rsaDER)
	if err != nil {
		t.Fatal(err)
	}
	sig := sd.SignerInfos[0].Signature
	flipSig := replaceLast(t, rsaDER, sig[len(sig)-8:], append(bytes.Clone(sig[len(sig)-8:len(sig)-1]), sig[len(sig)-1]^1))
	// The SID is the issuer Name followed by the serial INTEGER. That sequence occurs
	// in no certificate; its first occurrence is the SID (the second is inside
	// signing-certificate-v2), so flipping it there orphans the signer.
	var b cryptobyte.Builder
	b.AddBytes(rsaPKI.leaf.RawIssuer)
	b.AddASN1BigInt(rsaPKI.leaf.SerialNumber)
	sid := b.BytesOrPanic()
	orphan := bytes.Clone(sid)
	orphan[len(orphan)-1] ^= 1

	cases := []struct {
		name    string
		der     []byte
		content []byte
		want    error
		alg     string
	}{
		{"other content", rsaDER, []byte("nội dung đã sửa"), cms.ErrDigestMismatch, ""},
		{"flipped signature", flipSig, content, cms.ErrSignatureInvalid, ""},
		{"signer certificate missing", replaceFirst(t, rsaDER, sid, orphan), content, cms.ErrSignerCertNotFound, ""},
		{"SHA-1 label on a SHA-256 signature", replaceLast(t, rsaDER, derSHA256WithRSA, derSHA1WithRSA), content, cms.ErrSignatureInvalid, ""},
		{"digest algorithm not announced", replaceFirst(t, ecDER, derSHA256, derSHA384), content, cms.ErrDigestMismatch, ""},
		{"DSA", replaceLast(t, rsaDER, derSHA256WithRSA, derDSAWithSHA256), content, cms.ErrUnsupportedAlgorithm, "DSA"},
		{"unknown signature algorithm", replaceLast(t, rsaDER, derSHA256WithRSA, derUnknownSigAlgo), content, cms.ErrUnsupportedAlgorithm, "1.2.840.113549.1.1.127"},
		// The digest algorithm decides the hash: under SHA-224 the content no longer
		// matches, which is a broken signature, not merely a weak one.
		{"SHA-224 digest", replaceLast(t, ecDER, derSHA256, derSHA224), content, cms.ErrDigestMismatch, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sd, err := cms.Parse(tc.der)
			if err != nil {
				t.Fatal(err)
			}
			res, err := sd.VerifyContent(bytes.NewReader(tc.content))
			if res != nil || !errors.Is(err, tc.want) {
				t.Fatalf("got %v, %v; want %v", res, err, tc.want)
			}
			var ae *cms.AlgorithmError
			if tc.alg != "" && (!errors.As(err, &ae) || !strings.Contains(ae.Algorithm, tc.alg)) {
				t.Errorf("error %v does not name %s", err, tc.alg)
			}
		})
	}
}

// TestSigningCertificateSubstitution re-issues a certificate for the same key: the
// signature still verifies with its key, but signing-certificate-v2 names the
// original certificate, and that must fail (ETSI's defence against substitution).
func TestSigningCertificateSubstitution(t *testing.T) {
	p := newPKI(t, "P-256")
	twin := newPKI(t, "P-256") // same cached leaf key, another certificate
	if !twin.leaf.PublicKey.(interface{ Equal(crypto.PublicKey) bool }).Equal(p.leaf.PublicKey) {
		t.Fatal("test setup: keys differ")
	}
	digest := digestOf(crypto.SHA256, []byte("x"))
	pend, err := cms.Prepare(spec(p, crypto.SHA256, false, cms.ProfilePAdES), digest)
	if err != nil {
		t.Fatal(err)
	}
	pend.Certificates = [][]byte{twin.leaf.Raw, twin.inter.Raw}
	sig, err := p.leafKey.Sign(rand.Reader, pend.SignedAttrsDigest(), pend.SignatureOpts())
	if err != nil {
		t.Fatal(err)
	}
	der, err := pend.Complete(sig)
	if err != nil {
		t.Fatal(err)
	}
	sd, err := cms.Parse(der)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sd.Verify(digest, crypto.SHA256); !errors.Is(err, cms.ErrSigningCertificateMismatch) {
		t.Fatalf("got %v, want ErrSigningCertificateMismatch", err)
	}
}

func TestVerifyWrongHashArgument(t *testing.T) {
	der, _ := signed(t, "P-256", false, []byte("x"))
	sd, err := cms.Parse(der)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sd.Verify(digestOf(crypto.SHA384, []byte("x")), crypto.SHA384); err == nil {
		t.Fatal("digest under the wrong hash accepted")
	}
}

// TestMalformed feeds truncations, bit flips, garbage and hostile nesting: every one
// must end in an error (ErrFormat where the structure is broken), never a panic.
func TestMalformed(t *testing.T) {
	der, _ := signed(t, "P-256", false, []byte("x"))
	for i := 0; i < len(der); i += 3 {
		if _, err := cms.Parse(der[:i]); !errors.Is(err, cms.ErrFormat) {
			t.Fatalf("prefix of %d bytes: %v, want ErrFormat", i, err)
		}
	}
	// From the signed attributes to the end of the signature value every byte
	// counts: flipping any of them must fail verification (and nothing may panic
	// anywhere).
	sd, err := cms.Parse(der)
	if err != nil {
		t.Fatal(err)
	}
	si := sd.SignerInfos[0]
	from := bytes.Index(der, si.RawSignedAttrs[2:])
	to := bytes.LastIndex(der, si.Signature) + len(si.Signature)
	if from < 0 || to < from {
		t.Fatal("test setup: signer info not located")
	}
	for i := 0; i < len(der); i++ {
		bad := bytes.Clone(der)
		bad[i] ^= 0xff
		sd, err := cms.Parse(bad)
		if err == nil {
			_, err = sd.Verify(digestOf(crypto.SHA256, []byte("x")), crypto.SHA256)
		}
		if err == nil && i >= from && i < to {
			t.Errorf("flipping byte %d (inside the signer info) went unnoticed", i)
		}
	}
	deep := append(bytes.Repeat([]byte{0x30, 0x80}, 10000), bytes.Repeat([]byte{0, 0}, 10000)...)
	cases := map[string][]byte{
		"empty":              nil,
		"one byte":           {0x30},
		"garbage":            []byte("this is not a signature at all, it is text"),
		"trailing garbage":   append(bytes.Clone(der), 0, 0, 1),
		"deep nesting":       deep,
		"huge length":        {0x30, 0x84, 0x7f, 0xff, 0xff, 0xff, 0x00},
		"indefinite no EOC":  {0x30, 0x80, 0x02, 0x01, 0x01},
		"indefinite prim":    {0x04, 0x80, 0x00, 0x00},
		"5-byte length":      {0x30, 0x85, 0, 0, 0, 0, 1, 0},
		"high tag overflow":  {0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0x00},
		"not signed data":    {0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01, 0xa0, 0x00},
		"constructed bitstr": {0x30, 0x80, 0x23, 0x80, 0x03, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00},
	}
	for name, in := range cases {
		start := time.Now()
		if _, err := cms.Parse(in); !errors.Is(err, cms.ErrFormat) {
			t.Errorf("%s: %v, want ErrFormat", name, err)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("%s: took %v", name, d)
		}
	}
	for _, n := range []int{64, 65} {
		_, err := cms.Parse(manySigners(n))
		if tooMany := errors.Is(err, cms.ErrFormat); tooMany != (n > 64) {
			t.Errorf("%d signer infos: %v", n, err)
		}
	}
	padded := append(bytes.Clone(der), make([]byte, 4096)...)
	if _, err := cms.Parse(padded); err != nil {
		t.Errorf("zero padding (as in a PDF /Contents) refused: %v", err)
	}
	if _, err := cms.Parse(make([]byte, cms.MaxInputSize+1)); !errors.Is(err, cms.ErrFormat) {
		t.Errorf("oversized input: %v", err)
	}
}

// manySigners builds a SignedData with n minimal signer infos.
func manySigners(n int) []byte {
	var b cryptobyte.Builder
	seq := func(f func(*cryptobyte.Builder)) func(*cryptobyte.Builder) {
		return func(b *cryptobyte.Builder) { b.AddASN1(cbasn1.SEQUENCE, f) }
	}
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1ObjectIdentifier(cms.OIDSignedData)
		b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), seq(func(b *cryptobyte.Builder) {
			b.AddASN1Int64(1)
			b.AddASN1(cbasn1.SET, func(*cryptobyte.Builder) {})
			seq(func(b *cryptobyte.Builder) { b.AddASN1ObjectIdentifier(cms.OIDData) })(b)
			b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) {
				for i := 0; i < n; i++ {
					seq(func(b *cryptobyte.Builder) {
						b.AddASN1Int64(1)
						seq(func(b *cryptobyte.Builder) {
							seq(func(*cryptobyte.Builder) {})(b)
							b.AddASN1Int64(int64(i))
						})(b)
						seq(func(b *cryptobyte.Builder) { b.AddASN1ObjectIdentifier(cms.OIDData) })(b)
						seq(func(b *cryptobyte.Builder) { b.AddASN1ObjectIdentifier(cms.OIDData) })(b)
						b.AddASN1OctetString(nil)
					})(b)
				}
			})
		}))
	})
	return b.BytesOrPanic()
}

// toBER re-encodes DER the way streaming encoders do: every constructed element with
// an indefinite length, every OCTET STRING longer than 3 bytes as a constructed
// string of two parts.
func toBER(t testing.TB, der []byte) []byte {
	t.Helper()
	var out []byte
	for len(der) > 0 {
		var elem cryptobyte.String
		var tg asn1Tag
		s := cryptobyte.String(der)
		if !s.ReadAnyASN1Element(&elem, &tg) {
			t.Fatalf("toBER: cannot read %x", der[:min(8, len(der))])
		}
		body := cryptobyte.String(elem)
		var inner cryptobyte.String
		body.ReadAnyASN1(&inner, &tg)
		tag := uint8(tg)
		switch {
		case tag&0x20 != 0:
			out = append(out, tag, 0x80)
			out = append(out, toBER(t, inner)...)
			out = append(out, 0, 0)
		case tag == 0x04 && len(inner) > 3:
			half := len(inner) / 2
			out = append(out, 0x24, 0x80)
			out = append(out, primitive(0x04, inner[:half])...)
			out = append(out, primitive(0x04, inner[half:])...)
			out = append(out, 0, 0)
		default:
			out = append(out, elem...)
		}
		der = der[len(elem):]
	}
	return out
}

func primitive(tag byte, body []byte) []byte {
	var b cryptobyte.Builder
	b.AddASN1(asn1Tag(tag), func(b *cryptobyte.Builder) { b.AddBytes(body) })
	return b.BytesOrPanic()
}

func TestBERNormalisation(t *testing.T) {
	p := newPKI(t, "RSA-2048")
	content := []byte("TSTInfo-like encapsulated content, long enough to split")
	s := spec(p, crypto.SHA256, true, cms.ProfileCAdES)
	s.EncapsulatedContent = content
	der, err := cms.Sign(context.Background(), p.leafKey, s, digestOf(crypto.SHA256, content))
	if err != nil {
		t.Fatal(err)
	}
	ber := toBER(t, der)
	if bytes.Equal(ber, der) || len(ber) <= len(der) {
		t.Fatal("test setup: BER form is not different")
	}
	sd, err := cms.Parse(ber)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(sd.Raw, der) {
		t.Error("BER did not normalise back to the original DER")
	}
	if !bytes.Equal(sd.Content, content) {
		t.Errorf("encapsulated content %q", sd.Content)
	}
	if _, err := sd.VerifyContent(bytes.NewReader(sd.Content)); err != nil {
		t.Fatal(err)
	}
	if sd.Version != 1 {
		t.Errorf("version %d, want 1 for id-data", sd.Version)
	}
}

func TestCertificatesKeptInOrderWithoutDuplicates(t *testing.T) {
	p := newPKI(t, "P-256")
	s := spec(p, crypto.SHA256, false, cms.ProfilePAdES)
	s.Chain = []*x509.Certificate{p.inter, p.leaf, nil, p.inter, p.root}
	der, err := cms.Sign(context.Background(), p.leafKey, s, digestOf(crypto.SHA256, nil))
	if err != nil {
		t.Fatal(err)
	}
	sd, err := cms.Parse(der)
	if err != nil {
		t.Fatal(err)
	}
	if len(sd.Certificates) != 3 || !sd.Certificates[0].Equal(p.leaf) || !sd.Certificates[1].Equal(p.inter) {
		t.Errorf("certificates: %d", len(sd.Certificates))
	}
}
