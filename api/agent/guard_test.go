package agent

import (
	"errors"
	"testing"
	"time"
)

// TestPINGuardPerToken: the agent's count of wrong PINs on a token outlives the
// prompt's lockout; a token that reports CKF_USER_PIN_COUNT_LOW is trusted when it
// clears it (it accepted a PIN elsewhere), one that never reports it is not; a token
// showing wrong PINs the agent did not give gets one try.
func TestPINGuardPerToken(t *testing.T) {
	now := time.Date(2026, 3, 5, 8, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	tok := Token{Module: "/m.so", Serial: "1", Label: "T"}
	low := tok
	low.PINCountLow = true
	job := []string{"job:1", "origin:https://a"}

	for _, reports := range []bool{true, false} {
		g := newPINGuard(3, 5*time.Minute, clock)
		seen := tok
		if reports {
			seen = low // what the token says after a wrong PIN
		}
		if err := g.checkToken(tok); err != nil {
			t.Fatal(err)
		}
		var err error
		for range 3 {
			if err = g.checkToken(seen); err != nil {
				t.Fatalf("reports %v: refused before three wrong PINs: %v", reports, err)
			}
			err = g.fail(job, tok.Key())
		}
		var locked *LockedError
		if !errors.As(err, &locked) {
			t.Fatalf("reports %v: after three wrong PINs: %v", reports, err)
		}
		now = now.Add(time.Hour) // the prompt's lock is long over
		if err := g.check(job); err != nil {
			t.Fatalf("reports %v: the prompt is still locked: %v", reports, err)
		}
		if err := g.checkToken(seen); !errors.Is(err, ErrTokenAtRisk) {
			t.Fatalf("reports %v: a fourth PIN would reach the token: %v", reports, err)
		}
		// The token shows no wrong PIN: for one that reports them, it accepted a PIN.
		err = g.checkToken(tok)
		if reports && err != nil || !reports && !errors.Is(err, ErrTokenAtRisk) {
			t.Fatalf("reports %v: after the flag cleared: %v", reports, err)
		}
	}

	g := newPINGuard(3, 5*time.Minute, clock)
	if err := g.checkToken(low); err != nil {
		t.Fatal(err)
	}
	if err := g.fail(job, low.Key()); !errors.Is(err, ErrTokenAtRisk) {
		t.Fatalf("a token with others' wrong PINs got more than one try: %v", err)
	}
	if err := g.checkToken(low); !errors.Is(err, ErrTokenAtRisk) {
		t.Fatal(err)
	}
}
