package api

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kyso-vn/kyso/app"
	"github.com/kyso-vn/kyso/pkg/config"
	"github.com/kyso-vn/kyso/pkg/fault"
	"github.com/kyso-vn/kyso/signer/verify"
)

const tinyPDF = "%PDF-1.7\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"

func TestHealthz(t *testing.T) {
	ts := startServer(t, nil)
	resp := ts.do("GET", "/healthz", "", "", nil)
	if resp.StatusCode != 200 || !strings.Contains(string(readAll(t, resp)), `"ok"`) {
		t.Fatalf("healthz: %d", resp.StatusCode)
	}
}

func TestReadyz(t *testing.T) {
	var hsmDown bool
	ts := startServer(t, func(c *config.Config, o *Options) {
		c.Server.ReadyInterval = time.Nanosecond // each call checks (see TestReadyzCaches)
		o.Checks = append(o.Checks, Check{Name: "key:org", Key: "org", Readiness: checkFunc(func(context.Context) error {
			if hsmDown {
				return errors.New("pkcs11: C_OpenSession: CKR_TOKEN_NOT_PRESENT at /usr/lib/softhsm/libsofthsm2.so")
			}
			return nil
		})})
	})
	admin := ts.keyFor[RoleAdmin] // names the checks (see TestReadyzNamesNoKeys)
	resp := ts.do("GET", "/readyz", admin, "", nil)
	body := string(readAll(t, resp))
	if resp.StatusCode != 200 || !strings.Contains(body, `"key:org":"ok"`) || !strings.Contains(body, `"store":"ok"`) {
		t.Fatalf("ready: %d %s", resp.StatusCode, body)
	}

	hsmDown = true
	resp = ts.do("GET", "/readyz", admin, "", nil)
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("with the HSM down: %d", resp.StatusCode)
	}
	p := problemOf(t, resp)
	if p.Type != ProblemBase+"not-ready" || !strings.Contains(p.Detail, "key:org") || strings.Contains(p.Detail, "store") {
		t.Errorf("problem %+v should name the failing check only", p)
	}
	if strings.Contains(p.Detail, "softhsm") || strings.Contains(p.Detail, "CKR_") {
		t.Errorf("internal cause leaked: %q", p.Detail)
	}
	if !strings.Contains(ts.logs.String(), "CKR_TOKEN_NOT_PRESENT") {
		t.Error("the cause should be in the log")
	}
	metrics := string(readAll(t, ts.do("GET", "/metrics", "", "", nil)))
	if !strings.Contains(metrics, `kyso_key_provider_errors_total{key="org"} 1`) {
		t.Error("a failed key readiness check is not counted as a key-provider error")
	}
}

