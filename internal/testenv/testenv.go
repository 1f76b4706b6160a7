// Package testenv finds the real parts tests drive (SoftHSM2, poppler, qpdf, openssl,
// PostgreSQL, Chromium) and the shared corpus. A missing part fails the test with the
// Debian package to install; it never skips a suite silently. Only the corpus, which a
// clone may lack, is a skip, and the skip says why.
//
// Test-only: nothing outside _test.go files and test helpers may import it.
package testenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// ModuleRoot is the directory holding go.mod.
func ModuleRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// CorpusDir returns the shared corpus (KYSO_CORPUS, default ../shared/corpus next to
// the module), or skips the test saying where it looked.
func CorpusDir(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("KYSO_CORPUS")
	if dir == "" {
		dir = filepath.Join(ModuleRoot(), "..", "shared", "corpus")
	}
	if _, err := os.Stat(filepath.Join(dir, "MANIFEST.tsv")); err != nil {
		t.Skipf("corpus not found at %s (set KYSO_CORPUS to the shared corpus); .ci/run requires it", dir)
	}
	return dir
}

// Tool returns the path of a command-line tool, failing the test with the Debian
// package that provides it when it is missing.
func Tool(t testing.TB, name, debianPackage string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s not found: install the Debian package %q (make deps does)", name, debianPackage)
	}
	return p
}

// TestPKIDir is the committed test PKI (certs-testdata/).
func TestPKIDir() string { return filepath.Join(ModuleRoot(), "certs-testdata") }
