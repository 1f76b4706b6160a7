// Command kyso signs and verifies documents, keeps them in its document store and runs
// the PKI chores around them. This file is wiring only.
//
// Real-world signed documents carry certificates with negative serial numbers (a CA
// bug RFC 5280 forbids, but the documents are still to be verified, as pdfsig and EU
// DSS do); crypto/x509 refuses to parse them unless told otherwise.
//
//go:debug x509negativeserial=1
package main

import (
	"errors"
	"fmt"
	"os"
)

// exitError carries a process exit code through cobra's error return.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func main() {
	root := newRootCmd()
	if err := root.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "kyso:", err)
		os.Exit(exitCode(err))
	}
}

// exitCode is the process exit code of a command's error: the code an exitError
// carries, else 2 (usage errors, which cobra reports before any command runs).
func exitCode(err error) int {
	if err == nil {
		return 0
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	return 2
}
