package kyso_test

import (
	"os/exec"
	"strings"
	"testing"
)

// layers lists the module's packages from the top down; a package may import only
// packages of its own layer or below (DESIGN.md: imports point down this list).
var layers = [][]string{
	{"cmd/"},
	{"api"},
	{"pkg/agent"},
	{"pkg/service"},
	{"signer/"},
	{"hsm"},
	{"pkg/store", "pkg/docid", "pkg/pki", "pkg/config", "pkg/edxml"},
	{"internal/"},
}

// forbidden are imports a layer must never have, whatever its position.
var forbidden = map[string][]string{
	"signer/": {"net/http", "gorm.io/", "github.com/miekg/pkcs11", "github.com/gin-gonic/", "github.com/kyso-vn/kyso/hsm"},
	"hsm":     {"github.com/gin-gonic/", "gorm.io/"},
	"pkg/pki": {"gorm.io/", "github.com/gin-gonic/", "github.com/miekg/pkcs11"},
}

const module = "github.com/kyso-vn/kyso/"

func layerOf(pkg string) int {
	rel := strings.TrimPrefix(pkg, module)
	for i, l := range layers {
		for _, p := range l {
			if rel == strings.TrimSuffix(p, "/") || strings.HasPrefix(rel, strings.TrimSuffix(p, "/")+"/") {
				return i
			}
		}
	}
	return -1
}

// TestImportDirection fails when a package imports one above it, or something its
// layer must never import (signer/ stays free of HTTP, gorm and PKCS#11).
func TestImportDirection(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}}{{range .Imports}} {{.}}{{end}}`, "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		pkg, imports := f[0], f[1:]
		from := layerOf(pkg)
		rel := strings.TrimPrefix(pkg, module)
		for _, imp := range imports {
			if strings.HasPrefix(imp, module) {
				if to := layerOf(imp); from >= 0 && to >= 0 && to < from {
					t.Errorf("%s imports %s, which is above it", pkg, imp)
				}
				testHelper := strings.HasPrefix(rel, "internal/") || strings.HasSuffix(rel, "test")
				if !testHelper && (strings.HasPrefix(imp, module+"internal/testenv") || strings.HasPrefix(imp, module+"internal/testpki")) {
					t.Errorf("%s imports the test-only %s outside a test", pkg, imp)
				}
			}
			for prefix, bad := range forbidden {
				if rel != strings.TrimSuffix(prefix, "/") && !strings.HasPrefix(rel, prefix) {
					continue
				}
				for _, b := range bad {
					if strings.HasPrefix(imp, b) {
						t.Errorf("%s must not import %s", pkg, imp)
					}
				}
			}
		}
	}
}
