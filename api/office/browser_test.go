package office_test

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/kyso-vn/kyso/api/agent"
	"github.com/kyso-vn/kyso/app"
	"github.com/kyso-vn/kyso/internal/testenv"
	"github.com/kyso-vn/kyso/internal/testpki"
	"github.com/kyso-vn/kyso/pkg/pki/pkitest"
	"github.com/kyso-vn/kyso/signer/verify"
)

var updateScreenshots = flag.Bool("office.screenshots", false, "write the office pages' screenshots to docs/office/")

// pin is unlike anything else in a page or a log, so finding it would mean it leaked.
const pin = "vp-PIN-4821"

func browser(t *testing.T, width, height int) context.Context {
	t.Helper()
	return testenv.Browser(t, width, height, 3*time.Minute)
}

// screenshot captures the whole page; with -office.screenshots it goes to docs/office/.
// docsDir is docs/NAME with -office.screenshots, else "" (a temporary directory).
func docsDir(name string) string {
	if !*updateScreenshots {
		return ""
	}
	return filepath.Join(testenv.ModuleRoot(), "docs", name)
}

func screenshot(t *testing.T, name string) chromedp.Action[chromedp.Void] {
	return testenv.Screenshot(t, name, true, 300, docsDir("office"))
}

func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	return testenv.ElementText(t, ctx, sel)
}

// startAgent runs a real kyso-agent (its configuration, token watcher and local
// server) on ln, over a SoftHSM2 token holding the leader's key and certificate and
// the CA certificates, allowing the pages of origin.
func startAgent(t *testing.T, p *testpki.TestPKI, ln net.Listener, origin string) *syncBuffer {
	t.Helper()
	tok := testenv.NewSoftHSM(t, "Lanh dao", pin)
	keyPEM, err := os.ReadFile(p.Path("leader.key"))
	if err != nil {
		t.Fatal(err)
	}
	tok.ImportKey(t, keyPEM, "leader", "01")
	tok.ImportCert(t, p.Leader.Cert.Raw, "leader", "01")
	for i, c := range [][]byte{p.Sub.Cert.Raw, p.Root.Cert.Raw} {
		tok.ImportCert(t, c, "ca", fmt.Sprintf("c%d", i))
	}
	cfgPath := filepath.Join(t.TempDir(), "kyso-agent", "config.yaml")
	cfg, err := agent.LoadConfig(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Modules = []agent.Module{{Path: tok.Module, Name: "SoftHSM2", Reinitialize: true}}
	cfg.AllowedOrigins = []string{origin}
	if err := cfg.Save(); err != nil {
		t.Fatal(err)
	}
	if cfg, err = agent.LoadConfig(cfgPath); err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ctx, cancel := context.WithCancel(context.Background())
	w := agent.NewWatcher(cfg.Modules, 200*time.Millisecond, log)
	watched := make(chan struct{})
	go func() { w.Run(ctx); close(watched) }()
	<-w.Ready()
	srv := agent.NewServer(ctx, agent.New(cfg, w, agent.Options{Logger: log}))
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-served; err != nil {
			t.Errorf("agent server: %v", err)
		}
		<-watched
	})
	return logs
}

// stepFunc runs browser actions, failing the test with what the page says.
type stepFunc func(name string, actions ...chromedp.Action[chromedp.Void])

func stepper(t *testing.T, ctx context.Context, k *kyso, agentLogs *syncBuffer) stepFunc {
	return func(name string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			body, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("body")))
			loc, _ := chromedp.Run(ctx, chromedp.Location())
			t.Fatalf("%s: %v\nat %s the page says: %s\nserver log:\n%s\nagent log:\n%s", name, err, loc, body, k.logs.String(), agentLogs.String())
		}
	}
}

