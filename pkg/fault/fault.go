// Package fault is Kyso's one error model. An error that a person or a client must
// understand is made where the refusal happens, as a *Error with a Kind (what sort of
// failure: not found, conflict, invalid input, …), a Detail written for people, and the
// Cause for the log. Each surface renders it once, from the Kind alone: the HTTP API
// as an RFC 9457 problem (status and type), the CLI as an exit code and a message, the
// desktop agent as its page's message. Nobody above the place of the refusal rewrites
// the text or strips prefixes from it.
//
//	if d.Status == "issued" {
//		return fault.Errorf(fault.Conflict, "document %d is issued; it cannot change", d.ID)
//	}
//
// A Kind is itself an error, so errors.Is(err, fault.NotFound) asks "is this a
// not-found?" through any wrapping, and a package may keep a sentinel such as
// store.ErrNotFound = fault.NotFound for its callers.
//
// Errors that are not *Error are Internal: their text goes to the log only, and the
// caller is told that the failure was logged. context.Canceled and
// context.DeadlineExceeded are reported as Canceled and Timeout.
package fault

import (
	"context"
	"errors"
	"fmt"
)

// Kind says what sort of failure an error is. The surfaces choose their status, exit
// code and wording from it alone.
type Kind uint8

// The kinds. Their order is not part of the contract; their names are.
const (
	// Internal: a bug or an unexpected failure. The cause is logged, never shown.
	Internal Kind = iota
	// Invalid: the request is wrong as given (a bad option, a malformed field, a
	// certificate that cannot be used for this). Fixing the request fixes it.
	Invalid
	// BadDocument: the document or signature handed in cannot be processed (not a PDF,
	// damaged, encrypted, no signature to verify).
	BadDocument
	// TooLarge: the input exceeds a configured limit on its size, its number of
	// objects, revisions or cross-reference entries, or the work it takes. The detail
	// names the limit and its configuration key.
	TooLarge
	// Unauthenticated: no credentials, or credentials nobody holds.
	Unauthenticated
	// Forbidden: the caller is known but may not do this.
	Forbidden
	// NotFound: no such thing, or nothing the caller may see (the two are not told
	// apart, so that ids cannot be probed).
	NotFound
	// Conflict: the request does not fit the current state (already issued, a newer
	// version exists, a duplicate).
	Conflict
	// Expired: the thing existed but its time ran out (a pending signature).
	Expired
	// Unavailable: a key provider, a timestamp authority, an OCSP or CRL server or the
	// store did not answer usefully. Trying later may work.
	Unavailable
	// RateLimited: too many requests from this caller; try later.
	RateLimited
	// Timeout: the work took longer than it may.
	Timeout
	// Canceled: the caller went away or interrupted the work.
	Canceled
	// NotImplemented: an option this build cannot do.
	NotImplemented
)

var kindNames = [...]string{
	Internal:        "internal",
	Invalid:         "invalid",
	BadDocument:     "bad-document",
	TooLarge:        "too-large",
	Unauthenticated: "unauthenticated",
	Forbidden:       "forbidden",
	NotFound:        "not-found",
	Conflict:        "conflict",
	Expired:         "expired",
	Unavailable:     "unavailable",
	RateLimited:     "rate-limited",
	Timeout:         "timeout",
	Canceled:        "canceled",
	NotImplemented:  "not-implemented",
}

// Kinds lists every kind, for tables that must cover them all.
func Kinds() []Kind {
	ks := make([]Kind, len(kindNames))
	for i := range kindNames {
		ks[i] = Kind(i)
	}
	return ks
}

// String is the kind's stable name ("not-found").
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Error makes a Kind usable as a sentinel: errors.Is(err, fault.Conflict).
func (k Kind) Error() string { return k.String() }

// Error is a failure with a kind, a detail for people and a cause for the log.
type Error struct {
	Kind Kind
	// Code refines the kind with a stable, machine-readable name that clients may
	// branch on ("key-not-granted", "limit/revisions", "remote/refused"). Optional.
	Code string
	// Detail is for the person or program that made the request: what is wrong and,
	// where it helps, what to do. It never holds secrets, paths or internals.
	Detail string
	// Cause is what went wrong underneath, for the log. It may be nil.
	Cause error
}

// Error gives the detail and the cause, for logs and for the CLI's -v.
func (e *Error) Error() string {
	switch {
	case e.Cause == nil:
		return e.Detail
	case e.Detail == "":
		return e.Cause.Error()
	}
	return e.Detail + ": " + e.Cause.Error()
}

// Unwrap gives the cause.
func (e *Error) Unwrap() error { return e.Cause }

// Is reports whether target is this error's kind, so that errors.Is(err, fault.NotFound)
// holds for every *Error of kind NotFound.
func (e *Error) Is(target error) bool {
	k, ok := target.(Kind)
	return ok && k == e.Kind
}

// New is an error of kind k with detail for people.
func New(k Kind, detail string) error { return &Error{Kind: k, Detail: detail} }

// Errorf is an error of kind k whose detail is formatted. A %w verb in format wraps
// its argument as the cause (its text still shows in the detail, so use %w only for
// causes meant for people; otherwise use Wrap).
func Errorf(k Kind, format string, args ...any) error {
	err := fmt.Errorf(format, args...)
	return &Error{Kind: k, Detail: err.Error(), Cause: errors.Unwrap(err)}
}

// Wrap is an error of kind k with detail for people, caused by cause (logged, not
// shown). Wrap(k, nil, d) is New(k, d).
func Wrap(k Kind, cause error, detail string) error {
	return &Error{Kind: k, Detail: detail, Cause: cause}
}

// WithCode sets the error's Code when err is a *Error made here, and returns err.
func WithCode(err error, code string) error {
	var e *Error
	if errors.As(err, &e) {
		c := *e
		c.Code = code
		return &c
	}
	return err
}

// KindOf is the kind of err: that of the outermost *Error in its chain; Canceled or
// Timeout for the context's errors; Internal for anything else and for nil.
func KindOf(err error) Kind {
	var e *Error
	switch {
	case err == nil:
		return Internal
	case errors.As(err, &e):
		return e.Kind
	case errors.Is(err, context.Canceled):
		return Canceled
	case errors.Is(err, context.DeadlineExceeded):
		return Timeout
	}
	for _, k := range Kinds() {
		if errors.Is(err, k) {
			return k // a bare Kind used as a sentinel, perhaps wrapped by fmt.Errorf
		}
	}
	return Internal
}

// DetailOf is the text a person may be shown: the outermost *Error's detail, or ""
// when err carries none (an internal error, whose text stays in the log).
func DetailOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Detail
	}
	return ""
}

// CodeOf is the outermost *Error's Code, or "".
func CodeOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}
