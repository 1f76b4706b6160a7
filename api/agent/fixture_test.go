package agent_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kyso-vn/kyso/api/agent"
	"github.com/kyso-vn/kyso/app"
	"github.com/kyso-vn/kyso/hsm"
	"github.com/kyso-vn/kyso/internal/testenv"
	"github.com/kyso-vn/kyso/internal/testpki"
	"github.com/kyso-vn/kyso/pkg/pki"
	"github.com/kyso-vn/kyso/pkg/pki/pkitest"
	"github.com/kyso-vn/kyso/pkg/store"
	"github.com/kyso-vn/kyso/signer/pades"
	"github.com/kyso-vn/kyso/signer/verify"
)

const (
	// pin is unlike anything else in a PDF or a database, so finding it in the
	// server's bytes would mean the server saw it.
	pin    = "kx7-PIN-9217"
	apiKey = "kyso-test-api-key-7f3a"
	agency = "000.00.00.H43"
)

// kysoServer is a small Kyso server in the test: exactly the HTTP contract of
// POST /v1/signatures, GET /v1/signatures/{id} and POST /v1/signatures/{id}/complete
// (Bearer API key, problem+json), on a real app.Service over SQLite. Every
// request it receives is written, headers and body, to its log, so a test can show
// what the server saw.
type kysoServer struct {
	svc     *app.Service
	srv     *httptest.Server
	dbPath  string
	blobDir string
	pki     *testpki.TestPKI
	clock   *fakeClock // the server's time: a test moves it to expire requests
	log     syncBuffer // every request, as the server saw it
	// leader and clerk are the agency's clients the requests are made as: the
	// personal certificates are bound to the leader (app's approval rule), the
	// clerk's too, so that a test may prepare with a certificate the token lacks.
	leader, clerk app.Principal
}

func startKyso(t *testing.T, p *testpki.TestPKI) *kysoServer {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	k := &kysoServer{dbPath: filepath.Join(dir, "kyso.db"), blobDir: filepath.Join(dir, "blobs"), pki: p, clock: &fakeClock{t: time.Now()}}
	st, err := store.Open(ctx, store.Config{DSN: k.dbPath, BlobDir: k.blobDir, Now: k.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	services := pkitest.StartServices(t, p)
	k.svc = &app.Service{
		Store: st, Keys: map[string]*app.ServerKey{},
		Verify:  verify.Options{Anchors: []*x509.Certificate{p.Root.Cert}, Revocation: &pki.Checker{RewriteURL: services.RewriteURL}},
		TempDir: t.TempDir(), Now: k.clock.Now,
	}
	for _, c := range []struct {
		p    *app.Principal
		name string
		role app.Role
		cert []*x509.Certificate
	}{{&k.leader, "leader", app.RoleLeader, []*x509.Certificate{p.Leader.Cert, p.Clerk.Cert, p.PersonalEC.Cert}}, {&k.clerk, "clerk", app.RoleClerk, nil}} {
		_, hash, err := store.NewAPIKey()
		if err != nil {
			t.Fatal(err)
		}
		if *c.p, err = k.svc.RegisterClient(ctx, app.Principal{Name: "test"}, app.NewClient{Name: c.name, Role: c.role,
			Agencies: []string{agency}, Certificates: c.cert}, fmt.Sprintf("%x", hash)); err != nil {
			t.Fatal(err)
		}
		c.p.Surface = app.SurfaceAgent
	}
	logger := slog.New(slog.NewTextHandler(&k.log, nil))
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/signatures", k.prepare)
	mux.HandleFunc("GET /v1/signatures/{id}", k.get)
	mux.HandleFunc("POST /v1/signatures/{id}/complete", k.complete)
	mux.HandleFunc("GET /app", serveApp)
	k.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		logger.Info("request", "method", r.Method, "url", r.URL.String(), "header", fmt.Sprint(r.Header), "body", string(body))
		if r.URL.Path != "/app" && r.Header.Get("Authorization") != "Bearer "+apiKey {
			problem(w, http.StatusUnauthorized, "unauthorized")
			return
		}
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(k.srv.Close)
	return k
}

func problem(w http.ResponseWriter, status int, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"title": http.StatusText(status), "status": status, "detail": detail})
}

