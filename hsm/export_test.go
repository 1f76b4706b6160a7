//go:build cgo

package hsm

import (
	"context"
	"crypto"

	"github.com/miekg/pkcs11"
)

var background = context.Background()

// Hooks for the external tests (package hsm_test), which cannot reach unexported names
// but must, to show what the token saw.

// LoginAttempts counts the C_Login calls made with the user PIN in this process.
func LoginAttempts() int64 { return loginAttempts.Load() }

// CloseAllSessions closes every session of k's token under the provider, with the
// module's own handle, as a driver does when a token is pulled. It waits until no
// call is in flight: SoftHSM2 crashes (SIGSEGV in C_SignInit) when another thread
// closes a session during a call on it, which is its fault, not what is tested here.
func CloseAllSessions(k *PKCS11Key) error {
	m := k.tok.mod
	m.mu.Lock()
	defer m.mu.Unlock()
	k.tok.mu.Lock()
	slot := k.tok.slot
	k.tok.mu.Unlock()
	return m.ctx.CloseAllSessions(slot)
}

// Hold lends one session of k's token and returns the function that gives it back,
// so a test can fill the pool.
func Hold(k *PKCS11Key) (func(), error) {
	s, epoch, err := k.tok.acquire(background)
	if err != nil {
		return nil, err
	}
	return func() { k.tok.put(s, epoch, nil) }, nil
}

// FormatWithPIN is the URI with its PIN, for the round-trip test.
func FormatWithPIN(u *PKCS11URI) string { return u.format(true) }

// SignSkippingContextLogin signs as SignContext does but without the
// CKU_CONTEXT_SPECIFIC login, to show the token enforces CKA_ALWAYS_AUTHENTICATE.
func SignSkippingContextLogin(k *PKCS11Key, digest []byte) error {
	mech, err := mechanismFor(k.pub, digest, crypto.SHA256)
	if err != nil {
		return err
	}
	s, epoch, err := k.tok.acquire(background)
	if err != nil {
		return err
	}
	k.mu.Lock()
	h := k.handle
	k.mu.Unlock()
	ctx := k.tok.mod.ctx
	err = ctx.SignInit(s, []*pkcs11.Mechanism{mech.p11}, h)
	if err == nil {
		_, err = ctx.Sign(s, mech.input)
	}
	k.tok.put(s, epoch, err)
	return err
}
