package store

import (
	"context"
	"slices"
	"testing"
	"time"
)

func TestListPendingByStatus(t *testing.T) {
	eachBackend(t, false, func(t *testing.T, cfg Config) {
		ctx := context.Background()
		clock := newClock(t0)
		s := openStore(t, cfg, clock)
		for i, p := range []struct {
			id, status string
			life       time.Duration
		}{
			{"w1", "waiting", time.Hour},
			{"p1", "pending", time.Hour},
			{"w-short", "waiting", time.Minute},
			{"w2", "waiting", time.Hour},
			{"s1", "submitting", time.Hour},
		} {
			clock.Set(t0.Add(time.Duration(i) * time.Second)) // created in this order
			if err := s.PutPending(ctx, PendingSignature{ID: p.id, Status: p.status, ExpiresAt: clock.Now().Add(p.life)}); err != nil {
				t.Fatal(err)
			}
		}
		cases := []struct {
			at     time.Duration
			status string
			want   []string
		}{
			{10 * time.Second, "waiting", []string{"w1", "w-short", "w2"}},
			{10 * time.Second, "submitting", []string{"s1"}},
			{10 * time.Second, "refused", nil},
			{2 * time.Minute, "waiting", []string{"w1", "w2"}}, // w-short has expired
		}
		for _, c := range cases {
			clock.Set(t0.Add(c.at))
			rows, err := s.ListPendingByStatus(ctx, c.status)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range rows {
				got = append(got, r.ID)
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("%s at +%v: %v, want %v", c.status, c.at, got, c.want)
			}
		}
	})
}
