package pades

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"image/png"
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
	"github.com/kyso-vn/kyso/signer/pdf"
)

func corpusFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testenv.CorpusDir(t), name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func writeTemp(t *testing.T, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// startServices runs the test TSA and the real openssl OCSP responder with the CRL
// servers, and returns a timestamper and a revocation collector pointed at them.
func startServices(t *testing.T) (*pki.TSAClient, *pki.Collector) {
	s := pkitest.StartServices(t, testpki.Committed(t))
	return &pki.TSAClient{URLs: []string{s.TSA.URL}, Timeout: 10 * time.Second},
		&pki.Collector{OCSP: &pki.OCSPClient{}, CRLs: &pki.CRLFetcher{}, MapURL: s.RewriteURL}
}

// TestLevels produces every PAdES baseline level and checks what each needs.
func TestLevels(t *testing.T) {
	in := corpusFile(t, "plain/lo-writer-trivial.pdf")
	ts, col := startServices(t)
	for _, lvl := range []Level{LevelBB, LevelBT, LevelBLT, LevelBLTA} {
		t.Run(lvl.String(), func(t *testing.T) {
			opts, key := orgOptions(t)
			opts.Level, opts.Timestamper, opts.Validation = lvl, ts, col
			out, err := signBytes(t, in, key, opts)
			if err != nil {
				t.Fatal(err)
			}
			if key.n != 1 {
				t.Fatalf("key asked %d times", key.n)
			}
			path := writeTemp(t, "signed.pdf", out)
			res, _ := exec.Command(testenv.Tool(t, "pdfsig", "poppler-utils"), "-nocert", path).CombinedOutput()
			// poppler 22 validates CAdES signatures but not document timestamps ("unknown"):
			// those are checked with openssl ts -verify below.
			if n := strings.Count(string(res), "Signature is Valid."); n != 1 {
				t.Fatalf("pdfsig:\n%s", res)
			}
			sigs := signatureValues(t, out)
			hasTST := bytes.Contains(sigs[0].contents, oidSignatureTimeStampToken)
			if hasTST != (lvl >= LevelBT) {
				t.Errorf("signature timestamp present=%v at %v", hasTST, lvl)
			}
			if lvl == LevelBLTA {
				if len(sigs) != 2 || sigs[1].subFilter != "ETSI.RFC3161" {
					t.Fatalf("want a document timestamp after the signature, got %d signatures", len(sigs))
				}
				opensslTSVerify(t, out, sigs[1])
			}
			r := openBytes(t, out)
			cat, _, _ := r.Catalog()
			dss := r.Dict(cat["DSS"])
			if lvl >= LevelBLT {
				if dss == nil {
					t.Fatal("no DSS")
				}
				for _, k := range []pdf.Name{"Certs", "OCSPs", "CRLs", "VRI"} {
					if dss[k] == nil {
						t.Errorf("DSS has no /%s", k)
					}
				}
				// signer chain (org, sub) and TSA chain (tsa, sub): org, sub, tsa at least
				if n := len(r.Array(dss["Certs"])); n < 3 {
					t.Errorf("DSS holds %d certificates, want the signer's and the TSA's chains", n)
				}
			} else if dss != nil {
				t.Errorf("DSS at %v", lvl)
			}
		})
	}
}

// TestTwoPhase: the prepared state survives a JSON round trip (a restart between
// prepare and complete), and a wrong signature is refused.
func TestTwoPhase(t *testing.T) {
	in := corpusFile(t, "plain/google-doc-document.pdf")
	opts, key := orgOptions(t)
	p, err := Prepare(context.Background(), bytes.NewReader(in), int64(len(in)), nil, opts)
	if err != nil {
		t.Fatal(err)
	}
	state, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	var q Prepared
	if err := json.Unmarshal(state, &q); err != nil {
		t.Fatal(err)
	}
	sig, err := SignDigest(context.Background(), key, q.SignedAttrsDigest(), q.SignatureOpts())
	if err != nil {
		t.Fatal(err)
	}
	bad := append([]byte(nil), sig...)
	bad[10] ^= 0xff
	if _, err := q.Complete(context.Background(), bytes.NewReader(in), bad, opts); err == nil {
		t.Fatal("a wrong signature was embedded")
	}
	tail, err := q.Complete(context.Background(), bytes.NewReader(in), sig, opts)
	if err != nil {
		t.Fatal(err)
	}
	j := judge(t, writeTemp(t, "two-phase.pdf", append(append([]byte(nil), in...), tail...)))
	if !j.valid || !j.total {
		t.Fatalf("pdfsig:\n%s", j.pdfsig)
	}
}

// TestCertification: a certified P=1 document refuses a second signature, a P=2 one
// takes it, and certification on a signed document is refused.
func TestCertification(t *testing.T) {
	in := corpusFile(t, "plain/lo-writer-trivial.pdf")
	opts, key := orgOptions(t)
	for _, c := range []struct {
		mode    Certify
		allowed bool
	}{{CertifyNoChanges, false}, {CertifyFormFilling, true}, {CertifyAnnotations, true}} {
		o := opts
		o.Certify = c.mode
		certified, err := signBytes(t, in, key, o)
		if err != nil {
			t.Fatal(err)
		}
		r := openBytes(t, certified)
		cat, _, _ := r.Catalog()
		if r.Dict(r.Dict(cat["Perms"])["DocMDP"]) == nil {
			t.Fatalf("mode %d: no /Perms /DocMDP in the catalog", c.mode)
		}
		if j := judge(t, writeTemp(t, "c.pdf", certified)); !j.valid {
			t.Fatalf("pdfsig:\n%s", j.pdfsig)
		}
		_, err = signBytes(t, certified, key, opts)
		if c.allowed != (err == nil) {
			t.Errorf("mode %d: second signature err=%v, allowed=%v", c.mode, err, c.allowed)
		}
		if !c.allowed && !errors.Is(err, ErrNotAllowed) {
			t.Errorf("mode %d: error %v is not ErrNotAllowed", c.mode, err)
		}
		o2 := opts
		o2.Certify = CertifyFormFilling
		if _, err := signBytes(t, certified, key, o2); !errors.Is(err, ErrNotAllowed) {
			t.Errorf("certifying a signed document: %v", err)
		}
	}
}

// TestExistingFieldAndFieldErrors signs into a named empty field, then refuses to
// sign it again.
func TestExistingFieldAndFieldErrors(t *testing.T) {
	in := corpusFile(t, "forms/pyhanko-two-empty-sig-fields.pdf")
	name := firstEmptySigField(t, in)
	if name == "" {
		t.Fatal("corpus file has no empty signature field")
	}
	opts, key := orgOptions(t)
	opts.Field = name
	out, err := signBytes(t, in, key, opts)
	if err != nil {
		t.Fatal(err)
	}
	before := len(fieldNames(t, in))
	if after := len(fieldNames(t, out)); after != before {
		t.Errorf("signing into %q changed the field count %d → %d", name, before, after)
	}
	if _, err := signBytes(t, out, key, opts); !errors.Is(err, ErrField) {
		t.Errorf("signing a signed field again: %v", err)
	}
}

// TestLeaderThenClerk: the leader signs with the handwritten image, the clerk adds
// the organisation's signature with the seal over it; both valid in pdfsig, the text
// block renders Vietnamese that pdftotext extracts exactly, and the rendered area
// matches the golden image.
func TestLeaderThenClerk(t *testing.T) {
	in := corpusFile(t, "plain/lo-writer-trivial.pdf")
	p := testpki.Committed(t)
	sig, seal := testenv.SignaturePNG(), testenv.SealPNG()
	leaderOpts := Options{Certificate: p.Leader.Cert, Chain: p.Leader.Chain, Reason: "Phê duyệt",
		Appearance: &Appearance{Page: 1, Rect: [4]float64{300, 100, 480, 160}, Image: sig}}
	leader, err := signBytes(t, in, p.Leader.Key, leaderOpts)
	if err != nil {
		t.Fatal(err)
	}
	clerkOpts := Options{Certificate: p.Org.Cert, Chain: p.Org.Chain, Reason: "Phát hành",
		Appearance: &Appearance{Page: 1, Rect: [4]float64{300, 100, 480, 160}, Image: sig, Seal: seal, SealSize: 60}}
	issued, err := signBytes(t, leader, p.Org.Key, clerkOpts)
	if err != nil {
		t.Fatal(err)
	}
	// the attachment's text block: number/symbol and ISO 8601 time, top right
	text := []string{"Ủy ban nhân dân tỉnh Ninh Thuận", "Số: 05/UBND-VP", "2025-03-05T14:30:15+07:00"}
	attOpts := Options{Certificate: p.Org.Cert, Chain: p.Org.Chain, Appearance: &Appearance{Lines: text}}
	final, err := signBytes(t, issued, p.Org.Key, attOpts)
	if err != nil {
		t.Fatal(err)
	}
	path := writeTemp(t, "issued.pdf", final)
	res, _ := exec.Command(testenv.Tool(t, "pdfsig", "poppler-utils"), "-nocert", path).CombinedOutput()
	if n := strings.Count(string(res), "Signature is Valid."); n != 3 {
		t.Fatalf("want 3 valid signatures:\n%s", res)
	}
	txt, err := exec.Command(testenv.Tool(t, "pdftotext", "poppler-utils"), path, "-").CombinedOutput()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range text {
		if !strings.Contains(string(txt), l) {
			t.Errorf("pdftotext does not find %q in:\n%s", l, txt)
		}
	}
	compareGolden(t, path, "leader-clerk")
}

// compareGolden renders page 1 with pdftoppm and compares it with a golden PNG
// (testdata/NAME.png; KYSO_UPDATE_GOLDEN=1 rewrites it). At most 0.5% of the pixels
// may differ by more than a small tolerance (anti-aliasing differences).
func compareGolden(t *testing.T, pdfPath, name string) {
	t.Helper()
	prefix := filepath.Join(t.TempDir(), "page")
	if out, err := exec.Command(testenv.Tool(t, "pdftoppm", "poppler-utils"), "-r", "50", "-png", "-f", "1", "-l", "1", "-singlefile", pdfPath, prefix).CombinedOutput(); err != nil {
		t.Fatalf("pdftoppm: %v\n%s", err, out)
	}
	got, err := os.ReadFile(prefix + ".png")
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", name+".png")
	if os.Getenv("KYSO_UPDATE_GOLDEN") == "1" {
		_ = os.MkdirAll("testdata", 0o755)
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("golden image: %v (run with KYSO_UPDATE_GOLDEN=1 once)", err)
	}
	a, err1 := png.Decode(bytes.NewReader(got))
	b, err2 := png.Decode(bytes.NewReader(want))
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	if a.Bounds() != b.Bounds() {
		t.Fatalf("rendered size %v, golden %v", a.Bounds(), b.Bounds())
	}
	diff, total := 0, 0
	for y := a.Bounds().Min.Y; y < a.Bounds().Max.Y; y++ {
		for x := a.Bounds().Min.X; x < a.Bounds().Max.X; x++ {
			r1, g1, b1, _ := a.At(x, y).RGBA()
			r2, g2, b2, _ := b.At(x, y).RGBA()
			total++
			if absDiff(r1, r2) > 0x2000 || absDiff(g1, g2) > 0x2000 || absDiff(b1, b2) > 0x2000 {
				diff++
			}
		}
	}
	if float64(diff) > 0.005*float64(total) {
		t.Errorf("rendered page differs from %s in %d of %d pixels", golden, diff, total)
	}
}

func absDiff(a, b uint32) uint32 {
	if a > b {
		return a - b
	}
	return b - a
}

// id-aa-signatureTimeStampToken, DER-encoded.
var oidSignatureTimeStampToken = []byte{0x06, 0x0b, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x10, 0x02, 0x0e}

type sigValue struct {
	subFilter string
	byteRange []int64
	contents  []byte
}

// signatureValues lists the signature dictionaries of the fields, in field order.
func signatureValues(t *testing.T, b []byte) []sigValue {
	t.Helper()
	r := openBytes(t, b)
	cat, _, _ := r.Catalog()
	var out []sigValue
	for _, f := range walkFields(r, r.Dict(cat["AcroForm"])) {
		v := r.Dict(f.dict["V"])
		if v == nil {
			continue
		}
		sv := sigValue{}
		sf, _ := v["SubFilter"].(pdf.Name)
		sv.subFilter = string(sf)
		c, _ := v["Contents"].(pdf.String)
		sv.contents = []byte(c)
		for _, n := range r.Array(v["ByteRange"]) {
			i, _ := r.Int(n)
			sv.byteRange = append(sv.byteRange, i)
		}
		out = append(out, sv)
	}
	return out
}

// opensslTSVerify checks a document timestamp with openssl ts -verify against the
// SHA-256 of its byte ranges and the test root.
func opensslTSVerify(t *testing.T, doc []byte, s sigValue) {
	t.Helper()
	if len(s.byteRange) != 4 {
		t.Fatalf("byte range %v", s.byteRange)
	}
	h := sha256.New()
	h.Write(doc[s.byteRange[0] : s.byteRange[0]+s.byteRange[1]])
	h.Write(doc[s.byteRange[2] : s.byteRange[2]+s.byteRange[3]])
	tok := s.contents
	// the DER length tells where the token ends; trailing zero padding is not part of it
	tokPath := writeTemp(t, "tst.der", derPrefix(tok))
	p := testpki.Committed(t)
	out, err := exec.Command(testenv.Tool(t, "openssl", "openssl"), "ts", "-verify", "-digest", hex.EncodeToString(h.Sum(nil)),
		"-in", tokPath, "-token_in", "-CAfile", p.Path("root-ca.pem"), "-untrusted", p.Path("sub-ca.pem")).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Verification: OK") {
		t.Fatalf("openssl ts -verify: %v\n%s", err, out)
	}
}

