package main

import (
	"os"
	"testing"

	"github.com/kyso-vn/kyso/internal/testenv"
)

// TestMain shares one PostgreSQL server among the package's tests (each still gets its
// own database) instead of a cluster per test: initdb costs seconds a time.
func TestMain(m *testing.M) { os.Exit(testenv.RunWithPostgres(m)) }
