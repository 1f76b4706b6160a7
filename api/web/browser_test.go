package web_test

import (
	"context"
	"encoding/base64"
	"flag"
	"net/url"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/kyso-vn/kyso/internal/testenv"
	"github.com/kyso-vn/kyso/internal/testpki"
	"github.com/kyso-vn/kyso/signer/verify"
)

var updateScreenshots = flag.Bool("web.screenshots", false, "write the pages' screenshots to docs/web/")

// browser starts Debian's chromium headless with a fresh profile, offline.
func browser(t *testing.T, width, height int) context.Context {
	t.Helper()
	return testenv.Browser(t, width, height, 2*time.Minute)
}

// screenshot captures the whole page (the window only for names ending -top.png or
// -360.png, which show what a phone shows first); with -web.screenshots it goes to
// docs/web/.
func screenshot(t *testing.T, name string) chromedp.Action[chromedp.Void] {
	dir := ""
	if *updateScreenshots {
		dir = filepath.Join(testenv.ModuleRoot(), "docs", "web")
	}
	whole := !strings.HasSuffix(name, "-top.png") && !strings.HasSuffix(name, "-360.png")
	return testenv.Screenshot(t, name, whole, 300, dir)
}

func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	return testenv.ElementText(t, ctx, sel)
}

// noHorizontalScroll fails when the page is wider than the window.
func noHorizontalScroll(t *testing.T, ctx context.Context, page string) {
	t.Helper()
	w, err := chromedp.Run(ctx, chromedp.Evaluate[[]int](`[document.documentElement.scrollWidth, window.innerWidth]`))
	if err != nil {
		t.Fatal(err)
	}
	if w[0] > w[1] {
		t.Errorf("%s: the page is %d px wide in a %d px window: it scrolls sideways", page, w[0], w[1])
	}
}

// contrastJS is the WCAG contrast ratio of an element's text against the first
// opaque background behind it.
const contrastJS = `((sel) => {
	const el = document.querySelector(sel);
	if (!el) return -1;
	const rgb = (c) => c.match(/[\d.]+/g).map(Number);
	const lum = (c) => {
		const [r, g, b] = rgb(c).slice(0, 3).map((v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); });
		return 0.2126 * r + 0.7152 * g + 0.0722 * b;
	};
	let bg = null;
	for (let e = el; e && !bg; e = e.parentElement) {
		const c = getComputedStyle(e).backgroundColor, v = rgb(c);
		if (v.length < 4 || v[3] > 0) bg = c;
	}
	const a = lum(getComputedStyle(el).color), b = lum(bg || "rgb(255,255,255)");
	return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
})`

// contrastAtLeast fails for each selector whose text has less than 4.5:1 contrast.
func contrastAtLeast(t *testing.T, ctx context.Context, sels ...string) {
	t.Helper()
	for _, sel := range sels {
		ratio, err := chromedp.Run(ctx, chromedp.Evaluate[float64](contrastJS+"("+strconv.Quote(sel)+")"))
		if err != nil || ratio < 4.5 {
			t.Errorf("%s: contrast %.2f:1, below 4.5:1 (%v)", sel, ratio, err)
		}
	}
}

