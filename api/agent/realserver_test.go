package agent_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/kyso-vn/kyso/api/agent"
	"github.com/kyso-vn/kyso/app"
	"github.com/kyso-vn/kyso/internal/testenv"
	"github.com/kyso-vn/kyso/internal/testpki"
	"github.com/kyso-vn/kyso/pkg/pki"
	"github.com/kyso-vn/kyso/pkg/pki/pkitest"
	"github.com/kyso-vn/kyso/signer/verify"
)

// realKyso is a real "kyso serve" process on loopback: the API key of agency H43's
// leader (the leader certificate of the test's PKI bound to it) and of its clerk, its logs,
// its data directory. Only a leader approves and only a clerk issues, each completing
// what it prepared.
type realKyso struct {
	url, key, dataDir string
	clerkKey          string
	logs              syncBuffer // its standard error
}

// kysoBinary is cmd/kyso, built once for the package's tests.
var kysoBinary struct {
	once      sync.Once
	dir, path string
	err       error
}

func buildKyso(t *testing.T) string {
	t.Helper()
	testenv.External(t, "a kyso binary built for the test")
	kysoBinary.once.Do(func() {
		if kysoBinary.dir, kysoBinary.err = os.MkdirTemp("", "kyso-agent-test-"); kysoBinary.err != nil {
			return
		}
		kysoBinary.path = filepath.Join(kysoBinary.dir, "kyso")
		build := exec.Command("go", "build", "-o", kysoBinary.path, "./cmd/kyso")
		build.Dir = testenv.ModuleRoot()
		if out, err := build.CombinedOutput(); err != nil {
			kysoBinary.err = fmt.Errorf("go build ./cmd/kyso: %v\n%s", err, out)
		}
	})
	if kysoBinary.err != nil {
		t.Fatal(kysoBinary.err)
	}
	return kysoBinary.path
}

// startRealKyso builds cmd/kyso and runs "kyso serve" with a config in a temp dir,
// extra appended to it.
func startRealKyso(t *testing.T, p *testpki.TestPKI, extra string) *realKyso {
	t.Helper()
	dir := t.TempDir()
	bin := buildKyso(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	r := &realKyso{url: "http://" + addr, dataDir: filepath.Join(dir, "data")}
	cfg := filepath.Join(dir, "kyso.yaml")
	yaml := fmt.Sprintf("server:\n  listen: %s\nstore:\n  data_dir: %s\ntrust:\n  anchors: [%s]\nlog:\n  level: debug\n",
		addr, r.dataDir, filepath.Join(testenv.TestPKIDir(), "root-ca.pem")) + extra
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "serve", "--config", cfg)
	cmd.Stderr = &r.logs
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	keys := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if _, key, ok := strings.Cut(sc.Text(), "store it now): "); ok {
				keys <- strings.TrimSpace(key)
			}
		}
	}()
	select {
	case r.key = <-keys:
	case <-time.After(30 * time.Second):
		t.Fatalf("kyso serve printed no admin key; its log:\n%s", r.logs.Bytes())
	}
	for i := 0; ; i++ {
		resp, err := http.Get(r.url + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if i > 100 {
			t.Fatalf("kyso serve not ready: %v; log:\n%s", err, r.logs.Bytes())
		}
		time.Sleep(100 * time.Millisecond)
	}
	leaderPEM, _ := json.Marshal(string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: p.Leader.Cert.Raw})))
	r.key, r.clerkKey = r.client(t, `{"name":"leader","role":"leader","agencies":["000.00.00.H43"],"certificates":[`+string(leaderPEM)+`]}`),
		r.client(t, `{"name":"clerk","role":"clerk","agencies":["000.00.00.H43"]}`)
	return r
}

// client makes an API client with the admin key r holds, and returns its key.
func (r *realKyso) client(t *testing.T, body string) string {
	t.Helper()
	var c struct {
		APIKey string `json:"api_key"`
	}
	req, _ := http.NewRequest(http.MethodPost, r.url+"/v1/clients", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+r.key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&c); err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("client %s: %d %v", body, resp.StatusCode, err)
	}
	return c.APIKey
}

func (r *realKyso) get(t *testing.T, path string) []byte {
	t.Helper()
	return r.do(t, http.MethodGet, path, nil)
}

func (r *realKyso) do(t *testing.T, method, path string, body []byte) []byte {
	t.Helper()
	req, _ := http.NewRequest(method, r.url+path, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+r.key)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s %s: %s %s", method, path, resp.Status, b)
	}
	return b
}

