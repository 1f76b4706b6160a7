package main

import (
	"strings"
	"testing"
)

// TestServeWebPages: `kyso serve` serves the public pages: the portal at / (what a
// new user opening http://127.0.0.1:8080/ sees, instead of a JSON 404) and the
// lookup page, whose unknown identifiers are a page too; public.registers comes
// from the environment like every other key.
func TestServeWebPages(t *testing.T) {
	t.Chdir(t.TempDir())
	rs := startServe(t, "", map[string]string{"KYSO_PUBLIC_REGISTERS": "000.00.00.H43"})
	resp, body := rs.call(t, "GET", "/", "", "", nil)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") ||
		!strings.Contains(string(body), `id="verify-form"`) {
		t.Errorf("GET /: %d %s\n%.300s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	resp, body = rs.call(t, "GET", "/tra-cuu/000.00.00.H43,2025%2F03%2F05,05%2FUBND-VP", "", "", nil)
	if resp.StatusCode != 404 || !strings.Contains(string(body), `id="not-found"`) {
		t.Errorf("GET /tra-cuu/ of an unknown document: %d\n%.300s", resp.StatusCode, body)
	}
	if resp, _ := rs.call(t, "GET", "/static/style.css", "", "", nil); resp.StatusCode != 200 {
		t.Errorf("GET /static/style.css: %d", resp.StatusCode)
	}
	if err := rs.stop(); err != nil {
		t.Fatal(err)
	}
}
