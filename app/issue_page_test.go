package app

import (
	"bytes"
	"errors"
	"image"
	"image/png"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kyso-vn/kyso/internal/testenv"
	"github.com/kyso-vn/kyso/pkg/fault"
	"github.com/kyso-vn/kyso/signer/pades"
	"github.com/kyso-vn/kyso/signer/pdf"
	"github.com/kyso-vn/kyso/signer/verify"
)

// leaderRect is where the leader's signature image goes on testenv.CongVanPDF's
// page: between "CHỦ TỊCH" and the name.
var leaderRect = [4]float64{342, 492, 522, 552}

// issueOn makes the service's clock read at when the test starts and run on from
// there; pending signatures then last long enough for the store, which expires them
// by the real clock, whatever day the test runs.
func issueOn(f *fixture, at time.Time) {
	d := time.Until(at)
	f.svc.Now = func() time.Time { return time.Now().Add(d) }
	if d < 0 {
		f.svc.PendingTTL = -d + time.Hour
	}
}

var blankRun = regexp.MustCompile(`[ \t\x{a0}]+`)

// checkIssuedPage: pdftotext -layout of the issued page gives the number and date
// lines (runs of blanks read as one space), and poppler says every signature is
// valid. With KYSO_ISSUED_SCREENSHOTS=DIR it also renders the page there (the
// README's docs/issued/*.png: go test ./app -run TestIssueFlow$).
func checkIssuedPage(t *testing.T, content []byte, want ...string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "issued.pdf")
	if err := os.WriteFile(path, content, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(testenv.Tool(t, "pdftotext", "poppler-utils"), "-layout", "-f", "1", "-l", "1", path, "-").CombinedOutput()
	if err != nil {
		t.Fatalf("pdftotext: %v %s", err, out)
	}
	txt := blankRun.ReplaceAllString(string(out), " ")
	for _, w := range want {
		if !strings.Contains(txt, w) {
			t.Errorf("pdftotext -layout does not give %q:\n%s", w, out)
		}
	}
	sig, _ := exec.Command(testenv.Tool(t, "pdfsig", "poppler-utils"), "-nocert", path).CombinedOutput()
	if n := strings.Count(string(sig), "Signature #"); n == 0 || strings.Count(string(sig), "Signature is Valid.") != n {
		t.Errorf("pdfsig does not say every signature is valid:\n%s", sig)
	}
	if dir := os.Getenv("KYSO_ISSUED_SCREENSHOTS"); dir != "" {
		// the page, and at 100 dpi its number-and-date lines and its seal (crops in
		// pixels: x, y, width, height)
		for _, r := range []struct {
			name, dpi string
			crop      []string
		}{
			{"page", "60", nil},
			{"number-date", "100", []string{"-x", "100", "-y", "110", "-W", "700", "-H", "80"}},
			{"seal", "100", []string{"-x", "380", "-y", "335", "-W", "400", "-H", "215"}},
		} {
			args := append([]string{"-r", r.dpi, "-png", "-singlefile", "-f", "1", "-l", "1"}, r.crop...)
			args = append(args, path, filepath.Join(dir, "issued-"+r.name))
			if b, err := exec.Command("pdftoppm", args...).CombinedOutput(); err != nil {
				t.Errorf("pdftoppm: %v %s", err, b)
			}
		}
	}
}

