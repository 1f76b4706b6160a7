package store

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/kyso-vn/kyso/pkg/docid"
	"github.com/kyso-vn/kyso/pkg/fault"
)

func TestRegisterEntries(t *testing.T) {
	eachBackend(t, false, func(t *testing.T, cfg Config) {
		ctx := context.Background()
		clock := newClock(time.Date(2026, 3, 1, 8, 0, 0, 0, docid.Vietnam))
		s := openStore(t, cfg, clock)
		day := func(d int) time.Time { return time.Date(2026, 3, d, 9, 0, 0, 0, docid.Vietnam) }
		// Arrivals out of date order: the register is in number order.
		for _, d := range []int{5, 2, 20, 9} {
			if _, err := s.CreateDocument(ctx, NewDocument{Direction: Incoming, AgencyCode: "000.00.00.G22", HolderCode: "000.00.00.H43",
				ReceivedAt: day(d), Summary: "đến", Content: strings.NewReader("den " + day(d).String()), Actor: "clerk",
				Signatures: json.RawMessage(`{"indication":"TOTAL_PASSED"}`)}); err != nil {
				t.Fatal(err)
			}
		}
		// Another holder's arrival is in its own register.
		if _, err := s.CreateDocument(ctx, NewDocument{Direction: Incoming, AgencyCode: "000.00.00.G22", HolderCode: "000.00.00.G09",
			ReceivedAt: day(3), Content: strings.NewReader("other"), Actor: "clerk"}); err != nil {
			t.Fatal(err)
		}
		rows, err := s.RegisterEntries(ctx, "000.00.00.H43", Incoming, "", day(1).Add(-9*time.Hour), day(15).Add(-9*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		var numbers []int
		for _, r := range rows {
			numbers = append(numbers, *r.RegNumber)
			if r.Signatures != `{"indication":"TOTAL_PASSED"}` {
				t.Errorf("row %d signatures %q", *r.RegNumber, r.Signatures)
			}
		}
		if len(numbers) != 3 || numbers[0] != 1 || numbers[1] != 2 || numbers[2] != 4 {
			t.Errorf("numbers %v, want [1 2 4] (the 20th is after the period)", numbers)
		}
		if rows, err := s.RegisterEntries(ctx, "000.00.00.H43", Outgoing, "", day(1), day(30)); err != nil || len(rows) != 0 {
			t.Errorf("an outgoing register with no document: %v %v", rows, err)
		}
		if _, err := s.RegisterEntries(ctx, "000.00.00.H43", Incoming, "mật", day(1), day(30)); fault.KindOf(err) != fault.NotFound {
			t.Errorf("a series the agency does not keep: %v", err)
		}
		if _, err := s.RegisterEntries(ctx, "000.00.00.H43", "sideways", "", day(1), day(30)); fault.KindOf(err) != fault.Invalid {
			t.Errorf("a bad kind: %v", err)
		}
		// Page counts are kept by content, once.
		sha := rows[0].ContentSHA256
		for _, n := range []int{3, 7} {
			if err := s.SetPageCount(ctx, sha, n); err != nil {
				t.Fatal(err)
			}
		}
		if got, err := s.PageCounts(ctx, []string{sha, rows[1].ContentSHA256}); err != nil || len(got) != 1 || got[sha] != 3 {
			t.Errorf("page counts %v %v", got, err)
		}
	})
}

// TestRegisterEntriesVoided: a number voided (with its reason) and one reserved by an
// issue in progress are rows of their own, in number order with the documents.
func TestRegisterEntriesVoided(t *testing.T) {
	eachBackend(t, false, func(t *testing.T, cfg Config) {
		ctx := context.Background()
		at := time.Date(2026, 3, 2, 9, 0, 0, 0, docid.Vietnam)
		s := openStore(t, cfg, newClock(at))
		a, b, c := approvedDraft(t, s, "000.00.00.H43", "UBND-VP"), approvedDraft(t, s, "000.00.00.H43", "UBND-VP"), approvedDraft(t, s, "000.00.00.H43", "UBND-VP")
		for _, d := range []*Document{a, b, c} {
			if _, err := s.ReserveNumber(ctx, d.ID, at, at.Add(time.Hour), "clerk"); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.VoidReservation(ctx, b.ID, "the clerk cancelled the request", "clerk"); err != nil {
			t.Fatal(err)
		}
		planned := *c
		n, y, issued := 3, 2026, at
		planned.RegNumber, planned.Year, planned.IssuedAt = &n, &y, &issued
		if _, err := s.IssueNumbered(ctx, c.ID, VersionInput{Content: strings.NewReader("issued c"), SignatureCount: 2, Actor: "clerk"}, &planned); err != nil {
			t.Fatal(err)
		}
		rows, err := s.RegisterEntries(ctx, "000.00.00.H43", Outgoing, "", at.Add(-time.Hour), at.Add(24*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != 3 {
			t.Fatalf("%d rows, want 3", len(rows))
		}
		for i, want := range []struct {
			status, reason string
			doc            int64
		}{{NumberReserved, "", 0}, {NumberVoided, "the clerk cancelled the request", 0}, {"", "", c.ID}} {
			r := rows[i]
			status, reason := "", ""
			if r.Number != nil {
				status, reason = r.Number.Status, r.Number.Reason
			}
			if *r.RegNumber != i+1 || status != want.status || reason != want.reason || r.ID != want.doc {
				t.Errorf("row %d: number %d, %q %q, document %d", i, *r.RegNumber, status, reason, r.ID)
			}
		}
	})
}