func serviceError(w http.ResponseWriter, err error) {
	status := http.StatusInternalServerError
	switch {
	case errors.Is(err, app.ErrNotFound):
		status = http.StatusNotFound
	case errors.Is(err, app.ErrExpired):
		status = http.StatusGone
	case errors.Is(err, app.ErrConflict):
		status = http.StatusConflict
	case errors.Is(err, app.ErrInvalid):
		status = http.StatusBadRequest
	}
	problem(w, status, err.Error())
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (k *kysoServer) prepare(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseMultipartForm(32 << 20); err != nil {
		problem(w, http.StatusBadRequest, err.Error())
		return
	}
	var certs []*x509.Certificate
	rest := []byte(r.FormValue("certificate"))
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			problem(w, http.StatusBadRequest, err.Error())
			return
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		problem(w, http.StatusBadRequest, "no certificate")
		return
	}
	req := app.PrepareRequest{
		AgencyCode: r.FormValue("agency"), Summary: r.FormValue("summary"), Symbol: r.FormValue("symbol"),
		Certificate: certs[0], Chain: certs[1:], Role: r.FormValue("role"), By: k.leader,
		Options: app.SignOptions{Reason: r.FormValue("reason"), Location: r.FormValue("location")},
	}
	if req.Role != "" && req.Role != app.RoleApprove {
		req.By = k.clerk
	}
	if id := r.FormValue("document_id"); id != "" {
		req.DocumentID, _ = strconv.ParseInt(id, 10, 64)
	} else if f, h, err := r.FormFile("file"); err == nil {
		defer f.Close()
		req.Content, req.Filename = f, h.Filename
	}
	if rect := r.FormValue("rect"); rect != "" {
		app := &pades.Appearance{Page: 1}
		if p, err := strconv.Atoi(r.FormValue("page")); err == nil {
			app.Page = p
		}
		for i, v := range strings.Split(rect, ",") {
			app.Rect[i], _ = strconv.ParseFloat(v, 64)
		}
		if f, _, err := r.FormFile("image"); err == nil {
			app.Image, _ = io.ReadAll(f)
			f.Close()
		}
		req.Options.Appearance = app
	}
	p, err := k.svc.Prepare(r.Context(), req)
	if err != nil {
		serviceError(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, p)
}

func (k *kysoServer) get(w http.ResponseWriter, r *http.Request) {
	p, err := k.svc.GetPending(r.Context(), app.Principal{}, r.PathValue("id"))
	if err != nil {
		serviceError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, p)
}

func (k *kysoServer) complete(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Signature []byte `json:"signature"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil || len(in.Signature) == 0 {
		problem(w, http.StatusBadRequest, "give signature")
		return
	}
	p, err := k.svc.Complete(r.Context(), r.PathValue("id"), app.CompleteRequest{Signature: in.Signature, Actor: "agent"})
	if err != nil {
		serviceError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, p)
}

// appPage is the Kyso web page a clerk or leader works in. Not yet paired, it asks
// the agent to pair and takes the code the person reads on the agent's page; paired,
// it hands the request ids to the agent's local API (cross-origin calls the agent
// must allow) and sends the person to the agent's page to confirm.
const appPage = `<!doctype html><meta charset="utf-8"><title>Kyso</title>
<p id="status">…</p>
<form id="pairing" hidden><a id="confirm-url" target="_blank">agent</a>
<input id="code" autocomplete="off"><button id="pair" type="button">Ghép nối</button></form>
<script>
const q = new URLSearchParams(location.hash.slice(1));
const agent = q.get("agent");
const status = m => document.getElementById("status").textContent = m;
const call = (path, body, token) => fetch(agent + path, {method: "POST",
  headers: Object.assign({"Content-Type": "application/json"}, token ? {"Authorization": "Bearer " + token} : {}),
  body: JSON.stringify(body)}).then(r => r.json().then(j => { if (!r.ok) throw new Error(j.detail); return j; }));
function sign(token) {
  call("/api/jobs", {request_ids: q.get("ids").split(",")}, token)
    .then(j => { location.href = j.url; }).catch(e => status("error: " + e.message));
}
call("/api/pair", {server: q.get("server") || location.origin, api_key: q.get("key")}).then(p => {
  const a = document.getElementById("confirm-url");
  a.href = a.textContent = p.confirm_url;
  document.getElementById("pairing").hidden = false;
  status("paste the code the agent shows");
  document.getElementById("pair").onclick = () =>
    call("/api/pair/" + p.pairing_id + "/confirm", {code: document.getElementById("code").value.replace(/ /g, "")})
      .then(r => sign(r.token)).catch(e => status("error: " + e.message));
}).catch(e => status("error: " + e.message));
</script>`

func serveApp(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = io.WriteString(w, appPage)
}

// prepareDoc posts a new document to prepare, as a web page would.
func (k *kysoServer) prepareDoc(t *testing.T, doc []byte, cert *testpki.Cert, role, summary string, sigPNG []byte) *agent.Request {
	t.Helper()
	return prepareAt(t, k.srv.URL, apiKey, doc, cert, role, summary, sigPNG)
}

// prepareAt posts a new document to POST /v1/signatures of the server at base.
func prepareAt(t *testing.T, base, key string, doc []byte, cert *testpki.Cert, role, summary string, sigPNG []byte) *agent.Request {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, _ := mw.CreateFormFile("file", "draft.pdf")
	_, _ = fw.Write(doc)
	return postPrepare(t, base, key, &body, mw, cert, role, summary, sigPNG)
}

// prepareIssueAt asks the server to prepare the clerk's issuing of a stored, approved
// document: the organisation's certificate, and the seal as the image.
func prepareIssueAt(t *testing.T, base, key string, docID int64, cert *testpki.Cert, sealPNG []byte) *agent.Request {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	_ = mw.WriteField("document_id", strconv.FormatInt(docID, 10))
	var certPEM bytes.Buffer
	for _, c := range cert.ChainWithLeaf() {
		_ = pem.Encode(&certPEM, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	_ = mw.WriteField("certificate", certPEM.String())
	_ = mw.WriteField("role", app.RoleIssue)
	iw, _ := mw.CreateFormFile("image", "seal.png")
	_, _ = iw.Write(sealPNG)
	_ = mw.Close()
	return sendPrepare(t, base, key, &body, mw)
}

func postPrepare(t *testing.T, base, key string, body *bytes.Buffer, mw *multipart.Writer, cert *testpki.Cert, role, summary string, sigPNG []byte) *agent.Request {
	t.Helper()
	var certPEM bytes.Buffer
	for _, c := range cert.ChainWithLeaf() {
		_ = pem.Encode(&certPEM, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	fields := map[string]string{"certificate": certPEM.String(), "role": role, "agency": agency, "symbol": "UBND-VP",
		"summary": summary, "reason": "Phê duyệt"}
	if sigPNG != nil {
		fields["page"], fields["rect"] = "1", "300,100,480,160"
		iw, _ := mw.CreateFormFile("image", "sig.png")
		_, _ = iw.Write(sigPNG)
	}
	for k, v := range fields {
		_ = mw.WriteField(k, v)
	}
	_ = mw.Close()
	return sendPrepare(t, base, key, body, mw)
}

func sendPrepare(t *testing.T, base, key string, body *bytes.Buffer, mw *multipart.Writer) *agent.Request {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, base+"/v1/signatures", body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("prepare: %s %s", resp.Status, raw)
	}
	var p agent.Request
	if err := json.Unmarshal(raw, &p); err != nil {
		t.Fatal(err)
	}
	return &p
}

// document returns a stored document and its current content.
func (k *kysoServer) document(t *testing.T, id int64) (*store.Document, []byte) {
	t.Helper()
	ctx := context.Background()
	d, err := k.svc.Store.GetDocument(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := k.svc.Store.OpenBlob(ctx, d.ContentSHA256)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return d, b
}

func (k *kysoServer) verify(t *testing.T, content []byte) *verify.Report {
	t.Helper()
	rep, err := verify.VerifyPDF(context.Background(), bytes.NewReader(content), int64(len(content)), "signed.pdf", k.svc.Verify)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// storeBytes is everything the server keeps on disk: the SQLite files and the blobs.
func (k *kysoServer) storeBytes(t *testing.T) []byte {
	t.Helper()
	var all bytes.Buffer
	for _, root := range []string{filepath.Dir(k.dbPath)} {
		_ = filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				b, _ := os.ReadFile(path)
				all.Write(b)
			}
			return nil
		})
	}
	if all.Len() == 0 {
		t.Fatal("the server's store is empty")
	}
	return all.Bytes()
}

// agentEnv is a running agent: its configuration, token watcher and local server on
// loopback, over a SoftHSM2 token holding the leader's key and certificate (id 01)
// and the organisation's (id 02).
type agentEnv struct {
	hsm    *testenv.SoftHSM
	cfg    *agent.Config
	agent  *agent.Agent
	srv    *agent.Server
	url    string
	origin string // the Kyso web page's origin, on the allow-list
	token  string // the pairing token
	now    *fakeClock
	logs   *syncBuffer // everything the agent logged, at debug level

	// browser is the person's browser: it holds the job pages' session cookies.
	browser  *http.Client
	mu       sync.Mutex
	sessions map[string]string // job id → the session from the job's URL
	claimed  map[string]bool
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) Bytes() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return bytes.Clone(s.b.Bytes())
}

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newToken(t *testing.T, p *testpki.TestPKI, label string) *testenv.SoftHSM {
	t.Helper()
	tok := testenv.NewSoftHSM(t, label, pin)
	importKeys(t, tok, p)
	return tok
}

func importKeys(t *testing.T, tok *testenv.SoftHSM, p *testpki.TestPKI) {
	t.Helper()
	for _, k := range []struct {
		stem, id string
		cert     *testpki.Cert
	}{{"leader", "01", p.Leader}, {"org", "02", p.Org}} {
		keyPEM, err := os.ReadFile(p.Path(k.stem + ".key"))
		if err != nil {
			t.Fatal(err)
		}
		tok.ImportKey(t, keyPEM, k.stem, k.id)
		tok.ImportCert(t, k.cert.Cert.Raw, k.stem, k.id)
	}
	for i, c := range []*x509.Certificate{p.Sub.Cert, p.Root.Cert} {
		tok.ImportCert(t, c.Raw, "ca", fmt.Sprintf("c%d", i))
	}
}

// startAgent runs an agent paired with k, whose pages have origin k's URL.
func startAgent(t *testing.T, tok *testenv.SoftHSM, k *kysoServer) *agentEnv {
	t.Helper()
	e := newAgent(t, tok, k)
	if k != nil {
		e.token = e.pair(t, k.srv.URL)
	}
	return e
}

// newAgent runs an agent that allows k's pages but is not paired yet.
func newAgent(t *testing.T, tok *testenv.SoftHSM, k *kysoServer) *agentEnv {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cfgPath := filepath.Join(t.TempDir(), "kyso-agent", "config.yaml")
	cfg, err := agent.LoadConfig(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	origin := "https://kyso.example.vn"
	if k != nil {
		origin = k.srv.URL
	}
	cfg.Modules = []agent.Module{{Path: tok.Module, Name: "SoftHSM2", Reinitialize: true}}
	cfg.AllowedOrigins = []string{origin}
	if err := cfg.Save(); err != nil {
		t.Fatal(err)
	}
	if cfg, err = agent.LoadConfig(cfgPath); err != nil {
		t.Fatal(err)
	}
	clock := &fakeClock{t: time.Now()}
	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	w := agent.NewWatcher(cfg.Modules, 100*time.Millisecond, log)
	watched := make(chan struct{})
	go func() { w.Run(ctx); close(watched) }()
	<-w.Ready()
	a := agent.New(cfg, w, agent.Options{Now: clock.Now, Logger: log})
	srv := agent.NewServer(ctx, a)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-served; err != nil {
			t.Errorf("agent server: %v", err)
		}
		<-watched
	})
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return &agentEnv{hsm: tok, cfg: cfg, agent: a, srv: srv, url: "http://" + ln.Addr().String(), origin: origin, now: clock, logs: logs,
		browser: browser, sessions: map[string]string{}, claimed: map[string]bool{}}
}

// noteJobURL keeps the session in the fragment of a job's URL, as the web page that
// got it does.
func (e *agentEnv) noteJobURL(t *testing.T, jobID, u string) {
	t.Helper()
	// TestJobPagesNeedTheSession checks that there is one; here an agent without
	// sessions still runs the other tests.
	_, frag, _ := strings.Cut(u, "#session=")
	e.mu.Lock()
	e.sessions[jobID] = frag
	e.mu.Unlock()
}

// openJob does what the agent's page does in the browser the first time: it trades
// the session from the URL's fragment for the session cookie.
func (e *agentEnv) openJob(t *testing.T, jobID string) {
	t.Helper()
	e.mu.Lock()
	session, done := e.sessions[jobID], e.claimed[jobID]
	e.mu.Unlock()
	if done || session == "" {
		return
	}
	req, _ := http.NewRequest(http.MethodPost, e.url+"/jobs/"+jobID+"/session", nil)
	req.Header.Set("Origin", e.url)
	req.Header.Set("X-Kyso-Session", session)
	resp, err := e.browser.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("opening job %s: %s", jobID, resp.Status)
	}
	e.mu.Lock()
	e.claimed[jobID] = true
	e.mu.Unlock()
}

// page gets a page of the agent in the person's browser.
func (e *agentEnv) page(t *testing.T, path string) string {
	t.Helper()
	resp, err := e.browser.Get(e.url + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// jobPage opens the job's page in the person's browser.
func (e *agentEnv) jobPage(t *testing.T, jobID string) string {
	t.Helper()
	e.openJob(t, jobID)
	return e.page(t, "/jobs/"+jobID)
}

// call sends a request to the agent's API as a page of origin would.
func (e *agentEnv) call(t *testing.T, method, path, origin, token string, body any) (*http.Response, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, e.url+path, rd)
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp, raw
}

var codeRE = regexp.MustCompile(`id="pairing-code">(\d{3}) (\d{3})<`)

// pair pairs the web page of e.origin with the agent: the page asks, the person reads
// the code on the agent's page and types it into the web page, which confirms.
func (e *agentEnv) pair(t *testing.T, server string) string {
	t.Helper()
	return e.pairWithKey(t, server, apiKey)
}

func (e *agentEnv) pairWithKey(t *testing.T, server, key string) string {
	t.Helper()
	resp, raw := e.call(t, http.MethodPost, "/api/pair", e.origin, "", map[string]string{"server": server, "api_key": key})
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("pair: %s %s", resp.Status, raw)
	}
	var started struct {
		ID  string `json:"pairing_id"`
		URL string `json:"confirm_url"`
	}
	_ = json.Unmarshal(raw, &started)
	page := getPage(t, started.URL)
	m := codeRE.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("the pairing page shows no code:\n%s", page)
	}
	resp, raw = e.call(t, http.MethodPost, "/api/pair/"+started.ID+"/confirm", e.origin, "", map[string]string{"code": m[1] + m[2]})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("pair confirm: %s %s", resp.Status, raw)
	}
	var done struct {
		Token string `json:"token"`
	}
	_ = json.Unmarshal(raw, &done)
	return done.Token
}

func getPage(t *testing.T, u string) string {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// createJob hands request ids to the agent as the web page does.
func (e *agentEnv) createJob(t *testing.T, ids ...string) (status int, jobID string, raw []byte) {
	t.Helper()
	resp, raw := e.call(t, http.MethodPost, "/api/jobs", e.origin, e.token, map[string]any{"request_ids": ids})
	var out struct {
		JobID string `json:"job_id"`
		URL   string `json:"url"`
	}
	_ = json.Unmarshal(raw, &out)
	if resp.StatusCode == http.StatusCreated {
		e.noteJobURL(t, out.JobID, out.URL)
	}
	return resp.StatusCode, out.JobID, raw
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([0-9a-f]+)"`)
var certRE = regexp.MustCompile(`name="certificate" value="([^"]+)"`)

// confirmForm posts the agent's confirmation form as its own page does, with the PIN.
func (e *agentEnv) confirmForm(t *testing.T, jobID, pinValue string) (int, string) {
	t.Helper()
	page := e.jobPage(t, jobID)
	csrf, cert := csrfRE.FindStringSubmatch(page), certRE.FindStringSubmatch(page)
	if csrf == nil || cert == nil {
		t.Fatalf("the job page has no confirmation form:\n%s", page)
	}
	form := url.Values{"csrf": {csrf[1]}, "certificate": {cert[1]}, "pin": {pinValue}}
	req, _ := http.NewRequest(http.MethodPost, e.url+"/jobs/"+jobID+"/confirm", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", e.url)
	resp, err := e.browser.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// signAll has the person sign the requests through the agent's page with the right PIN,
// and fails the test unless every one of them was signed.
func (e *agentEnv) signAll(t *testing.T, ids ...string) {
	t.Helper()
	status, jobID, raw := e.createJob(t, ids...)
	if status != http.StatusCreated {
		t.Fatalf("job for %v: %d %s", ids, status, raw)
	}
	if code, page := e.confirmForm(t, jobID, pin); code != http.StatusSeeOther {
		t.Fatalf("confirm: %d\n%s", code, page)
	}
	if prog := e.waitJob(t, jobID); prog.Completed != len(ids) {
		for _, it := range prog.Items {
			t.Logf("item %+v", *it)
		}
		t.Fatalf("signed %d of %d requests: %+v", prog.Completed, len(ids), prog)
	}
}

// waitJob waits until the job is done and returns its progress.
func (e *agentEnv) waitJob(t *testing.T, jobID string) agent.Progress {
	t.Helper()
	j, ok := e.agent.Job(jobID)
	if !ok {
		t.Fatalf("no job %s", jobID)
	}
	deadline := time.After(3 * time.Minute)
	for {
		p, changed := j.Progress()
		if p.State == agent.JobDone {
			return p
		}
		select {
		case <-changed:
		case <-deadline:
			t.Fatalf("job %s not done: %+v", jobID, p)
		}
	}
}

// openKey opens the leader's key on the token with pin, outside the agent.
func openKey(t *testing.T, tok *testenv.SoftHSM, pinValue string) (hsm.Key, error) {
	t.Helper()
	u := strings.Replace(tok.URI("leader", "01"), "pin-value="+pin, "pin-value="+pinValue, 1)
	return hsm.Open(context.Background(), u, hsm.Options{})
}

func corpusPDF(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testenv.CorpusDir(t), "plain/lo-writer-trivial.pdf"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}
