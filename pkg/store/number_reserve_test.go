package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kyso-vn/kyso/pkg/docid"
	"github.com/kyso-vn/kyso/pkg/fault"
)

// TestNumberReservedThenIssuedOrVoided: two issues prepared at once hold two numbers;
// the second completes with its own, the first, abandoned, is voided with the reason
// and listed so; a document prepared again keeps its number; an expired reservation is
// swept to voided; a voided number is never issued.
func TestNumberReservedThenIssuedOrVoided(t *testing.T) {
	eachBackend(t, false, func(t *testing.T, cfg Config) {
		ctx := context.Background()
		clock := newClock(t0)
		s := openStore(t, cfg, clock)
		d1 := approvedDraft(t, s, "000.00.00.H43", "UBND-VP")
		d2 := approvedDraft(t, s, "000.00.00.H43", "UBND-VP")
		d3 := approvedDraft(t, s, "000.00.00.H43", "UBND-VP")
		until := t0.Add(15 * time.Minute)
		pend := func(id string, d *Document) {
			t.Helper()
			if err := s.PutPending(ctx, PendingSignature{ID: id, Status: "pending", State: []byte("{}"), DocumentID: &d.ID, ExpiresAt: until}); err != nil {
				t.Fatal(err)
			}
		}
		p1, err := s.ReserveNumber(ctx, d1.ID, t0, until, "clerk")
		if err != nil {
			t.Fatal(err)
		}
		pend("req-1", d1)
		p2, err := s.ReserveNumber(ctx, d2.ID, t0, until, "clerk")
		if err != nil {
			t.Fatal(err)
		}
		pend("req-2", d2)
		if *p1.RegNumber != 1 || *p2.RegNumber != 2 {
			t.Fatalf("reserved %d and %d, want 1 and 2", *p1.RegNumber, *p2.RegNumber)
		}
		// prepared again (a second request for the same document): the same number
		again, err := s.ReserveNumber(ctx, d1.ID, t0.Add(time.Minute), until.Add(time.Minute), "clerk")
		if err != nil || *again.RegNumber != 1 {
			t.Fatalf("prepared again: %v (%v), want number 1", again.RegNumber, err)
		}
		pend("req-1b", d1)
		issue := func(d, p *Document) error {
			cur, _ := s.GetDocument(ctx, d.ID)
			_, err := s.IssueNumbered(ctx, d.ID, VersionInput{Content: strings.NewReader("issued " + i64(d.ID)), Actor: "clerk", Base: cur.ContentSHA256}, p)
			return err
		}
		if err := issue(d2, p2); err != nil {
			t.Fatal(err)
		}
		// one of d1's two requests is cancelled: the other still holds number 1
		if err := s.EndPending(ctx, "req-1", "pending", PendingCancelled, nil, "the clerk closed the agent", "clerk"); err != nil {
			t.Fatal(err)
		}
		if lines, _ := s.RegisterNumbers(ctx, *mustDoc(t, s, d2.ID).RegisterID, 2021); lines[0].Status != NumberReserved {
			t.Fatalf("number 1 while a request holds it: %+v", lines[0])
		}
		if err := s.EndPending(ctx, "req-1b", "pending", PendingCancelled, nil, "", "clerk"); err != nil {
			t.Fatal(err)
		}
		if err := issue(d1, p1); fault.CodeOf(err) != CodeNumberVoided {
			t.Fatalf("issue with a voided number: %v, want %s", err, CodeNumberVoided)
		}
		// prepared once more: a new number, never the voided one
		p1, err = s.ReserveNumber(ctx, d1.ID, t0.Add(2*time.Minute), until, "clerk")
		if err != nil || *p1.RegNumber != 3 {
			t.Fatalf("after the void: %v (%v), want 3", p1.RegNumber, err)
		}
		if err := issue(d1, p1); err != nil {
			t.Fatal(err)
		}
		// d3 is reserved and left: swept after its hold
		if _, err := s.ReserveNumber(ctx, d3.ID, t0, t0.Add(time.Minute), "clerk"); err != nil {
			t.Fatal(err)
		}
		if n, err := s.VoidExpiredReservations(ctx, 0); err != nil || n != 0 {
			t.Fatalf("swept before expiry: %d %v", n, err)
		}
		clock.Set(t0.Add(20 * time.Minute))
		if n, err := s.VoidExpiredReservations(ctx, 0); err != nil || n != 1 {
			t.Fatalf("swept %d (%v), want 1", n, err)
		}
		if n, _ := s.VoidExpiredReservations(ctx, 0); n != 0 {
			t.Fatalf("swept again: %d", n)
		}
		reg := *mustDoc(t, s, d2.ID).RegisterID
		lines, err := s.RegisterNumbers(ctx, reg, 2021)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, l := range lines {
			got = append(got, fmt.Sprintf("%d:%s:%d", l.Number, l.Status, l.DocumentID))
			if l.Status == NumberVoided && (l.Reason == "" || l.At == nil) {
				t.Errorf("voided number %d without reason or time: %+v", l.Number, l)
			}
		}
		want := fmt.Sprintf("1:voided:%d 2:issued:%d 3:issued:%d 4:voided:%d", d1.ID, d2.ID, d1.ID, d3.ID)
		if strings.Join(got, " ") != want {
			t.Fatalf("register: %s, want %s", strings.Join(got, " "), want)
		}
		if !strings.Contains(lines[0].Reason, "req-1b was cancelled") || !strings.Contains(lines[3].Reason, "expired") {
			t.Errorf("reasons: %q, %q", lines[0].Reason, lines[3].Reason)
		}
		regs, _ := s.Registers(ctx, "000.00.00.H43", 2021)
		for _, r := range regs {
			if r.ID == reg && (r.LastNumber != 4 || r.Documents != 2 || r.Voided != 2 || r.Reserved != 0) {
				t.Errorf("register counts: %+v", r)
			}
		}
		evs, err := s.AuditEvents(ctx, d1.ID, 0)
		if err != nil {
			t.Fatal(err)
		}
		voids := 0
		for _, e := range evs {
			if e.Action == ActionVoid {
				voids++
			}
		}
		if voids != 1 {
			t.Errorf("%d void events for document %d, want 1", voids, d1.ID)
		}
		if rep, err := s.Check(ctx); err != nil || !rep.OK() {
			t.Errorf("check: %v %v", rep.Problems, err)
		}
	})
}

