//go:build cgo

package hsm

import (
	"errors"
	"fmt"
	"testing"

	"github.com/miekg/pkcs11"

	"github.com/kyso-vn/kyso/pkg/fault"
)

// TestErrorClasses pins which token answers are PIN refusals (never retried) and which
// are lost sessions (recovered once); SoftHSM2 cannot produce CKR_PIN_LOCKED or
// CKR_DEVICE_REMOVED, so the mapping is checked here.
func TestErrorClasses(t *testing.T) {
	tests := []struct {
		code        uint
		pin         error
		recoverable bool
	}{
		{pkcs11.CKR_PIN_INCORRECT, ErrPINIncorrect, false},
		{pkcs11.CKR_PIN_INVALID, ErrPINIncorrect, false},
		{pkcs11.CKR_PIN_LEN_RANGE, ErrPINIncorrect, false},
		{pkcs11.CKR_PIN_LOCKED, ErrPINLocked, false},
		{pkcs11.CKR_SESSION_HANDLE_INVALID, nil, true},
		{pkcs11.CKR_SESSION_CLOSED, nil, true},
		{pkcs11.CKR_TOKEN_NOT_PRESENT, nil, true},
		{pkcs11.CKR_DEVICE_REMOVED, nil, true},
		{pkcs11.CKR_USER_NOT_LOGGED_IN, nil, true},
		{pkcs11.CKR_OBJECT_HANDLE_INVALID, nil, true},
		{pkcs11.CKR_KEY_HANDLE_INVALID, nil, true},
		{pkcs11.CKR_CRYPTOKI_NOT_INITIALIZED, nil, true},
		{pkcs11.CKR_MECHANISM_INVALID, nil, false},
		{pkcs11.CKR_DATA_LEN_RANGE, nil, false},
		{pkcs11.CKR_FUNCTION_FAILED, nil, false},
	}
	for _, tt := range tests {
		err := fmt.Errorf("wrapped: %w", pkcs11.Error(tt.code))
		got := pinError(err, "T")
		if tt.pin == nil && got != nil || tt.pin != nil && !errors.Is(got, tt.pin) {
			t.Errorf("%v: pinError = %v, want %v", pkcs11.Error(tt.code), got, tt.pin)
		}
		if tt.pin != nil {
			want := fault.Invalid
			if tt.pin == ErrPINLocked {
				want = fault.Forbidden
			}
			if k := fault.KindOf(got); k != want {
				t.Errorf("%v: kind %v, want %v", pkcs11.Error(tt.code), k, want)
			}
		}
		if r := recoverable(err); r != tt.recoverable {
			t.Errorf("%v: recoverable = %v, want %v", pkcs11.Error(tt.code), r, tt.recoverable)
		}
	}
	if !recoverable(fmt.Errorf("x: %w", errStale)) || recoverable(errors.New("other")) {
		t.Error("errStale must be recoverable and a plain error not")
	}
}

// TestPINAtRisk: a token that says its user PIN is locked or at its final try is not
// given a PIN (SoftHSM2 never sets these flags, so the mapping is checked here).
func TestPINAtRisk(t *testing.T) {
	tests := []struct {
		flags uint
		want  error
	}{
		{0, nil},
		{pkcs11.CKF_USER_PIN_COUNT_LOW, nil},
		{pkcs11.CKF_USER_PIN_FINAL_TRY | pkcs11.CKF_USER_PIN_COUNT_LOW, ErrPINFinalTry},
		{pkcs11.CKF_USER_PIN_LOCKED, ErrPINLocked},
	}
	for _, tt := range tests {
		err := pinAtRisk(tt.flags, "T")
		if tt.want == nil && err != nil || tt.want != nil && (!errors.Is(err, tt.want) || fault.KindOf(err) != fault.Forbidden) {
			t.Errorf("flags 0x%x: %v, want %v (forbidden)", tt.flags, err, tt.want)
		}
	}
}
