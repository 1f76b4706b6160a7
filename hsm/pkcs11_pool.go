//go:build cgo

package hsm

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"

	"github.com/miekg/pkcs11"

	"github.com/kyso-vn/kyso/pkg/fault"
)

// p11Token is the process's use of one token: its login and its session pool, shared
// by every key opened on it.
type p11Token struct {
	mod   *p11Module
	sel   tokenSelector
	label string
	pin   Secret
	log   *slog.Logger
	// guardTries: refuse to log in when the token says its PIN is locked or at its
	// final try (Options.GuardPINTries of the first key opened on the token).
	guardTries bool
	refs       int           // guarded by mod.tokensMu
	sem        chan struct{} // one slot per open or lent session

	mu       sync.Mutex
	slot     uint
	gen      uint64 // the module generation slot and sessions belong to
	epoch    uint64 // bumped when the sessions are dropped
	idle     []pkcs11.SessionHandle
	anchor   pkcs11.SessionHandle // holds the login: never lent, so closing lent sessions never logs out
	loggedIn bool
	verified bool  // the PIN was accepted once in this process
	broken   error // a PIN error: the token is never logged in to again
}

// errStale marks sessions of a module generation that has gone.
var errStale = errors.New("hsm: pkcs11: module was initialised again")

// acquireToken finds the token sel names and shares it with other keys on it, logging
// in the first time.
func acquireToken(ctx context.Context, m *p11Module, sel tokenSelector, pin Secret, opts Options) (*p11Token, error) {
	m.mu.RLock()
	slot, ti, err := m.findSlot(sel)
	gen := m.gen
	m.mu.RUnlock()
	if err != nil {
		return nil, err
	}
	m.tokensMu.Lock()
	for _, t := range m.tokens {
		t.mu.Lock()
		same := t.slot == slot && t.gen == gen
		broken := t.broken
		t.mu.Unlock()
		if !same {
			continue
		}
		if broken != nil {
			m.tokensMu.Unlock()
			return nil, broken
		}
		if t.pin.IsZero() != pin.IsZero() {
			m.tokensMu.Unlock()
			return nil, fmt.Errorf("hsm: pkcs11: token %q is open in this process both with and without a PIN; close the other keys first", ti.Label)
		}
		if subtle.ConstantTimeCompare([]byte(t.pin.Reveal()), []byte(pin.Reveal())) != 1 {
			m.tokensMu.Unlock()
			// The token is logged in already, so C_Login cannot check this PIN; taking it
			// would let any PIN through (crypto11's flaw).
			return nil, withKind(fault.Invalid, fmt.Errorf("hsm: pkcs11: token %q is in use in this process with another PIN: %w", ti.Label, ErrPINIncorrect))
		}
		t.refs++
		m.tokensMu.Unlock()
		return t, nil
	}
	t := &p11Token{
		mod: m, sel: sel, label: ti.Label, pin: pin, log: opts.logger(), refs: 1, guardTries: opts.GuardPINTries,
		sem: make(chan struct{}, opts.maxSessions()), slot: slot, gen: gen,
	}
	m.tokens = append(m.tokens, t)
	m.tokensMu.Unlock()
	// Log in now, so that a wrong PIN fails Open rather than the first signature.
	s, epoch, err := t.acquire(ctx)
	if err != nil {
		t.release()
		return nil, err
	}
	t.put(s, epoch, nil)
	return t, nil
}

// close drops the reference of a key and its module reference.
func (t *p11Token) close() {
	t.release()
	t.mod.release()
}

// release drops one reference; the last closes the sessions, which logs out. The
// module reference is the caller's to drop.
func (t *p11Token) release() {
	m := t.mod
	m.tokensMu.Lock()
	t.refs--
	last := t.refs == 0
	if last {
		m.tokens = slices.DeleteFunc(m.tokens, func(x *p11Token) bool { return x == t })
	}
	m.tokensMu.Unlock()
	if !last {
		return
	}
	m.mu.RLock()
	t.mu.Lock()
	t.forget()
	t.mu.Unlock()
	m.mu.RUnlock()
}

// forget closes the idle sessions and the login anchor (when they still belong to the
// module's current generation; a finalised module took them with it) and marks the
// token logged out. The caller holds t.mu and read-holds t.mod.mu.
func (t *p11Token) forget() {
	if t.gen == t.mod.gen {
		for _, s := range t.idle {
			_ = t.mod.ctx.CloseSession(s)
		}
		if t.anchor != 0 {
			_ = t.mod.ctx.CloseSession(t.anchor)
		}
	}
	t.idle, t.anchor, t.loggedIn = nil, 0, false
}