// derPrefix cuts b to the length its outer DER header declares.
func derPrefix(b []byte) []byte {
	if len(b) < 2 {
		return b
	}
	l, hdr := int(b[1]), 2
	if l&0x80 != 0 {
		n := l & 0x7f
		l = 0
		for i := 0; i < n && 2+i < len(b); i++ {
			l = l<<8 | int(b[2+i])
		}
		hdr = 2 + n
	}
	if hdr+l <= len(b) {
		return b[:hdr+l]
	}
	return b
}

// TestExtend raises a B-T signature to B-LTA later (archive renewal), twice.
func TestExtend(t *testing.T) {
	in := corpusFile(t, "plain/pdf20-simple.pdf")
	ts, col := startServices(t)
	opts, key := orgOptions(t)
	opts.Level, opts.Timestamper = LevelBT, ts
	signed, err := signBytes(t, in, key, opts)
	if err != nil {
		t.Fatal(err)
	}
	doc := signed
	for round := 1; round <= 2; round++ {
		tail, err := Extend(context.Background(), bytes.NewReader(doc), int64(len(doc)), ExtendOptions{Level: LevelBLTA, Timestamper: ts, Validation: col})
		if err != nil {
			t.Fatal(err)
		}
		doc = append(append([]byte(nil), doc...), tail.Tail...)
		sigs := signatureValues(t, doc)
		if len(sigs) != 1+round || sigs[len(sigs)-1].subFilter != "ETSI.RFC3161" {
			t.Fatalf("round %d: %d signatures", round, len(sigs))
		}
		opensslTSVerify(t, doc, sigs[len(sigs)-1])
		r := openBytes(t, doc)
		cat, _, _ := r.Catalog()
		if r.Dict(cat["DSS"]) == nil {
			t.Fatal("no DSS")
		}
		// PDF 2.0 has the DSS in its own standard: no ESIC extension
		if _, ok := r.Dict(cat["Extensions"])["ESIC"]; ok {
			t.Errorf("round %d: /Extensions /ESIC in a PDF %s file", round, r.Version)
		}
	}
	j := judge(t, writeTemp(t, "extended.pdf", doc))
	if !strings.Contains(j.pdfsig, "Signature is Valid.") {
		t.Fatalf("pdfsig:\n%s", j.pdfsig)
	}
	if _, err := Extend(context.Background(), bytes.NewReader(in), int64(len(in)), ExtendOptions{Level: LevelBLTA, Timestamper: ts, Validation: col}); !errors.Is(err, ErrField) {
		t.Errorf("extending an unsigned document: %v", err)
	}
}

