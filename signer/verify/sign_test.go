package verify

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kyso-vn/kyso/internal/testenv"
	"github.com/kyso-vn/kyso/internal/testpki"
	"github.com/kyso-vn/kyso/pkg/pki"
	"github.com/kyso-vn/kyso/pkg/pki/pkitest"
	"github.com/kyso-vn/kyso/signer/pades"
	"github.com/kyso-vn/kyso/signer/pdf"
)

// formPDF is a one-page document with a text field "so" (the number the clerk fills
// in after the leader signed).
func formPDF() []byte {
	objs := []string{
		"<< /Type /Catalog /Pages 2 0 R /AcroForm << /Fields [5 0 R] /DA (/Helv 0 Tf 0 g) /DR << /Font << /Helv 6 0 R >> >> >> >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R /Resources << /Font << /F1 6 0 R >> >> /Annots [5 0 R] >>",
		"", // content stream, below
		"<< /Type /Annot /Subtype /Widget /FT /Tx /T (so) /F 4 /Rect [72 760 272 780] /P 3 0 R /DA (/Helv 10 Tf 0 g) >>",
		"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
	}
	objs[3] = testenv.StreamObject("BT /F1 14 Tf 72 700 Td (QUYET DINH ve viec phe duyet ke hoach nam 2025) Tj ET")
	return testenv.PDFFromObjects(objs)
}

// update appends one incremental update built by change.
func update(t testing.TB, doc []byte, change func(r *pdf.Reader, u *pdf.Update)) []byte {
	t.Helper()
	r, err := pdf.Open(bytes.NewReader(doc), int64(len(doc)))
	if err != nil {
		t.Fatal(err)
	}
	u := pdf.NewUpdate(r)
	change(r, u)
	tail, err := u.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	return append(append([]byte{}, doc...), tail...)
}

// fillNumber is the clerk's form filling: the field's value and its appearance.
func fillNumber(t testing.TB, doc []byte, number string) []byte {
	return update(t, doc, func(r *pdf.Reader, u *pdf.Update) {
		field := r.Dict(pdf.Ref{Num: 5})
		text := "BT /Helv 10 Tf 2 6 Td (" + number + ") Tj ET"
		ap := u.Add(&pdf.Stream{Dict: pdf.Dict{"Type": pdf.Name("XObject"), "Subtype": pdf.Name("Form"),
			"BBox":      pdf.Array{int64(0), int64(0), int64(200), int64(20)},
			"Resources": pdf.Dict{"Font": pdf.Dict{"Helv": pdf.Ref{Num: 6}}}}, Data: []byte(text)})
		nf := pdf.Dict{}
		for k, v := range field {
			nf[k] = v
		}
		nf["V"] = pdf.TextString(number)
		nf["AP"] = pdf.Dict{"N": ap}
		u.Set(pdf.Ref{Num: 5}, nf)
	})
}

// rewriteAppearance rewrites the number field's existing appearance stream in place to
// show shown; with value set, the field's value changes with it (how Acrobat fills).
func rewriteAppearance(t testing.TB, doc []byte, shown string, value bool) []byte {
	return update(t, doc, func(r *pdf.Reader, u *pdf.Update) {
		field := r.Dict(pdf.Ref{Num: 5})
		ap, ok := r.Dict(field["AP"])["N"].(pdf.Ref)
		if !ok {
			t.Fatal("the number field has no appearance stream to rewrite")
		}
		old := r.Dict(ap)
		u.Set(ap, &pdf.Stream{Dict: pdf.Dict{"Type": old["Type"], "Subtype": old["Subtype"], "BBox": old["BBox"], "Resources": old["Resources"]},
			Data: []byte("BT /Helv 10 Tf 2 6 Td (" + shown + ") Tj ET")})
		if value {
			nf := pdf.Dict{}
			for k, v := range field {
				nf[k] = v
			}
			nf["V"] = pdf.TextString(shown)
			u.Set(pdf.Ref{Num: 5}, nf)
		}
	})
}

// hiddenPage redefines the page content (object 4) in bytes that no cross-reference
// section names: a viewer that repairs the file shows it.
const hiddenPage = "4 0 obj\n<< /Length 47 >>\nstream\nBT /F1 14 Tf 72 700 Td (QUYET DINH huy bo) Tj ET\nendstream\nendobj\n"

