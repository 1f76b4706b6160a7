package cms

import (
	"errors"
	"fmt"
)

// Sentinel errors a verifier branches on; the comments name the ETSI EN 319 102-1
// sub-indication each one leads to.
var (
	// ErrFormat: the input is not a well-formed SignedData (FORMAT_FAILURE).
	ErrFormat = errors.New("cms: malformed")
	// ErrDigestMismatch: the messageDigest attribute (or a timestamp's imprint) does
	// not match the content (HASH_FAILURE).
	ErrDigestMismatch = errors.New("cms: message digest does not match the content")
	// ErrSignatureInvalid: the signature value does not verify with the signer's public
	// key (SIG_CRYPTO_FAILURE).
	ErrSignatureInvalid = errors.New("cms: signature does not verify")
	// ErrUnsupportedAlgorithm: an algorithm this package will not sign or verify with,
	// either unknown or refused by policy (SHA-1, DSA, short RSA keys). Such a
	// signature is never reported valid. Errors wrapping it are *AlgorithmError.
	ErrUnsupportedAlgorithm = errors.New("cms: unsupported algorithm")
	// ErrSignerCertNotFound: no certificate in the SignedData matches the signer
	// identifier (NO_SIGNING_CERTIFICATE_FOUND).
	ErrSignerCertNotFound = errors.New("cms: signer certificate not found")
	// ErrSigningCertificateMismatch: the signing-certificate(-v2) attribute names a
	// different certificate than the one that verified the signature.
	ErrSigningCertificateMismatch = errors.New("cms: signing-certificate attribute does not match the signer certificate")
)

// AlgorithmError names an algorithm that is unknown or refused by policy.
type AlgorithmError struct {
	Algorithm string // e.g. "Ed448", "SHA-1", "RSA-1024"
	Reason    string // why it is refused; empty when simply unknown
	// Verified is set when the algorithm is refused by policy but could still be
	// computed and the signature (or imprint) is mathematically intact. A broken
	// weak signature gets ErrDigestMismatch or ErrSignatureInvalid instead, so a
	// verifier can say TOTAL_FAILED for it and INDETERMINATE for this.
	Verified bool
}

func (e *AlgorithmError) Error() string {
	msg := "cms: unsupported algorithm " + e.Algorithm
	if e.Reason != "" {
		msg += ": " + e.Reason
	}
	if e.Verified {
		msg += " (the signature itself is intact)"
	}
	return msg
}

// Is makes errors.Is(err, ErrUnsupportedAlgorithm) true.
func (e *AlgorithmError) Is(target error) bool { return target == ErrUnsupportedAlgorithm }

func unsupported(alg, reason string) error { return &AlgorithmError{Algorithm: alg, Reason: reason} }

func formatErrorf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrFormat, fmt.Sprintf(format, args...))
}
