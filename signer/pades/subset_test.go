package pades

import (
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/kyso-vn/kyso/internal/testenv"
)

// TestTextBlockSubset: a text-block signature (an attachment's, Decree 30 Appendix I
// III.1.d) embeds only the glyphs it uses: pdffonts says "sub yes" with a subset
// name, pdftotext gives the Vietnamese text back, and the signature adds at most
// 30 KB (it added ~257 KB with the whole font).
func TestTextBlockSubset(t *testing.T) {
	opts, key := orgOptions(t)
	text := []string{"Ủy ban nhân dân tỉnh Ninh Thuận", "Số: 05/UBND-VP", "2025-03-05T14:30:15+07:00"}
	opts.Appearance = &Appearance{Lines: text}
	in := blankPDF(0)
	out, err := signBytes(t, in, key, opts)
	if err != nil {
		t.Fatal(err)
	}
	added := len(out) - len(in)
	t.Logf("the text-block signature adds %d bytes", added)
	if added > 30_000 {
		t.Errorf("the text-block signature adds %d bytes, more than 30 KB", added)
	}
	path := writeTemp(t, "attachment.pdf", out)
	fonts, err := exec.Command(testenv.Tool(t, "pdffonts", "poppler-utils"), path).CombinedOutput()
	if err != nil {
		t.Fatalf("pdffonts: %v %s", err, fonts)
	}
	if !regexp.MustCompile(`(?m)^[A-Z]{6}\+LiberationSerif\s+CID TrueType\s+Identity-H\s+yes yes yes`).Match(fonts) {
		t.Errorf("pdffonts does not show an embedded subset with ToUnicode:\n%s", fonts)
	}
	txt, err := exec.Command(testenv.Tool(t, "pdftotext", "poppler-utils"), path, "-").CombinedOutput()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range text {
		if !strings.Contains(string(txt), l) {
			t.Errorf("pdftotext does not give %q:\n%s", l, txt)
		}
	}
	if j := judge(t, path); !j.valid {
		t.Errorf("pdfsig: %s", j.pdfsig)
	}
	if errs := qpdfErrorsOf(t, path); len(errs) > 0 {
		t.Errorf("qpdf: %v", errs)
	}
}
