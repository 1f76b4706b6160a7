package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kyso-vn/kyso/api"
	"github.com/kyso-vn/kyso/app"
	"github.com/kyso-vn/kyso/internal/testenv"
	"github.com/kyso-vn/kyso/pkg/fault"
)

// TestErrorKindsOnEverySurface: every fault kind has one rendering per surface — the
// problem type and status of the API, the exit code and message of the CLI — and the
// detail written where the refusal happened reaches both unchanged.
func TestErrorKindsOnEverySurface(t *testing.T) {
	cases := []struct {
		kind    fault.Kind
		code    string // the fault's Code, "" for none
		status  int
		problem string
		exit    int
	}{
		{fault.Internal, "", 500, "internal", 1},
		{fault.Invalid, "", 400, "invalid-request", 2},
		{fault.BadDocument, "", 422, "invalid-document", 1},
		{fault.TooLarge, "", 413, "upload-too-large", 2},
		{fault.TooLarge, "limit/revisions", 422, "limit-exceeded", 2},
		{fault.Unauthenticated, "", 401, "unauthenticated", 1},
		{fault.Forbidden, "", 403, "forbidden", 1},
		{fault.NotFound, "", 404, "not-found", 1},
		{fault.Conflict, "", 409, "conflict", 1},
		{fault.Expired, "", 410, "expired", 1},
		{fault.Unavailable, "", 503, "upstream-unavailable", 1},
		{fault.RateLimited, "", 429, "rate-limited", 1},
		{fault.Timeout, "", 503, "timeout", 1},
		{fault.Canceled, "", 500, "internal", 1},
		{fault.NotImplemented, "", 501, "not-implemented", 2},
		{fault.Forbidden, app.CodeKeyNotGranted, 403, "key-not-granted", 1},
		{fault.Unavailable, app.CodeKeyUnavailable, 503, "key-unavailable", 1},
		{fault.BadDocument, app.CodeNotVerified, 422, "invalid-document", 1},
	}
	seen := map[fault.Kind]bool{}
	for _, c := range cases {
		seen[c.kind] = true
		detail := fmt.Sprintf("the %s refusal of document 5", c.kind)
		err := fault.WithCode(fault.New(c.kind, detail), c.code)
		// However the layers between wrap it, it renders the same.
		for _, e := range []error{err, fmt.Errorf("docs issue: %w", err), &exitErrorless{err}} {
			p := api.ProblemFor(e)
			if p.Status != c.status || p.Type != api.ProblemBase+c.problem || p.Title == "" {
				t.Errorf("%s/%s (%T): problem %d %s, want %d %s", c.kind, c.code, e, p.Status, p.Type, c.status, c.problem)
			}
			wantDetail := detail
			if c.kind == fault.Internal || c.kind == fault.Canceled {
				wantDetail = "The failure has been logged under this request id; quote it to the operator."
			}
			if p.Detail != wantDetail {
				t.Errorf("%s/%s: API detail %q, want %q", c.kind, c.code, p.Detail, wantDetail)
			}
			if got := exitCode(e); got != c.exit {
				t.Errorf("%s/%s: exit %d, want %d", c.kind, c.code, got, c.exit)
			}
			if got := errorMessage(e); got != detail {
				t.Errorf("%s/%s: CLI says %q, want %q", c.kind, c.code, got, detail)
			}
			for _, l := range langs {
				var out bytes.Buffer
				if code := report(&out, l, e); code != c.exit || out.String() != "kyso: "+headline(l, c.kind)+": "+detail+"\n" {
					t.Errorf("%s/%s: report %d %q", c.kind, c.code, code, out.String())
				}
			}
		}
	}
	for _, k := range fault.Kinds() {
		if !seen[k] {
			t.Errorf("kind %s has no row", k)
		}
	}
	// An internal error's text stays in the log on the API, and is the operator's own on
	// the command line.
	boom := fmt.Errorf("driver said: password authentication failed")
	if p := api.ProblemFor(boom); p.Status != 500 || strings.Contains(p.Detail, "password") {
		t.Errorf("internal error rendered %+v", p)
	}
	if exitCode(boom) != 2 || errorMessage(boom) != boom.Error() {
		t.Errorf("a plain error (cobra's usage errors): exit %d, %q", exitCode(boom), errorMessage(boom))
	}
	// A command's own code (kyso verify's 3, INDETERMINATE) wins over the kind's.
	if got := exitCode(&exitError{code: 3, err: fault.New(fault.BadDocument, "x")}); got != 3 {
		t.Errorf("exitError code: %d", got)
	}
}

// exitErrorless wraps without adding text, as cobra and errors.Join-like wrappers do.
type exitErrorless struct{ err error }

func (e *exitErrorless) Error() string { return e.err.Error() }
func (e *exitErrorless) Unwrap() error { return e.err }

