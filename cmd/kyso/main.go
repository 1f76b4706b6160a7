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
	"io"
	"os"

	"github.com/kyso-vn/kyso/app"
	"github.com/kyso-vn/kyso/pkg/fault"
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
		os.Exit(report(os.Stderr, langOf(root), err))
	}
}

// report prints err for the person at the terminal, in l, and returns the process exit
// code: the one rendering of errors for every command. The catalog's headline for the
// kind of refusal (or of a usage error) comes first, the detail after it.
func report(w io.Writer, l lang, err error) int {
	msg := errorMessageIn(err, l)
	switch {
	case isFault(err):
		msg = headline(l, fault.KindOf(err)) + ": " + msg
	case exitCode(err) == 2:
		msg = tr(l, "error.usage") + ": " + msg
	}
	fmt.Fprintln(w, "kyso:", msg)
	return exitCode(err)
}

// kindExitCodes is the exit code of each fault kind: 2 for a request that is wrong as
// given (a usage error), 1 for every refusal or failure of the work. Commands with
// codes of their own (kyso verify's 3 for INDETERMINATE) say so with an exitError.
var kindExitCodes = map[fault.Kind]int{
	fault.Internal:        1,
	fault.Invalid:         2,
	fault.BadDocument:     1, // also an incoming document returned to its sender (docs receive)
	fault.TooLarge:        2, // the input cannot be judged within the limits, like input that is not a signed document
	fault.Unauthenticated: 1,
	fault.Forbidden:       1,
	fault.NotFound:        1,
	fault.Conflict:        1,
	fault.Expired:         1,
	fault.Unavailable:     1,
	fault.RateLimited:     1,
	fault.Timeout:         1,
	fault.Canceled:        1,
	fault.NotImplemented:  2,
}

// exitCode is the process exit code of a command's error: the code an exitError
// carries; else that of its fault kind; else 2 (usage errors, which cobra reports
// before any command runs).
func exitCode(err error) int {
	if err == nil {
		return 0
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	if isFault(err) {
		return kindExitCode(err)
	}
	return 2
}

// kindExitCode is the exit code of err's fault kind; an error without one is an
// internal failure (1).
func kindExitCode(err error) int {
	if c, ok := kindExitCodes[fault.KindOf(err)]; ok {
		return c
	}
	return 1
}

// isFault reports whether err carries a fault kind (a *fault.Error, a bare Kind, or a
// context error).
func isFault(err error) bool {
	var fe *fault.Error
	return errors.As(err, &fe) || fault.KindOf(err) != fault.Internal
}

// errorMessage is what the person is told: a refusal's detail, as the API shows it
// (in the environment's language, KYSO_LANG or the locale, where the refusal has both
// languages: app.Localized);
// for a failure of the work itself (internal, unavailable, timeout) the whole text
// with its cause, since on the command line the person is also the operator.
func errorMessage(err error) string { return errorMessageIn(err, envLang(os.Getenv)) }

// errorMessageIn is errorMessage with a refusal told in both languages (a signer's
// certificate, app.Localized) given in l.
func errorMessageIn(err error, l lang) string {
	switch d := fault.DetailOf(err); {
	case d == "":
		return err.Error()
	case fault.KindOf(err) == fault.Internal, fault.KindOf(err) == fault.Unavailable, fault.KindOf(err) == fault.Timeout:
		var fe *fault.Error
		errors.As(err, &fe)
		return fe.Error()
	default:
		return app.Localized(err, string(l))
	}
}
