package main

import (
	"os"
	"testing"

	"github.com/kyso-vn/kyso/internal/testenv"
)

// TestMain shares one PostgreSQL server among the package's tests (each still gets its
// own database) instead of a cluster per test: initdb costs seconds a time.
// TestMain runs the tests in English, the language most of them check the output in
// (TestLanguage checks the Vietnamese default); kyso binaries the tests start inherit it.
func TestMain(m *testing.M) {
	os.Setenv("KYSO_LANG", "en")
	os.Exit(testenv.RunWithPostgres(m))
}