// TestRefusalsReadTheSameOnEverySurface drives real refusals through `kyso serve` and
// through the CLI on the same store: the detail a client gets in the problem is the
// message the person at the terminal gets.
func TestRefusalsReadTheSameOnEverySurface(t *testing.T) {
	corpus := testenv.CorpusDir(t)
	pkiDir := testenv.TestPKIDir()
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	cfg := fmt.Sprintf(`
store:
  data_dir: %q
keys:
  - name: org
    uri: %q
    certificate: %q
    chain: [%q]
    allowed: ["role:clerk"]
trust:
  anchors: [%q]
revocation:
  offline: true
`, data, "softkey:path="+filepath.Join(pkiDir, "org.key"), filepath.Join(pkiDir, "org.pem"), filepath.Join(pkiDir, "chain.pem"),
		filepath.Join(pkiDir, "root-ca.pem"))
	cfgPath := filepath.Join(dir, "kyso.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	rs := startServe(t, cfgPath, map[string]string{})
	admin := adminKeyLine.FindStringSubmatch(rs.stdout.String())[1]
	draft, err := os.ReadFile(filepath.Join(corpus, "plain/lo-writer-trivial.pdf"))
	if err != nil {
		t.Fatal(err)
	}
	problem := func(status int) func(*http.Response, []byte) api.Problem {
		return func(resp *http.Response, body []byte) api.Problem {
			t.Helper()
			var p api.Problem
			if err := json.Unmarshal(body, &p); err != nil || resp.StatusCode != status || p.Status != status {
				t.Fatalf("want a %d problem, got %d %s", status, resp.StatusCode, body)
			}
			return p
		}
	}
	cli := func(wantExit int, args ...string) (stderr, msg string) {
		t.Helper()
		_, errOut, err := runKyso(t, append(args, "--data-dir", data)...)
		if got := exitCode(err); got != wantExit {
			t.Fatalf("kyso %s: exit %d (%v), want %d", strings.Join(args, " "), got, err, wantExit)
		}
		if err != nil {
			msg = errorMessage(err)
		}
		return errOut, msg
	}

	// A missing document.
	p := problem(404)(rs.call(t, "GET", "/v1/documents/99", admin, "", nil))
	if _, msg := cli(1, "docs", "get", "99"); msg != p.Detail || p.Detail != "no document 99" {
		t.Errorf("missing document: API %q, CLI %q", p.Detail, msg)
	}

	// An invalid option: an agency code that is not one.
	p = problem(400)(rs.call(t, "POST", "/v1/documents?agency=not%20a%20code&symbol=UBND-VP", admin, "application/pdf", bytes.NewReader(draft)))
	file := filepath.Join(corpus, "plain/lo-writer-trivial.pdf")
	if stderr, _ := cli(1, "docs", "import", "--direction", "outgoing", "--agency", "not a code", "--number", "UBND-VP", "--actor", "chuyên viên", file); !strings.Contains(stderr, file+": "+p.Detail+"\n") || p.Detail == "" {
		t.Errorf("invalid agency: API %q, CLI %q", p.Detail, stderr)
	}
	t.Logf("invalid agency: %s", p.Detail)

	// Issuing a draft, which only an approved document may be.
	resp, body := rs.call(t, "POST", "/v1/documents?agency=000.00.00.H43&symbol=UBND-VP", admin, "application/pdf", bytes.NewReader(draft))
	if resp.StatusCode != 201 {
		t.Fatalf("draft: %d %s", resp.StatusCode, body)
	}
	var doc struct{ ID int64 }
	_ = json.Unmarshal(body, &doc)
	// Only a clerk of the agency issues: the same client over the API and the CLI (--as).
	resp, body = rs.call(t, "POST", "/v1/clients", admin, "application/json", strings.NewReader(`{"name":"van-thu","role":"clerk","agencies":["000.00.00.H43"]}`))
	var clerk struct {
		ID     string `json:"id"`
		APIKey string `json:"api_key"`
	}
	if err := json.Unmarshal(body, &clerk); err != nil || resp.StatusCode != 201 {
		t.Fatalf("clerk: %d %s", resp.StatusCode, body)
	}
	p = problem(409)(rs.call(t, "POST", fmt.Sprintf("/v1/documents/%d/issue", doc.ID), clerk.APIKey, "application/json", strings.NewReader(`{"key":"org"}`)))
	_, msg := cli(1, "docs", "issue", fmt.Sprint(doc.ID), "--key", demoKeyURI(), "--chain", filepath.Join(pkiDir, "chain.pem"),
		"--as", clerk.ID, "--actor", "văn thư", "--trust", filepath.Join(pkiDir, "root-ca.pem"))
	if want := fmt.Sprintf("document %d is draft; only an approved document is issued", doc.ID); p.Detail != want || msg != want {
		t.Errorf("issuing a draft: API %q, CLI %q, want %q", p.Detail, msg, want)
	}
}
