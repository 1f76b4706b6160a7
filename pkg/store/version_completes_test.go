package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestVersionBaseAndCompletes: a version prepared over an older content is refused,
// and a version that completes a pending signature is written together with the
// pending signature's move, or not at all.
func TestVersionBaseAndCompletes(t *testing.T) {
	eachBackend(t, false, func(t *testing.T, cfg Config) {
		ctx := context.Background()
		clock := newClock(t0)
		s := openStore(t, cfg, clock)
		d, err := s.CreateDocument(ctx, NewDocument{Direction: Outgoing, Type: "CV", Summary: "Về việc ký số",
			AgencyCode: "000.00.00.H43", Content: strings.NewReader("v1"), Actor: "drafter"})
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range []string{"p-ok", "p-other"} {
			if err := s.PutPending(ctx, PendingSignature{ID: id, Status: "completing", ExpiresAt: t0.Add(time.Hour)}); err != nil {
				t.Fatal(err)
			}
		}
		current := func() int {
			t.Helper()
			got, err := s.GetDocument(ctx, d.ID)
			if err != nil {
				t.Fatal(err)
			}
			return got.CurrentVersion
		}
		completes := func(id, from string) *PendingCompletion {
			return &PendingCompletion{ID: id, From: from, To: "completed", State: func(v *Version) ([]byte, error) {
				return []byte(fmt.Sprintf(`{"version":%d}`, v.Seq)), nil
			}}
		}

		// Prepared over v1, completing p-ok: both written.
		v, err := s.AddVersion(ctx, d.ID, VersionInput{Content: strings.NewReader("v1+sig"), Actor: "clerk",
			Base: sha("v1"), Completes: completes("p-ok", "completing")})
		if err != nil {
			t.Fatal(err)
		}
		p, err := s.GetPending(ctx, "p-ok")
		if err != nil || p.Status != "completed" || string(p.State) != `{"version":2}` || v.Seq != 2 {
			t.Fatalf("completed pending = %+v, %v; version %d", p, err, v.Seq)
		}
		// A second signature prepared over v1 would drop the first: refused.
		if _, err := s.AddVersion(ctx, d.ID, VersionInput{Content: strings.NewReader("v1+other"), Actor: "clerk",
			Base: sha("v1")}); !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), "changed since") {
			t.Errorf("a version over a stale base: %v, want ErrConflict", err)
		}
		// A pending signature no longer in the expected status: no version either.
		if _, err := s.AddVersion(ctx, d.ID, VersionInput{Content: strings.NewReader("v2+late"), Actor: "clerk",
			Base: sha("v1+sig"), Completes: completes("p-other", "waiting")}); !errors.Is(err, ErrConflict) {
			t.Errorf("completing a pending signature in another status: %v, want ErrConflict", err)
		}
		if n := current(); n != 2 {
			t.Errorf("current version %d after two refused versions, want 2", n)
		}
		if p, _ := s.GetPending(ctx, "p-other"); p == nil || p.Status != "completing" {
			t.Errorf("p-other = %+v, want still completing", p)
		}
	})
}
