package main

import (
	"bytes"
	"context"
	"testing"
)

// runKyso runs the command tree in process, as the binary would, and returns what it
// printed on standard output and standard error, and its error (exitCode gives the
// exit status).
func runKyso(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	root := newRootCmd()
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetArgs(args)
	err := root.ExecuteContext(context.Background())
	return out.String(), errOut.String(), err
}

// kysoExit is runKyso's exit status and everything it printed, the error last.
func kysoExit(t *testing.T, args ...string) (int, string) {
	t.Helper()
	out, errOut, err := runKyso(t, args...)
	msg := out + errOut
	if err != nil {
		msg += err.Error()
	}
	return exitCode(err), msg
}