func TestMetricsExposesCounters(t *testing.T) {
	ts := startServer(t, nil)
	ts.do("GET", "/healthz", "", "", nil)
	ts.do("GET", "/healthz", "", "", nil)
	ts.do("GET", "/no/such/thing/"+strings.Repeat("x", 20), "", "", nil)
	resp := ts.do("POST", "/v1/sign?key=org", ts.keyFor[RoleClerk], "application/pdf", strings.NewReader(tinyPDF))
	if resp.StatusCode != 200 {
		t.Fatalf("sign: %d", resp.StatusCode)
	}
	body := string(readAll(t, ts.do("GET", "/metrics", "", "", nil)))
	for _, want := range []string{
		`kyso_http_requests_total{method="GET",route="/healthz",status="200"} 2`,
		`kyso_http_requests_total{method="GET",route="unmatched",status="404"} 1`,
		`kyso_http_requests_total{method="POST",route="/v1/sign",status="200"} 1`,
		`kyso_http_request_duration_seconds_bucket{method="GET",route="/healthz",le="0.005"}`,
		`kyso_http_request_duration_seconds_count{method="POST",route="/v1/sign"} 1`,
		`kyso_signatures_total{key="org"} 1`,
		`kyso_signatures_total{key="personal"} 0`,
		`kyso_key_provider_errors_total{key="org"} 0`,
		`kyso_http_requests_in_flight 1`,
		`go_memstats_heap_inuse_bytes`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if strings.Contains(body, "xxxxxxxx") {
		t.Error("an unmatched path became a label")
	}
}

func TestProblems(t *testing.T) {
	ts := startServer(t, func(_ *config.Config, o *Options) { o.Verifier = &pdfVerifier{} })
	admin, clerk := ts.keyFor[RoleAdmin], ts.keyFor[RoleClerk]
	big := strings.Repeat("A", 1<<20+1)
	cases := []struct {
		name, method, path, key, ctype string
		body                           io.Reader
		status                         int
		typ                            string
		detail                         string
	}{
		{"unknown route", "GET", "/v2/nothing", "", "", nil, 404, "not-found", "openapi.json"},
		{"wrong method", "PUT", "/v1/keys", admin, "", nil, 405, "method-not-allowed", "PUT"},
		{"bad json", "POST", "/v1/clients", admin, "application/json", strings.NewReader(`{"name": "dms",`), 400, "invalid-json", ""},
		{"not json at all", "POST", "/v1/clients", admin, "application/json", strings.NewReader(`name=dms`), 400, "invalid-json", "byte"},
		{"unknown json field", "POST", "/v1/clients", admin, "application/json", strings.NewReader(`{"name":"dms","role":"system","rolee":"admin"}`), 400, "invalid-request", `"rolee"`},
		{"wrong json type", "POST", "/v1/clients", admin, "application/json", strings.NewReader(`{"name":7,"role":"system"}`), 400, "invalid-request", `"name"`},
		{"trailing json", "POST", "/v1/clients", admin, "application/json", strings.NewReader(`{"name":"a","role":"system"}{}`), 400, "invalid-json", ""},
		{"json as form", "POST", "/v1/clients", admin, "application/x-www-form-urlencoded", strings.NewReader(`name=a`), 415, "unsupported-media-type", ""},
		{"public role refused", "POST", "/v1/clients", admin, "application/json", strings.NewReader(`{"name":"x","role":"public"}`), 400, "invalid-request", "role"},
		{"oversized upload", "POST", "/v1/verify", "", "application/pdf", strings.NewReader(big), 413, "upload-too-large", "1048576"},
		{"oversized sign", "POST", "/v1/sign?key=org", clerk, "application/pdf", strings.NewReader(big), 413, "upload-too-large", ""},
		{"empty upload", "POST", "/v1/verify", "", "application/pdf", strings.NewReader(""), 400, "invalid-request", "empty"},
		{"json to upload", "POST", "/v1/verify", "", "application/json", strings.NewReader(`{}`), 415, "unsupported-media-type", ""},
		{"non-pdf", "POST", "/v1/verify", "", "application/pdf", strings.NewReader("hello"), 422, "invalid-document", "not a PDF"},
		{"missing key", "GET", "/v1/keys", "", "", nil, 401, "unauthenticated", "API key"},
		{"wrong key", "GET", "/v1/keys", "kyso_" + strings.Repeat("A", 43), "", nil, 401, "unauthenticated", "unknown or has been revoked"},
		{"malformed key", "GET", "/v1/keys", "sk_live_123", "", nil, 401, "unauthenticated", "Bearer kyso_"},
		{"wrong role", "POST", "/v1/clients", clerk, "application/json", strings.NewReader(`{"name":"x","role":"admin"}`), 403, "forbidden", "clerk"},
		{"not granted", "POST", "/v1/sign?key=personal", clerk, "application/pdf", strings.NewReader(tinyPDF), 403, "key-not-granted", "personal"},
		{"no such key", "POST", "/v1/sign?key=ghost", clerk, "application/pdf", strings.NewReader(tinyPDF), 403, "key-not-granted", "ghost"},
		{"unknown sign option", "POST", "/v1/sign?key=org&levl=B-T", clerk, "application/pdf", strings.NewReader(tinyPDF), 400, "invalid-request", `"levl"`},
		{"bad level", "POST", "/v1/sign?key=org&level=B-Z", clerk, "application/pdf", strings.NewReader(tinyPDF), 400, "invalid-request", "level"},
		{"no key option", "POST", "/v1/sign", clerk, "application/pdf", strings.NewReader(tinyPDF), 400, "invalid-request", "required"},
		{"bad page", "POST", "/v1/sign?key=org&page=-1", clerk, "application/pdf", strings.NewReader(tinyPDF), 400, "invalid-request", `"page"`},
		{"twice", "POST", "/v1/sign?key=org&key=personal", clerk, "application/pdf", strings.NewReader(tinyPDF), 400, "invalid-request", "more than once"},
		{"bad store flag", "POST", "/v1/sign?key=org&store=maybe", clerk, "application/pdf", strings.NewReader(tinyPDF), 400, "invalid-request", `"store"`},
		{"not implemented", "GET", "/v1/stats", admin, "", nil, 501, "not-implemented", ""},
		{"revoke unknown", "DELETE", "/v1/clients/c999", admin, "", nil, 404, "not-found", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp := ts.do(c.method, c.path, c.key, c.ctype, c.body)
			if resp.StatusCode != c.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, c.status)
			}
			p := problemOf(t, resp)
			if p.Type != ProblemBase+c.typ {
				t.Errorf("type %q, want %s", p.Type, c.typ)
			}
			if !strings.Contains(p.Detail, c.detail) {
				t.Errorf("detail %q lacks %q", p.Detail, c.detail)
			}
			if c.status == 401 && resp.Header.Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
			if c.status == 405 && !strings.Contains(resp.Header.Get("Allow"), "GET") {
				t.Errorf("Allow = %q", resp.Header.Get("Allow"))
			}
		})
	}
	if n := ts.signer.calls; n != 0 {
		t.Errorf("the signer was called %d times by refused requests", n)
	}
	assertNoTempFiles(t, ts.tempDir)
}

