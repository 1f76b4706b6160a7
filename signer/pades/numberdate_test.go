package pades

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kyso-vn/kyso/internal/testenv"
	"github.com/kyso-vn/kyso/internal/testpki"
)

var spaces = regexp.MustCompile(`[ \t\x{a0}]+`)

// layoutText is pdftotext -layout of page 1 with runs of spaces read as one (the
// blanks of a Word draft keep their width on the page).
func layoutText(t *testing.T, path string) string {
	t.Helper()
	out, err := exec.Command(testenv.Tool(t, "pdftotext", "poppler-utils"), "-layout", "-f", "1", "-l", "1", path, "-").CombinedOutput()
	if err != nil {
		t.Fatalf("pdftotext: %v %s", err, out)
	}
	return spaces.ReplaceAllString(string(out), " ")
}

func TestNumberDateText(t *testing.T) {
	for _, c := range []struct {
		n          int
		date       time.Time
		num, d, mo string
	}{
		{5, time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC), "05", "03", "12"},
		{12, time.Date(2020, 1, 5, 0, 0, 0, 0, time.UTC), "12", "05", "01"},
		{101, time.Date(2019, 6, 29, 0, 0, 0, 0, time.UTC), "101", "29", "6"},
		{1, time.Date(2019, 2, 10, 0, 0, 0, 0, time.UTC), "01", "10", "02"},
	} {
		if NumberText(c.n) != c.num || DayText(c.date) != c.d || MonthText(c.date) != c.mo {
			t.Errorf("%d %v: %s %s %s", c.n, c.date, NumberText(c.n), DayText(c.date), MonthText(c.date))
		}
	}
}

// TestNumberDateOnPage: a Word-style công văn (Chromium's print to PDF) with the
// number and the date left blank. The leader's approval lays empty read-only fields
// over the blanks; the issuing signature fills them with the number and date, and
// pdftotext gives them back where the page prints them; poppler says both signatures
// are valid. A draft without the approval's blanks gives ErrNoPlace.
func TestNumberDateOnPage(t *testing.T) {
	p := testpki.Committed(t)
	draft := testenv.CongVanPDF(t)
	date := time.Date(2026, 12, 3, 9, 30, 0, 0, time.FixedZone("ICT", 7*3600))
	nd := NumberDate{Number: 1, Symbol: "UBND-VP", Date: date}
	if _, err := BlankValues(openBytes(t, draft), nd); !errors.Is(err, ErrNoPlace) {
		t.Fatalf("a draft the leader did not approve has no blank fields: %v", err)
	}
	blanks, err := FindBlanks(openBytes(t, draft))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("blanks: %+v", blanks)
	for _, b := range blanks {
		// the date line is italic (Appendix I II.4), the number line is not
		if want := b.Name != BlankNumber; b.Italic != want {
			t.Errorf("blank %s: italic %v, want %v", b.Name, b.Italic, want)
		}
	}
	leader, err := signBytes(t, draft, p.Leader.Key, Options{Certificate: p.Leader.Cert, Chain: p.Leader.Chain, Blanks: blanks,
		Appearance: &Appearance{Rect: [4]float64{330, 420, 510, 480}, Image: testenv.SignaturePNG()}})
	if err != nil {
		t.Fatal(err)
	}
	if before := layoutText(t, writeTemp(t, "leader.pdf", leader)); !strings.Contains(before, "Số: /UBND-VP") {
		t.Fatalf("the approved draft does not print the blank number line:\n%s", before)
	}
	values, err := BlankValues(openBytes(t, leader), nd)
	if err != nil {
		t.Fatal(err)
	}
	issued, err := signBytes(t, leader, p.Org.Key, Options{Certificate: p.Org.Cert, Chain: p.Org.Chain, Metadata: &Metadata{Fields: values},
		Appearance: &Appearance{Rect: [4]float64{330, 420, 510, 480}, Seal: testenv.SealPNG()}})
	if err != nil {
		t.Fatal(err)
	}
	path := writeTemp(t, "issued.pdf", issued)
	if d := os.Getenv("KYSO_KEEP_RENDER"); d != "" {
		os.WriteFile(filepath.Join(d, "issued.pdf"), issued, 0o644)
	}
	txt := layoutText(t, path)
	for _, want := range []string{"Số: 01/UBND-VP", "ngày 03 tháng 12 năm 2026"} {
		if !strings.Contains(txt, want) {
			t.Errorf("pdftotext -layout does not give %q:\n%s", want, txt)
		}
	}
	out, _ := exec.Command(testenv.Tool(t, "pdfsig", "poppler-utils"), "-nocert", path).CombinedOutput()
	if n := strings.Count(string(out), "Signature is Valid."); n != 2 || strings.Count(string(out), "Signature #") != 2 {
		t.Errorf("want 2 valid signatures:\n%s", out)
	}
}

// TestNumberDateNoPlace: a draft with no blank for the number nor the date gives
// ErrNoPlace naming both.
func TestNumberDateNoPlace(t *testing.T) {
	draft := testenv.CongVanPDFWith(t, "Công văn thử", "Ninh Thuận, mùa đông 2026")
	_, err := FindBlanks(openBytes(t, draft))
	if !errors.Is(err, ErrNoPlace) || !strings.Contains(err.Error(), "Số") || !strings.Contains(err.Error(), "ngày") {
		t.Fatalf("err = %v", err)
	}
}
