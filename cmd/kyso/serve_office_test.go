package main

import (
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
)

// TestServeOfficePages: `kyso serve` mounts the office pages at /van-phong/: a
// browser without a session gets the sign-in form, the printed admin key signs in
// (session cookie, then the documents list), and the style is served.
func TestServeOfficePages(t *testing.T) {
	t.Chdir(t.TempDir())
	rs := startServe(t, "", map[string]string{})
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	resp, err := c.Get(rs.base + "/van-phong/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/van-phong/van-ban" {
		t.Fatalf("GET /van-phong/: %d at %s", resp.StatusCode, resp.Request.URL)
	}
	admin := adminKeyLine.FindStringSubmatch(rs.stdout.String())[1]
	req, _ := http.NewRequest(http.MethodPost, rs.base+"/van-phong/dang-nhap", strings.NewReader(url.Values{"key": {admin}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", rs.base)
	if resp, err = c.Do(req); err != nil {
		t.Fatal(err)
	}
	var body strings.Builder
	buf := make([]byte, 32<<10)
	n, _ := resp.Body.Read(buf)
	body.Write(buf[:n])
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(body.String(), `id="signout"`) || strings.Contains(body.String(), admin) {
		t.Fatalf("signing in: %d\n%.400s", resp.StatusCode, body.String())
	}
	if resp, _ := rs.call(t, "GET", "/van-phong/static/office.css", "", "", nil); resp.StatusCode != http.StatusOK {
		t.Errorf("GET /van-phong/static/office.css: %d", resp.StatusCode)
	}
	if err := rs.stop(); err != nil {
		t.Fatal(err)
	}
}