// TestOversizedUploadStreaming: without a Content-Length (chunked) and inside a
// multipart body, the limit is enforced while the bytes stream in.
func TestOversizedUploadStreaming(t *testing.T) {
	ts := startServer(t, nil)
	limit := 1 << 20
	cases := []struct {
		name  string
		body  func() (io.Reader, string)
		sizes int
	}{
		{"chunked raw", func() (io.Reader, string) {
			return io.MultiReader(strings.NewReader("%PDF-"), io.LimitReader(zeros{}, int64(limit))), "application/pdf"
		}, 413},
		{"multipart", func() (io.Reader, string) {
			var buf bytes.Buffer
			mw := multipart.NewWriter(&buf)
			fw, _ := mw.CreateFormFile("file", "big.pdf")
			fw.Write([]byte("%PDF-"))
			fw.Write(make([]byte, limit))
			mw.Close()
			return &buf, mw.FormDataContentType()
		}, 413},
		{"multipart at the limit", func() (io.Reader, string) {
			var buf bytes.Buffer
			mw := multipart.NewWriter(&buf)
			fw, _ := mw.CreateFormFile("file", "ok.pdf")
			fw.Write([]byte("%PDF-"))
			fw.Write(make([]byte, limit-5))
			mw.Close()
			return &buf, mw.FormDataContentType()
		}, 200},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			body, ct := c.body()
			if _, isBuf := body.(*bytes.Buffer); !isBuf {
				body = struct{ io.Reader }{body} // hides the length: sent chunked
			}
			resp := ts.do("POST", "/v1/verify", "", ct, body)
			if resp.StatusCode != c.sizes {
				t.Fatalf("status %d, want %d", resp.StatusCode, c.sizes)
			}
			if c.sizes == 413 {
				problemOf(t, resp)
			}
		})
	}
	assertNoTempFiles(t, ts.tempDir)
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

func assertNoTempFiles(t *testing.T, dir string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		t.Errorf("temporary file left behind: %s", e.Name())
	}
}

func TestRequestIDEchoed(t *testing.T) {
	ts := startServer(t, nil)
	hex32 := regexp.MustCompile(`^[0-9a-f]{32}$`)
	cases := []struct {
		name, sent string
		kept       bool
	}{
		{"none", "", false},
		{"sane", "dms-7f3a.42:retry-1", true},
		{"too long", strings.Repeat("a", 129), false},
		{"odd bytes", "abc def", false},
		{"injection", "x\",\"level\":\"ERROR", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var hdr []string
			if c.sent != "" {
				hdr = []string{HeaderRequestID, c.sent}
			}
			for _, path := range []string{"/healthz", "/v1/keys"} { // a success and a problem
				resp := ts.do("GET", path, "", "", nil, hdr...)
				got := resp.Header.Get(HeaderRequestID)
				if c.kept && got != c.sent || !c.kept && !hex32.MatchString(got) {
					t.Errorf("%s: sent %q, got %q", path, c.sent, got)
				}
				if !strings.Contains(ts.logs.String(), `"request_id":"`+got+`"`) {
					t.Errorf("%s: log has no line with request id %s", path, got)
				}
			}
		})
	}
	// Every log line written while serving a request carries its id.
	for _, line := range strings.Split(strings.TrimSpace(ts.logs.String()), "\n") {
		if strings.Contains(line, `"msg":"request"`) && !strings.Contains(line, `"request_id"`) {
			t.Errorf("request log line without id: %s", line)
		}
	}
}

