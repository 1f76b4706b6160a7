package api

import (
	"context"
	"strings"
	"testing"

	"github.com/kyso-vn/kyso/app"
	"github.com/kyso-vn/kyso/pkg/config"
	"github.com/kyso-vn/kyso/pkg/fault"
)

// failingIssuer issues every document, or fails with fail.
type failingIssuer struct{ fail error }

func (f *failingIssuer) IssueDocument(_ context.Context, _ Principal, id int64, _ IssueRequest) (DocumentRecord, error) {
	if f.fail != nil {
		return DocumentRecord{}, f.fail
	}
	return DocumentRecord{ID: id, Status: "issued"}, nil
}

// TestSigningRoutesShareKeyGrantAndCounting: POST /v1/sign and POST
// /v1/documents/{id}/issue answer a key that is not the caller's, or does not exist,
// the same way, and count signatures and key-provider failures per key the same way.
func TestSigningRoutesShareKeyGrantAndCounting(t *testing.T) {
	routes := []struct {
		name string
		do   func(ts *testServer, key string) (status int, body string)
	}{
		{"sign", func(ts *testServer, key string) (int, string) {
			resp := ts.do("POST", "/v1/sign?key="+key, ts.keyFor[RoleClerk], "application/pdf", strings.NewReader(tinyPDF))
			return resp.StatusCode, string(readAll(ts.t, resp))
		}},
		{"issue", func(ts *testServer, key string) (int, string) {
			resp := ts.do("POST", "/v1/documents/7/issue", ts.keyFor[RoleClerk], "application/json", strings.NewReader(`{"key":"`+key+`"}`))
			return resp.StatusCode, string(readAll(ts.t, resp))
		}},
	}
	cases := []struct {
		name    string
		key     string
		fail    error
		status  int
		problem string
		metrics []string
	}{
		{"granted", "org", nil, 0, "", []string{`kyso_signatures_total{key="org"} 1`, `kyso_key_provider_errors_total{key="org"} 0`}},
		{"someone else's key", "personal", nil, 403, "key-not-granted", []string{`kyso_signatures_total{key="personal"} 0`}},
		{"no such key", "ghost", nil, 403, "key-not-granted", []string{`kyso_signatures_total{key="org"} 0`}},
		{"key unavailable", "org", fault.WithCode(fault.New(fault.Unavailable, "The HSM does not answer."), app.CodeKeyUnavailable), 503, "key-unavailable",
			[]string{`kyso_signatures_total{key="org"} 0`, `kyso_key_provider_errors_total{key="org"} 1`}},
		{"other failure", "org", errBoom, 500, "internal",
			[]string{`kyso_signatures_total{key="org"} 0`, `kyso_key_provider_errors_total{key="org"} 0`}},
	}
	for _, r := range routes {
		for _, c := range cases {
			t.Run(r.name+"/"+c.name, func(t *testing.T) {
				issuer := &failingIssuer{fail: c.fail}
				ts := startServer(t, func(_ *config.Config, o *Options) { o.Issuer = issuer })
				ts.signer.fail = c.fail
				status, body := r.do(ts, c.key)
				if c.problem == "" {
					if status != 200 {
						t.Fatalf("status %d: %s", status, body)
					}
				} else if status != c.status || !strings.Contains(body, ProblemBase+c.problem) {
					t.Fatalf("status %d %s, want %d %s", status, body, c.status, c.problem)
				}
				if c.problem == "key-not-granted" && !strings.Contains(body, c.key) {
					t.Errorf("the problem does not name the key asked for: %s", body)
				}
				if strings.Contains(body, "password") {
					t.Errorf("the cause leaked: %s", body)
				}
				metrics := string(readAll(t, ts.do("GET", "/metrics", "", "", nil)))
				for _, m := range c.metrics {
					if !strings.Contains(metrics, m) {
						t.Errorf("metrics lack %s", m)
					}
				}
			})
		}
	}
}