// checkSealOnPage renders the issued page at 72 dpi (a pixel a point) and checks
// from its pixels that the red seal shows whole, sealPt points wide, over the left
// third of the leader's blue signature image and centred on it.
func checkSealOnPage(t *testing.T, content []byte, sealPt float64) {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "issued.pdf")
	if err := os.WriteFile(path, content, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(testenv.Tool(t, "pdftoppm", "poppler-utils"), "-r", "72", "-png", "-singlefile", "-f", "1", "-l", "1", path, filepath.Join(dir, "page")).CombinedOutput(); err != nil {
		t.Fatalf("pdftoppm: %v %s", err, out)
	}
	pf, err := os.Open(filepath.Join(dir, "page.png"))
	if err != nil {
		t.Fatal(err)
	}
	defer pf.Close()
	img, err := png.Decode(pf)
	if err != nil {
		t.Fatal(err)
	}
	type box struct{ x0, y0, x1, y1, n int }
	find := func(im image.Image, is func(r, g, b uint32) bool) box {
		b := box{x0: 1 << 30, y0: 1 << 30, x1: -1, y1: -1}
		for y := im.Bounds().Min.Y; y < im.Bounds().Max.Y; y++ {
			for x := im.Bounds().Min.X; x < im.Bounds().Max.X; x++ {
				r, g, bl, _ := im.At(x, y).RGBA()
				if is(r>>8, g>>8, bl>>8) {
					b.n++
					b.x0, b.y0, b.x1, b.y1 = min(b.x0, x), min(b.y0, y), max(b.x1, x), max(b.y1, y)
				}
			}
		}
		return b
	}
	red := func(r, g, b uint32) bool { return r > 150 && g < 100 && b < 100 }
	blue := func(r, g, b uint32) bool { return b > 120 && r < 100 && g < 100 }
	sealPNG, _ := png.Decode(bytes.NewReader(testenv.SealPNG()))
	want, seal, sig := find(sealPNG, red), find(img, red), find(img, blue)
	scale := sealPt / float64(sealPNG.Bounds().Dx())
	wantN := float64(want.n) * scale * scale
	if r := float64(seal.n) / wantN; r < 0.85 || r > 1.15 {
		t.Errorf("the seal's red area is %d px, %.0f%% of the PNG's at its true size: not whole", seal.n, 100*r)
	}
	if w := float64(want.x1-want.x0+1) * scale; math.Abs(float64(seal.x1-seal.x0+1)-w) > 3 || math.Abs(float64(seal.y1-seal.y0+1)-w) > 3 {
		t.Errorf("the seal shows %dx%d px, want %.0f square", seal.x1-seal.x0+1, seal.y1-seal.y0+1, w)
	}
	third := float64(sig.x0) + float64(sig.x1-sig.x0+1)/3
	if math.Abs(float64(seal.x1)-third) > 4 || seal.x0 >= sig.x0 {
		t.Errorf("the seal (x %d..%d) is not over the left third of the signature (x %d..%d)", seal.x0, seal.x1, sig.x0, sig.x1)
	}
	if math.Abs(float64(seal.y0+seal.y1)/2-float64(sig.y0+sig.y1)/2) > 4 {
		t.Errorf("the seal (y %d..%d) is not centred on the signature (y %d..%d)", seal.y0, seal.y1, sig.y0, sig.y1)
	}
}

// TestIssueRefusedWithoutPlace: a draft whose first page has no blank for the number
// and the date, and no template fields named, is not issued, takes no number, and
// the refusal says how to give a place.
func TestIssueRefusedWithoutPlace(t *testing.T) {
	f := newFixture(t)
	in := testenv.CongVanPDFWith(t, "Công văn", "Ninh Thuận, tháng Chạp năm 2026")
	pend, err := f.svc.Prepare(f.ctx, PrepareRequest{Content: bytes.NewReader(in), AgencyCode: agency, Symbol: "UBND-VP",
		Certificate: f.leader.Certificate(), Chain: f.pki.Leader.Chain, Role: RoleApprove, By: f.lp,
		Options: SignOptions{Appearance: &pades.Appearance{Page: 1, Rect: leaderRect, Image: testenv.SignaturePNG()}}})
	if err != nil {
		t.Fatal(err)
	}
	sig, _ := pades.SignDigest(f.ctx, f.leader, pend.Digest, optsFor(t, pend))
	if _, err := f.svc.Complete(f.ctx, pend.ID, CompleteRequest{Signature: sig, By: f.lp}); err != nil {
		t.Fatal(err)
	}
	_, _, err = f.svc.Issue(f.ctx, IssueRequest{DocumentID: pend.DocumentID, KeyName: "org", Seal: testenv.SealPNG(), By: f.cp})
	var fe *fault.Error
	if !errors.As(err, &fe) || fe.Kind != fault.Invalid || fe.Code != CodeNoPlace || !strings.Contains(fe.Detail, "--number-field") || !strings.Contains(fe.Detail, "approved again") {
		t.Fatalf("issuing a draft with no place for the number: %v", err)
	}
	doc, _ := f.svc.Store.GetDocument(f.ctx, pend.DocumentID)
	if doc.Number != 0 || doc.Status != "approved" {
		t.Errorf("a refused document: number %d, %s", doc.Number, doc.Status)
	}
}

