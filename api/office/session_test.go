package office_test

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/kyso-vn/kyso/internal/testenv"
	"github.com/kyso-vn/kyso/internal/testpki"
)

// TestSignInSession: the sign-in form takes the key and answers with a session cookie
// that is HttpOnly, SameSite=Strict and only for /van-phong/; the key appears in no
// page and no log line after; a wrong key is 401 with no cookie; signing out ends the
// session; a session idle for over 30 minutes is over.
func TestSignInSession(t *testing.T) {
	k := startKyso(t, testpki.Committed(t), "")
	p := k.person(t)
	if resp, body := p.get("/van-phong/van-ban"); resp.StatusCode != http.StatusOK || !strings.Contains(body, `id="signin"`) {
		t.Fatalf("without a session: %s, sign-in form shown: %v", resp.Status, strings.Contains(body, `id="signin"`))
	}
	if resp, _ := p.postForm("/van-phong/dang-nhap", url.Values{"key": {"kyso_" + strings.Repeat("A", 43)}}); resp.StatusCode != http.StatusUnauthorized || len(resp.Cookies()) != 0 {
		t.Fatalf("a wrong key: %s, cookies %v", resp.Status, resp.Cookies())
	}
	resp := p.signIn(k.leaderKey)
	var c *http.Cookie
	for _, x := range resp.Cookies() {
		if x.Name == "kyso_vp" {
			c = x
		}
	}
	if c == nil || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/van-phong/" || len(c.Value) < 43 {
		t.Fatalf("session cookie: %+v", c)
	}
	if raw := resp.Header.Get("Set-Cookie"); !strings.Contains(raw, "HttpOnly") || !strings.Contains(raw, "SameSite=Strict") {
		t.Fatalf("Set-Cookie: %s", raw)
	}
	for _, path := range []string{"/van-phong/van-ban", "/van-phong/van-ban/moi", "/van-phong/ghep-noi", "/van-phong/so-dang-ky"} {
		resp, body := p.get(path)
		if resp.StatusCode != http.StatusOK || !strings.Contains(body, `id="signout"`) {
			t.Fatalf("%s: %s", path, resp.Status)
		}
		if strings.Contains(body, k.leaderKey) {
			t.Fatalf("%s shows the API key", path)
		}
		if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") {
			t.Fatalf("%s: CSP %q", path, csp)
		}
	}
	if strings.Contains(k.logs.String(), k.leaderKey) {
		t.Fatal("the API key reached the log")
	}
	// idle for 31 minutes: signed out
	k.clock.Add(31 * time.Minute)
	if _, body := p.get("/van-phong/van-ban"); !strings.Contains(body, `id="signin"`) {
		t.Fatal("a session idle for 31 minutes still works")
	}
	p.signIn(k.leaderKey)
	if resp, _ := p.postForm("/van-phong/dang-xuat", url.Values{"csrf": {p.csrf}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-out: %s", resp.Status)
	}
	if _, body := p.get("/van-phong/van-ban"); !strings.Contains(body, `id="signin"`) {
		t.Fatal("still signed in after signing out")
	}
}

// TestPostsNeedCSRFAndOrigin: a form POST without the session's CSRF token, with
// another's, or from another origin is refused and stores nothing; the same form with
// the token stores the draft.
func TestPostsNeedCSRFAndOrigin(t *testing.T) {
	k := startKyso(t, testpki.Committed(t), "")
	p := k.person(t)
	p.signIn(k.leaderKey)
	other := k.person(t)
	other.signIn(k.clerkKey)
	pdf := string(testenv.OnePagePDF("Du thao"))
	fields := func(csrf string) []part {
		ps := []part{}
		if csrf != "" {
			ps = append(ps, part{name: "csrf", value: csrf})
		}
		return append(ps, part{name: "file", filename: "du-thao.pdf", value: pdf}, part{name: "agency", value: testpki.OrgCode},
			part{name: "symbol", value: "UBND-VP"}, part{name: "summary", value: "Về việc thử"}, part{name: "type", value: "Công văn"})
	}
	for _, c := range []struct {
		name   string
		origin string
		csrf   string
	}{
		{"no token", k.url, ""},
		{"another session's token", k.url, other.csrf},
		{"a made-up token", k.url, "x"},
		{"another origin", "https://evil.example", p.csrf},
		{"no origin", "", p.csrf},
	} {
		resp, _ := p.postMultipart("/van-phong/van-ban/moi", c.origin, fields(c.csrf)...)
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("%s: %s, want 403", c.name, resp.Status)
		}
	}
	if resp, _ := p.postForm("/van-phong/dang-xuat", url.Values{}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("sign-out without the token: %s", resp.Status)
	}
	if resp, _ := p.postMultipart("/van-phong/dang-xuat", k.url, part{name: "x", value: "y"}); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("sign-out as a multipart form without the token: %s", resp.Status)
	}
	if _, body := p.get("/van-phong/van-ban"); !strings.Contains(body, `id="signout"`) {
		t.Error("a refused sign-out signed out")
	}
	if docs, err := k.svc.SearchDocuments(t.Context(), k.leader, appQuery()); err != nil || len(docs) != 0 {
		t.Fatalf("refused forms stored %d documents (%v)", len(docs), err)
	}
	resp, body := p.postMultipart("/van-phong/van-ban/moi", k.url, fields(p.csrf)...)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("upload with the token: %s\n%s", resp.Status, body)
	}
	if docs, err := k.svc.SearchDocuments(t.Context(), k.leader, appQuery()); err != nil || len(docs) != 1 || docs[0].Summary != "Về việc thử" {
		t.Fatalf("after the upload: %+v %v", docs, err)
	}
}