// replacePage is the attack: an incremental update that replaces the page's content.
func replacePage(t testing.TB, doc []byte) []byte {
	return update(t, doc, func(r *pdf.Reader, u *pdf.Update) {
		u.Set(pdf.Ref{Num: 4}, &pdf.Stream{Dict: pdf.Dict{}, Data: []byte("BT /F1 14 Tf 72 700 Td (QUYET DINH huy bo ke hoach) Tj ET")})
	})
}

// addComment adds a sticky note to the page after signing.
func addComment(t testing.TB, doc []byte) []byte {
	return update(t, doc, func(r *pdf.Reader, u *pdf.Update) {
		note := u.Add(pdf.Dict{"Type": pdf.Name("Annot"), "Subtype": pdf.Name("Text"),
			"Rect": pdf.Array{int64(72), int64(690), int64(92), int64(710)}, "Contents": pdf.String("void")})
		page := r.Dict(pdf.Ref{Num: 3})
		np := pdf.Dict{}
		for k, v := range page {
			np[k] = v
		}
		np["Annots"] = pdf.Array{pdf.Ref{Num: 5}, note}
		u.Set(pdf.Ref{Num: 3}, np)
	})
}

type services struct {
	ts         *pki.TSAClient
	collector  *pki.Collector
	revocation *pki.Checker
}

// startServices runs the test TSA (genTime from clock, nil for now), the real openssl
// OCSP responder and the CRL servers, on loopback.
func startServices(t *testing.T, clock func() time.Time) services {
	t.Helper()
	p := testpki.Committed(t)
	tsa := pkitest.StartTSA(t, p.TSA.Cert, p.TSA.Key, p.TSA.Chain, pkitest.TSAOptions{Clock: clock})
	ocspR := pkitest.StartOCSP(t)
	subCRL := pkitest.StartCRLServer(t, p.SubCRL)
	rootCRL := pkitest.StartCRLServer(t, p.RootCRL)
	mapURL := func(u string) string {
		switch {
		case strings.Contains(u, "/ocsp"):
			return ocspR.URL
		case strings.HasSuffix(u, "sub-ca.crl"):
			return subCRL.URL
		case strings.HasSuffix(u, "root-ca.crl"):
			return strings.TrimSuffix(rootCRL.URL, "sub-ca.crl") + "root-ca.crl"
		}
		return u
	}
	return services{
		ts:         &pki.TSAClient{URLs: []string{tsa.URL}, Timeout: 10 * time.Second},
		collector:  &pki.Collector{OCSP: &pki.OCSPClient{}, CRLs: &pki.CRLFetcher{}, MapURL: mapURL},
		revocation: &pki.Checker{OCSP: &pki.OCSPClient{}, CRL: &pki.CRLFetcher{}, RewriteURL: mapURL},
	}
}

