package agent_test

import (
	"fmt"
	"os"
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package when a test leaves a goroutine behind: the watcher, the
// local server, the signing of a batch and the WebSockets all end with their context.
// It also removes the kyso binary the real-server tests build once.
func TestMain(m *testing.M) {
	code := m.Run()
	if kysoBinary.dir != "" {
		os.RemoveAll(kysoBinary.dir)
	}
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goroutines left behind:", err)
			code = 1
		}
	}
	os.Exit(code)
}
