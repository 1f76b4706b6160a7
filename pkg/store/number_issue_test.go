package store

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// TestNumberTakenAtIssue: a planned number is not taken until the issued version is
// stored; two issues planned with the same number store one, the other is a conflict
// with nothing stored and no number used, and planned again it takes the next.
func TestNumberTakenAtIssue(t *testing.T) {
	eachBackend(t, false, func(t *testing.T, cfg Config) {
		ctx := context.Background()
		s := openStore(t, cfg, newClock(t0))
		d1 := approvedDraft(t, s, "000.00.00.H43", "UBND-VP")
		d2 := approvedDraft(t, s, "000.00.00.H43", "UBND-VP")
		at := t0.Add(time.Hour)
		p1, err := s.PlanNumber(ctx, d1.ID, at)
		if err != nil {
			t.Fatal(err)
		}
		p2, err := s.PlanNumber(ctx, d2.ID, at)
		if err != nil || *p1.RegNumber != 1 || *p2.RegNumber != 1 {
			t.Fatalf("plans: %v %v (%v)", p1.RegNumber, p2.RegNumber, err)
		}
		regs, _ := s.Registers(ctx, "000.00.00.H43", NumberingYear(at))
		for _, r := range regs {
			if r.Kind == Outgoing && r.LastNumber != 0 {
				t.Fatalf("a plan took number %d", r.LastNumber)
			}
		}
		issue := func(d *Document, p *Document) error {
			cur, _ := s.GetDocument(ctx, d.ID)
			_, err := s.IssueNumbered(ctx, d.ID, VersionInput{Content: strings.NewReader("issued " + i64(d.ID)), Actor: "clerk", Base: cur.ContentSHA256}, p)
			return err
		}
		if err := issue(d2, p2); err != nil {
			t.Fatal(err)
		}
		if err := issue(d1, p1); !errors.Is(err, ErrConflict) {
			t.Fatalf("the second issue with number 1: %v, want ErrConflict", err)
		}
		if got, _ := s.GetDocument(ctx, d1.ID); got.Status != StatusApproved || got.RegNumber != nil || got.CurrentVersion != 2 {
			t.Fatalf("the refused issue stored something: %+v", got)
		}
		p1, err = s.PlanNumber(ctx, d1.ID, at)
		if err != nil || *p1.RegNumber != 2 {
			t.Fatalf("plan again: %v %v", p1.RegNumber, err)
		}
		if err := issue(d1, p1); err != nil {
			t.Fatal(err)
		}
		for id, want := range map[int64]int{d1.ID: 2, d2.ID: 1} {
			got, _ := s.GetDocument(ctx, id)
			if got.Status != StatusIssued || got.Number != want || got.Identifier == nil || !strings.Contains(*got.Identifier, "/0"+i64(int64(want))+"/UBND-VP") && !strings.Contains(*got.Identifier, ",0"+i64(int64(want))+"/UBND-VP") {
				t.Errorf("document %d: %+v, want number %d", id, got, want)
			}
		}
		if rep, err := s.Check(ctx); err != nil || !rep.OK() {
			t.Errorf("check: %v %v", rep.Problems, err)
		}
	})
}
