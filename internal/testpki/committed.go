package testpki

import (
	"sync"
	"testing"

	"github.com/kyso-vn/kyso/internal/testenv"
)

var (
	committedOnce sync.Once
	committed     *TestPKI
	committedErr  error
)

// Committed returns the committed test PKI of certs-testdata/, read once per test
// binary; a failure to read it fails the test.
func Committed(t testing.TB) *TestPKI {
	t.Helper()
	committedOnce.Do(func() { committed, committedErr = Load(testenv.TestPKIDir()) })
	if committedErr != nil {
		t.Fatalf("test PKI: %v", committedErr)
	}
	return committed
}