// acquire lends a session, waiting for one while MaxSessions are lent. On success the
// caller read-holds t.mod.mu and a semaphore slot until put.
func (t *p11Token) acquire(ctx context.Context) (pkcs11.SessionHandle, uint64, error) {
	if err := ctx.Err(); err != nil {
		return 0, 0, err
	}
	select {
	case t.sem <- struct{}{}:
	case <-ctx.Done():
		return 0, 0, ctx.Err()
	}
	m := t.mod
	m.mu.RLock()
	h, epoch, err := t.take()
	if err != nil {
		m.mu.RUnlock()
		<-t.sem
		return 0, epoch, err
	}
	return h, epoch, nil
}

// take pops an idle session or opens one, logging in when the token is not; the caller
// read-holds t.mod.mu.
func (t *p11Token) take() (pkcs11.SessionHandle, uint64, error) {
	m := t.mod
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.broken != nil {
		return 0, 0, t.broken
	}
	if t.gen != m.gen {
		return 0, t.epoch, errStale
	}
	if n := len(t.idle); n > 0 {
		h := t.idle[n-1]
		t.idle = t.idle[:n-1]
		return h, t.epoch, nil
	}
	if !t.loggedIn && !t.pin.IsZero() {
		if t.anchor == 0 {
			a, err := m.ctx.OpenSession(t.slot, pkcs11.CKF_SERIAL_SESSION)
			if err != nil {
				return 0, t.epoch, fmt.Errorf("hsm: pkcs11: opening a session on token %q: %w", t.label, err)
			}
			t.anchor = a
		}
		if err := t.login(t.anchor); err != nil {
			_ = m.ctx.CloseSession(t.anchor)
			t.anchor = 0
			return 0, t.epoch, err
		}
	}
	h, err := m.ctx.OpenSession(t.slot, pkcs11.CKF_SERIAL_SESSION)
	if err != nil {
		return 0, t.epoch, fmt.Errorf("hsm: pkcs11: opening a session on token %q: %w", t.label, err)
	}
	return h, t.epoch, nil
}

// put returns a lent session: kept for reuse after success, closed after an error (a
// failed operation may leave the session in a state the next user would trip on).
func (t *p11Token) put(h pkcs11.SessionHandle, epoch uint64, opErr error) {
	m := t.mod
	t.mu.Lock()
	if opErr == nil && epoch == t.epoch && t.gen == m.gen {
		t.idle = append(t.idle, h)
	} else if t.gen == m.gen {
		_ = m.ctx.CloseSession(h)
	}
	t.mu.Unlock()
	m.mu.RUnlock()
	<-t.sem
}

// dropSessions forgets every pooled session of epoch (lent ones are closed as they
// come back) and the login, so that the next take opens and logs in afresh; it reports
// false when another caller did so since epoch. The caller read-holds t.mod.mu.
func (t *p11Token) dropSessions(epoch uint64) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.epoch != epoch && t.gen == t.mod.gen {
		return false
	}
	t.forget()
	t.epoch++
	return true
}

// recoverable reports whether err means the session, login or object handle was lost
// (token removed, re-inserted or re-created; module reset) rather than a refusal.
func recoverable(err error) bool {
	if errors.Is(err, errStale) {
		return true
	}
	var e pkcs11.Error
	if !errors.As(err, &e) {
		return false
	}
	switch e {
	case pkcs11.CKR_SESSION_HANDLE_INVALID, pkcs11.CKR_SESSION_CLOSED, pkcs11.CKR_TOKEN_NOT_PRESENT,
		pkcs11.CKR_DEVICE_REMOVED, pkcs11.CKR_USER_NOT_LOGGED_IN, pkcs11.CKR_OBJECT_HANDLE_INVALID,
		pkcs11.CKR_KEY_HANDLE_INVALID, pkcs11.CKR_CRYPTOKI_NOT_INITIALIZED, pkcs11.CKR_TOKEN_NOT_RECOGNIZED,
		pkcs11.CKR_SLOT_ID_INVALID, pkcs11.CKR_DEVICE_ERROR:
		return true
	}
	return false
}

func isP11(err error, code uint) bool {
	var e pkcs11.Error
	return errors.As(err, &e) && uint(e) == code
}
