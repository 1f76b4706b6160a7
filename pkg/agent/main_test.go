package agent_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package when a test leaves a goroutine behind: the watcher, the
// local server, the signing of a batch and the WebSockets all end with their context.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
