package verify

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kyso-vn/kyso/internal/testenv"
	"github.com/kyso-vn/kyso/internal/testpki"
	"github.com/kyso-vn/kyso/signer/cms"
	"github.com/kyso-vn/kyso/signer/pades"
)

// The legacy forms real Vietnamese documents carry, made here with the test PKI and
// an outside tool (openssl cms): SHA-1 digests and RSA with SHA-1, adbe.pkcs7.sha1,
// CMS without signed attributes, BER with indefinite lengths. For each: integrity is
// checked and reported intact, the chain is found, and the indication is the one EU
// DSS's default policy gives, with the reason in Vietnamese and English.

var byteRangeRE = regexp.MustCompile(`/ByteRange\s*\[\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*\]`)

// resign replaces the signature of doc (made by pades, ETSI.CAdES.detached) by the CMS
// makeCMS returns over the same signed ranges, under another /SubFilter.
func resign(t *testing.T, doc []byte, subFilter string, makeCMS func(signed []byte) []byte) []byte {
	t.Helper()
	out := bytes.Clone(doc)
	old := []byte("/ETSI.CAdES.detached")
	if bytes.Count(out, old) != 1 {
		t.Fatalf("%d /SubFilter names to replace", bytes.Count(out, old))
	}
	name := []byte("/" + subFilter)
	if len(name) > len(old) {
		t.Fatalf("%s is longer than the name it replaces", subFilter)
	}
	i := bytes.Index(out, old)
	copy(out[i:], append(name, bytes.Repeat([]byte(" "), len(old)-len(name))...))
	m := byteRangeRE.FindSubmatch(out)
	var br [4]int
	for k := range br {
		br[k], _ = strconv.Atoi(string(m[k+1]))
	}
	signed := append(bytes.Clone(out[br[0]:br[0]+br[1]]), out[br[2]:br[2]+br[3]]...)
	hx := strings.ToUpper(hex.EncodeToString(makeCMS(signed)))
	start, end := br[0]+br[1]+1, br[2]-1 // inside < >
	if len(hx) > end-start {
		t.Fatalf("CMS of %d hex digits does not fit %d", len(hx), end-start)
	}
	for k := start; k < end; k++ {
		out[k] = '0'
	}
	copy(out[start:], hx)
	return out
}

// legacyBase is a PAdES signature by the clerk with room for a CMS of any form
// (openssl's carries the whole chain, and a timestamp may be added).
func legacyBase(t *testing.T, p *testpki.TestPKI, svc services) []byte {
	t.Helper()
	return sign(t, formPDF(), p.Clerk, pades.Options{Level: pades.LevelBT, Timestamper: svc.ts, TimestampReserve: 16 << 10})
}

