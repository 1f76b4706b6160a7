package hsm_test

import (
	"go/build"
	"strings"
	"testing"
)

// TestImports keeps hsm/ below the signing engines and the HTTP layer: a key provider
// that imported them would drag servers into every tool that only needs a key.
func TestImports(t *testing.T) {
	const module = "github.com/kyso-vn/kyso/"
	forbidden := []string{"net/http", "github.com/gin-gonic/", "gorm.io/", module + "signer", module + "api", module + "cmd", module + "pkg/service"}
	for _, dir := range []string{".", "hsmtest"} {
		for _, cgo := range []bool{true, false} {
			ctx := build.Default
			ctx.CgoEnabled = cgo
			pkg, err := ctx.ImportDir(dir, 0)
			if err != nil {
				t.Fatal(err)
			}
			for _, imp := range pkg.Imports {
				for _, f := range forbidden {
					if strings.HasPrefix(imp, f) {
						t.Errorf("%s (cgo %v) imports %s", pkg.ImportPath, cgo, imp)
					}
				}
				if strings.HasPrefix(imp, module+"internal/") {
					t.Errorf("%s imports %s outside its tests", pkg.ImportPath, imp)
				}
			}
		}
	}
}
