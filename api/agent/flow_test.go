package agent_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"

	"github.com/kyso-vn/kyso/api/agent"
	"github.com/kyso-vn/kyso/app"
	"github.com/kyso-vn/kyso/hsm"
	"github.com/kyso-vn/kyso/internal/testenv"
	"github.com/kyso-vn/kyso/internal/testpki"
	"github.com/kyso-vn/kyso/pkg/store"
	"github.com/kyso-vn/kyso/signer/verify"
)

// TestLeaderThenClerk: the leader approves a draft through the agent with the token;
// the clerk then issues it with the organisation's key (on the clerk's token, opened
// by the server here) and the seal. Both signatures verify, and the document is
// stored as issued with its number.
func TestLeaderThenClerk(t *testing.T) {
	p := testpki.Committed(t)
	k := startKyso(t, p)
	tok := newToken(t, p, "Kyso leader")
	e := startAgent(t, tok, k)
	sigPNG, sealPNG := testenv.SignaturePNG(), testenv.SealPNG()
	req := k.prepareDoc(t, testenv.CongVanPDF(t), p.Leader, app.RoleApprove, "Về việc phê duyệt kế hoạch năm 2026", sigPNG) // blanks for number and date: issuable
	e.signAll(t, req.ID)
	doc, content := k.document(t, req.DocumentID)
	if doc.Status != store.StatusApproved {
		t.Fatalf("after the leader's signature the document is %s", doc.Status)
	}
	if rep := k.verify(t, content); rep.Indication != verify.TotalPassed {
		t.Fatalf("leader's signature: %s", rep.Indication)
	}

	// The server's key shares this process's module with the agent here: keep the
	// agent's watcher from re-initialising the module while the key is open.
	release, err := e.agent.Watcher().Hold(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	org, err := hsm.Open(context.Background(), tok.URI("org", "02"), hsm.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer org.(io.Closer).Close()
	sk, err := k.svc.Store.CreateKey(context.Background(), store.SigningKey{Label: "org", URI: "pkcs11:token=Kyso%20leader;id=%02", Owner: "clerk"}, "admin")
	if err != nil {
		t.Fatal(err)
	}
	k.svc.Keys["org"] = &app.ServerKey{Name: "org", Key: orgKey{org, p.Org.Chain}, StoreID: sk.ID}
	issued, rep, err := k.svc.Issue(context.Background(), app.IssueRequest{DocumentID: req.DocumentID, KeyName: "org", Seal: sealPNG, SealSize: 60, By: k.clerk})
	if err != nil {
		t.Fatalf("issue: %v (%+v)", err, rep)
	}
	if issued.Status != store.StatusIssued || issued.Number != 1 || issued.Identifier == nil {
		t.Fatalf("issued document: %+v", issued)
	}
	_, final := k.document(t, req.DocumentID)
	rep = k.verify(t, final)
	if rep.Indication != verify.TotalPassed || len(rep.Signatures) != 2 {
		t.Fatalf("issued: %s with %d signatures", rep.Indication, len(rep.Signatures))
	}
	for i, s := range rep.Signatures {
		if s.Indication != verify.TotalPassed {
			t.Errorf("signature %d (%s): %s", i, s.Signer, s.Indication)
		}
	}
	t.Logf("issued %s with 2 signatures, both %s", issued.NumberSymbol(), rep.Indication)
}

// orgKey gives the organisation's key on the token the chain the token does not hold.
type orgKey struct {
	hsm.Key
	chain []*x509.Certificate
}

func (k orgKey) Chain() []*x509.Certificate { return k.chain }

// TestReplayRefused: a request completed through the agent is refused when it comes
// again, by the agent (409 to the web page) and by the server (409 to a replayed
// completion).
func TestReplayRefused(t *testing.T) {
	p := testpki.Committed(t)
	k := startKyso(t, p)
	e := startAgent(t, newToken(t, p, "Kyso leader"), k)
	req := k.prepareDoc(t, corpusPDF(t), p.Leader, app.RoleApprove, "Công văn thử", nil)
	e.signAll(t, req.ID)
	status, _, raw := e.createJob(t, req.ID)
	if status != http.StatusConflict {
		t.Fatalf("replayed request: %d %s, want 409", status, raw)
	}
	// An agent that never saw it (restarted) still refuses: the server says completed.
	e2 := startAgent(t, e.hsm, k)
	if status, _, raw := e2.createJob(t, req.ID); status != http.StatusConflict {
		t.Fatalf("replay to a fresh agent: %d %s, want 409", status, raw)
	}
	c := agent.NewClient(k.srv.URL, apiKey, nil)
	if _, err := c.Complete(context.Background(), req.ID, bytes.Repeat([]byte{1}, 256)); !errors.Is(err, agent.ErrNotPending) {
		t.Fatalf("replayed completion: %v, want ErrNotPending (409)", err)
	}
}

// TestPINLockout: three wrong PINs through the agent's page lock its prompt; a fourth
// try, even with the right PIN, is refused without reaching the token; the token is
// not locked (SoftHSM2 takes the right PIN at once through a fresh hsm.Open); after
// the lockout the agent signs with the right PIN.
func TestPINLockout(t *testing.T) {
	p := testpki.Committed(t)
	k := startKyso(t, p)
	e := startAgent(t, newToken(t, p, "Kyso leader"), k)
	req := k.prepareDoc(t, corpusPDF(t), p.Leader, app.RoleApprove, "Tờ trình", nil)
	_, jobID, _ := e.createJob(t, req.ID)
	cases := []struct {
		pin    string
		status int
		words  string
		logins int64
	}{
		{"111111", http.StatusUnprocessableEntity, "Còn 2 lần thử", 1},
		{"222222", http.StatusUnprocessableEntity, "Còn 1 lần thử", 2},
		{"333333", http.StatusLocked, "Tạm khóa đến", 3},
		{pin, http.StatusLocked, "Tạm khóa đến", 3}, // locked: the token is not asked
		{"444444", http.StatusLocked, "Tạm khóa đến", 3},
	}
	for i, c := range cases {
		code, page := e.confirmForm(t, jobID, c.pin)
		if code != c.status || !strings.Contains(page, c.words) {
			t.Fatalf("try %d: %d, want %d with %q:\n%s", i+1, code, c.status, c.words, page)
		}
		if got := e.agent.LoginAttempts(); got != c.logins {
			t.Fatalf("try %d: %d logins reached the token, want %d", i+1, got, c.logins)
		}
	}
	assertTokenNotLocked(t, e)
	key, err := openKey(t, e.hsm, pin)
	if err != nil {
		t.Fatalf("the token refuses the right PIN after the agent's lock: %v", err)
	}
	key.(io.Closer).Close()

	e.now.Add(5*time.Minute + time.Second)
	if code, page := e.confirmForm(t, jobID, pin); code != http.StatusSeeOther {
		t.Fatalf("after the lockout: %d\n%s", code, page)
	}
	if prog := e.waitJob(t, jobID); prog.Completed != 1 {
		t.Fatalf("%+v", prog)
	}
}

// assertTokenNotLocked reads the token's flags: neither CKF_USER_PIN_LOCKED nor
// CKF_USER_PIN_FINAL_TRY.
func assertTokenNotLocked(t *testing.T, e *agentEnv) {
	t.Helper()
	e.agent.Watcher().Poll()
	toks, _ := e.agent.Watcher().Tokens()
	if len(toks) != 1 {
		t.Fatalf("tokens: %+v", toks)
	}
	if toks[0].PINLocked || toks[0].PINFinalTry {
		t.Fatalf("the token's PIN is locked or at its final try: %+v", toks[0])
	}
}

// TestOriginAllowList: the local API answers only the allowed origin, with its exact
// CORS headers; any other origin, or none, is refused with 403 and no CORS header.
func TestOriginAllowList(t *testing.T) {
	p := testpki.Committed(t)
	k := startKyso(t, p)
	e := startAgent(t, newToken(t, p, "Kyso leader"), k)
	cases := []struct {
		name, method, path, origin string
		token                      bool
		status                     int
		cors                       bool
	}{
		{"allowed origin", http.MethodGet, "/api/tokens", e.origin, true, http.StatusOK, true},
		{"allowed origin, preflight", http.MethodOptions, "/api/jobs", e.origin, false, http.StatusNoContent, true},
		{"allowed origin, not paired", http.MethodGet, "/api/tokens", e.origin, false, http.StatusUnauthorized, true},
		{"other origin", http.MethodGet, "/api/tokens", "https://evil.example", true, http.StatusForbidden, false},
		{"other origin, preflight", http.MethodOptions, "/api/jobs", "https://evil.example", false, http.StatusForbidden, false},
		{"other origin, pairing", http.MethodPost, "/api/pair", "https://evil.example", false, http.StatusForbidden, false},
		{"same host, other port", http.MethodGet, "/api/tokens", strings.Replace(e.origin, ":", ":1", 2), true, http.StatusForbidden, false},
		{"origin null", http.MethodGet, "/api/tokens", "null", true, http.StatusForbidden, false},
		{"no origin", http.MethodGet, "/api/tokens", "", true, http.StatusForbidden, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req, _ := http.NewRequest(c.method, e.url+c.path, nil)
			if c.origin != "" {
				req.Header.Set("Origin", c.origin)
			}
			if c.method == http.MethodOptions {
				req.Header.Set("Access-Control-Request-Method", "POST")
				req.Header.Set("Access-Control-Request-Headers", "authorization, content-type")
				req.Header.Set("Access-Control-Request-Private-Network", "true")
			}
			if c.token {
				req.Header.Set("Authorization", "Bearer "+e.token)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != c.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, c.status)
			}
			acao := resp.Header.Get("Access-Control-Allow-Origin")
			if c.cors && acao != c.origin || !c.cors && acao != "" {
				t.Fatalf("Access-Control-Allow-Origin %q", acao)
			}
			for h := range resp.Header {
				if !c.cors && strings.HasPrefix(h, "Access-Control-") {
					t.Errorf("refused answer carries %s", h)
				}
			}
			if c.method == http.MethodOptions && c.cors && (!strings.Contains(resp.Header.Get("Access-Control-Allow-Headers"), "Authorization") ||
				resp.Header.Get("Access-Control-Allow-Private-Network") != "true" || resp.Header.Get("Access-Control-Allow-Methods") != "GET, POST") {
				t.Errorf("preflight answer %v", resp.Header)
			}
			if !strings.Contains(resp.Header.Get("Vary"), "Origin") {
				t.Errorf("no Vary: Origin")
			}
		})
	}
	// A page on another origin cannot post the PIN form either.
	t.Run("form from another origin", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodPost, e.url+"/jobs/x/confirm", strings.NewReader("pin=1"))
		req.Header.Set("Origin", "https://evil.example")
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Fatalf("status %d", resp.StatusCode)
		}
	})
	t.Run("websocket from another origin", func(t *testing.T) {
		_, resp, err := websocket.Dial(context.Background(), "ws"+strings.TrimPrefix(e.url, "http")+"/api/ws",
			&websocket.DialOptions{HTTPHeader: http.Header{"Origin": {"https://evil.example"}}})
		if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
			t.Fatalf("dial: %v %v", err, resp)
		}
	})
}