// TestMetadataInSignatureRevision: the clerk's signature revision carries the
// identifier in /Info and XMP and fills the template's text field; the signature
// stays valid and the filled value renders.
func TestMetadataInSignatureRevision(t *testing.T) {
	in := corpusFile(t, "forms/libreoffice-form.pdf")
	r := openBytes(t, in)
	cat, _, _ := r.Catalog()
	textField := ""
	for _, f := range walkFields(r, r.Dict(cat["AcroForm"])) {
		if f.ft == "Tx" && f.ref.Num != 0 {
			textField = f.name
			break
		}
	}
	if textField == "" {
		t.Fatal("no text field in the template")
	}
	id := "000.00.00.H43,2025/03/05,05/UBND-VP"
	opts, key := orgOptions(t)
	opts.Metadata = &Metadata{
		Info:       map[string]string{"KysoIdentifier": id},
		XMP:        map[string]string{"NumberSymbol": "05/UBND-VP", "OrganId": "000.00.00.H43"},
		Identifier: id,
		Fields:     map[string]string{textField: "Số: 05/UBND-VP"},
	}
	out, err := signBytes(t, in, key, opts)
	if err != nil {
		t.Fatal(err)
	}
	path := writeTemp(t, "issued.pdf", out)
	if j := judge(t, path); !j.valid || !j.total {
		t.Fatalf("pdfsig:\n%s", j.pdfsig)
	}
	r2 := openBytes(t, out)
	if got := pdf.DecodeText(r2.Dict(r2.Trailer["Info"])["KysoIdentifier"].(pdf.String)); got != id {
		t.Errorf("/Info KysoIdentifier = %q", got)
	}
	cat2, _, _ := r2.Catalog()
	meta, _ := mustResolve(r2, cat2["Metadata"]).(*pdf.Stream)
	if meta == nil {
		t.Fatal("no XMP")
	}
	x, _ := meta.Decode(1 << 20)
	if !bytes.Contains(x, []byte("<dc:identifier>"+id+"</dc:identifier>")) || !bytes.Contains(x, []byte("<kyso:NumberSymbol>05/UBND-VP</kyso:NumberSymbol>")) {
		t.Errorf("XMP lacks the identifier:\n%s", x)
	}
	txt, _ := exec.Command(testenv.Tool(t, "pdftotext", "poppler-utils"), path, "-").CombinedOutput()
	if !strings.Contains(string(txt), "05/UBND-VP") {
		t.Errorf("the filled number does not render:\n%s", txt)
	}
}

