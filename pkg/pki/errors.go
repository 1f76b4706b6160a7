package pki

import (
	"errors"
	"fmt"
)

// Sentinel errors a caller branches on with errors.Is. Every error this package returns
// is an *Error whose Kind is one of these, with the cause kept.
var (
	// ErrTSAUnavailable: no TSA URL gave a usable timestamp (network, HTTP status,
	// timeout, or every reply failed a check; the joined causes say which).
	ErrTSAUnavailable = errors.New("timestamp authority unavailable")
	// ErrTSARejected: the TSA answered with a status other than granted.
	ErrTSARejected = errors.New("timestamp request rejected")
	// ErrTSAMismatch: the reply does not answer our request (imprint, hash or nonce).
	ErrTSAMismatch = errors.New("timestamp reply does not match the request")
	// ErrTimestampInvalid: a token is malformed, its signature does not verify, or its
	// TSA certificate is not fit for timestamping.
	ErrTimestampInvalid = errors.New("invalid timestamp token")
	// ErrUnsupportedAlgorithm: an algorithm this package does not verify. Never valid.
	ErrUnsupportedAlgorithm = errors.New("unsupported algorithm")

	// ErrOffline: the network is forbidden (offline mode) and no local data answered.
	ErrOffline = errors.New("network access forbidden in offline mode")
	// ErrOCSPUnavailable: the responder could not be reached or answered an HTTP error.
	ErrOCSPUnavailable = errors.New("ocsp responder unavailable")
	// ErrOCSPInvalid: the response is malformed, not signed by the issuer or its
	// delegated responder, stale, or about another certificate.
	ErrOCSPInvalid = errors.New("invalid ocsp response")
	// ErrCRLUnavailable: the CRL could not be fetched.
	ErrCRLUnavailable = errors.New("crl unavailable")
	// ErrCRLInvalid: the CRL is malformed, not signed by the issuer, or stale.
	ErrCRLInvalid = errors.New("invalid crl")
	// ErrRevocationUnknown: no source gave the revocation status.
	ErrRevocationUnknown = errors.New("revocation status unknown")

	// ErrNoChain: no chain leads from the certificate to a trust anchor.
	ErrNoChain = errors.New("no certificate chain to a trust anchor")
	// ErrExpired: a certificate of the only chains found had expired at the time.
	ErrExpired = errors.New("certificate expired")
	// ErrNotYetValid: a certificate of the only chains found was not yet valid.
	ErrNotYetValid = errors.New("certificate not yet valid")
	// ErrKeyUsage: the certificate may not be used for the purpose asked.
	ErrKeyUsage = errors.New("certificate key usage does not allow this use")
)

// Error is the error type of this package: what was done, where, which kind of failure
// (a sentinel above) and the underlying cause.
type Error struct {
	Op   string // "timestamp", "ocsp", "crl", "chain", "parse timestamp"
	URL  string // the server asked, when there was one
	Kind error
	Err  error
}

func (e *Error) Error() string {
	msg := "pki: " + e.Op
	if e.URL != "" {
		msg += " " + e.URL
	}
	msg += ": " + e.Kind.Error()
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap exposes both the kind and the cause to errors.Is and errors.As.
func (e *Error) Unwrap() []error {
	if e.Err == nil {
		return []error{e.Kind}
	}
	return []error{e.Kind, e.Err}
}

func newErr(op, url string, kind error, format string, args ...any) *Error {
	var cause error
	if format != "" {
		cause = fmt.Errorf(format, args...)
	}
	return &Error{Op: op, URL: url, Kind: kind, Err: cause}
}
