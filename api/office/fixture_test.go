package office_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kyso-vn/kyso/api"
	"github.com/kyso-vn/kyso/app"
	"github.com/kyso-vn/kyso/hsm"
	"github.com/kyso-vn/kyso/internal/testpki"
	"github.com/kyso-vn/kyso/pkg/config"
	"github.com/kyso-vn/kyso/pkg/pki"
	"github.com/kyso-vn/kyso/pkg/store"
	"github.com/kyso-vn/kyso/signer/verify"
)

// kyso is a real server in the test: the app's use-cases over SQLite, the agency's
// organisation key on the server (granted to clerks), the API with the office pages
// mounted, and a clock the test moves. leaderKey and clerkKey are API keys of the
// agency's leader (bound to the leader's certificate) and clerk.
type kyso struct {
	svc                 *app.Service
	pki                 *testpki.TestPKI
	url                 string
	leader, clerk       app.Principal
	leaderKey, clerkKey string
	logs                syncBuffer
	clock               *clock
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
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

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var admin = app.Principal{ID: "admin", Name: "admin", Role: app.RoleAdmin}

// startKyso serves p's agency; agentURL is where the pages find the agent.
func startKyso(t *testing.T, p *testpki.TestPKI, agentURL string) *kyso {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	k := &kyso{pki: p, clock: &clock{t: time.Now()}}
	st, err := store.Open(ctx, store.Config{DSN: filepath.Join(dir, "kyso.db"), BlobDir: filepath.Join(dir, "blobs")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	org, err := hsm.NewSoftwareDemoKey(p.Org.Key, p.Org.ChainWithLeaf()...)
	if err != nil {
		t.Fatal(err)
	}
	sk, err := st.CreateKey(ctx, store.SigningKey{Label: "org", URI: "softkey:demo", Owner: "clerk"}, "admin")
	if err != nil {
		t.Fatal(err)
	}
	k.svc = &app.Service{
		Store: st,
		Keys: map[string]*app.ServerKey{
			"org": {Name: "org", Key: org, StoreID: sk.ID, URI: "softkey:demo", Allowed: []string{"role:clerk"}},
		},
		Verify:  verify.Options{Anchors: []*x509.Certificate{p.Root.Cert}, Revocation: &pki.Checker{}},
		TempDir: t.TempDir(),
	}
	if _, err := k.svc.ImportAgencies(ctx, admin, strings.NewReader("code,name,parent_code,valid_from,valid_to\n"+
		testpki.OrgCode+","+testpki.OrgName+",,2020-01-01,\n")); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		into *app.Principal
		key  *string
		nc   app.NewClient
	}{
		{&k.leader, &k.leaderKey, app.NewClient{Name: "Nguyễn Văn Lãnh Đạo", Role: app.RoleLeader, Agencies: []string{testpki.OrgCode}, Certificates: []*x509.Certificate{p.Leader.Cert}}},
		{&k.clerk, &k.clerkKey, app.NewClient{Name: "Trần Thị Văn Thư", Role: app.RoleClerk, Agencies: []string{testpki.OrgCode}}},
	} {
		key, hash := api.NewAPIKey()
		*c.key = key
		if *c.into, err = k.svc.RegisterClient(ctx, admin, c.nc, hash); err != nil {
			t.Fatal(err)
		}
	}
	cfg := config.Default()
	cfg.Server.MaxUpload = 8 * config.MiB
	srv, err := api.New(api.Options{Config: &cfg, Logger: slog.New(slog.NewTextHandler(&k.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Clock: k.clock.Now, TempDir: t.TempDir(), Clients: k.svc, Documents: k.svc, Keys: k.svc, Issuer: k.svc,
		Signatures: k.svc, Registers: k.svc, Office: k.svc, OfficeAgentURL: agentURL})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	k.url = hs.URL
	return k
}

// person is a browser without JavaScript: a cookie jar, no redirects followed, the
// Origin a browser sends.
type person struct {
	t    *testing.T
	k    *kyso
	c    *http.Client
	csrf string
}

func (k *kyso) person(t *testing.T) *person {
	jar, _ := cookiejar.New(nil)
	return &person{t: t, k: k, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (p *person) do(req *http.Request) (*http.Response, string) {
	p.t.Helper()
	resp, err := p.c.Do(req)
	if err != nil {
		p.t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	body := b.String()
	if i := strings.Index(body, `name="csrf" value="`); i >= 0 {
		rest := body[i+len(`name="csrf" value="`):]
		p.csrf = rest[:strings.IndexByte(rest, '"')]
	}
	return resp, body
}

func (p *person) get(path string) (*http.Response, string) {
	p.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, p.k.url+path, nil)
	return p.do(req)
}

func (p *person) postForm(path string, v url.Values) (*http.Response, string) {
	p.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, p.k.url+path, strings.NewReader(v.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", p.k.url)
	return p.do(req)
}

// part is a multipart field; with a filename, a file.
type part struct{ name, filename, value string }

func (p *person) postMultipart(path, origin string, parts ...part) (*http.Response, string) {
	p.t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	for _, f := range parts {
		if f.filename != "" {
			w, _ := mw.CreateFormFile(f.name, f.filename)
			_, _ = w.Write([]byte(f.value))
		} else {
			_ = mw.WriteField(f.name, f.value)
		}
	}
	_ = mw.Close()
	req, _ := http.NewRequest(http.MethodPost, p.k.url+path, &b)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	return p.do(req)
}

func (p *person) signIn(key string) *http.Response {
	p.t.Helper()
	resp, body := p.postForm("/van-phong/dang-nhap", url.Values{"key": {key}})
	if resp.StatusCode != http.StatusSeeOther {
		p.t.Fatalf("sign-in: %s\n%s", resp.Status, body)
	}
	p.get("/van-phong/van-ban") // the forms' CSRF token
	return resp
}

func appQuery() app.DocumentQuery { return app.DocumentQuery{} }

func mustID(t *testing.T, s string) int64 {
	t.Helper()
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
