package agent

import (
	"strings"
	"testing"
)

// FuzzNormalOrigin: any accepted origin is a bare scheme://host[:port] without a
// wildcard, path, query or user, and normalising it again changes nothing.
func FuzzNormalOrigin(f *testing.F) {
	for _, s := range []string{"https://kyso.example.vn", "http://127.0.0.1:8080", "https://*.example.vn", "null", "",
		"https://user@kyso.example.vn", "https://kyso.example.vn/app?x=1", "HTTPS://KYSO.EXAMPLE.VN:443", "https://[::1]:8443"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := normalOrigin(s)
		if err != nil {
			return
		}
		if strings.ContainsAny(n, "*@?#") || !strings.HasPrefix(n, "https://") && !strings.HasPrefix(n, "http://") {
			t.Fatalf("%q accepted as %q", s, n)
		}
		if rest := n[strings.Index(n, "://")+3:]; strings.Contains(rest, "/") {
			t.Fatalf("%q accepted with a path: %q", s, n)
		}
		if again, err := normalOrigin(n); err != nil || again != n {
			t.Fatalf("%q → %q → %q, %v", s, n, again, err)
		}
	})
}
