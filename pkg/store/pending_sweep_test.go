package store

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestExpirePendingBefore(t *testing.T) {
	eachBackend(t, false, func(t *testing.T, cfg Config) {
		ctx := context.Background()
		clock := newClock(t0)
		s := openStore(t, cfg, clock)
		for id, exp := range map[string]time.Duration{"old": time.Minute, "recent": 2 * time.Hour, "live": 48 * time.Hour} {
			if err := s.PutPending(ctx, PendingSignature{ID: id, Status: "pending", ExpiresAt: t0.Add(exp)}); err != nil {
				t.Fatal(err)
			}
		}
		clock.Set(t0.Add(3 * time.Hour)) // old and recent have expired
		n, err := s.ExpirePendingBefore(ctx, clock.Now().Add(-time.Hour))
		if err != nil || n != 1 {
			t.Fatalf("deleted %d (%v), want 1", n, err)
		}
		for id, want := range map[string]error{"old": ErrNotFound, "recent": ErrExpired, "live": nil} {
			if _, err := s.GetPending(ctx, id); !errors.Is(err, want) && (want != nil || err != nil) {
				t.Errorf("%s: %v, want %v", id, err, want)
			}
		}
	})
}
