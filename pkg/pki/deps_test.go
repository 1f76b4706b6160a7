package pki_test

import (
	"go/build"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kyso-vn/kyso/internal/testenv"
)

// TestImports keeps pkg/pki to the standard library, x/crypto and digitorus's
// timestamp/pkcs7, and pkitest to those plus the test helpers: no HTTP-server code in
// pkg/pki, no gorm, no PKCS#11, nothing from higher in the layout.
func TestImports(t *testing.T) {
	tests := []struct {
		dir     string
		allowed []string
	}{
		{"pkg/pki", []string{"golang.org/x/crypto/", "github.com/digitorus/timestamp", "github.com/digitorus/pkcs7",
			"github.com/kyso-vn/kyso/internal/certfile"}},
		{"pkg/pki/pkitest", []string{"golang.org/x/crypto/", "github.com/digitorus/timestamp",
			"github.com/kyso-vn/kyso/internal/testenv", "github.com/kyso-vn/kyso/internal/testpki"}},
	}
	for _, tt := range tests {
		t.Run(tt.dir, func(t *testing.T) {
			pkg, err := build.Default.ImportDir(filepath.Join(testenv.ModuleRoot(), tt.dir), 0)
			if err != nil {
				t.Fatal(err)
			}
			if tt.dir == "pkg/pki" {
				for _, f := range pkg.GoFiles {
					src, err := os.ReadFile(filepath.Join(pkg.Dir, f))
					if err != nil {
						t.Fatal(err)
					}
					for _, server := range []string{"http.Server", "ListenAndServe", "http.Handle", "http.ResponseWriter", "net.Listen"} {
						if strings.Contains(string(src), server) {
							t.Errorf("%s uses %s: server code belongs in pkitest", f, server)
						}
					}
				}
			}
			for _, imp := range pkg.Imports {
				std := !strings.Contains(strings.Split(imp, "/")[0], ".")
				if std && tt.dir == "pkg/pki" && (imp == "net/http/httptest" || imp == "database/sql") {
					t.Errorf("%s imports %s", tt.dir, imp)
				}
				ok := std
				for _, a := range tt.allowed {
					ok = ok || strings.HasPrefix(imp, a)
				}
				if !ok {
					t.Errorf("%s imports %s, which it must not", tt.dir, imp)
				}
			}
		})
	}
}