// opensslCMS signs content as the test PKI's clerk with openssl cms and the given
// options; the SignedData is DER unless -stream makes it BER.
func opensslCMS(t *testing.T, content []byte, args ...string) []byte {
	t.Helper()
	openssl := testenv.Tool(t, "openssl", "openssl")
	dir, tmp := testenv.TestPKIDir(), t.TempDir()
	in, out := filepath.Join(tmp, "in"), filepath.Join(tmp, "out.der")
	if err := os.WriteFile(in, content, 0o644); err != nil {
		t.Fatal(err)
	}
	cmdArgs := append([]string{"cms", "-sign", "-binary", "-in", in, "-outform", "DER", "-out", out,
		"-signer", filepath.Join(dir, "clerk.pem"), "-inkey", filepath.Join(dir, "clerk.key"),
		"-certfile", filepath.Join(dir, "sub-ca.pem")}, args...)
	if b, err := exec.Command(openssl, cmdArgs...).CombinedOutput(); err != nil {
		t.Fatalf("openssl %v: %v\n%s", args, err, b)
	}
	der, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// legacyCheck asserts what every legacy form must show.
func legacyCheck(t *testing.T, rep *Report, ind Indication, sub SubIndication, vi, en string) {
	t.Helper()
	s := rep.Signatures[0]
	if s.Indication != ind || s.SubIndication != sub {
		t.Fatalf("want %s/%s:\n%s", ind, sub, describe(rep))
	}
	if s.Integrity != IntegrityIntact {
		t.Errorf("integrity %q, want intact", s.Integrity)
	}
	if len(s.Chain) != 3 || s.PKI == "" {
		t.Errorf("chain of %d certificates, PKI %q; want clerk → sub CA → root", len(s.Chain), s.PKI)
	}
	if s.Explanation == nil || !strings.Contains(s.Explanation.VI, vi) || !strings.Contains(s.Explanation.EN, en) {
		t.Errorf("explanation %+v, want %q / %q", s.Explanation, vi, en)
	}
	if ind != TotalFailed && rep.ExitCode() == 1 {
		t.Errorf("exit 1 for an intact signature")
	}
}

func TestLegacyForms(t *testing.T) {
	p := testpki.Committed(t)
	svc := startServices(t, nil)
	base := legacyBase(t, p, svc)
	opts := Options{Anchors: []*x509.Certificate{p.Root.Cert}, Revocation: svc.revocation}
	noPOE := [2]string{"SHA-1 không còn được chấp nhận từ ngày 01/01/2009 và không có gì chứng minh chữ ký được tạo trước thời điểm đó",
		"intact, but SHA-1 is no longer accepted since 2009-01-01 and nothing proves it was signed earlier"}
	passed := [2]string{"Chữ ký hợp lệ", "The signatures are valid"}

	type form struct {
		name, subFilter string
		cms             func(signed []byte) []byte
		digest          string
		ind             Indication
		sub             SubIndication
		why             [2]string
	}
	forms := []form{
		{"SHA-1 with signed attributes", "adbe.pkcs7.detached",
			func(b []byte) []byte { return opensslCMS(t, b, "-md", "sha1") }, "SHA-1", Indeterminate, CryptoConstraintsFailureNoPOE, noPOE},
		{"RSA with SHA-1, no signed attributes", "adbe.pkcs7.detached",
			func(b []byte) []byte { return opensslCMS(t, b, "-md", "sha1", "-noattr") }, "SHA-1", Indeterminate, CryptoConstraintsFailureNoPOE, noPOE},
		{"adbe.pkcs7.sha1", "adbe.pkcs7.sha1",
			func(b []byte) []byte { d := sha1.Sum(b); return opensslCMS(t, d[:], "-md", "sha1", "-nodetach") }, "SHA-1", Indeterminate, CryptoConstraintsFailureNoPOE, noPOE},
		{"no signed attributes", "adbe.pkcs7.detached",
			func(b []byte) []byte { return opensslCMS(t, b, "-md", "sha256", "-noattr") }, "SHA-256", TotalPassed, "", passed},
		{"BER, indefinite lengths", "adbe.pkcs7.detached",
			func(b []byte) []byte {
				der := opensslCMS(t, b, "-md", "sha256", "-stream")
				if len(der) < 2 || der[1] != 0x80 {
					t.Fatalf("openssl -stream wrote no indefinite length: % x", der[:4])
				}
				return der
			}, "SHA-256", TotalPassed, "", passed},
		// poppler's pdfsig (NSS) says "Digest Mismatch" for this one; openssl cms
		// -verify says it verifies, as Kyso does
		{"BER without signed attributes", "adbe.pkcs7.detached",
			func(b []byte) []byte { return opensslCMS(t, b, "-md", "sha256", "-stream", "-noattr") }, "SHA-256", TotalPassed, "", passed},
	}
	for _, f := range forms {
		t.Run(f.name, func(t *testing.T) {
			doc := resign(t, base, f.subFilter, f.cms)
			rep := verifyBytes(t, doc, opts)
			legacyCheck(t, rep, f.ind, f.sub, f.why[0], f.why[1])
			if s := rep.Signatures[0]; s.DigestAlgorithm != f.digest || s.SubFilter != f.subFilter {
				t.Errorf("digest %q, sub filter %q", s.DigestAlgorithm, s.SubFilter)
			}
			if f.sub == CryptoConstraintsFailureNoPOE {
				// the date is configuration: a policy that still accepts SHA-1 passes it
				o := opts
				o.Crypto, _ = ParseCryptoPolicy("verify.crypto", map[string]string{"SHA-1": "2100-01-01"})
				legacyCheck(t, verifyBytes(t, doc, o), TotalPassed, "", passed[0], passed[1])
			}
			// the bytes are really checked: one changed signed byte is a hash failure
			bad := bytes.Clone(doc)
			k := bytes.Index(bad, []byte("/Type"))
			bad[k+1] = 't'
			// (without signed attributes the signature itself covers the content digest)
			if r := verifyBytes(t, bad, opts); r.Signatures[0].Indication != TotalFailed || r.Signatures[0].Integrity == IntegrityIntact {
				t.Errorf("a changed byte:\n%s", describe(r))
			}
		})
	}
}

// A SHA-1 signature whose timestamp proves it was made before SHA-1's cutoff passes
// the constraint; the same signature without the timestamp is
// CRYPTO_CONSTRAINTS_FAILURE_NO_POE. The cutoff is set an hour from now and the
// validation two hours from now, so that the timestamp is the only proof.
func TestSHA1BeforeCutoffWithPOE(t *testing.T) {
	p := testpki.Committed(t)
	svc := startServices(t, nil)
	base := legacyBase(t, p, svc)
	now := time.Now()
	policy := DefaultCryptoPolicy()
	policy["SHA-1"] = CryptoRule{Cutoff: now.Add(time.Hour)}
	opts := Options{Anchors: []*x509.Certificate{p.Root.Cert}, Revocation: svc.revocation, Crypto: policy, At: now.Add(2 * time.Hour)}

	var plain []byte
	stamped := resign(t, base, "adbe.pkcs7.detached", func(b []byte) []byte {
		plain = opensslCMS(t, b, "-md", "sha1")
		sd, err := cms.Parse(plain)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(sd.SignerInfos[0].Signature)
		tok, err := svc.ts.Timestamp(context.Background(), sum[:], crypto.SHA256)
		if err != nil {
			t.Fatal(err)
		}
		out, err := cms.AddUnsignedAttributes(plain, cms.Attribute{Type: cms.OIDAttrSignatureTimeStampToken, Values: [][]byte{tok}})
		if err != nil {
			t.Fatal(err)
		}
		return out
	})
	rep := verifyBytes(t, stamped, opts)
	legacyCheck(t, rep, TotalPassed, "", "Chữ ký hợp lệ", "The signatures are valid")
	if s := rep.Signatures[0]; s.TimeSource != "timestamp" || !strings.Contains(strings.Join(s.Warnings, " "), "SHA-1 is accepted only because a timestamp") {
		t.Errorf("time source %q, warnings %q", s.TimeSource, s.Warnings)
	}
	// a token whose own algorithm is past its cutoff proves nothing (here SHA-256,
	// dated like SHA-1 for the test)
	tokenPolicy := DefaultCryptoPolicy()
	tokenPolicy["SHA-1"] = CryptoRule{Cutoff: now.Add(time.Hour)}
	tokenPolicy["SHA-256"] = CryptoRule{Cutoff: now.Add(time.Hour)}
	o := opts
	o.Crypto = tokenPolicy
	rep = verifyBytes(t, stamped, o)
	if s := rep.Signatures[0]; s.SubIndication != CryptoConstraintsFailureNoPOE || s.Timestamp == nil ||
		s.Timestamp.SubIndication != CryptoConstraintsFailureNoPOE || s.TimeSource == "timestamp" || s.Integrity != IntegrityIntact {
		t.Errorf("a token past its cutoff:\n%s", describe(rep))
	}
	unstamped := resign(t, base, "adbe.pkcs7.detached", func([]byte) []byte { return plain })
	legacyCheck(t, verifyBytes(t, unstamped, opts), Indeterminate, CryptoConstraintsFailureNoPOE,
		"SHA-1 không còn được chấp nhận từ", "SHA-1 is no longer accepted since")
}

// An expired certificate without a proof of time is INDETERMINATE, said in Vietnamese
// as "chứng thư số đã hết hạn" with the dates; --at inside its validity judges it then.
func TestExpiredSaysSo(t *testing.T) {
	p := testpki.Committed(t)
	svc := startServices(t, nil)
	inValidity := testpki.ExpiredNotAfter.Add(-90 * 24 * time.Hour)
	doc := sign(t, formPDF(), p.Expired, pades.Options{Level: pades.LevelBB, Time: inValidity})
	rep := verifyBytes(t, doc, Options{Anchors: []*x509.Certificate{p.Root.Cert}, Revocation: svc.revocation})
	legacyCheck(t, rep, Indeterminate, OutOfBoundsNotRevoked,
		"chứng thư số đã hết hạn ngày 31/12/2023 (chứng thư \""+p.Expired.Cert.Subject.CommonName+"\", có hiệu lực từ ngày 01/01/2022 đến ngày 31/12/2023)",
		"the certificate expired on 2023-12-31 (\""+p.Expired.Cert.Subject.CommonName+"\", valid from 2022-01-01 to 2023-12-31) and no timestamp proves")
	var text bytes.Buffer
	if err := rep.WriteText(&text, Vietnamese); err != nil || !strings.Contains(text.String(), "chứng thư số") {
		t.Errorf("the Vietnamese report does not say it:\n%s", text.String())
	}
	at := Options{Anchors: []*x509.Certificate{p.Root.Cert}, Offline: true, At: inValidity}
	r := verifyBytes(t, doc, at)
	if s := r.Signatures[0]; len(s.Chain) != 3 || s.SubIndication == OutOfBoundsNoPOE || s.SubIndication == OutOfBoundsNotRevoked || s.SubIndication == NoCertificateChainFound {
		t.Errorf("--at inside the validity:\n%s", describe(r))
	}
}