// TestEndToEndRealServer: the same flow as TestEndToEndBrowser against a real
// "kyso serve" process: prepare over its API, pair and sign through the agent's page
// in headless Chromium, the server completes; the document it serves verifies
// TOTAL_PASSED, and neither its log nor its data directory holds the PIN.
func TestEndToEndRealServer(t *testing.T) {
	// The server checks the leader's certificate, revocation included, before it
	// prepares an approval: it asks the addresses the certificates name, this test's
	// own responders.
	p := pkitest.ServeRevocation(t)
	srv := startRealKyso(t, p, "")
	web := httptest.NewServer(http.HandlerFunc(serveApp)) // the Kyso web page's origin
	defer web.Close()
	k := &kysoServer{srv: web} // only its URL: the origin the agent allows
	e := newAgent(t, newToken(t, p, "Kyso leader"), k)
	sigPNG := testenv.SignaturePNG()
	req := prepareAt(t, srv.url, srv.key, corpusPDF(t), p.Leader, app.RoleApprove, "Về việc chạy thử với kyso serve", sigPNG)
	ctx := browser(t)
	var confirmURL, code string
	read := func(sel chromedp.CSS, into *string) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) (err error) {
			*into, err = chromedp.Text(sel)(ctx, tg)
			return err
		})
	}
	page := web.URL + "/app#agent=" + e.url + "&server=" + srv.url + "&key=" + srv.key + "&ids=" + req.ID
	if err := chromedp.Do(ctx, chromedp.Navigate(page), chromedp.WaitVisible(chromedp.CSS("#code")), read("#confirm-url", &confirmURL)); err != nil {
		t.Fatalf("pairing: %v", err)
	}
	tab, closeTab := chromedp.NewContext(ctx)
	defer closeTab()
	if err := chromedp.Do(tab, chromedp.Navigate(confirmURL), read("#pairing-code", &code)); err != nil {
		t.Fatal(err)
	}
	err := chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS("#code"), code),
		chromedp.Click(chromedp.CSS("#pair")),
		chromedp.WaitVisible(chromedp.CSS("#pin")),
		chromedp.SendKeys(chromedp.CSS("#pin"), pin),
		chromedp.Click(chromedp.CSS("#sign")),
		chromedp.WaitVisible(chromedp.CSS("#done")),
	)
	if err != nil {
		body, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("body")))
		t.Fatalf("browser: %v; page says %q; server log:\n%s", err, body, srv.logs.Bytes())
	}
	if d := srv.get(t, fmt.Sprintf("/v1/documents/%d", req.DocumentID)); !bytes.Contains(d, []byte(`"status":"approved"`)) {
		t.Fatalf("the document after the leader's signature: %s", d)
	}
	// A replay is refused by the agent and by the server.
	e.token = e.pairWithKey(t, srv.url, srv.key)
	if status, _, raw := e.createJob(t, req.ID); status != http.StatusConflict {
		t.Errorf("replayed request: %d %s", status, raw)
	}
	if _, err := agent.NewClient(srv.url, srv.key, nil).Complete(context.Background(), req.ID, make([]byte, 256)); !errors.Is(err, agent.ErrNotPending) {
		t.Errorf("replayed completion: %v", err)
	}
	content := srv.get(t, fmt.Sprintf("/v1/documents/%d/content", req.DocumentID))
	services := pkitest.StartServices(t, p)
	rep, err := verify.VerifyPDF(context.Background(), bytes.NewReader(content), int64(len(content)), "signed.pdf",
		verify.Options{Anchors: []*x509.Certificate{p.Root.Cert}, Revocation: &pki.Checker{RewriteURL: services.RewriteURL}})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Indication != verify.TotalPassed || len(rep.Signatures) != 1 {
		t.Fatalf("verify: %s, %d signatures", rep.Indication, len(rep.Signatures))
	}
	var stored bytes.Buffer
	_ = filepath.WalkDir(srv.dataDir, func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := os.ReadFile(path)
			stored.Write(b)
		}
		return nil
	})
	logs := srv.logs.Bytes()
	if stored.Len() == 0 || len(logs) == 0 || !bytes.Contains(logs, []byte("complete")) {
		t.Fatalf("nothing to search: %d bytes stored, log:\n%s", stored.Len(), logs)
	}
	if bytes.Contains(stored.Bytes(), []byte(pin)) || bytes.Contains(logs, []byte(pin)) {
		t.Fatal("the PIN reached the server")
	}
	t.Logf("real kyso serve: %s; %d bytes of server log and %d of its store searched for the PIN", rep.Indication, len(logs), stored.Len())
}

