package remote

import (
	"context"
	"time"
)

// Clock is the time the waits of remote signing are measured in: the back-off between
// polls, the pause between submissions and a Ticket's deadline here, and the rounds
// of the completer that finishes remote signatures on the server. A holder's minutes
// are then milliseconds in a test that gives its own Clock (remotetest.Clock). nil
// wherever a Clock is asked for means the system clock.
type Clock interface {
	Now() time.Time
	// Sleep waits d, or until ctx ends and then returns ctx's error.
	Sleep(ctx context.Context, d time.Duration) error
}

// SystemClock is the real time.
var SystemClock Clock = systemClock{}

// ClockOrSystem is c, or SystemClock when c is nil.
func ClockOrSystem(c Clock) Clock {
	if c == nil {
		return SystemClock
	}
	return c
}

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

// Sleep waits with a timer it stops itself, so an ended wait leaves nothing behind.
func (systemClock) Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-tm.C:
		return nil
	}
}