// TestClerkCannotApprove: the clerk's page of a draft has no approval, and the
// approval route refuses the clerk anyway (app's rule), with the clerk's own valid
// CSRF token and the leader's certificate.
func TestClerkCannotApprove(t *testing.T) {
	k := startKyso(t, testpki.Committed(t), "")
	leader, clerk := k.person(t), k.person(t)
	leader.signIn(k.leaderKey)
	clerk.signIn(k.clerkKey)
	resp, body := clerk.postMultipart("/van-phong/van-ban/moi", k.url, part{name: "csrf", value: clerk.csrf},
		part{name: "file", filename: "d.pdf", value: string(testenv.OnePagePDF("Du thao"))}, part{name: "agency", value: testpki.OrgCode},
		part{name: "symbol", value: "UBND-VP"}, part{name: "summary", value: "Dự thảo của văn thư"})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("upload: %s %s", resp.Status, body)
	}
	docPath := strings.SplitN(resp.Header.Get("Location"), "?", 2)[0]
	id := strings.TrimPrefix(docPath, "/van-phong/van-ban/")
	if _, body := clerk.get(docPath); strings.Contains(body, `id="approve-section"`) || !strings.Contains(body, `id="trail"`) {
		t.Fatal("the clerk's page shows the approval, or no trail")
	}
	if _, body := leader.get(docPath); !strings.Contains(body, `id="approve-section"`) {
		t.Fatal("the leader's page has no approval")
	}
	cert := base64.StdEncoding.EncodeToString(k.pki.Leader.Cert.Raw)
	resp, body = clerk.postMultipart("/van-phong/phe-duyet", k.url, part{name: "csrf", value: clerk.csrf},
		part{name: "certificate", value: cert}, part{name: "document_id", value: id})
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "signing as approve") {
		t.Fatalf("the clerk's approval (want app's refusal of the role): %s %s", resp.Status, body)
	}
	if d, err := k.svc.GetDocument(t.Context(), k.clerk, mustID(t, id)); err != nil || d.Status != "draft" {
		t.Fatalf("after the refusal: %+v %v", d, err)
	}
	// a leader may not issue either: the route refuses the key
	resp, _ = leader.postMultipart("/van-phong/van-ban/"+id+"/phat-hanh", k.url, part{name: "csrf", value: leader.csrf}, part{name: "key", value: "org"})
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("the leader's issue: %s", resp.Status)
	}
}

// TestRevokedKeyIsOut: revoking the client ends its open session at the next request.
func TestRevokedKeyIsOut(t *testing.T) {
	k := startKyso(t, testpki.Committed(t), "")
	p := k.person(t)
	p.signIn(k.leaderKey)
	if _, body := p.get("/van-phong/van-ban"); !strings.Contains(body, `id="signout"`) {
		t.Fatal("not signed in")
	}
	if err := k.svc.RevokeClient(t.Context(), admin, k.leader.ID); err != nil {
		t.Fatal(err)
	}
	resp, body := p.get("/van-phong/van-ban")
	if strings.Contains(body, `id="signout"`) || !strings.Contains(body, `id="signin"`) || !strings.Contains(body, "không còn hiệu lực") {
		t.Fatalf("a revoked key's session: %s\n%s", resp.Status, body)
	}
	resp, _ = p.postMultipart("/van-phong/van-ban/moi", k.url, part{name: "csrf", value: p.csrf})
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("a revoked key's POST: %s", resp.Status)
	}
	if resp, _ := p.postForm("/van-phong/dang-nhap", url.Values{"key": {k.leaderKey}}); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("signing in again with a revoked key: %s", resp.Status)
	}
}

// TestSignInRateLimit: ten wrong keys from one address lock that address out of the
// form for a while, even with the right key; another clock window lets it in again.
func TestSignInRateLimit(t *testing.T) {
	k := startKyso(t, testpki.Committed(t), "")
	p := k.person(t)
	for i := range 10 {
		if resp, _ := p.postForm("/van-phong/dang-nhap", url.Values{"key": {"kyso_wrong" + strings.Repeat("x", i)}}); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("wrong key %d: %s", i, resp.Status)
		}
	}
	if resp, _ := p.postForm("/van-phong/dang-nhap", url.Values{"key": {k.leaderKey}}); resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("after 10 wrong keys: %s", resp.Status)
	}
	k.clock.Add(16 * time.Minute)
	p.signIn(k.leaderKey)
}
