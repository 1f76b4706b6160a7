package pki_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if a test leaves a goroutine behind: a TSA or OCSP request
// abandoned on timeout must not linger.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