// TestFieldMDPLock: a signed field whose /Lock (FieldMDP) names another, empty
// signature field forbids signing that field; a field it does not name stays open.
func TestFieldMDPLock(t *testing.T) {
	in := corpusFile(t, "forms/pyhanko-two-empty-sig-fields.pdf")
	r := openBytes(t, in)
	cat, _, _ := r.Catalog()
	var empty []field
	for _, f := range walkFields(r, r.Dict(cat["AcroForm"])) {
		if f.ft == "Sig" && r.Dict(f.dict["V"]) == nil {
			empty = append(empty, f)
		}
	}
	if len(empty) < 2 {
		t.Fatalf("want two empty signature fields, have %d", len(empty))
	}
	// The first field gets a lock over the second, then is signed.
	u := pdf.NewUpdate(r)
	locked := copyDict(empty[0].dict)
	locked["Lock"] = pdf.Dict{"Type": pdf.Name("SigFieldLock"), "Action": pdf.Name("Include"),
		"Fields": pdf.Array{pdf.TextString(empty[1].name)}}
	u.Set(empty[0].ref, locked)
	tail, err := u.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	withLock := append(append([]byte(nil), in...), tail...)
	opts, key := orgOptions(t)
	opts.Field = empty[0].name
	signed, err := signBytes(t, withLock, key, opts)
	if err != nil {
		t.Fatal(err)
	}
	opts.Field = empty[1].name
	if _, err := signBytes(t, signed, key, opts); !errors.Is(err, ErrNotAllowed) {
		t.Fatalf("signing the locked field %q: %v", empty[1].name, err)
	}
	opts.Field = ""
	if _, err := signBytes(t, signed, key, opts); err != nil {
		t.Fatalf("a new field is not locked: %v", err)
	}
}