func TestPanicIsA500WithoutDetail(t *testing.T) {
	ts := startServer(t, nil)
	ts.signer.panic = true
	resp := ts.do("POST", "/v1/sign?key=org", ts.keyFor[RoleClerk], "application/pdf", strings.NewReader(tinyPDF))
	if resp.StatusCode != 500 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	p := problemOf(t, resp)
	if p.Type != ProblemBase+"internal" || strings.Contains(p.Detail, "deadbeef") || strings.Contains(p.Detail, "exploded") {
		t.Errorf("problem %+v", p)
	}
	if logs := ts.logs.String(); !strings.Contains(logs, "deadbeef") || !strings.Contains(logs, p.Instance) {
		t.Error("the panic and its request id should be logged")
	}
	if ts.do("GET", "/healthz", "", "", nil).StatusCode != 200 {
		t.Error("server unhealthy after a panic")
	}
}

func TestServiceErrorsHideCauses(t *testing.T) {
	cases := []struct {
		err    error
		status int
		typ    string
		metric string
	}{
		{errBoom, 500, "internal", `kyso_key_provider_errors_total{key="org"} 0`},
		{fault.WithCode(fault.New(fault.Unavailable, "The HSM does not answer."), app.CodeKeyUnavailable), 503, "key-unavailable", `kyso_key_provider_errors_total{key="org"} 1`},
		{fault.New(fault.BadDocument, "The PDF has no cross-reference table."), 422, "invalid-document", `kyso_signatures_total{key="org"} 0`},
	}
	for _, c := range cases {
		t.Run(c.typ, func(t *testing.T) {
			ts := startServer(t, nil)
			ts.signer.fail = c.err
			resp := ts.do("POST", "/v1/sign?key=org", ts.keyFor[RoleClerk], "application/pdf", strings.NewReader(tinyPDF))
			if resp.StatusCode != c.status {
				t.Fatalf("status %d", resp.StatusCode)
			}
			p := problemOf(t, resp)
			if p.Type != ProblemBase+c.typ || strings.Contains(p.Detail, "password") {
				t.Errorf("problem %+v", p)
			}
			if !strings.Contains(string(readAll(t, ts.do("GET", "/metrics", "", "", nil))), c.metric) {
				t.Errorf("metrics lack %s", c.metric)
			}
		})
	}
}

func TestSignReturnsWhatTheServiceSigned(t *testing.T) {
	ts := startServer(t, nil)
	doc := tinyPDF + strings.Repeat("stream data ", 1000)
	want := sha256.Sum256([]byte(doc))

	var mp bytes.Buffer
	mw := multipart.NewWriter(&mp)
	fw, _ := mw.CreateFormFile("file", "Quyết định 05.pdf")
	fw.Write([]byte(doc))
	mw.Close()

	cases := []struct {
		name, ctype string
		body        io.Reader
		filename    string
	}{
		{"raw", "application/pdf", strings.NewReader(doc), "document.p7s"},
		{"multipart", mw.FormDataContentType(), &mp, ".p7s"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp := ts.do("POST", "/v1/sign?key=org&format=cades&level=B-B&reason=approve", ts.keyFor[RoleClerk], c.ctype, c.body)
			sig := readAll(t, resp)
			if resp.StatusCode != 200 {
				t.Fatalf("status %d: %s", resp.StatusCode, sig)
			}
			if !ecdsa.VerifyASN1(&ts.signer.key.PublicKey, want[:], sig) {
				t.Fatal("the returned signature is not over the uploaded bytes")
			}
			if cd := resp.Header.Get("Content-Disposition"); !strings.Contains(cd, c.filename) {
				t.Errorf("Content-Disposition %q", cd)
			}
		})
	}
	resp := ts.do("POST", "/v1/sign?key=org&store=true&agency=000.00.00.H43", ts.keyFor[RoleSystem], "application/pdf", strings.NewReader(doc))
	if resp.StatusCode != 201 || !strings.Contains(string(readAll(t, resp)), `"id":41,`) || resp.Header.Get("Location") != "/v1/documents/41" {
		t.Errorf("store=true: %d", resp.StatusCode)
	}
	assertNoTempFiles(t, ts.tempDir)
}