// TestCitizenVerifies: a citizen opens the portal, chooses a file and presses the
// button (the script uploads with progress and shows the answer in place): a good,
// a tampered and an untrusted document get the verdict word, its colour and the
// CLI's verdict sentence; the page's ETSI XML download is well-formed with the
// CLI's indications; the English switch works; nothing scrolls sideways at 1100 px.
func TestCitizenVerifies(t *testing.T) {
	testenv.External(t, "Chromium")
	k := startKyso(t, nil)
	dir := t.TempDir()
	good := k.sign(t, "org", pdfDoc("Thong bao so 1"))
	cases := []struct {
		name, shot string
		doc        []byte
		word       string
		class      string
		main       string
	}{
		{"good", "verify-valid.png", good, "Hợp lệ", "ok", "urn:etsi:019102:mainindication:total-passed"},
		{"tampered", "verify-tampered.png", tamper(t, good, "so 1", "so 7"), "Không hợp lệ", "bad", "urn:etsi:019102:mainindication:total-failed"},
		{"untrusted", "verify-untrusted.png", k.sign(t, "stranger", pdfDoc("Thong bao so 2")), "Chưa xác định được", "unknown", "urn:etsi:019102:mainindication:indeterminate"},
	}
	ctx := browser(t, 1100, 900)
	if err := chromedp.Do(ctx, chromedp.Navigate(k.url+"/"), chromedp.WaitVisible(chromedp.ID("file")), screenshot(t, "portal.png")); err != nil {
		t.Fatal(err)
	}
	contrastAtLeast(t, ctx, "h1", "label[for=file]", "#not-stored", "#submit", ".lang", ".hint")
	if got := text(t, ctx, "#not-stored"); !strings.Contains(got, "không được lưu") {
		t.Errorf("the page does not say the file is not stored: %q", got)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rep := k.report(t, c.doc)
			path := writeFile(t, dir, c.name+".pdf", c.doc)
			err := chromedp.Do(ctx,
				chromedp.Navigate("about:blank"),
				chromedp.Navigate(k.url+"/"),
				chromedp.WaitVisible(chromedp.ID("file")),
				chromedp.SetUploadFiles(chromedp.ID("file"), []string{path}),
				chromedp.Click(chromedp.ID("submit")),
				chromedp.WaitVisible(chromedp.ID("verdict")),
			)
			if err != nil {
				t.Fatal(err)
			}
			if got := text(t, ctx, "#verdict-text"); got != c.word {
				t.Errorf("verdict %q, want %q", got, c.word)
			}
			if got, want := text(t, ctx, "#verdict-sentence"), rep.Verdict(verify.Vietnamese); got != want {
				t.Errorf("verdict sentence %q, the CLI says %q", got, want)
			}
			class, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.ID("verdict"), "class"))
			if err != nil || !strings.Contains(class.Value, c.class) {
				t.Errorf("verdict class %q, want %s", class.Value, c.class)
			}
			if got := text(t, ctx, "#indication"); !strings.HasPrefix(got, string(rep.Indication)) {
				t.Errorf("technical result %q, the CLI says %s", got, rep.Indication)
			}
			href, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.ID("download-xml"), "href"))
			if err != nil {
				t.Fatal(err)
			}
			b64, ok := strings.CutPrefix(href.Value, "data:application/xml;base64,")
			if !ok {
				t.Fatalf("the XML download is %.60q", href.Value)
			}
			x, err := base64.StdEncoding.DecodeString(b64)
			if err != nil {
				t.Fatal(err)
			}
			r := parseETSI(t, x)
			if len(r.Reports) != len(rep.Signatures) || r.Reports[0].Main != c.main {
				t.Errorf("downloaded report: %d reports, first %q; want %d, %s", len(r.Reports), r.Reports[0].Main, len(rep.Signatures), c.main)
			}
			// the script sent it and showed the answer in place: a plain form POST
			// would have gone to /?lang=vi
			if loc, _ := chromedp.Run(ctx, chromedp.Location()); loc != k.url+"/" {
				t.Errorf("the page's script did not handle the upload: at %s", loc)
			}
			if c.name == "good" {
				printedReport(t, ctx, dir)
			}
			noHorizontalScroll(t, ctx, c.name)
			contrastAtLeast(t, ctx, "#verdict-text", "#verdict-sentence", ".sig .badge", ".sig dt", ".sig dd", "#again", ".top .brand", "footer p")
			if err := chromedp.Do(ctx, screenshot(t, c.shot)); err != nil {
				t.Fatal(err)
			}
		})
	}
	// dropping a .p7s and its content onto the form puts each in its input
	err := chromedp.Do(ctx, chromedp.Navigate(k.url+"/"), chromedp.WaitVisible(chromedp.ID("drop")))
	if err != nil {
		t.Fatal(err)
	}
	names, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`(() => {
		const dt = new DataTransfer();
		dt.items.add(new File(["noi dung"], "bien-ban.txt", {type: "text/plain"}));
		dt.items.add(new File([new Uint8Array([0x30, 0x82])], "bien-ban.txt.p7s"));
		document.getElementById("drop").dispatchEvent(new DragEvent("drop", {dataTransfer: dt, bubbles: true, cancelable: true}));
		return [document.getElementById("file").files[0]?.name || "", document.getElementById("content").files[0]?.name || ""];
	})()`))
	if err != nil || len(names) != 2 || names[0] != "bien-ban.txt.p7s" || names[1] != "bien-ban.txt" {
		t.Errorf("after dropping a .p7s and its content: file, content = %v (%v)", names, err)
	}
	// the same check in English, without the script: a plain form POST
	path := writeFile(t, dir, "good-en.pdf", good)
	err = chromedp.Do(ctx,
		chromedp.Navigate(k.url+"/?lang=en"),
		chromedp.WaitVisible(chromedp.ID("file")),
		chromedp.Evaluate[chromedp.Void](`document.getElementById("verify-form").submit = HTMLFormElement.prototype.submit; 0`),
		chromedp.SetUploadFiles(chromedp.ID("file"), []string{path}),
		chromedp.Evaluate[chromedp.Void](`HTMLFormElement.prototype.submit.call(document.getElementById("verify-form")); 0`),
		chromedp.WaitVisible(chromedp.ID("verdict")),
	)
	if err != nil {
		t.Fatal(err)
	}
	if got := text(t, ctx, "#verdict-text"); got != "Valid" {
		t.Errorf("English verdict %q", got)
	}
	if got, want := text(t, ctx, "#verdict-sentence"), k.report(t, good).Verdict(verify.English); got != want {
		t.Errorf("English sentence %q, the CLI says %q", got, want)
	}
}

