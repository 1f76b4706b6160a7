// Command kyso-agent is the desktop agent leaders and clerks sign with on their USB
// token: a page and a local API on 127.0.0.1 for Kyso's web pages, and offline
// signing of local PDF files. This file and its siblings are wiring only; the logic
// is in api/agent.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

// exitError carries a process exit code through cobra's error return.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newRootCmd().ExecuteContext(ctx)
	stop()
	if err != nil {
		code := 2
		var ee *exitError
		if errors.As(err, &ee) {
			code = ee.code
		}
		fmt.Fprintln(os.Stderr, "kyso-agent:", err)
		os.Exit(code)
	}
}