func TestClientLifecycle(t *testing.T) {
	ts := startServer(t, nil)
	resp := ts.do("POST", "/v1/clients", ts.keyFor[RoleAdmin], "application/json", strings.NewReader(`{"name":"Phần mềm QLVB","role":"system"}`))
	if resp.StatusCode != 201 || resp.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("create: %d", resp.StatusCode)
	}
	var created struct {
		ID, Name, Role string
		APIKey         string `json:"api_key"`
	}
	if err := json.Unmarshal(readAll(t, resp), &created); err != nil {
		t.Fatal(err)
	}
	if !apiKeyShape.MatchString(created.APIKey) || created.Role != "system" {
		t.Fatalf("created %+v", created)
	}
	if ts.do("GET", "/v1/keys", created.APIKey, "", nil).StatusCode != 200 {
		t.Fatal("the new key does not authenticate")
	}
	if r := ts.do("DELETE", "/v1/clients/"+created.ID, ts.keyFor[RoleAdmin], "", nil); r.StatusCode != 204 {
		t.Fatalf("revoke: %d", r.StatusCode)
	}
	resp = ts.do("GET", "/v1/keys", created.APIKey, "", nil)
	if resp.StatusCode != 401 || !strings.Contains(problemOf(t, resp).Detail, "revoked") {
		t.Fatalf("revoked key: %d", resp.StatusCode)
	}
	// A revoked key does not fall back to the public, even where the public is allowed.
	if r := ts.do("POST", "/v1/verify", created.APIKey, "application/pdf", strings.NewReader(tinyPDF)); r.StatusCode != 401 {
		t.Errorf("revoked key on verify: %d", r.StatusCode)
	}
}

func TestListKeys(t *testing.T) {
	ts := startServer(t, nil)
	cases := []struct {
		role        Role
		want        string
		showAllowed bool
	}{
		{RoleAdmin, "org,personal", true},
		{RoleClerk, "org", false},
		{RoleSystem, "org", false},
		{RoleLeader, "personal", false},
	}
	for _, c := range cases {
		resp := ts.do("GET", "/v1/keys", ts.keyFor[c.role], "", nil)
		var got struct{ Keys []keyView }
		if err := json.Unmarshal(readAll(t, resp), &got); err != nil {
			t.Fatal(err)
		}
		var names []string
		shown := false
		for _, k := range got.Keys {
			names = append(names, k.Name)
			shown = shown || len(k.Allowed) > 0
		}
		if strings.Join(names, ",") != c.want || shown != c.showAllowed {
			t.Errorf("%s sees %v (grants shown %v), want %s (%v)", c.role, names, shown, c.want, c.showAllowed)
		}
	}
}

