package api

import (
	"sync"
	"time"
)

// limiter is a token bucket per client address. Each address gets burst tokens that
// refill at perMinute a minute; a request takes one. golang.org/x/time/rate is not in
// the module graph and this is all that is needed.
//
// The buckets live in this replica's memory: behind a load balancer each replica
// limits on its own, which bounds the total at replicas × rate, good enough to stop
// one address from monopolising verification.
type limiter struct {
	mu        sync.Mutex
	perSecond float64
	burst     float64
	now       func() time.Time
	buckets   map[string]*bucket
	lastSweep time.Time
}

type bucket struct {
	tokens float64
	last   time.Time
}

// sweepEvery bounds memory: buckets that have refilled completely carry no state worth
// keeping, so they are dropped at most this often.
const sweepEvery = time.Minute

func newLimiter(perMinute int, now func() time.Time) *limiter {
	return &limiter{
		perSecond: float64(perMinute) / 60,
		burst:     float64(perMinute),
		now:       now,
		buckets:   map[string]*bucket{},
		lastSweep: now(),
	}
}

// allow takes a token for addr, or says how long until one is there.
func (l *limiter) allow(addr string) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if now.Sub(l.lastSweep) >= sweepEvery {
		l.sweep(now)
	}
	b, ok := l.buckets[addr]
	if !ok {
		b = &bucket{tokens: l.burst, last: now}
		l.buckets[addr] = b
	}
	b.tokens = min(l.burst, b.tokens+now.Sub(b.last).Seconds()*l.perSecond)
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	return false, time.Duration((1 - b.tokens) / l.perSecond * float64(time.Second))
}

func (l *limiter) sweep(now time.Time) {
	for addr, b := range l.buckets {
		if b.tokens+now.Sub(b.last).Seconds()*l.perSecond >= l.burst {
			delete(l.buckets, addr)
		}
	}
	l.lastSweep = now
}