// blankPDF is a one-page A4 PDF with nothing on it, turned by rotate degrees.
func blankPDF(rotate int) []byte {
	var b bytes.Buffer
	off := make([]int, 4)
	b.WriteString("%PDF-1.7\n")
	objs := []string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		fmt.Sprintf("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Rotate %d /Resources << >> >>", rotate),
	}
	for i, o := range objs {
		off[i+1] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	x := b.Len()
	b.WriteString("xref\n0 4\n0000000000 65535 f\r\n")
	for i := 1; i <= 3; i++ {
		fmt.Fprintf(&b, "%010d 00000 n\r\n", off[i])
	}
	fmt.Fprintf(&b, "trailer\n<< /Size 4 /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", x)
	return b.Bytes()
}

// TestRotatedPages: the text block reads upright and sits at the top right as the
// reader sees the page, whatever the page's /Rotate.
func TestRotatedPages(t *testing.T) {
	pdftoppm := testenv.Tool(t, "pdftoppm", "poppler-utils")
	opts, key := orgOptions(t)
	opts.Appearance = &Appearance{Lines: []string{"Ủy ban nhân dân tỉnh Ninh Thuận — bản sao điện tử", "Số: 05/UBND-VP"}}
	for _, rot := range []int{0, 90, 180, 270} {
		t.Run(fmt.Sprint(rot), func(t *testing.T) {
			out, err := signBytes(t, blankPDF(rot), key, opts)
			if err != nil {
				t.Fatal(err)
			}
			path := writeTemp(t, "rot.pdf", out)
			prefix := filepath.Join(t.TempDir(), "page")
			if b, err := exec.Command(pdftoppm, "-r", "72", "-png", "-singlefile", path, prefix).CombinedOutput(); err != nil {
				t.Fatalf("pdftoppm: %v %s", err, b)
			}
			f, err := os.Open(prefix + ".png")
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			img, err := png.Decode(f)
			if err != nil {
				t.Fatal(err)
			}
			bd := img.Bounds()
			minX, minY, maxX, maxY := bd.Max.X, bd.Max.Y, -1, -1
			for y := bd.Min.Y; y < bd.Max.Y; y++ {
				for x := bd.Min.X; x < bd.Max.X; x++ {
					if r, g, b, _ := img.At(x, y).RGBA(); r+g+b < 3*0xC000 {
						minX, minY = min(minX, x), min(minY, y)
						maxX, maxY = max(maxX, x), max(maxY, y)
					}
				}
			}
			if maxX < 0 {
				t.Fatal("nothing drawn")
			}
			w, h := maxX-minX, maxY-minY
			if w <= 2*h {
				t.Errorf("text box %dx%d px: not reading horizontally", w, h)
			}
			if minX < bd.Dx()/3 || maxY > bd.Dy()/3 {
				t.Errorf("text at x %d..%d, y %d..%d of %dx%d: not at the top right", minX, maxX, minY, maxY, bd.Dx(), bd.Dy())
			}
		})
	}
}