// TestPublicVerifyRateLimited: the public gets rate_limit.public_verify_per_minute per
// address; another loopback address has its own bucket and API clients are not limited.
func TestPublicVerifyRateLimited(t *testing.T) {
	now := time.Date(2026, 3, 5, 7, 30, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	ts := startServer(t, func(c *config.Config, o *Options) {
		c.RateLimit.PublicVerifyPerMinute = 3
		o.Clock = clock
	})
	verify := func(client *http.Client, key string) *http.Response {
		req, _ := http.NewRequest("POST", ts.base+"/v1/verify", strings.NewReader(tinyPDF))
		req.Header.Set("Content-Type", "application/pdf")
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}
	for i := range 3 {
		if r := verify(http.DefaultClient, ""); r.StatusCode != 200 {
			t.Fatalf("request %d: %d", i+1, r.StatusCode)
		}
	}
	resp := verify(http.DefaultClient, "")
	if resp.StatusCode != 429 {
		t.Fatalf("4th request: %d", resp.StatusCode)
	}
	if p := problemOf(t, resp); p.Type != ProblemBase+"rate-limited" || resp.Header.Get("Retry-After") != "20" {
		t.Errorf("problem %+v, Retry-After %q", p, resp.Header.Get("Retry-After"))
	}
	if r := verify(http.DefaultClient, ts.keyFor[RoleSystem]); r.StatusCode != 200 {
		t.Errorf("an API client was limited: %d", r.StatusCode)
	}
	other := &http.Client{Transport: &http.Transport{DialContext: (&net.Dialer{
		LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")},
	}).DialContext}}
	if r := verify(other, ""); r.StatusCode != 200 {
		t.Errorf("127.0.0.2 shares 127.0.0.1's bucket: %d", r.StatusCode)
	}
	// A forged X-Forwarded-For does not buy a new bucket: no proxy is trusted.
	req, _ := http.NewRequest("POST", ts.base+"/v1/verify", strings.NewReader(tinyPDF))
	req.Header.Set("Content-Type", "application/pdf")
	req.Header.Set("X-Forwarded-For", "203.0.113.9")
	if r, err := http.DefaultClient.Do(req); err != nil || r.StatusCode != 429 {
		t.Errorf("X-Forwarded-For dodged the limit: %v %v", r.StatusCode, err)
	} else {
		r.Body.Close()
	}
}

func TestGracefulShutdownFinishesInFlight(t *testing.T) {
	v := &pdfVerifier{entered: make(chan struct{}), release: make(chan struct{})}
	ts := startServer(t, func(_ *config.Config, o *Options) { o.Verifier = v })
	type result struct {
		status int
		body   string
		err    error
	}
	got := make(chan result, 1)
	go func() {
		resp, err := http.Post(ts.base+"/v1/verify", "application/pdf", strings.NewReader(tinyPDF))
		if err != nil {
			got <- result{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		got <- result{resp.StatusCode, string(b), err}
	}()
	<-v.entered // the request is inside the service
	ts.stop()   // as SIGTERM does
	// New connections are refused once shutdown has begun.
	deadline := time.Now().Add(2 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", strings.TrimPrefix(ts.base, "http://"), 100*time.Millisecond)
		if err != nil {
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("still accepting connections during shutdown")
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond) // the slow request is still running
	close(v.release)
	r := <-got
	if r.err != nil || r.status != 200 || !strings.Contains(r.body, "TOTAL_FAILED") {
		t.Fatalf("in-flight request: %d %q %v", r.status, r.body, r.err)
	}
	select {
	case err := <-ts.done:
		if err != nil {
			t.Fatalf("serve: %v", err)
		}
		ts.done <- nil // for the cleanup
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after the request finished")
	}
}

func TestShutdownGraceElapses(t *testing.T) {
	v := &pdfVerifier{entered: make(chan struct{}), release: make(chan struct{})}
	ts := startServer(t, func(c *config.Config, o *Options) {
		c.Server.ShutdownGrace = 100 * time.Millisecond
		o.Verifier = v
	})
	go func() {
		resp, err := http.Post(ts.base+"/v1/verify", "application/pdf", strings.NewReader(tinyPDF))
		if err == nil {
			resp.Body.Close()
		}
	}()
	<-v.entered
	ts.stop()
	err := <-ts.done
	close(v.release)
	if err == nil || !strings.Contains(err.Error(), "api: shutdown") {
		t.Fatalf("Serve = %v, want the grace to run out", err)
	}
	ts.done <- nil
}

// TestLogsHoldNoSecrets drives requests carrying API keys (valid, revoked, malformed),
// a document with a marker, a newly created client's key, and a failing request, and
// then searches the whole log for each secret.
func TestLogsHoldNoSecrets(t *testing.T) {
	ts := startServer(t, nil)
	clerk := ts.keyFor[RoleClerk]
	const marker = "CONFIDENTIAL-BODY-7d41"
	doc := tinyPDF + marker
	ts.do("POST", "/v1/sign?key=org&reason="+marker, clerk, "application/pdf", strings.NewReader(doc))
	ts.do("POST", "/v1/verify", clerk, "application/pdf", strings.NewReader(doc))
	ts.do("POST", "/v1/verify", "", "text/plain", strings.NewReader(marker))
	ts.do("GET", "/v1/keys", "kyso_"+strings.Repeat("Z", 43), "", nil)
	ts.do("GET", "/v1/keys", "", "", nil, "Authorization", "Basic dXNlcjpodW50ZXIy")
	resp := ts.do("POST", "/v1/clients", ts.keyFor[RoleAdmin], "application/json", strings.NewReader(`{"name":"dms","role":"system"}`))
	var created struct {
		APIKey string `json:"api_key"`
	}
	json.Unmarshal(readAll(t, resp), &created)
	ts.signer.fail = errBoom
	ts.do("POST", "/v1/sign?key=org", created.APIKey, "application/pdf", strings.NewReader(doc))

	logs := ts.logs.String()
	if !strings.Contains(logs, `"msg":"request"`) {
		t.Fatal("no access log captured")
	}
	secrets := map[string]string{
		"clerk key":              clerk,
		"clerk key hash":         HashAPIKey(clerk),
		"created key":            created.APIKey,
		"Authorization value":    "Bearer " + clerk,
		"wrong key":              strings.Repeat("Z", 43),
		"basic credentials":      "dXNlcjpodW50ZXIy",
		"document contents":      marker,
		"Authorization header":   "Authorization",
		"admin key":              ts.keyFor[RoleAdmin],
		"any kyso_ key material": "kyso_",
	}
	for name, s := range secrets {
		if strings.Contains(logs, s) {
			t.Errorf("log contains the %s", name)
		}
	}
}

type fixedStats struct{ asked []StatsQuery }

func (f *fixedStats) Stats(_ context.Context, _ Principal, q StatsQuery) (Stats, error) {
	f.asked = append(f.asked, q)
	return Stats{From: q.From.Format(time.DateOnly), To: q.To.Format(time.DateOnly),
		Incoming: app.DocumentCounts{Total: 494558}, Outgoing: app.DocumentCounts{Total: 167711}}, nil
}

func TestStats(t *testing.T) {
	src := &fixedStats{}
	now := time.Date(2026, 3, 5, 7, 30, 0, 0, time.UTC)
	ts := startServer(t, func(_ *config.Config, o *Options) {
		o.Stats = src
		o.Clock = func() time.Time { return now }
	})
	cases := []struct {
		query    string
		status   int
		from, to string
	}{
		{"", 200, "2026-01-01", "2026-12-31"},
		{"?year=2025", 200, "2025-01-01", "2025-12-31"},
		{"?from=2025-03-01&to=2025-03-31", 200, "2025-03-01", "2025-03-31"},
		{"?year=1800", 400, "", ""},
		{"?year=2028", 400, "", ""},
		{"?year=abc", 400, "", ""},
		{"?year=2025&year=2024", 400, "", ""},
		{"?yr=2025", 400, "", ""},
		{"?from=2025-03-01", 400, "", ""},
		{"?from=2025-03-01&to=31/03/2025", 400, "", ""},
		{"?year=2025&from=2025-03-01&to=2025-03-31", 400, "", ""},
	}
	for _, c := range cases {
		resp := ts.do("GET", "/v1/stats"+c.query, ts.keyFor[RoleLeader], "", nil)
		if resp.StatusCode != c.status {
			t.Fatalf("%q: %d", c.query, resp.StatusCode)
		}
		if c.status != 200 {
			problemOf(t, resp)
			continue
		}
		var got Stats
		if err := json.Unmarshal(readAll(t, resp), &got); err != nil || got.From != c.from || got.To != c.to || got.Incoming.Total != 494558 {
			t.Errorf("%q: %+v %v", c.query, got, err)
		}
	}
	if len(src.asked) != 3 {
		t.Errorf("the service was asked %v; refused requests must not reach it", src.asked)
	}
}

// ctxVerifier waits for its context to end and reports how long that took.
type ctxVerifier struct{ waited chan time.Duration }

func (v ctxVerifier) VerifyDocument(ctx context.Context, _ Document, _ time.Time) (*verify.Report, error) {
	start := time.Now()
	select {
	case <-ctx.Done():
		v.waited <- time.Since(start)
		return nil, ctx.Err()
	case <-time.After(10 * time.Second):
		v.waited <- time.Since(start)
		return nil, errors.New("the context never ended")
	}
}

// TestRequestContextEndsWithTheWriteTimeout: past server.write_timeout the answer can
// no longer be delivered, so the service's context ends and the work stops.
func TestRequestContextEndsWithTheWriteTimeout(t *testing.T) {
	v := ctxVerifier{waited: make(chan time.Duration, 1)}
	ts := startServer(t, func(c *config.Config, o *Options) {
		c.Server.WriteTimeout = 300 * time.Millisecond
		o.Verifier = v
	})
	go func() {
		resp, err := http.Post(ts.base+"/v1/verify", "application/pdf", strings.NewReader(tinyPDF))
		if err == nil {
			resp.Body.Close()
		}
	}()
	select {
	case d := <-v.waited:
		if d > 2*time.Second {
			t.Fatalf("the service's context ended after %v", d)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the service never returned")
	}
}

func TestVerifyNegotiatesHTML(t *testing.T) {
	ts := startServer(t, nil)
	cases := []struct {
		name, accept, query, ctype, inBody string
	}{
		{"curl", "*/*", "", "application/json", `"indication":"TOTAL_FAILED"`},
		{"json client", "application/json", "", "application/json", `"version":1`},
		{"browser", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", "", "text/html; charset=utf-8", "Chữ ký không hợp lệ"},
		{"browser in English", "text/html", "?lang=en", "text/html; charset=utf-8", "The signature is not valid"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp := ts.do("POST", "/v1/verify"+c.query, "", "application/pdf", strings.NewReader(tinyPDF), "Accept", c.accept)
			body := string(readAll(t, resp))
			if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), c.ctype) || !strings.Contains(body, c.inBody) {
				t.Fatalf("%d %q: %.300s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
			}
			if strings.HasPrefix(c.ctype, "text/html") && !strings.Contains(resp.Header.Get("Content-Security-Policy"), "default-src 'none'") {
				t.Error("HTML report without a content security policy")
			}
		})
	}
	resp := ts.do("POST", "/v1/verify?lang=fr", "", "application/pdf", strings.NewReader(tinyPDF))
	if resp.StatusCode != 400 {
		t.Errorf("lang=fr: %d", resp.StatusCode)
	}
}

// TestClientGoneIsNotAServerError: a client that gives up mid-request is logged at
// info and counted as 499, never as a 500 error.
func TestClientGoneIsNotAServerError(t *testing.T) {
	v := ctxVerifier{waited: make(chan time.Duration, 1)}
	ts := startServer(t, func(_ *config.Config, o *Options) { o.Verifier = v })
	client := &http.Client{Timeout: 200 * time.Millisecond}
	if resp, err := client.Post(ts.base+"/v1/verify", "application/pdf", strings.NewReader(tinyPDF)); err == nil {
		resp.Body.Close()
		t.Fatal("the request should have timed out on the client side")
	}
	<-v.waited
	deadline := time.Now().Add(2 * time.Second)
	for !strings.Contains(ts.logs.String(), `"status":499`) {
		if time.Now().After(deadline) {
			t.Fatalf("no 499 access log line:\n%s", ts.logs.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if strings.Contains(ts.logs.String(), `"level":"ERROR"`) {
		t.Errorf("a client going away was logged as an error:\n%s", ts.logs.String())
	}
	if !strings.Contains(string(readAll(t, ts.do("GET", "/metrics", "", "", nil))), `kyso_http_requests_total{method="POST",route="/v1/verify",status="499"} 1`) {
		t.Error("not counted as 499")
	}
}

func TestMounts(t *testing.T) {
	var gotPath string
	sub := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotPath = r.URL.Path
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"name":"Kyso"}`))
	})
	ts := startServer(t, func(_ *config.Config, o *Options) { o.Mounts = map[string]http.Handler{"/csc/v2": sub} })
	resp := ts.do("POST", "/csc/v2/info", "", "application/json", strings.NewReader(`{}`))
	if resp.StatusCode != 200 || gotPath != "/info" || resp.Header.Get(HeaderRequestID) == "" {
		t.Fatalf("mounted: %d path %q id %q", resp.StatusCode, gotPath, resp.Header.Get(HeaderRequestID))
	}
	if !strings.Contains(string(readAll(t, ts.do("GET", "/metrics", "", "", nil))), `route="/csc/v2/*rest",status="200"`) {
		t.Error("mounted requests are not counted")
	}
	for _, bad := range []string{"csc", "/csc/", "/v1/csc", "/", "/CSC"} {
		cfg := config.Default()
		if _, err := New(Options{Config: &cfg, Mounts: map[string]http.Handler{bad: sub}}); err == nil {
			t.Errorf("prefix %q accepted", bad)
		}
	}
}
