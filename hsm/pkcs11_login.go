//go:build cgo

package hsm

import (
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/miekg/pkcs11"

	"github.com/kyso-vn/kyso/pkg/fault"
)

// loginAttempts counts C_Login calls with the user PIN, so tests can show that a wrong
// PIN cost exactly one try.
var loginAttempts atomic.Int64

// login logs the user in on h; the caller holds t.mu and read-holds t.mod.mu.
func (t *p11Token) login(h pkcs11.SessionHandle) error {
	m := t.mod
	if t.guardTries {
		// The token's own counter comes first: a PIN nobody has checked is not tried
		// on a token that one more wrong PIN would lock.
		if ti, err := m.ctx.GetTokenInfo(t.slot); err == nil {
			if err := pinAtRisk(ti.Flags, t.label); err != nil {
				t.log.Warn("pkcs11: login not tried: the token's PIN is locked or at its final try", "token", t.label)
				return err
			}
		}
	}
	loginAttempts.Add(1)
	err := m.ctx.Login(h, pkcs11.CKU_USER, t.pin.Reveal())
	if isP11(err, pkcs11.CKR_USER_ALREADY_LOGGED_IN) && !t.verified {
		// Someone else in the process logged in: our PIN is unchecked. Check it.
		_ = m.ctx.Logout(h)
		loginAttempts.Add(1)
		err = m.ctx.Login(h, pkcs11.CKU_USER, t.pin.Reveal())
	}
	if err != nil && !isP11(err, pkcs11.CKR_USER_ALREADY_LOGGED_IN) {
		if perr := pinError(err, t.label); perr != nil {
			t.broken = perr
			t.log.Error("pkcs11: login refused; not trying this PIN again", "token", t.label, "error", perr)
			return perr
		}
		return fmt.Errorf("hsm: pkcs11: logging in to token %q: %w", t.label, err)
	}
	t.loggedIn, t.verified = true, true
	t.log.Info("pkcs11: logged in", "token", t.label)
	return nil
}

func pinError(err error, label string) error {
	var e pkcs11.Error
	if !errors.As(err, &e) {
		return nil
	}
	switch e {
	case pkcs11.CKR_PIN_INCORRECT, pkcs11.CKR_PIN_INVALID, pkcs11.CKR_PIN_LEN_RANGE:
		return withKind(fault.Invalid, fmt.Errorf("hsm: pkcs11: token %q refused the PIN (%v): %w", label, err, ErrPINIncorrect))
	case pkcs11.CKR_PIN_LOCKED:
		return withKind(fault.Forbidden, fmt.Errorf("hsm: pkcs11: token %q: %w", label, ErrPINLocked))
	}
	return nil
}

// pinAtRisk is the refusal for a token whose flags say its user PIN is locked or one
// wrong PIN away from it, or nil.
func pinAtRisk(flags uint, label string) error {
	switch {
	case flags&pkcs11.CKF_USER_PIN_LOCKED != 0:
		return withKind(fault.Forbidden, fmt.Errorf("hsm: pkcs11: token %q: %w", label, ErrPINLocked))
	case flags&pkcs11.CKF_USER_PIN_FINAL_TRY != 0:
		return withKind(fault.Forbidden, fmt.Errorf("hsm: pkcs11: token %q: %w", label, ErrPINFinalTry))
	}
	return nil
}