// pairAgent pairs the agent on the pairing page, the code read on the agent's page in
// another tab, as the person does.
func pairAgent(t *testing.T, ctx context.Context, step stepFunc, k *kyso, agentURL, key string, shots bool) {
	t.Helper()
	shot := func(name string) chromedp.Action[chromedp.Void] {
		if !shots {
			return chromedp.Func(func(context.Context, *chromedp.Target) error { return nil })
		}
		return screenshot(t, name)
	}
	step("pairing",
		chromedp.Navigate(k.url+"/van-phong/ghep-noi"),
		chromedp.WaitEnabled(chromedp.ID("pair-start")),
		shot("pair.png"),
		chromedp.SendKeys(chromedp.ID("pair-key"), key),
		chromedp.Click(chromedp.ID("pair-start")),
		chromedp.WaitVisible(chromedp.ID("pair-code")))
	confirmURL, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById("confirm-url").href`))
	if err != nil || !strings.HasPrefix(confirmURL, agentURL+"/pair/") {
		body, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("body")))
		t.Fatalf("the agent's pairing page: %q %v; the page says %s", confirmURL, err, body)
	}
	tab, closeTab := chromedp.NewContext(ctx)
	var code string
	err = chromedp.Do(tab, chromedp.Navigate(confirmURL))
	if err == nil {
		code, err = chromedp.Run(tab, chromedp.Text(chromedp.ID("pairing-code")))
	}
	closeTab()
	if err != nil {
		t.Fatalf("reading the pairing code: %v", err)
	}
	step("pairing code",
		chromedp.SendKeys(chromedp.ID("pair-code"), strings.TrimSpace(code)),
		chromedp.Click(chromedp.ID("pair-confirm")),
		chromedp.WaitVisible(chromedp.ID("paired")),
		shot("paired.png"))
	if v, _ := chromedp.Run(ctx, chromedp.Value(chromedp.ID("pair-key"))); v != "" {
		t.Error("the key stays in the pairing form")
	}
}

// TestOfficeFlow: the whole office flow in headless Chromium with a real kyso-agent
// on SoftHSM2 holding the leader's key. The leader signs in, pairs this PC's agent
// (the code read on the agent's page, typed in the office page), uploads a công văn
// as a draft and approves it: the page takes the certificate from the agent, the
// server prepares, the agent's page takes the PIN and signs. The clerk signs in and
// issues with the organisation's key and the seal; the register shows the document
// with its number, and its CSV (UTF-8 BOM) too. The issued file verifies with both
// signatures; the PIN reached neither the server's log nor any page it served.
func TestOfficeFlow(t *testing.T) {
	testenv.External(t, "Chromium")
	testenv.External(t, "SoftHSM2")
	p := pkitest.ServeRevocation(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	agentURL := "http://" + ln.Addr().String()
	k := startKyso(t, p, agentURL)
	agentLogs := startAgent(t, p, ln, k.url)

	dir := t.TempDir()
	files := map[string][]byte{"cong-van.pdf": testenv.CongVanPDF(t), "chu-ky.png": testenv.SignaturePNG(), "con-dau.png": testenv.SealPNG()}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	ctx := browser(t, 1100, 900)
	step := stepper(t, ctx, k, agentLogs)

	// 1. The leader signs in.
	step("sign in",
		chromedp.Navigate(k.url+"/van-phong/"),
		chromedp.WaitVisible(chromedp.ID("key")),
		screenshot(t, "sign-in.png"),
		chromedp.SendKeys(chromedp.ID("key"), k.leaderKey),
		chromedp.Click(chromedp.ID("signin")),
		chromedp.WaitVisible(chromedp.ID("signout")))

	// 2. Pairs this PC's agent: the code is read on the agent's own page.
	pairAgent(t, ctx, step, k, agentURL, k.leaderKey, true)

	// 3. Uploads the draft.
	step("upload",
		chromedp.Navigate(k.url+"/van-phong/van-ban/moi"),
		chromedp.WaitVisible(chromedp.ID("file")),
		chromedp.SetUploadFiles(chromedp.ID("file"), []string{filepath.Join(dir, "cong-van.pdf")}),
		chromedp.SendKeys(chromedp.ID("symbol"), "UBND-VP"),
		chromedp.SendKeys(chromedp.ID("summary"), "Về việc triển khai ký số văn bản điện tử"),
		screenshot(t, "upload.png"),
		chromedp.Click(chromedp.ID("upload")),
		chromedp.WaitVisible(chromedp.ID("notice")))
	docURL, _ := chromedp.Run(ctx, chromedp.Location())
	docPath := strings.SplitN(strings.TrimPrefix(docURL, k.url), "?", 2)[0]
	id := mustID(t, strings.TrimPrefix(docPath, "/van-phong/van-ban/"))

	// 4. Approves: the certificate from the agent, the PIN in the agent's page.
	step("approve",
		chromedp.WaitVisible(chromedp.ID("approve")),
		chromedp.SetUploadFiles(chromedp.ID("image"), []string{filepath.Join(dir, "chu-ky.png")}),
		screenshot(t, "document-draft.png"),
		chromedp.Click(chromedp.ID("approve-btn")),
		chromedp.WaitVisible(chromedp.ID("pin")),
		chromedp.SendKeys(chromedp.ID("pin"), pin),
		chromedp.Click(chromedp.ID("sign")),
		chromedp.WaitVisible(chromedp.ID("done")))
	if d, err := k.svc.GetDocument(t.Context(), k.leader, id); err != nil || d.Status != "approved" {
		t.Fatalf("after the agent signed: %+v %v", d, err)
	}
	step("list",
		chromedp.Navigate(k.url+"/van-phong/van-ban"),
		chromedp.WaitVisible(chromedp.ID("documents")),
		screenshot(t, "documents.png"))

	// 5. The clerk signs in and issues with the seal.
	step("clerk",
		chromedp.Click(chromedp.ID("signout")),
		chromedp.WaitVisible(chromedp.ID("key")),
		chromedp.SendKeys(chromedp.ID("key"), k.clerkKey),
		chromedp.Click(chromedp.ID("signin")),
		chromedp.WaitVisible(chromedp.ID("signout")),
		chromedp.Navigate(k.url+docPath),
		chromedp.WaitVisible(chromedp.ID("issue")),
		chromedp.SetUploadFiles(chromedp.ID("seal"), []string{filepath.Join(dir, "con-dau.png")}),
		screenshot(t, "document-approved.png"),
		chromedp.Click(chromedp.ID("issue-btn")),
		chromedp.WaitVisible(chromedp.ID("notice")),
		screenshot(t, "document-issued.png"))
	if n := text(t, ctx, "#number"); n != "01/UBND-VP" {
		t.Fatalf("the issued document's number: %q", n)
	}
	if n, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("#approve-section").length`)); n != 0 {
		t.Error("the clerk's page shows the approval")
	}

	// 6. The register shows it.
	step("register",
		chromedp.Navigate(k.url+"/van-phong/so-dang-ky"),
		chromedp.WaitVisible(chromedp.ID("register")),
		screenshot(t, "register.png"))
	if reg := text(t, ctx, "#register tbody"); !strings.Contains(reg, "01/UBND-VP") || !strings.Contains(reg, "triển khai ký số") {
		t.Fatalf("the register: %q", reg)
	}
	step("360 px",
		chromedp.EmulateViewport(360, 740),
		chromedp.Navigate(k.url+"/van-phong/van-ban"),
		chromedp.WaitVisible(chromedp.ID("documents")),
		screenshot(t, "documents-360.png"))
	if w, err := chromedp.Run(ctx, chromedp.Evaluate[[]int](`[document.documentElement.scrollWidth, window.innerWidth]`)); err != nil || w[0] > w[1] {
		t.Errorf("at 360 px the list is %v px wide (%v)", w, err)
	}

	step("360 px document",
		chromedp.Navigate(k.url+docPath),
		chromedp.WaitVisible(chromedp.ID("trail")))
	if w, err := chromedp.Run(ctx, chromedp.Evaluate[[]int](`[document.documentElement.scrollWidth, window.innerWidth]`)); err != nil || w[0] > w[1] {
		t.Errorf("at 360 px the document page is %v px wide (%v)", w, err)
	}
	contrastAtLeast(t, ctx, ".top a", "#who", "dt", "td", "#status", "h1", "th")

	// The register prints without the menus.
	step("print",
		chromedp.EmulateViewport(1100, 900),
		chromedp.Navigate(k.url+"/van-phong/so-dang-ky"),
		chromedp.WaitVisible(chromedp.ID("register")),
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := cdp.Call(ctx, tg, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Media: "print"})
			return err
		}))
	if hidden, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[".top", ".filters"].map(s => getComputedStyle(document.querySelector(s)).display)`)); err != nil || hidden[0] != "none" || hidden[1] != "none" {
		t.Errorf("printed, the menus show: %v %v", hidden, err)
	}

	clerk := k.person(t)
	clerk.signIn(k.clerkKey)
	resp, csv := clerk.get("/van-phong/so-dang-ky?loai=di&dang=csv")
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(csv, "\ufeffSố,") || !strings.Contains(csv, "\n01,") || !strings.Contains(csv, ",UBND-VP,") {
		t.Fatalf("the register's CSV: %s %q", resp.Status, csv)
	}
	rc, _, err := k.svc.OpenContent(t.Context(), k.clerk, id, 0)
	if err != nil {
		t.Fatal(err)
	}
	issued, _ := io.ReadAll(rc)
	rc.Close()
	rep, err := k.svc.VerifyPDF(t.Context(), bytes.NewReader(issued), int64(len(issued)), "issued.pdf", time.Time{})
	if err != nil || rep.Indication != verify.TotalPassed || len(rep.Signatures) != 2 {
		t.Fatalf("the issued document: %v, %d signatures, %v", rep.Indication, len(rep.Signatures), err)
	}
	if strings.Contains(k.logs.String(), pin) || strings.Contains(k.logs.String(), k.leaderKey) || strings.Contains(k.logs.String(), k.clerkKey) {
		t.Fatal("the PIN or an API key reached the server's log")
	}
	t.Logf("document %d issued as 01/UBND-VP; %s with %d signatures", id, rep.Indication, len(rep.Signatures))
}

// TestBatchApproval: the leader ticks two drafts in the list and approves both in one
// agent job, after one PIN.
func TestBatchApproval(t *testing.T) {
	testenv.External(t, "Chromium")
	testenv.External(t, "SoftHSM2")
	p := pkitest.ServeRevocation(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	agentURL := "http://" + ln.Addr().String()
	k := startKyso(t, p, agentURL)
	agentLogs := startAgent(t, p, ln, k.url)
	var ids []int64
	for i := range 2 {
		doc := testenv.OnePagePDF(fmt.Sprintf("Du thao %d", i+1))
		rec, err := k.svc.CreateDocument(t.Context(), k.leader, app.NewDocument{Direction: "outgoing", AgencyCode: testpki.OrgCode,
			Symbol: "UBND-VP", Summary: fmt.Sprintf("Dự thảo %d", i+1)}, testDoc{bytes.NewReader(doc), int64(len(doc))})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, rec.ID)
	}
	ctx := browser(t, 1100, 900)
	step := stepper(t, ctx, k, agentLogs)
	step("sign in",
		chromedp.Navigate(k.url+"/van-phong/dang-nhap"),
		chromedp.SendKeys(chromedp.ID("key"), k.leaderKey),
		chromedp.Click(chromedp.ID("signin")),
		chromedp.WaitVisible(chromedp.ID("signout")))
	pairAgent(t, ctx, step, k, agentURL, k.leaderKey, false)
	step("batch",
		chromedp.Navigate(k.url+"/van-phong/van-ban?loc=du-thao"),
		chromedp.WaitVisible(chromedp.ID("batch-approve")),
		chromedp.Click(chromedp.CSS(fmt.Sprintf(`input[value="%d"]`, ids[0]))),
		chromedp.Click(chromedp.CSS(fmt.Sprintf(`input[value="%d"]`, ids[1]))),
		chromedp.Click(chromedp.ID("batch-approve")),
		chromedp.WaitVisible(chromedp.ID("batch-note")),
		chromedp.WaitVisible(chromedp.ID("approve")),
		chromedp.Click(chromedp.ID("approve-btn")),
		chromedp.WaitVisible(chromedp.ID("pin")),
		chromedp.SendKeys(chromedp.ID("pin"), pin),
		chromedp.Click(chromedp.ID("sign")),
		chromedp.WaitVisible(chromedp.ID("done")))
	for _, id := range ids {
		if d, err := k.svc.GetDocument(t.Context(), k.leader, id); err != nil || d.Status != "approved" {
			t.Fatalf("document %d after the batch: %+v %v", id, d, err)
		}
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