func sign(t testing.TB, doc []byte, c *testpki.Cert, opts pades.Options) []byte {
	t.Helper()
	opts.Certificate, opts.Chain = c.Cert, c.Chain
	var out bytes.Buffer
	if err := pades.Sign(context.Background(), c.Key, bytes.NewReader(doc), int64(len(doc)), &out, opts); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func verifyBytes(t testing.TB, doc []byte, opts Options) *Report {
	t.Helper()
	rep, err := VerifyPDF(context.Background(), bytes.NewReader(doc), int64(len(doc)), "doc.pdf", opts)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func describe(rep *Report) string {
	var b strings.Builder
	fmt.Fprintf(&b, "document %s/%s\n", rep.Indication, rep.SubIndication)
	for _, s := range rep.Signatures {
		fmt.Fprintf(&b, "  #%d %s %s %s/%s integrity=%s level=%s errors=%q warnings=%q\n", s.Index, s.Field, s.Type,
			s.Indication, s.SubIndication, s.Integrity, s.Level, s.Errors, s.Warnings)
		for _, m := range s.Modifications {
			fmt.Fprintf(&b, "     rev %d %s allowed=%v %s\n", m.Revision, m.Kind, m.Allowed, m.Detail)
		}
	}
	return b.String()
}

// TestKysoSignedLevels: documents Kyso signs verify TOTAL_PASSED at every level, and
// B-LT and B-LTA do so offline, from the validation data they carry.
func TestKysoSignedLevels(t *testing.T) {
	p := testpki.Committed(t)
	svc := startServices(t, nil)
	anchors := []*x509.Certificate{p.Root.Cert}
	for _, tc := range []struct {
		level   pades.Level
		offline bool
		want    string
	}{
		{pades.LevelBB, false, "B-B"},
		{pades.LevelBT, false, "B-T"},
		{pades.LevelBLT, true, "B-LT"},
		{pades.LevelBLTA, true, "B-LTA"},
	} {
		t.Run(tc.want, func(t *testing.T) {
			doc := sign(t, formPDF(), p.Org, pades.Options{Level: tc.level, Timestamper: svc.ts, Validation: svc.collector})
			opts := Options{Anchors: anchors, Offline: tc.offline}
			if !tc.offline {
				opts.Revocation = svc.revocation
			}
			rep := verifyBytes(t, doc, opts)
			if rep.Indication != TotalPassed || rep.ExitCode() != 0 {
				t.Fatalf("want TOTAL_PASSED:\n%s", describe(rep))
			}
			s := rep.Signatures[0]
			if s.Level != tc.want || !s.CoversWholeDocument && tc.level < pades.LevelBLT {
				t.Errorf("level %q, covers whole document %v; want %s:\n%s", s.Level, s.CoversWholeDocument, tc.want, describe(rep))
			}
			if tc.level >= pades.LevelBT && s.TimeSource != "timestamp" {
				t.Errorf("time source %q, want timestamp", s.TimeSource)
			}
			// without the anchor nothing is trusted: integrity intact, INDETERMINATE
			untrusted := verifyBytes(t, doc, Options{Offline: true})
			if untrusted.ExitCode() != 3 || untrusted.Signatures[0].SubIndication != NoCertificateChainFound {
				t.Errorf("without anchors: %s", describe(untrusted))
			}
		})
	}
}

// TestLeaderThenClerk: the leader approves, the clerk fills the number in and adds the
// organisation's signature; both signatures pass. Then the attacks on that document.
func TestLeaderThenClerk(t *testing.T) {
	p := testpki.Committed(t)
	svc := startServices(t, nil)
	opts := Options{Anchors: []*x509.Certificate{p.Root.Cert}, Revocation: svc.revocation}
	leader := sign(t, formPDF(), p.Leader, pades.Options{Reason: "Phê duyệt", Level: pades.LevelBT, Timestamper: svc.ts})
	filled := fillNumber(t, leader, "05/UBND-VP")
	issued := sign(t, filled, p.Org, pades.Options{Reason: "Phát hành", Level: pades.LevelBT, Timestamper: svc.ts})

	rep := verifyBytes(t, issued, opts)
	if rep.ExitCode() != 0 || len(rep.Signatures) != 2 {
		t.Fatalf("leader-then-clerk must pass:\n%s", describe(rep))
	}
	kinds := map[string]bool{}
	for _, m := range rep.Signatures[0].Modifications {
		kinds[m.Kind] = m.Allowed
	}
	if !kinds[KindFormFilling] || !kinds[KindSignature] {
		t.Errorf("the leader's signature should see an allowed form filling and an allowed signature:\n%s", describe(rep))
	}

	flip := bytes.Clone(issued)
	i := bytes.Index(flip, []byte("phe duyet"))
	if i < 0 {
		t.Fatal("page text not found")
	}
	flip[i] = 'P'
	for _, tc := range []struct {
		name string
		doc  []byte
		sub  SubIndication
	}{
		{"one byte changed in the page", flip, HashFailure},
		{"page content replaced by an incremental update", replacePage(t, issued), ModifiedAfterSigning},
		{"comment added after approval", addComment(t, issued), ModifiedAfterSigning},
		{"object appended without a cross-reference section", append(bytes.Clone(issued), []byte(hiddenPage)...), ModifiedAfterSigning},
		{"revision hiding a redefined object from its cross-reference section", update(t, append(bytes.Clone(issued), []byte(hiddenPage)...),
			func(r *pdf.Reader, u *pdf.Update) { u.Add(pdf.Dict{"Note": pdf.String("harmless")}) }), ModifiedAfterSigning},
		{"number changed after the organisation signed", fillNumber(t, issued, "06/UBND-VP"), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep := verifyBytes(t, tc.doc, opts)
			if tc.sub == "" {
				// form filling stays allowed (no lock): both signatures pass, and the
				// report shows the change
				if rep.ExitCode() != 0 || rep.Signatures[1].Modifications[0].Kind != KindFormFilling {
					t.Fatalf("form filling after signing:\n%s", describe(rep))
				}
				return
			}
			if rep.ExitCode() != 1 || rep.SubIndication != tc.sub {
				t.Fatalf("want exit 1 with %s:\n%s", tc.sub, describe(rep))
			}
			if strings.Contains(tc.name, "hiding") && !strings.Contains(describe(rep), "hidden object") {
				t.Errorf("the hidden object is not named:\n%s", describe(rep))
			}
		})
	}
}

// TestAppearanceInPlace: a field's appearance rewritten in place passes with a new
// value (form filling) and fails without one (an overlay that shows something else).
func TestAppearanceInPlace(t *testing.T) {
	p := testpki.Committed(t)
	svc := startServices(t, nil)
	opts := Options{Anchors: []*x509.Certificate{p.Root.Cert}, Revocation: svc.revocation}
	signed := sign(t, fillNumber(t, formPDF(), "01/QD"), p.Leader, pades.Options{})
	if rep := verifyBytes(t, rewriteAppearance(t, signed, "02/QD", true), opts); rep.ExitCode() != 0 {
		t.Errorf("value and appearance changed together:\n%s", describe(rep))
	}
	rep := verifyBytes(t, rewriteAppearance(t, signed, "99/QD", false), opts)
	if rep.ExitCode() != 1 || !strings.Contains(describe(rep), "without a change of its field's value") {
		t.Errorf("appearance alone changed:\n%s", describe(rep))
	}
}

// TestRevokedSigner: the revoked certificate of the test PKI. Signed (and timestamped)
// after the revocation: TOTAL_FAILED/REVOKED. Timestamped before it: passes. Without
// a timestamp: INDETERMINATE/REVOKED_NO_POE.
func TestRevokedSigner(t *testing.T) {
	p := testpki.Committed(t)
	for _, tc := range []struct {
		name  string
		clock func() time.Time
		level pades.Level
		ind   Indication
		sub   SubIndication
	}{
		{"timestamped after revocation", nil, pades.LevelBT, TotalFailed, Revoked},
		{"timestamped before revocation", func() time.Time { return testpki.RevokedAt.Add(-30 * 24 * time.Hour) }, pades.LevelBT, TotalPassed, ""},
		{"no timestamp", nil, pades.LevelBB, Indeterminate, RevokedNoPOE},
	} {
		t.Run(tc.name, func(t *testing.T) {
			svc := startServices(t, tc.clock)
			doc := sign(t, formPDF(), p.Revoked, pades.Options{Level: tc.level, Timestamper: svc.ts})
			rep := verifyBytes(t, doc, Options{Anchors: []*x509.Certificate{p.Root.Cert}, Revocation: svc.revocation})
			s := rep.Signatures[0]
			if s.Indication != tc.ind || s.SubIndication != tc.sub {
				t.Fatalf("want %s/%s:\n%s", tc.ind, tc.sub, describe(rep))
			}
			if s.Revocation == nil || s.Revocation.Status != "revoked" {
				t.Errorf("revocation %+v", s.Revocation)
			}
		})
	}
}

// TestExpiredSigner: the expired certificate of the test PKI. A timestamp from while it
// was valid proves the signature in time; without one it is OUT_OF_BOUNDS_NO_POE.
func TestExpiredSigner(t *testing.T) {
	p := testpki.Committed(t)
	inValidity := func() time.Time { return testpki.ExpiredNotAfter.Add(-90 * 24 * time.Hour) }
	// the committed TSA certificate starts after the expired one ended: this test
	// needs a TSA that was in service while the signer's certificate was valid
	tsa := olderTSA(t, p, testpki.ExpiredNotBefore)
	for _, tc := range []struct {
		name  string
		clock func() time.Time
		level pades.Level
		ind   Indication
		sub   SubIndication
	}{
		{"timestamped while valid", inValidity, pades.LevelBT, TotalPassed, ""},
		{"no timestamp", nil, pades.LevelBB, Indeterminate, OutOfBoundsNotRevoked},
		{"timestamped after expiry", nil, pades.LevelBT, Indeterminate, OutOfBoundsNotRevoked},
	} {
		t.Run(tc.name, func(t *testing.T) {
			svc := startServices(t, tc.clock)
			server := pkitest.StartTSA(t, tsa.Cert, tsa.Key, tsa.Chain, pkitest.TSAOptions{Clock: tc.clock})
			ts := &pki.TSAClient{URLs: []string{server.URL}, Timeout: 10 * time.Second}
			doc := sign(t, formPDF(), p.Expired, pades.Options{Level: tc.level, Timestamper: ts, Time: inValidity()})
			rep := verifyBytes(t, doc, Options{Anchors: []*x509.Certificate{p.Root.Cert}, Revocation: svc.revocation})
			if s := rep.Signatures[0]; s.Indication != tc.ind || s.SubIndication != tc.sub {
				t.Fatalf("want %s/%s:\n%s", tc.ind, tc.sub, describe(rep))
			}
		})
	}
}

// olderTSA issues, under the committed sub CA, a TSA certificate valid from notBefore.
func olderTSA(t *testing.T, p *testpki.TestPKI, notBefore time.Time) *testpki.Cert {
	t.Helper()
	key, err := testpki.PooledKey(testpki.RSA2048, 7)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(notBefore.Unix()),
		Subject:      pkix.Name{Country: []string{"VN"}, CommonName: "Kyso TEST TSA (older) — NOT FOR PRODUCTION"},
		NotBefore:    notBefore, NotAfter: testpki.LeafNotAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		CRLDistributionPoints: []string{testpki.SubCRLURL},
	}
	// RFC 3161 wants the timeStamping EKU alone and critical; crypto/x509 would write
	// it non-critical
	eku, err := asn1.Marshal([]asn1.ObjectIdentifier{{1, 3, 6, 1, 5, 5, 7, 3, 8}})
	if err != nil {
		t.Fatal(err)
	}
	tmpl.ExtraExtensions = []pkix.Extension{{Id: asn1.ObjectIdentifier{2, 5, 29, 37}, Critical: true, Value: eku}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.Sub.Cert, key.Public(), p.Sub.Key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &testpki.Cert{Cert: cert, Key: key, Chain: p.TSA.Chain}
}

// TestDetached verifies a detached CMS signature made by openssl (an outside tool):
// TOTAL_PASSED with the anchor and the OCSP responder, HASH_FAILURE on other content.
func TestDetached(t *testing.T) {
	openssl := testenv.Tool(t, "openssl", "openssl")
	p := testpki.Committed(t)
	svc := startServices(t, nil)
	dir := testenv.TestPKIDir()
	tmp := t.TempDir()
	content := []byte("Công văn số 05/UBND-VP\n")
	in := filepath.Join(tmp, "cv.txt")
	sigPath := in + ".p7s"
	if err := os.WriteFile(in, content, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(openssl, "cms", "-sign", "-binary", "-md", "sha256", "-in", in, "-outform", "PEM", "-out", sigPath,
		"-signer", filepath.Join(dir, "clerk.pem"), "-inkey", filepath.Join(dir, "clerk.key"), "-certfile", filepath.Join(dir, "sub-ca.pem")).CombinedOutput()
	if err != nil {
		t.Fatalf("openssl cms -sign: %v\n%s", err, out)
	}
	sig, err := os.ReadFile(sigPath)
	if err != nil {
		t.Fatal(err)
	}
	opts := Options{Anchors: []*x509.Certificate{p.Root.Cert}, Revocation: svc.revocation}
	rep, err := VerifyDetached(context.Background(), sig, bytes.NewReader(content), int64(len(content)), "cv.txt.p7s", opts)
	if err != nil {
		t.Fatal(err)
	}
	if rep.ExitCode() != 0 || rep.Signatures[0].Level != "none" && rep.Signatures[0].Level != "CAdES-B-B" {
		t.Fatalf("want TOTAL_PASSED:\n%s", describe(rep))
	}
	other := []byte("Công văn số 06/UBND-VP\n")
	rep, err = VerifyDetached(context.Background(), sig, bytes.NewReader(other), int64(len(other)), "cv.txt.p7s", opts)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Indication != TotalFailed || rep.SubIndication != HashFailure {
		t.Fatalf("want TOTAL_FAILED/HASH_FAILURE:\n%s", describe(rep))
	}
	if _, err := VerifyDetached(context.Background(), content, nil, 0, "x", opts); !errors.Is(err, ErrUnreadable) {
		t.Errorf("not a CMS: %v", err)
	}
}