// TestSeriesRegisters: documents of another series are numbered in their own
// register, from 1; an incoming document is registered in its series.
func TestSeriesRegisters(t *testing.T) {
	eachBackend(t, false, func(t *testing.T, cfg Config) {
		ctx := context.Background()
		s := openStore(t, cfg, newClock(t0))
		mk := func(series string) *Document {
			symbol := "UBND-VP" // series apart need symbols apart (TestSeriesSymbolTaken)
			if series != "" {
				symbol = "QĐ-UBND"
			}
			d, err := s.CreateDocument(ctx, NewDocument{Direction: Outgoing, Type: "QĐ", AgencyCode: "000.00.00.H43", Series: series,
				Number: docid.NumberSymbol{Symbol: symbol}, Content: strings.NewReader("draft " + series + time.Now().String()), Actor: "drafter"})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.Approve(ctx, d.ID, VersionInput{Content: strings.NewReader(fmt.Sprintf("approved %d", d.ID)), Actor: "leader"}); err != nil {
				t.Fatal(err)
			}
			return d
		}
		a, b, c := mk(""), mk("QĐ"), mk("QĐ")
		for _, x := range []struct {
			d    *Document
			want int
		}{{a, 1}, {b, 1}, {c, 2}} {
			p, err := s.ReserveNumber(ctx, x.d.ID, t0, t0.Add(time.Hour), "clerk")
			if err != nil || *p.RegNumber != x.want {
				t.Fatalf("document %d (series %q): %v %v, want %d", x.d.ID, x.d.Series, p, err, x.want)
			}
		}
		in, err := s.CreateDocument(ctx, NewDocument{Direction: Incoming, AgencyCode: "000.00.00.G22", HolderCode: "000.00.00.H43", Series: "Mật",
			Confidentiality: Confidential, Content: strings.NewReader("incoming secret"), Actor: "clerk"})
		if err != nil {
			t.Fatal(err)
		}
		regs, _ := s.Registers(ctx, "000.00.00.H43", 2021)
		var names []string
		for _, r := range regs {
			names = append(names, fmt.Sprintf("%s/%s:%d", r.Kind, r.Series, r.LastNumber))
		}
		if got := strings.Join(names, " "); got != "incoming/Mật:1 outgoing/:1 outgoing/QĐ:2" {
			t.Errorf("registers: %s", got)
		}
		if got := mustDoc(t, s, in.ID); got.Series != "Mật" || *got.RegNumber != 1 {
			t.Errorf("incoming: %+v", got)
		}
		if _, err := s.CreateDocument(ctx, NewDocument{Direction: Outgoing, AgencyCode: "000.00.00.H43", Series: strings.Repeat("x", 65),
			Content: strings.NewReader("x"), Actor: "a"}); !errors.Is(err, ErrInvalid) {
			t.Errorf("a 65-byte series: %v", err)
		}
	})
}

// TestSeriesSymbolTaken: two series that share a symbol would both print 01/UBND-VP:
// the second is refused, with nothing taken, until its document has a symbol of its own.
func TestSeriesSymbolTaken(t *testing.T) {
	eachBackend(t, false, func(t *testing.T, cfg Config) {
		ctx := context.Background()
		s := openStore(t, cfg, newClock(t0))
		mk := func(series, symbol string) *Document {
			d, err := s.CreateDocument(ctx, NewDocument{Direction: Outgoing, AgencyCode: "000.00.00.H43", Series: series,
				Number: docid.NumberSymbol{Symbol: symbol}, Content: strings.NewReader(series + symbol + time.Now().String()), Actor: "drafter"})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.Approve(ctx, d.ID, VersionInput{Content: strings.NewReader(fmt.Sprintf("approved %d", d.ID)), Actor: "leader"}); err != nil {
				t.Fatal(err)
			}
			return d
		}
		main, secret, own := mk("", "UBND-VP"), mk("Mật", "UBND-VP"), mk("Mật", "UBND-VPM")
		if _, err := s.ReserveNumber(ctx, main.ID, t0, t0.Add(time.Hour), "clerk"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.ReserveNumber(ctx, secret.ID, t0, t0.Add(time.Hour), "clerk"); fault.CodeOf(err) != CodeSymbolTaken || !strings.Contains(err.Error(), "01/UBND-VP") {
			t.Fatalf("a second 01/UBND-VP: %v, want %s", err, CodeSymbolTaken)
		}
		p, err := s.ReserveNumber(ctx, own.ID, t0, t0.Add(time.Hour), "clerk")
		if err != nil || *p.RegNumber != 1 {
			t.Fatalf("01/UBND-VPM: %v %v (the refused attempt must not have used number 1)", p, err)
		}
	})
}

func mustDoc(t *testing.T, s *Store, id int64) *Document {
	t.Helper()
	d, err := s.GetDocument(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return d
}
