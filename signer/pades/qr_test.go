package pades

import (
	"fmt"

	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kyso-vn/kyso/internal/testenv"
	"github.com/kyso-vn/kyso/internal/testpki"
)

// readQR decodes the QR codes on page 1 of the PDF at path, rendered at dpi, with
// zbar's zbarimg (an outside reader, as a phone would be).
func readQR(t *testing.T, path string, dpi int) []string {
	t.Helper()
	zbar := testenv.Tool(t, "zbarimg", "zbar-tools")
	prefix := filepath.Join(t.TempDir(), "page")
	if out, err := exec.Command(testenv.Tool(t, "pdftoppm", "poppler-utils"), "-r", fmt.Sprint(dpi), "-png", "-f", "1", "-l", "1", "-singlefile", path, prefix).CombinedOutput(); err != nil {
		t.Fatalf("pdftoppm: %v\n%s", err, out)
	}
	out, err := exec.Command(zbar, "--quiet", "--raw", "-Sdisable", "-Sqrcode.enable", prefix+".png").Output()
	if err != nil {
		t.Fatalf("zbarimg read no QR code on the page: %v", err)
	}
	return strings.Fields(strings.TrimSpace(string(out)))
}

// issueWithQR has the leader approve in with the signature image at rect and a lookup
// blank, and the organisation fill the blank with url.
func issueWithQR(t *testing.T, in []byte, rect [4]float64, url string) []byte {
	t.Helper()
	p := testpki.Committed(t)
	opts := Options{Certificate: p.Leader.Cert, Chain: p.Leader.Chain, Blanks: []Blank{LookupBlank()}}
	if rect != ([4]float64{}) {
		opts.Appearance = &Appearance{Rect: rect, Image: testenv.SignaturePNG()}
	}
	leader, err := signBytes(t, in, p.Leader.Key, opts)
	if err != nil {
		t.Fatal(err)
	}
	if !HasLookupBlank(openBytes(t, leader)) {
		t.Fatal("the approval made no lookup blank")
	}
	issued, err := signBytes(t, leader, p.Org.Key, Options{Certificate: p.Org.Cert, Chain: p.Org.Chain, LockFields: []string{BlankLookup},
		Metadata: &Metadata{Fields: map[string]string{BlankLookup: url}}})
	if err != nil {
		t.Fatal(err)
	}
	return issued
}

// lookupRect is where the filled lookup blank lies.
func lookupRect(t *testing.T, b []byte) [4]float64 {
	t.Helper()
	rd := openBytes(t, b)
	cat, _, _ := rd.Catalog()
	for _, f := range walkFields(rd, rd.Dict(cat["AcroForm"])) {
		if f.name == BlankLookup {
			return rectOf(f.dict["Rect"])
		}
	}
	t.Fatal("no lookup field")
	return [4]float64{}
}

// TestQRCodeReadsBack: the leader's approval makes the lookup blank, the organisation's
// issuing signature fills it with the lookup URL drawn as a QR code, on pages turned
// 0, 90, 180 and 270 degrees: zbarimg reads the URL back from the page rendered at
// 150 dpi (an ordinary scan); the code lies in the bottom left corner as the reader
// sees the page, or elsewhere when the leader's signature is there; poppler says both
// signatures are valid and qpdf finds nothing wrong.
func TestQRCodeReadsBack(t *testing.T) {
	const url = "https://vanban.ninhthuan.gov.vn/tra-cuu/000.00.00.H43,2026%2F12%2F03,05%2FUBND-VP"
	for _, rot := range []int{0, 90, 180, 270} {
		t.Run(fmt.Sprint(rot), func(t *testing.T) {
			// on the upright page the leader's signature takes the bottom left corner,
			// where the code would go first
			rect := [4]float64{20, 20, 260, 80}
			if rot != 0 {
				rect = [4]float64{300, 300, 400, 400}
			}
			issued := issueWithQR(t, blankPDF(rot), rect, url)
			path := writeTemp(t, "issued.pdf", issued)
			if d := os.Getenv("KYSO_KEEP_RENDER"); d != "" {
				exec.Command("cp", path, filepath.Join(d, fmt.Sprintf("qr-%d.pdf", rot))).Run()
			}
			if got := readQR(t, path, 150); len(got) != 1 || got[0] != url {
				t.Fatalf("the page's QR codes read %q, want %q", got, url)
			}
			out, _ := exec.Command(testenv.Tool(t, "pdfsig", "poppler-utils"), "-nocert", path).CombinedOutput()
			if n := strings.Count(string(out), "Signature is Valid."); n != 2 {
				t.Fatalf("want 2 valid signatures:\n%s", out)
			}
			if out, err := exec.Command(testenv.Tool(t, "qpdf", "qpdf"), "--check", path).CombinedOutput(); err != nil {
				t.Fatalf("qpdf --check: %v\n%s", err, out)
			}
			qrRect := lookupRect(t, issued)
			if !keepsClear([][4]float64{rect}, qrRect) {
				t.Errorf("the code %v covers the leader's signature %v", qrRect, rect)
			}
			rd := openBytes(t, issued)
			pages, _ := rd.Pages()
			box, _ := pageBox(rd, rd.Dict(pages[0]))
			bottomLeft := displayRect(box, int64(rot), [4]float64{qrMargin, qrMargin, qrMargin + DefaultQRSize, qrMargin + DefaultQRSize})
			if rot == 0 && qrRect == bottomLeft {
				t.Errorf("the bottom left is taken by the signature, yet the code is at %v", qrRect)
			}
			if rot != 0 && qrRect != bottomLeft {
				t.Errorf("page turned %d: the code is at %v, want the displayed bottom left %v", rot, qrRect, bottomLeft)
			}
		})
	}
}

// TestQRCodeAvoidsText: on a page with text in its bottom left corner the code goes
// where there is none.
func TestQRCodeAvoidsText(t *testing.T) {
	in := testenv.PDFFromObjects([]string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
		testenv.StreamObject("BT /F1 11 Tf 25 40 Td (Noi nhan: nhu tren; luu VT, van thu) Tj ET"),
		"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
	})
	issued := issueWithQR(t, in, [4]float64{}, "https://example.org/tra-cuu/x")
	rd := openBytes(t, issued)
	pages, _ := rd.Pages()
	busy := textBoxes(rd, rd.Dict(pages[0]))
	if len(busy) == 0 {
		t.Fatal("the test page's text was not found")
	}
	if r := lookupRect(t, issued); !keepsClear(busy, r) {
		t.Errorf("the code at %v covers the page's text", r)
	}
}
