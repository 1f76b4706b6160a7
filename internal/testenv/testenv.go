// Package testenv finds the real parts tests drive (SoftHSM2, poppler, qpdf, openssl,
// PostgreSQL, Chromium) and the shared corpus. A missing part fails the test with the
// Debian package to install; it never skips a suite silently. Only the corpus, which a
// clone may lack, is a skip, and the skip says why.
//
// The fast tier, `go test -short ./...`, runs without the external parts: under -short
// every test that asks for SoftHSM2, PostgreSQL, Chromium, the corpus or a built kyso
// binary is skipped here, naming the part (External). `make test` runs them all.
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

// External skips the test under -short (the fast tier) saying which external part it
// needs; otherwise it does nothing.
func External(t testing.TB, part string) {
	t.Helper()
	if testing.Short() {
		t.Skipf("-short: needs %s (an external part; make test runs it)", part)
	}
}

// Heavy skips the test under -short saying why it is left to the full tier (it
// measures a server process or a hostile file's time and memory); otherwise it does
// nothing.
func Heavy(t testing.TB, why string) {
	t.Helper()
	if testing.Short() {
		t.Skipf("-short: %s (make test runs it)", why)
	}
}

// CorpusDir returns the shared corpus (KYSO_CORPUS, default ../shared/corpus next to
// the module), or skips the test saying where it looked. Under -short it skips.
func CorpusDir(t testing.TB) string {
	t.Helper()
	External(t, "the shared PDF corpus")
	dir := os.Getenv("KYSO_CORPUS")
	if dir == "" {
		dir = filepath.Join(ModuleRoot(), "..", "shared", "corpus")
	}
	if _, err := os.Stat(filepath.Join(dir, "MANIFEST.tsv")); err != nil {
		t.Skipf("corpus not found at %s (set KYSO_CORPUS to the shared corpus); .ci/run requires it", dir)
	}
	return dir
}

// externalTools are the tools whose tests the fast tier skips: a browser, and the
// PKCS#11 token tools (NewSoftHSM).
var externalTools = map[string]string{"chromium": "Chromium", "zbarimg": "zbar-tools", "softhsm2-util": "SoftHSM2", "pkcs11-tool": "OpenSC"}

// Tool returns the path of a command-line tool, failing the test with the Debian
// package that provides it when it is missing. Under -short a test asking for
// Chromium or a PKCS#11 token tool is skipped.
func Tool(t testing.TB, name, debianPackage string) string {
	t.Helper()
	if part, ok := externalTools[name]; ok {
		External(t, part)
	}
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s not found: install the Debian package %q (make deps does)", name, debianPackage)
	}
	return p
}

// TestPKIDir is the committed test PKI (certs-testdata/).
func TestPKIDir() string { return filepath.Join(ModuleRoot(), "certs-testdata") }