// TestBatch50: fifty documents prepared on the server are listed by the agent, signed
// after one PIN entry, and followed over the WebSocket to the end; every one is
// completed on the server and verifies.
func TestBatch50(t *testing.T) {
	p := testpki.Committed(t)
	k := startKyso(t, p)
	e := startAgent(t, newToken(t, p, "Kyso leader"), k)
	doc := corpusPDF(t)
	var ids []string
	var docs []int64
	for i := range 50 {
		r := k.prepareDoc(t, doc, p.Leader, app.RoleApprove, "Văn bản số "+string(rune('A'+i%26)), nil)
		ids, docs = append(ids, r.ID), append(docs, r.DocumentID)
	}
	seen, took := signBatch(t, e, ids)
	for i, id := range docs {
		d, content := k.document(t, id)
		if d.Status != store.StatusApproved {
			t.Fatalf("document %d is %s", id, d.Status)
		}
		if i == 0 || i == len(docs)-1 {
			if rep := k.verify(t, content); rep.Indication != verify.TotalPassed {
				t.Fatalf("document %d: %s", id, rep.Indication)
			}
		}
	}
	t.Logf("50 documents signed and completed after one PIN in %v; %d progress reports", took.Round(time.Millisecond), len(seen))
}

// signBatch hands ids to the agent over the WebSocket as a web page does, checks that
// the agent's page lists them all before confirmation, confirms with one PIN, and
// follows the progress to the end: the completed counts reported, and how long the
// signing took.
func signBatch(t *testing.T, e *agentEnv, ids []string) ([]int, time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(e.url, "http")+"/api/ws",
		&websocket.DialOptions{HTTPHeader: http.Header{"Origin": {e.origin}}})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	type msg = map[string]json.RawMessage
	_ = wsjson.Write(ctx, ws, map[string]any{"type": "hello", "token": e.token})
	_ = wsjson.Write(ctx, ws, map[string]any{"type": "sign", "request_ids": ids})
	var jobID string
	for jobID == "" {
		var m msg
		if err := wsjson.Read(ctx, ws, &m); err != nil {
			t.Fatal(err)
		}
		switch string(m["type"]) {
		case `"job"`:
			var u string
			_ = json.Unmarshal(m["job_id"], &jobID)
			_ = json.Unmarshal(m["url"], &u)
			e.noteJobURL(t, jobID, u)
		case `"error"`:
			t.Fatalf("sign: %s", m["error"])
		}
	}
	page := e.jobPage(t, jobID)
	if n := strings.Count(page, `class="item listed"`); n != len(ids) {
		t.Fatalf("the page lists %d requests before confirmation, want %d", n, len(ids))
	}
	_ = wsjson.Write(ctx, ws, map[string]any{"type": "watch", "job_id": jobID})
	start := time.Now()
	if code, page := e.confirmForm(t, jobID, pin); code != http.StatusSeeOther {
		t.Fatalf("confirm: %d %s", code, page)
	}
	var seen []int
	for {
		var m struct {
			Type     string          `json:"type"`
			Progress *agent.Progress `json:"progress"`
		}
		if err := wsjson.Read(ctx, ws, &m); err != nil {
			t.Fatalf("progress: %v after %v", err, seen)
		}
		if m.Type != "progress" {
			continue
		}
		seen = append(seen, m.Progress.Completed)
		if m.Progress.State == agent.JobDone {
			if m.Progress.Completed != len(ids) || m.Progress.Failed != 0 {
				t.Fatalf("done: %+v", m.Progress)
			}
			break
		}
	}
	took := time.Since(start)
	if len(seen) < 10 || seen[len(seen)-1] != len(ids) {
		t.Fatalf("progress reports %v", seen)
	}
	if e.agent.LoginAttempts() != 1 {
		t.Fatalf("%d PIN entries for the batch, want 1", e.agent.LoginAttempts())
	}
	return seen, took
}

