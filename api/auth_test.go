package api

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestAuthorizationMatrix sends every role to every authenticated route and checks
// allow (anything but 401/403) or deny, and then every role to every key.
func TestAuthorizationMatrix(t *testing.T) {
	ts := startServer(t, nil)
	// The expected matrix is written out here, not derived from the route table, so a
	// change to a route's roles fails this test until someone means it.
	type row struct {
		method, path string
		allowed      []Role
	}
	const (
		A = RoleAdmin
		S = RoleSystem
		C = RoleClerk
		L = RoleLeader
		P = RolePublic
	)
	matrix := []row{
		{"POST", "/v1/sign?key=org", []Role{S, C}}, // admin and leader pass the role but not org's grant
		{"POST", "/v1/signatures", []Role{A, S, C, L}},
		{"GET", "/v1/signatures/x", []Role{A, S, C, L}},
		{"POST", "/v1/signatures/x/complete", []Role{A, S, C, L}},
		{"POST", "/v1/verify", []Role{A, S, C, L, P}},
		{"POST", "/v1/documents", []Role{A, S, C, L}},
		{"GET", "/v1/documents", []Role{A, S, C, L}},
		{"GET", "/v1/documents/x", []Role{A, S, C, L}},
		{"GET", "/v1/documents/x/content", []Role{A, S, C, L}},
		{"POST", "/v1/documents/x/issue", []Role{A, S, C}},
		{"POST", "/v1/documents/receive", []Role{A, S, C}},
		{"GET", "/v1/registers", []Role{A, S, C}},
		{"POST", "/v1/registers", []Role{A}},
		{"GET", "/v1/agencies", []Role{A, S, C, L}},
		{"POST", "/v1/agencies", []Role{A}},
		{"GET", "/v1/keys", []Role{A, S, C, L}},
		{"PUT", "/v1/keys/personal/grants/someone", []Role{A}},
		{"DELETE", "/v1/keys/personal/grants/someone", []Role{A}},
		{"GET", "/v1/certificates", []Role{A, S, C, L}},
		{"GET", "/v1/stats", []Role{A, L}},
		{"POST", "/v1/clients", []Role{A}},
		{"DELETE", "/v1/clients/c999", []Role{A}},
	}
	for _, r := range matrix {
		for _, role := range Roles {
			body, ctype := strings.NewReader(tinyPDF), "application/pdf"
			if r.path == "/v1/clients" {
				body, ctype = strings.NewReader(`{"name":"m","role":"leader"}`), "application/json"
			}
			resp := ts.do(r.method, r.path, ts.keyFor[role], ctype, body)
			denied := resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden
			want := slices.Contains(r.allowed, role)
			if denied == want {
				t.Errorf("%s %s as %s: status %d, want allowed=%v", r.method, r.path, role, resp.StatusCode, want)
			}
			if role == RolePublic && !want && resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("%s %s as public: %d, want 401", r.method, r.path, resp.StatusCode)
			}
		}
	}

	// Keys: org is granted to role:clerk and to the client named client-system;
	// personal to client-leader. No role implies a grant.
	grants := map[string][]Role{"org": {S, C}, "personal": {L}}
	for key, allowed := range grants {
		for _, role := range Roles {
			resp := ts.do("POST", "/v1/sign?key="+key, ts.keyFor[role], "application/pdf", strings.NewReader(tinyPDF))
			want := http.StatusForbidden
			if slices.Contains(allowed, role) {
				want = http.StatusOK
			} else if role == RolePublic {
				want = http.StatusUnauthorized
			}
			if resp.StatusCode != want {
				t.Errorf("sign with %s as %s: %d, want %d", key, role, resp.StatusCode, want)
			}
		}
	}
}

func TestMayUseKey(t *testing.T) {
	org := KeyInfo{Name: "org", Allowed: []string{"role:clerk", "c7", "dms"}}
	cases := []struct {
		name string
		p    Principal
		k    KeyInfo
		want bool
	}{
		{"by role", Principal{ID: "c1", Name: "van-thu", Role: RoleClerk}, org, true},
		{"by id", Principal{ID: "c7", Name: "x", Role: RoleSystem}, org, true},
		{"a name is not a grant (grants are by id)", Principal{ID: "c8", Name: "dms", Role: RoleSystem}, org, false},
		{"not granted", Principal{ID: "c9", Name: "other", Role: RoleSystem}, org, false},
		{"admin is not implied", Principal{ID: "c2", Name: "root", Role: RoleAdmin}, org, false},
		{"leader role not granted", Principal{ID: "c3", Name: "chu-tich", Role: RoleLeader}, org, false},
		{"public never", Principal{ID: "dms", Name: "dms", Role: RolePublic}, org, false},
		{"public never even by role", Principal{Role: RolePublic}, KeyInfo{Allowed: []string{"role:public"}}, false},
		{"unknown role never", Principal{ID: "c7", Role: "root"}, org, false},
		{"empty grant matches nothing", Principal{ID: "", Name: "", Role: RoleSystem}, KeyInfo{Allowed: []string{""}}, false},
		{"no grants", Principal{ID: "c1", Role: RoleClerk}, KeyInfo{Name: "k"}, false},
	}
	for _, c := range cases {
		if got := MayUseKey(c.p, c.k); got != c.want {
			t.Errorf("%s: MayUseKey = %v", c.name, got)
		}
	}
}

