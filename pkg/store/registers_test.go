package store

import (
	"context"
	"errors"
	"strconv"

	"github.com/kyso-vn/kyso/pkg/docid"
	"testing"
)

// TestRegisters: a register created by an administrator and one created on first use
// are both listed, with the last number of the year asked for; creating one twice is
// a conflict and bad input is refused.
func TestRegisters(t *testing.T) {
	eachBackend(t, false, func(t *testing.T, cfg Config) {
		ctx := context.Background()
		s := openStore(t, cfg, newClock(t0))
		if _, err := s.CreateRegister(ctx, "000.00.00.H43", Outgoing, "", "Sổ văn bản đi", "admin"); err != nil {
			t.Fatal(err)
		}
		for range 3 {
			if _, err := s.NextNumberIn(ctx, "000.00.00.H43", Outgoing, t0); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s.NextNumberIn(ctx, "000.00.00.H43", Incoming, t0); err != nil {
			t.Fatal(err)
		}
		if _, err := s.NextNumberIn(ctx, "000.00.00.G22", Outgoing, t0); err != nil {
			t.Fatal(err)
		}
		bad := []struct {
			name          string
			agency        string
			kind          Direction
			series, actor string
			want          error
		}{
			{"twice", "000.00.00.H43", Outgoing, "", "admin", ErrConflict},
			{"bad kind", "000.00.00.H43", "sideways", "", "admin", ErrInvalid},
			{"bad agency", "ubnd", Outgoing, "", "admin", ErrInvalid},
			{"no actor", "000.00.00.H43", Outgoing, "mat", "", ErrInvalid},
		}
		for _, c := range bad {
			if _, err := s.CreateRegister(ctx, docidCode(c.agency), c.kind, c.series, "", c.actor); !errors.Is(err, c.want) {
				t.Errorf("%s: %v, want %v", c.name, err, c.want)
			}
		}
		cases := []struct {
			agency string
			year   int
			want   []string // agency/kind=last
		}{
			{"000.00.00.H43", 2021, []string{"000.00.00.H43/incoming=1", "000.00.00.H43/outgoing=3"}},
			{"000.00.00.H43", 2022, []string{"000.00.00.H43/incoming=0", "000.00.00.H43/outgoing=0"}},
			{"", 2021, []string{"000.00.00.G22/outgoing=1", "000.00.00.H43/incoming=1", "000.00.00.H43/outgoing=3"}},
		}
		for _, c := range cases {
			regs, err := s.Registers(ctx, docidCode(c.agency), c.year)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range regs {
				if r.Year != c.year {
					t.Errorf("year %d, want %d", r.Year, c.year)
				}
				got = append(got, r.AgencyCode+"/"+string(r.Kind)+"="+itoa(r.LastNumber))
			}
			if len(got) != len(c.want) {
				t.Fatalf("%s %d: %v, want %v", c.agency, c.year, got, c.want)
			}
			for i := range got {
				if got[i] != c.want[i] {
					t.Errorf("%s %d: %v, want %v", c.agency, c.year, got, c.want)
				}
			}
		}
		if regs, _ := s.Registers(ctx, "000.00.00.H43", 2021); regs[1].Name != "Sổ văn bản đi" {
			t.Errorf("name %q", regs[1].Name)
		}
	})
}

func docidCode(s string) docid.AgencyCode { return docid.AgencyCode(s) }

func itoa(n int) string { return strconv.Itoa(n) }
