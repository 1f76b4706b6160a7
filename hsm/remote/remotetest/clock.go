package remotetest

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/kyso-vn/kyso/hsm/remote"
)

// Clock is a remote.Clock for tests: its time stands still until it is advanced, so a
// test says how long the holder takes and the code under test waits exactly that
// long in this time, in microseconds of the real one.
//
// It is advanced by Advance, or by itself with NewClock(start, n): as soon as n
// goroutines sleep on it (the code under test has nothing else to do), it jumps to the
// earliest wake-up. n is the number of goroutines the test knows wait on the clock
// (a Key's wait: 1; the server's completer and a WaitRemote: 2). Code that waited on
// the system clock instead would not move this time, and a test that measures its
// waits on the Clock (Since) sees it.
type Clock struct {
	mu      sync.Mutex
	now     time.Time
	auto    int
	waiters []*waiter
	changed chan struct{} // closed and replaced whenever a goroutine starts to sleep
}

type waiter struct {
	at   time.Time
	wake chan struct{}
}

var _ remote.Clock = (*Clock)(nil)

// NewClock is a Clock at start (zero: the real time now, to the second) that advances
// by itself when autoAdvance goroutines sleep on it (0: only by Advance).
func NewClock(start time.Time, autoAdvance int) *Clock {
	if start.IsZero() {
		start = time.Now().Truncate(time.Second)
	}
	return &Clock{now: start, auto: autoAdvance, changed: make(chan struct{})}
}

// Now is the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Since is the clock's time elapsed since t.
func (c *Clock) Since(t time.Time) time.Duration { return c.Now().Sub(t) }

// Sleep waits until the clock has advanced by d, or until ctx ends.
func (c *Clock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil || d <= 0 {
		return err
	}
	c.mu.Lock()
	w := &waiter{at: c.now.Add(d), wake: make(chan struct{})}
	c.waiters = append(c.waiters, w)
	close(c.changed)
	c.changed = make(chan struct{})
	if c.auto > 0 && len(c.waiters) >= c.auto {
		earliest := w.at
		for _, o := range c.waiters {
			if o.at.Before(earliest) {
				earliest = o.at
			}
		}
		c.advanceLocked(earliest)
	}
	c.mu.Unlock()
	select {
	case <-w.wake:
		return nil
	case <-ctx.Done():
		c.mu.Lock()
		c.waiters = slices.DeleteFunc(c.waiters, func(o *waiter) bool { return o == w })
		c.mu.Unlock()
		return ctx.Err()
	}
}

// Advance moves the clock d forward and wakes the sleepers whose time has come.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.advanceLocked(c.now.Add(d))
}

func (c *Clock) advanceLocked(to time.Time) {
	if to.After(c.now) {
		c.now = to
	}
	c.waiters = slices.DeleteFunc(c.waiters, func(w *waiter) bool {
		if w.at.After(c.now) {
			return false
		}
		close(w.wake)
		return true
	})
}

// AutoAdvance makes the clock advance by itself whenever n goroutines sleep on it
// (0: only by Advance), as NewClock's second argument does.
func (c *Clock) AutoAdvance(n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.auto = n
}

// Sleepers is how many goroutines sleep on the clock now.
func (c *Clock) Sleepers() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.waiters)
}

// WaitSleepers blocks until at least n goroutines sleep on the clock, or ctx ends.
func (c *Clock) WaitSleepers(ctx context.Context, n int) error {
	for {
		c.mu.Lock()
		k, changed := len(c.waiters), c.changed
		c.mu.Unlock()
		if k >= n {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
