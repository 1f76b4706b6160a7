package agent_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencies keeps the agent free of the server: it talks to Kyso over HTTP
// only, so neither the store (gorm, SQLite), the use-cases, the HTTP API nor the
// signing engines may end up in the agent's package, even indirectly.
func TestDependencies(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	const module = "github.com/kyso-vn/kyso/"
	forbidden := []string{"gorm.io/", "github.com/glebarez/", "github.com/gin-gonic/", module + "pkg/service", module + "pkg/store",
		module + "api", module + "cmd", module + "signer", module + "internal/"}
	deps := strings.Fields(string(out))
	for _, d := range deps {
		for _, f := range forbidden {
			if strings.HasPrefix(d, f) {
				t.Errorf("pkg/agent depends on %s", d)
			}
		}
	}
	if len(deps) < 10 {
		t.Fatalf("go list gave %d packages: %q", len(deps), out)
	}
}