func TestAPIKeys(t *testing.T) {
	k1, h1 := NewAPIKey()
	k2, _ := NewAPIKey()
	if k1 == k2 || !apiKeyShape.MatchString(k1) || len(h1) != 64 || HashAPIKey(k1) != h1 {
		t.Fatalf("key %q hash %q", k1, h1)
	}
	cases := []struct {
		header string
		ok     bool
	}{
		{"Bearer " + k1, true},
		{"bearer " + k1, true},
		{"Bearer  " + k1 + " ", true},
		{"Basic " + k1, false},
		{"Bearer", false},
		{"Bearer kyso_short", false},
		{k1, false},
		{"Bearer " + strings.Replace(k1, "kyso_", "kyzo_", 1), false},
	}
	for _, c := range cases {
		if _, ok := bearerKey(c.header); ok != c.ok {
			t.Errorf("bearerKey(%q) ok = %v", c.header, ok)
		}
	}
}

func TestLimiter(t *testing.T) {
	now := time.Unix(0, 0)
	l := newLimiter(6, func() time.Time { return now }) // one token every 10 s
	for i := range 6 {
		if ok, _ := l.allow("a"); !ok {
			t.Fatalf("burst request %d refused", i)
		}
	}
	ok, wait := l.allow("a")
	if ok || wait != 10*time.Second {
		t.Fatalf("7th: ok=%v wait=%v", ok, wait)
	}
	if ok, _ := l.allow("b"); !ok {
		t.Fatal("b shares a's bucket")
	}
	now = now.Add(5 * time.Second)
	if ok, wait := l.allow("a"); ok || wait != 5*time.Second {
		t.Fatalf("after 5 s: ok=%v wait=%v", ok, wait)
	}
	now = now.Add(5 * time.Second)
	if ok, _ := l.allow("a"); !ok {
		t.Fatal("no token after 10 s")
	}
	// Once full again, idle buckets are swept so memory does not grow with addresses.
	for i := range 1000 {
		l.allow(string(rune('A' + i)))
	}
	now = now.Add(2 * time.Minute)
	l.allow("z")
	if n := len(l.buckets); n != 1 {
		t.Errorf("%d buckets after a sweep, want 1", n)
	}
}

// TestKeyGrants: an admin grants and withdraws a key through the API, and signing
// follows the grant at once.
func TestKeyGrants(t *testing.T) {
	ts := startServer(t, nil)
	admin, clerk := ts.keyFor[RoleAdmin], ts.keyFor[RoleClerk]
	sign := func() int {
		return ts.do("POST", "/v1/sign?key=personal", clerk, "application/pdf", strings.NewReader(tinyPDF)).StatusCode
	}
	if got := sign(); got != http.StatusForbidden {
		t.Fatalf("before the grant: %d", got)
	}
	steps := []struct {
		method, path string
		status       int
		problem      string
		signs        int
	}{
		{"PUT", "/v1/keys/personal/grants/c3", 204, "", 200},
		{"PUT", "/v1/keys/personal/grants/c3", 204, "", 200}, // idempotent
		{"DELETE", "/v1/keys/personal/grants/c3", 204, "", 403},
		{"DELETE", "/v1/keys/personal/grants/c3", 404, "not-found", 403},
		{"PUT", "/v1/keys/personal/grants/role:clerk", 204, "", 200},
		{"DELETE", "/v1/keys/personal/grants/role:clerk", 204, "", 403},
		{"PUT", "/v1/keys/personal/grants/role:public", 400, "invalid-request", 403},
		{"PUT", "/v1/keys/personal/grants/role:root", 400, "invalid-request", 403},
		{"PUT", "/v1/keys/ghost/grants/c3", 404, "not-found", 403},
	}
	for _, s := range steps {
		resp := ts.do(s.method, s.path, admin, "", nil)
		if resp.StatusCode != s.status {
			t.Fatalf("%s %s: %d, want %d", s.method, s.path, resp.StatusCode, s.status)
		}
		if s.problem != "" {
			if p := problemOf(t, resp); p.Type != ProblemBase+s.problem {
				t.Errorf("%s %s: %s", s.method, s.path, p.Type)
			}
		}
		if got := sign(); got != s.signs {
			t.Errorf("after %s %s the clerk's signature answers %d, want %d", s.method, s.path, got, s.signs)
		}
	}
}