// TestLeaderThenClerkRealServer: against a real kyso serve, the leader approves
// through the agent with the personal key on the token; the clerk then issues through
// the agent too (prepare with role=issue: the server numbers the document and lays out
// the seal; the organisation's key on the token signs). Both signatures verify and the
// document is stored as issued with its number.
func TestLeaderThenClerkRealServer(t *testing.T) {
	// The server checks the leader's signature, revocation included, before issuing:
	// it asks the addresses the certificates name, this test's own responders.
	p := pkitest.ServeRevocation(t)
	tok := newToken(t, p, "Kyso leader")
	srv := startRealKyso(t, p, "")
	web := httptest.NewServer(http.HandlerFunc(serveApp))
	defer web.Close()
	e := newAgent(t, tok, &kysoServer{srv: web})
	e.token = e.pairWithKey(t, srv.url, srv.key)
	sigPNG, sealPNG := testenv.SignaturePNG(), testenv.SealPNG()
	req := prepareAt(t, srv.url, srv.key, testenv.CongVanPDF(t), p.Leader, app.RoleApprove, "Quyết định phê duyệt kế hoạch", sigPNG) // blanks for number and date: issuable
	e.signAll(t, req.ID)
	// The clerk issues through the agent too, with the organisation's certificate on
	// the token: the server numbers the document and lays out the seal, the token signs.
	issue := prepareIssueAt(t, srv.url, srv.clerkKey, req.DocumentID, p.Org, sealPNG)
	if issue.Number == "" {
		t.Fatalf("the issuing request shows no number: %+v", issue)
	}
	e.token = e.pairWithKey(t, srv.url, srv.clerkKey) // the clerk's agent signs what the clerk prepared
	e.signAll(t, issue.ID)
	issued := issue.Number
	var doc struct {
		Status string `json:"status"`
		Number int    `json:"number"`
	}
	if err := json.Unmarshal(srv.get(t, fmt.Sprintf("/v1/documents/%d", req.DocumentID)), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Status != "issued" || doc.Number != 1 {
		t.Fatalf("after issue: %+v (%s)", doc, issued)
	}
	content := srv.get(t, fmt.Sprintf("/v1/documents/%d/content", req.DocumentID))
	services := pkitest.StartServices(t, p)
	rep, err := verify.VerifyPDF(context.Background(), bytes.NewReader(content), int64(len(content)), "issued.pdf",
		verify.Options{Anchors: []*x509.Certificate{p.Root.Cert}, Revocation: &pki.Checker{RewriteURL: services.RewriteURL}})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Indication != verify.TotalPassed || len(rep.Signatures) != 2 {
		t.Fatalf("issued document: %s with %d signatures", rep.Indication, len(rep.Signatures))
	}
	for i, sg := range rep.Signatures {
		if sg.Indication != verify.TotalPassed {
			t.Errorf("signature %d: %s", i, sg.Indication)
		}
	}
	t.Logf("issued number %d; both signatures %s", doc.Number, rep.Indication)
}

// TestBatch50RealServer: fifty documents prepared on a real kyso serve are signed
// through the agent after one PIN, with progress over the WebSocket; the server holds
// all fifty as approved, and the first and last verify.
func TestBatch50RealServer(t *testing.T) {
	p := pkitest.ServeRevocation(t) // the leader's certificate is checked at prepare
	srv := startRealKyso(t, p, "")
	web := httptest.NewServer(http.HandlerFunc(serveApp))
	defer web.Close()
	e := newAgent(t, newToken(t, p, "Kyso leader"), &kysoServer{srv: web})
	e.token = e.pairWithKey(t, srv.url, srv.key)
	doc := corpusPDF(t)
	var ids []string
	var docs []int64
	for i := range 50 {
		r := prepareAt(t, srv.url, srv.key, doc, p.Leader, app.RoleApprove, fmt.Sprintf("Công văn %02d", i+1), nil)
		ids, docs = append(ids, r.ID), append(docs, r.DocumentID)
	}
	seen, took := signBatch(t, e, ids)
	services := pkitest.StartServices(t, p)
	vopts := verify.Options{Anchors: []*x509.Certificate{p.Root.Cert}, Revocation: &pki.Checker{RewriteURL: services.RewriteURL}}
	for i, id := range docs {
		if d := srv.get(t, fmt.Sprintf("/v1/documents/%d", id)); !bytes.Contains(d, []byte(`"status":"approved"`)) {
			t.Fatalf("document %d: %s", id, d)
		}
		if i == 0 || i == len(docs)-1 {
			content := srv.get(t, fmt.Sprintf("/v1/documents/%d/content", id))
			rep, err := verify.VerifyPDF(context.Background(), bytes.NewReader(content), int64(len(content)), "signed.pdf", vopts)
			if err != nil || rep.Indication != verify.TotalPassed {
				t.Fatalf("document %d: %v %v", id, rep, err)
			}
		}
	}
	t.Logf("kyso serve: 50 documents signed and completed after one PIN in %v; %d progress reports", took.Round(time.Millisecond), len(seen))
}
