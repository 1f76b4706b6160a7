// Package hsm hands out crypto.Signers for keys held in PKCS#11 modules (HSMs and USB
// tokens), in remote signing services (SIM PKI, CSC API) and, for demos only, in
// software key files.
//
// Every key is named by a URI: "pkcs11:" (RFC 7512, see PKCS11URI) or "softkey:" (a
// demo key file, see SoftKeyURI); Open dispatches on the scheme. The small core is Key,
// a crypto.Signer that also takes a context (a remote signer may wait minutes for a
// person and must stop when the caller goes away) and carries the certificate the
// provider holds for it. Keys that hold resources implement io.Closer.
//
// # PKCS#11
//
// The PKCS#11 provider calls github.com/miekg/pkcs11 directly, not crypto11, because
// crypto11 (v1.6) cannot sign with CKA_ALWAYS_AUTHENTICATE keys, accepts a wrong PIN
// while another context of the token is logged in, and never finds a token again after
// it was removed and inserted while a context is open. Here:
//
//   - each module path is loaded and initialised once per process and shared, counted
//     by reference (the last Close finalises it); Options.AllowedModules restricts which
//     paths a URI may load;
//   - each token is logged in to once, on an anchor session that is never lent, and
//     signs on a bounded pool of sessions (Options.MaxSessions) safe for any number of
//     goroutines; SignContext gives up while waiting for a session when ctx ends;
//   - a wrong PIN is ErrPINIncorrect and is never tried again by this package (tokens
//     lock after a few); a second URI with another PIN for a token already logged in
//     is refused the same way, since C_Login cannot check it then;
//   - a lost session, a token removed and re-inserted, or deleted and created again is
//     recovered on the next signature: the sessions are dropped, the token and key are
//     found again (after C_Finalize/C_Initialize when the token cannot be found, which
//     SoftHSM2 needs to see a re-created token) and the signature is tried once more;
//     the key found must have the public key opened before;
//   - a CKA_ALWAYS_AUTHENTICATE key is logged in with CKU_CONTEXT_SPECIFIC after each
//     C_SignInit.
//   - a Module is a module held loaded by a caller that watches its tokens (the desktop
//     agent): it lists tokens and their certificates without a PIN, re-initialises the
//     module when no key is open on it, and opens keys by token and CKA_ID with the PIN
//     as a Secret — on the same process-wide module keys use, so there is one loader;
//   - with Options.GuardPINTries a login is refused before C_Login when the token says
//     its user PIN is locked or at its final try (ErrPINLocked, ErrPINFinalTry).
//
// Refusals carry a pkg/fault kind where they are made: a wrong PIN is fault.Invalid, a
// locked PIN, a PIN at its final try and a module off the allow-list fault.Forbidden,
// a missing token fault.Unavailable, a missing key fault.NotFound; errors.Is with the
// sentinels below still holds.
//
// SoftHSM2 2.6 keeps no PIN retry counter: a failed C_Login sets
// CKF_USER_PIN_COUNT_LOW, a good one clears it, and it never sets
// CKF_USER_PIN_FINAL_TRY or CKF_USER_PIN_LOCKED (the tests assert exactly that).
//
// The package needs cgo (miekg/pkcs11 loads modules with dlopen); built without it,
// every PKCS#11 call fails with a fault.NotImplemented error saying so.
//
// This package must never import signer/, api/, app or anything HTTP-facing.
package hsm

import (
	"context"
	"crypto"
	"crypto/x509"
	"io"
)

// Key is a signing key handed out by a provider.
type Key interface {
	crypto.Signer
	// SignContext signs digest like crypto.Signer.Sign, and gives up when ctx ends.
	// opts is a crypto.Hash (RSA PKCS#1 v1.5, ECDSA) or *rsa.PSSOptions (RSA-PSS).
	SignContext(ctx context.Context, digest []byte, opts crypto.SignerOpts) ([]byte, error)
	// Certificate is the key's certificate, or nil when the provider holds none.
	Certificate() *x509.Certificate
	// Chain is the issuer certificates the provider holds for the key, nearest first;
	// possibly empty.
	Chain() []*x509.Certificate
}

// Provider opens keys named by URIs of one scheme.
type Provider interface {
	// Open resolves uri to a key. It never logs or returns the PIN.
	Open(ctx context.Context, uri string) (Key, error)
	io.Closer
}