// TestIssueWithPlacesGiven: the last resort. A draft whose first page has no blanks
// Kyso recognises is approved with the places given by hand (pades.BlanksAt); the
// issued page then shows the whole number line and the date there, and the leader's
// signature still verifies with the clerk's filling allowed.
func TestIssueWithPlacesGiven(t *testing.T) {
	f := newFixture(t)
	issueOn(f, time.Date(2026, 2, 7, 10, 0, 0, 0, vietnam))
	in := testenv.CongVanPDFWith(t, "Công văn", "Ninh Thuận")
	pend, err := f.svc.Prepare(f.ctx, PrepareRequest{Content: bytes.NewReader(in), AgencyCode: agency, Symbol: "UBND-VP",
		Certificate: f.leader.Certificate(), Chain: f.pki.Leader.Chain, Role: RoleApprove, By: f.lp,
		Options: SignOptions{Appearance: &pades.Appearance{Page: 1, Rect: leaderRect, Image: testenv.SignaturePNG()},
			Blanks: pades.BlanksAt(1, [2]float64{100, 805}, [2]float64{330, 805}, 13)}})
	if err != nil {
		t.Fatal(err)
	}
	sig, _ := pades.SignDigest(f.ctx, f.leader, pend.Digest, optsFor(t, pend))
	if _, err := f.svc.Complete(f.ctx, pend.ID, CompleteRequest{Signature: sig, By: f.lp}); err != nil {
		t.Fatal(err)
	}
	doc, rep, err := f.svc.Issue(f.ctx, IssueRequest{DocumentID: pend.DocumentID, KeyName: "org", Seal: testenv.SealPNG(), SealSize: 100, By: f.cp})
	if err != nil {
		t.Fatalf("issue: %v (%+v)", err, rep)
	}
	content := f.current(t, doc)
	checkIssuedPage(t, content, "Số: 01/UBND-VP", "ngày 07 tháng 02 năm 2026")
	final, err := verify.VerifyPDF(f.ctx, bytes.NewReader(content), int64(len(content)), "issued.pdf", f.svc.Verify)
	if err != nil || final.Indication != verify.TotalPassed {
		t.Fatalf("verify: %v %s", err, verdict(final))
	}
}

// refill appends a revision that gives the text field name another value (form
// filling, as a tool that edits a signed form would).
func refill(t *testing.T, content []byte, name, value string) []byte {
	t.Helper()
	rd, err := pdf.Open(bytes.NewReader(content), int64(len(content)))
	if err != nil {
		t.Fatal(err)
	}
	cat, _, _ := rd.Catalog()
	for _, fo := range rd.Array(rd.Dict(cat["AcroForm"])["Fields"]) {
		ref, ok := fo.(pdf.Ref)
		d := rd.Dict(fo)
		if !ok || d == nil {
			continue
		}
		if s, _ := d["T"].(pdf.String); pdf.DecodeText(s) != name {
			continue
		}
		nd := pdf.Dict{}
		for k, v := range d {
			nd[k] = v
		}
		nd["V"] = pdf.TextString(value)
		u := pdf.NewUpdate(rd)
		u.Set(ref, nd)
		b, err := u.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		return append(append([]byte(nil), content...), b...)
	}
	t.Fatalf("no field %q", name)
	return nil
}

// checkNumberLocked: once issued, the number cannot be changed by filling its field
// again: the organisation's signature locks it (FieldMDP), and the verifier reports
// the change as not allowed.
func checkNumberLocked(t *testing.T, f *fixture, content []byte, field string) {
	t.Helper()
	tampered := refill(t, content, field, "02")
	rep, err := verify.VerifyPDF(f.ctx, bytes.NewReader(tampered), int64(len(tampered)), "tampered.pdf", f.svc.Verify)
	if err != nil {
		t.Fatal(err)
	}
	refused := false
	for _, m := range rep.Signatures[len(rep.Signatures)-1].Modifications {
		refused = refused || !m.Allowed
	}
	if rep.Indication == verify.TotalPassed || !refused {
		t.Errorf("a number changed after issuing passes: %s %+v", rep.Indication, rep.Signatures[len(rep.Signatures)-1].Modifications)
	}
}
