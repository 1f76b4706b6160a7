package agent_test

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/kyso-vn/kyso/app"
	"github.com/kyso-vn/kyso/internal/testenv"
	"github.com/kyso-vn/kyso/internal/testpki"
	"github.com/kyso-vn/kyso/pkg/store"
	"github.com/kyso-vn/kyso/signer/verify"
)

var updateScreenshots = flag.Bool("agent.screenshots", false, "write the agent page's screenshots to docs/agent/")

// browser starts Debian's chromium headless with a fresh profile, offline.
func browser(t *testing.T) context.Context {
	t.Helper()
	return testenv.Browser(t, 1100, 820, 2*time.Minute)
}

// screenshot captures the page; with -agent.screenshots it goes to docs/agent/.
func screenshot(t *testing.T, name string) chromedp.Action[chromedp.Void] {
	dir := ""
	if *updateScreenshots {
		dir = filepath.Join(testenv.ModuleRoot(), "docs", "agent")
	}
	return testenv.Screenshot(t, name, false, 600, dir)
}

// TestEndToEndBrowser: the server prepares the leader's signature; the Kyso web page,
// in headless Chromium, pairs with the agent (the code read on the agent's page in
// another tab), hands the request id to the agent's local API (cross-origin calls the
// agent's CORS allows) and goes to the agent's page, where the PIN is typed and
// confirmed; the agent signs on the SoftHSM2 token and the server
// completes. The stored PDF verifies TOTAL_PASSED against the test root with
// revocation checked, and the PIN appears nowhere in what the server received,
// logged or stored, nor in the agent's log and configuration.
func TestEndToEndBrowser(t *testing.T) {
	p := testpki.Committed(t)
	k := startKyso(t, p)
	e := newAgent(t, newToken(t, p, "Kyso leader"), k)
	sigPNG := testenv.SignaturePNG()
	req := k.prepareDoc(t, corpusPDF(t), p.Leader, app.RoleApprove, "Về việc triển khai chữ ký số trong cơ quan nhà nước", sigPNG)
	ctx := browser(t)
	app := k.srv.URL + "/app#agent=" + e.url + "&key=" + apiKey + "&ids=" + req.ID
	var summary, heading, confirmURL, code string
	read := func(sel chromedp.CSS, into *string) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) (err error) {
			*into, err = chromedp.Text(sel)(ctx, tg)
			return err
		})
	}
	// The web page asks to pair; the person reads the code on the agent's page, in
	// another tab, and types it into the web page.
	err := chromedp.Do(ctx,
		chromedp.Navigate(app),
		chromedp.WaitVisible(chromedp.CSS("#code")),
		read("#confirm-url", &confirmURL),
	)
	if err != nil {
		t.Fatalf("pairing: %v", err)
	}
	agentTab, closeTab := chromedp.NewContext(ctx)
	defer closeTab()
	if err := chromedp.Do(agentTab, chromedp.Navigate(confirmURL), read("#pairing-code", &code), screenshot(t, "pair.png")); err != nil {
		t.Fatalf("the agent's pairing page: %v", err)
	}
	err = chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS("#code"), code),
		chromedp.Click(chromedp.CSS("#pair")),
		chromedp.WaitVisible(chromedp.CSS("#pin")),
		read("table.items tr.item td:nth-child(2)", &summary),
		read("h2", &heading),
		screenshot(t, "request.png"),
		chromedp.SendKeys(chromedp.CSS("#pin"), pin),
		screenshot(t, "pin.png"),
		chromedp.Click(chromedp.CSS("#sign")),
		chromedp.WaitVisible(chromedp.CSS("#done")),
		screenshot(t, "done.png"),
	)
	if err != nil {
		page, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("body")))
		t.Fatalf("browser: %v; page says %q", err, page)
	}
	if !strings.Contains(summary, "triển khai chữ ký số") || heading != "Yêu cầu ký số" {
		t.Fatalf("the agent's page shows %q / %q", heading, summary)
	}
	doc, content := k.document(t, req.DocumentID)
	if doc.Status != store.StatusApproved {
		t.Fatalf("document is %s after the agent signed", doc.Status)
	}
	rep := k.verify(t, content)
	if rep.Indication != verify.TotalPassed || len(rep.Signatures) != 1 {
		t.Fatalf("verify: %s, %d signatures", rep.Indication, len(rep.Signatures))
	}
	cfgFile, err := os.ReadFile(e.cfg.Path())
	if err != nil {
		t.Fatal(err)
	}
	for what, b := range map[string][]byte{
		"the server's request log": k.log.Bytes(), "the server's store": k.storeBytes(t),
		"the agent's log": e.logs.Bytes(), "the agent's configuration": cfgFile,
	} {
		if len(b) == 0 {
			t.Fatalf("%s is empty: nothing to search", what)
		}
		if bytes.Contains(b, []byte(pin)) {
			t.Errorf("the PIN is in %s", what)
		}
	}
	if !bytes.Contains(k.log.Bytes(), []byte("/complete")) {
		t.Fatal("the server's log lacks the completion: the search above proves nothing")
	}
	t.Logf("signed through the browser: %s, %d bytes in the server's log, %d in its store", rep.Indication, len(k.log.Bytes()), len(k.storeBytes(t)))
}
