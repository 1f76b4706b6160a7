package agent

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/kyso-vn/kyso/hsm"
	"github.com/kyso-vn/kyso/pkg/fault"
)

// TestPageMessageEveryKind: the agent's page words every fault kind, in both
// languages, with its own message and a status; the error's own text (module paths,
// token internals) never reaches the page; the errors a confirmation returns read as
// their kind says.
func TestPageMessageEveryKind(t *testing.T) {
	const internals = "/usr/lib/vendor/libsecret-pkcs11.so slot 3"
	for _, lang := range []string{"vi", "en"} {
		seen := map[string]fault.Kind{}
		for _, k := range fault.Kinds() {
			status, msg := pageMessage(lang, fault.Errorf(k, "hsm: pkcs11: %s", internals))
			if msg == "" || status < 400 || status > 599 {
				t.Errorf("%s %v: %d %q", lang, k, status, msg)
			}
			if strings.Contains(msg, internals) || strings.Contains(msg, "pkcs11") {
				t.Errorf("%s %v: the error's text is on the page: %q", lang, k, msg)
			}
			if other, dup := seen[msg]; dup {
				t.Errorf("%s: %v and %v read the same: %q", lang, other, k, msg)
			}
			seen[msg] = k
		}
		if _, msg := pageMessage(lang, errors.New("a plain error "+internals)); msg != messages[lang]["fault.internal"] {
			t.Errorf("%s: a plain error reads %q", lang, msg)
		}
	}

	until := time.Date(2026, 3, 5, 7, 30, 0, 0, time.UTC) // 14:30 in Vietnam
	hsmWrong := fault.Errorf(fault.Invalid, "hsm: pkcs11: token %q refused the PIN: %w", "T", hsm.ErrPINIncorrect)
	cases := []struct {
		name   string
		err    error
		status int
		want   string
	}{
		{"wrong PIN", &WrongPINError{Left: 2}, http.StatusUnprocessableEntity, "Còn 2 lần thử"},
		{"prompt locked", &LockedError{Until: until}, http.StatusLocked, "Tạm khóa đến 14:30"},
		{"token at risk", fmt.Errorf("%w: 3 wrong PINs", ErrTokenAtRisk), http.StatusLocked, "Thiết bị đã bị khóa"},
		{"token PIN locked", fault.Errorf(fault.Forbidden, "hsm: %w", hsm.ErrPINLocked), http.StatusLocked, "Thiết bị đã bị khóa"},
		{"no certificate", ErrNoCertificate, http.StatusConflict, "Không thấy chứng thư số"},
		{"busy", fmt.Errorf("%w (context deadline exceeded)", ErrBusy), http.StatusConflict, "đang ký yêu cầu khác"},
		{"job state", ErrJobState, http.StatusConflict, "đang ký yêu cầu khác"},
		{"a wrong PIN from hsm, not counted", hsmWrong, http.StatusUnprocessableEntity, "Yêu cầu không hợp lệ"},
		{"token pulled out", fmt.Errorf("agent: %w", fault.Wrap(fault.Unavailable, hsm.ErrTokenNotFound, "gone")), http.StatusServiceUnavailable, "thiết bị bị rút ra"},
	}
	for _, c := range cases {
		status, msg := pageMessage("vi", c.err)
		if status != c.status || !strings.Contains(msg, c.want) {
			t.Errorf("%s: %d %q, want %d with %q", c.name, status, msg, c.status, c.want)
		}
	}
}