// TestRequestRefusals: requests the agent must not sign are refused before any PIN is
// asked: unknown, expired, or prepared for a certificate on no token present.
func TestRequestRefusals(t *testing.T) {
	p := testpki.Committed(t)
	k := startKyso(t, p)
	e := startAgent(t, newToken(t, p, "Kyso leader"), k)
	doc := corpusPDF(t)
	expired := k.prepareDoc(t, doc, p.Leader, app.RoleApprove, "hết hạn", nil)
	k.clock.Add(31 * time.Minute)
	clerk := k.prepareDoc(t, doc, p.Clerk, app.RoleApprove, "chứng thư khác", nil)
	leader := k.prepareDoc(t, doc, p.Leader, app.RoleApprove, "đúng chứng thư", nil)
	cases := []struct {
		name   string
		ids    []string
		status int
	}{
		{"unknown", []string{"no-such-request"}, http.StatusNotFound},
		{"expired", []string{expired.ID}, http.StatusGone},
		{"none", nil, http.StatusBadRequest},
		{"twice", []string{leader.ID, leader.ID}, http.StatusBadRequest},
		{"two certificates", []string{leader.ID, clerk.ID}, http.StatusBadRequest},
	}
	for _, c := range cases {
		if status, _, raw := e.createJob(t, c.ids...); status != c.status {
			t.Errorf("%s: %d %s, want %d", c.name, status, raw, c.status)
		}
	}
	status, jobID, raw := e.createJob(t, clerk.ID)
	if status != http.StatusCreated {
		t.Fatalf("clerk's request: %d %s", status, raw)
	}
	page := e.jobPage(t, jobID)
	if !strings.Contains(page, "Không thấy chứng thư số") || strings.Contains(page, `id="pin"`) {
		t.Fatalf("a request for a certificate on no token asks for the PIN:\n%s", page)
	}
	j, _ := e.agent.Job(jobID)
	if err := e.agent.Confirm(context.Background(), j, j.CertificateSHA256(), hsm.NewSecret(pin)); !errors.Is(err, agent.ErrNoCertificate) {
		t.Fatalf("confirm: %v", err)
	}
	if n := e.agent.LoginAttempts(); n != 0 {
		t.Fatalf("%d logins for requests that were refused", n)
	}
}
