package web_test

import (
	"net/url"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/kyso-vn/kyso/internal/testenv"
)

// TestQRLookupRoundTrip: a document of a public register is issued with a QR code on
// its first page; the page, rendered as a 150 dpi scan, is read by zbar's zbarimg
// (an outside reader, as a phone would be); the URL it holds opens the document's
// lookup page in Chromium, and the visitor's copy compares as the same document. A
// confidential document gets no QR code.
func TestQRLookupRoundTrip(t *testing.T) {
	testenv.External(t, "Chromium")
	zbar := testenv.Tool(t, "zbarimg", "zbar-tools")
	k := startKyso(t, nil)
	issued, id := k.issue(t, "Quyet dinh co ma QR")
	dir := t.TempDir()
	path := writeFile(t, dir, "ban-phat-hanh.pdf", issued)
	read := func(pdf string) []string {
		prefix := filepath.Join(dir, strings.TrimSuffix(filepath.Base(pdf), ".pdf"))
		if out, err := exec.Command(testenv.Tool(t, "pdftoppm", "poppler-utils"), "-r", "150", "-png", "-f", "1", "-l", "1", "-singlefile", pdf, prefix).CombinedOutput(); err != nil {
			t.Fatalf("pdftoppm: %v\n%s", err, out)
		}
		out, _ := exec.Command(zbar, "--quiet", "--raw", prefix+".png").Output()
		return strings.Fields(string(out))
	}
	codes := read(path)
	want := k.url + "/tra-cuu/" + url.PathEscape(id)
	if len(codes) != 1 || codes[0] != want {
		t.Fatalf("the issued page's QR codes read %q, want [%s]", codes, want)
	}
	if rep := k.report(t, issued); rep.Indication != "TOTAL_PASSED" || len(rep.Signatures) != 2 {
		for _, s := range rep.Signatures {
			t.Logf("%s %s %+v", s.Indication, s.SubIndication, s.Modifications)
		}
		t.Fatalf("the issued document with its QR code: %s on %d signatures", rep.Indication, len(rep.Signatures))
	}
	ctx := browser(t, 1100, 900)
	if err := chromedp.Do(ctx, chromedp.Navigate(codes[0]), chromedp.WaitVisible(chromedp.ID("record"))); err != nil {
		t.Fatal(err)
	}
	if got := text(t, ctx, "#identifier"); got != id {
		t.Errorf("the QR code's page shows identifier %q, want %q", got, id)
	}
	if err := chromedp.Do(ctx, chromedp.SetUploadFiles(chromedp.ID("file"), []string{path}), chromedp.Click(chromedp.ID("submit")),
		chromedp.WaitVisible(chromedp.ID("compare-result"))); err != nil {
		t.Fatal(err)
	}
	if got := text(t, ctx, "#compare-text"); !strings.HasPrefix(got, "Cùng văn bản") {
		t.Errorf("the copy from the QR code's document compares as %q", got)
	}
	// the picture of an issued first page with its code, for the README (-update)
	if *updateScreenshots {
		if out, err := exec.Command("pdftoppm", "-r", "60", "-png", "-f", "1", "-l", "1", "-singlefile", path,
			filepath.Join(testenv.ModuleRoot(), "docs", "web", "issued-qr")).CombinedOutput(); err != nil {
			t.Fatalf("pdftoppm: %v\n%s", err, out)
		}
	}

	secret, _ := k.issueAs(t, "Van ban mat", "confidential")
	if codes := read(writeFile(t, dir, "ban-mat.pdf", secret)); len(codes) != 0 {
		t.Errorf("a confidential document carries a QR code: %q", codes)
	}
}