// printedReport: the result printed to PDF by the browser (the page's "save as PDF")
// holds the verdict and the signer, and none of the page's chrome: pdftotext reads
// the Vietnamese back.
func printedReport(t *testing.T, ctx context.Context, dir string) {
	t.Helper()
	pdftotext := testenv.Tool(t, "pdftotext", "poppler-utils")
	b, err := chromedp.Run(ctx, func(ctx context.Context, tg *chromedp.Target) ([]byte, error) {
		res, err := cdp.Call(ctx, tg, page.PrintToPDF, page.PrintToPDFParams{})
		return res.Data, err
	})
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(pdftotext, writeFile(t, dir, "printed.pdf", b), "-").Output()
	if err != nil {
		t.Fatal(err)
	}
	txt := strings.Join(strings.Fields(string(out)), " ")
	for _, want := range []string{"Hợp lệ", "Ủy ban nhân dân tỉnh Ninh Thuận", "TOTAL_PASSED"} {
		if !strings.Contains(txt, want) {
			t.Errorf("the printed report lacks %q:\n%s", want, txt)
		}
	}
	for _, not := range []string{"Kiểm tra tệp khác", "Tải báo cáo", "English"} {
		if strings.Contains(txt, not) {
			t.Errorf("the printed report shows the page's %q", not)
		}
	}
}

// TestLookupRoundTrip: a document issued through app is found at
// /tra-cuu/{identifier} with its agency, number, date, summary, SHA-256 and
// signatures' verdicts; dropping the same file says "same document", another file
// "not the same".
func TestLookupRoundTrip(t *testing.T) {
	testenv.External(t, "Chromium")
	k := startKyso(t, nil)
	issued, id := k.issue(t, "Quyet dinh so mot")
	other, _ := k.issue(t, "Quyet dinh so hai")
	dir := t.TempDir()
	same, diff := writeFile(t, dir, "ban-nhan-duoc.pdf", issued), writeFile(t, dir, "ban-khac.pdf", other)
	ctx := browser(t, 1100, 900)
	// a visitor with a paper copy types the identifier printed on it into the portal
	if err := chromedp.Do(ctx, chromedp.Navigate(k.url+"/"), chromedp.SendKeys(chromedp.ID("lookup-id"), id+"\r"),
		chromedp.WaitVisible(chromedp.ID("record"))); err != nil {
		t.Fatal(err)
	}
	rep := k.report(t, issued)
	if got := text(t, ctx, "#identifier"); got != id {
		t.Errorf("identifier %q, want %q", got, id)
	}
	if got := text(t, ctx, "#sha256"); got != rep.SHA256 {
		t.Errorf("SHA-256 %q, want %q", got, rep.SHA256)
	}
	if got := text(t, ctx, "#agency"); got != testpki.OrgName+" — "+testpki.OrgCode {
		t.Errorf("agency %q", got)
	}
	if ymd := strings.Split(strings.Split(id, ",")[1], "/"); text(t, ctx, "#date") != ymd[2]+"/"+ymd[1]+"/"+ymd[0] {
		t.Errorf("date %q, the identifier says %v", text(t, ctx, "#date"), ymd)
	}
	if got := text(t, ctx, "#summary"); got != "Về việc thử nghiệm tra cứu văn bản" {
		t.Errorf("summary %q", got)
	}
	if got := text(t, ctx, "#number"); !strings.Contains(got, "/UBND-VP") {
		t.Errorf("number %q", got)
	}
	if got := text(t, ctx, "#verdict-text"); got != "Hợp lệ" || len(rep.Signatures) != 2 {
		t.Errorf("verdict %q on %d signatures (%s)", got, len(rep.Signatures), rep.Indication)
	}
	if got := text(t, ctx, "#scan-note"); !strings.Contains(got, "quét lại") {
		t.Errorf("no note on scanned copies: %q", got)
	}
	if err := chromedp.Do(ctx, screenshot(t, "lookup.png")); err != nil {
		t.Fatal(err)
	}
	// two comparisons in a row on the same page: the second on the answer the script
	// put in place, whose form it bound again (the page stays at its URL)
	before, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range []struct {
		file, want, shot string
	}{
		{same, "Cùng văn bản", "lookup-same-top.png"},
		{diff, "Không phải cùng văn bản", "lookup-different-top.png"},
	} {
		err := chromedp.Do(ctx,
			chromedp.WaitVisible(chromedp.ID("file")),
			chromedp.Evaluate[chromedp.Void](`document.querySelectorAll("#compare-result").forEach(e => e.remove()); 0`),
			chromedp.SetUploadFiles(chromedp.ID("file"), []string{c.file}),
			chromedp.Click(chromedp.ID("submit")),
			chromedp.WaitVisible(chromedp.ID("compare-result")),
			screenshot(t, c.shot),
		)
		if err != nil {
			t.Fatal(err)
		}
		if got := text(t, ctx, "#compare-text"); !strings.HasPrefix(got, c.want) {
			t.Errorf("comparison %d, %s: %q, want %q", i+1, filepath.Base(c.file), got, c.want)
		}
		if loc, _ := chromedp.Run(ctx, chromedp.Location()); loc != before {
			t.Errorf("comparison %d: the script did not handle it: at %s", i+1, loc)
		}
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(k.url+"/tra-cuu/000.00.00.H43,2020%2F01%2F01,99%2FUBND-VP"),
		chromedp.WaitVisible(chromedp.ID("not-found")), screenshot(t, "lookup-not-found.png")); err != nil {
		t.Fatal(err)
	}
}

// TestNarrowScreen: at 360 px wide the portal, a result and the lookup page do not
// scroll sideways, and the form is reachable by keyboard alone (Tab reaches the file
// input and the button, each with a label).
func TestNarrowScreen(t *testing.T) {
	testenv.External(t, "Chromium")
	k := startKyso(t, nil)
	issued, id := k.issue(t, "Cong van")
	path := writeFile(t, t.TempDir(), "van-ban.pdf", issued)
	ctx := browser(t, 360, 740)
	if err := chromedp.Do(ctx, chromedp.Navigate(k.url+"/"), chromedp.WaitVisible(chromedp.ID("file")), screenshot(t, "portal-360.png")); err != nil {
		t.Fatal(err)
	}
	noHorizontalScroll(t, ctx, "portal")
	labelled, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`["file","content"].every(id => document.querySelector("label[for="+id+"]"))`))
	if err != nil || !labelled {
		t.Errorf("a file input has no label")
	}
	// Tab from the top: skip link, brand, language switch, then the form's controls.
	var order []string
	for range 6 {
		if err := chromedp.Do(ctx, chromedp.KeyEvent("\t")); err != nil {
			t.Fatal(err)
		}
		id, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.activeElement.id || document.activeElement.className`))
		if err != nil {
			t.Fatal(err)
		}
		order = append(order, id)
	}
	if !contains(order, "file") || !contains(order, "submit") {
		t.Errorf("Tab visits %v: the file input or the button cannot be reached by keyboard", order)
	}
	err = chromedp.Do(ctx,
		chromedp.SetUploadFiles(chromedp.ID("file"), []string{path}),
		chromedp.Click(chromedp.ID("submit")),
		chromedp.WaitVisible(chromedp.ID("verdict")),
		screenshot(t, "verify-360.png"),
	)
	if err != nil {
		t.Fatal(err)
	}
	noHorizontalScroll(t, ctx, "result")
	if err := chromedp.Do(ctx, chromedp.Navigate(k.url+"/tra-cuu/"+url.PathEscape(id)), chromedp.WaitVisible(chromedp.ID("record")), screenshot(t, "lookup-360.png")); err != nil {
		t.Fatal(err)
	}
	noHorizontalScroll(t, ctx, "lookup")
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
