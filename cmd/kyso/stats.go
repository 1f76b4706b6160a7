package main

import (
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/spf13/cobra"

	"github.com/kyso-vn/kyso/app"
	"github.com/kyso-vn/kyso/pkg/docid"
	"github.com/kyso-vn/kyso/pkg/store"
)

func init() { subcommands = append(subcommands, newStatsCmd) }

func newStatsCmd() *cobra.Command {
	var (
		year     int
		from, to string
		asJSON   bool
		flags    *storeFlags
	)
	cmd := &cobra.Command{
		Use:     "stats",
		Short:   "Figures of the province report for a period: documents in and out, signatures, certificates",
		Example: "  kyso stats --year 2025\n  kyso stats --from 2025-01-01 --to 2025-06-30 --json",
		RunE: func(cmd *cobra.Command, args []string) error {
			q, err := statsPeriod(year, from, to)
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			s, err := flags.open(cmd.Context())
			if err != nil {
				return err
			}
			defer s.Close()
			st, err := (&app.Service{Store: s}).Stats(cmd.Context(), app.Principal{}, q)
			if err != nil {
				return err
			}
			l := langOf(cmd)
			return printJSONOrTable(cmd.OutOrStdout(), asJSON, st, func(tw io.Writer) { statsTable(tw, l, st) })
		},
	}
	flags = addStoreFlags(cmd)
	cmd.Flags().IntVar(&year, "year", 0, "calendar year in Vietnam (default: this year)")
	cmd.Flags().StringVar(&from, "from", "", "first day of the period, yyyy-MM-dd (with --to, instead of --year)")
	cmd.Flags().StringVar(&to, "to", "", "last day of the period, yyyy-MM-dd, included")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON (the API's)")
	return cmd
}

// statsPeriod is --year, or --from and --to; this year when none is given.
func statsPeriod(year int, from, to string) (app.StatsQuery, error) {
	if year != 0 && (from != "" || to != "") {
		return app.StatsQuery{}, fmt.Errorf("stats: give --year or --from and --to, not both")
	}
	if from == "" && to == "" {
		if year == 0 {
			year = time.Now().In(docid.Vietnam).Year()
		}
		if year < 1 || year > 9999 {
			return app.StatsQuery{}, fmt.Errorf("stats: year %d is out of range", year)
		}
		return app.YearPeriod(year), nil
	}
	f, t, err := dayRange(from, to)
	return app.StatsQuery{From: f, To: t}, err
}

// dayRange reads --from and --to, both required, as days in Vietnam.
func dayRange(from, to string) (time.Time, time.Time, error) {
	if from == "" || to == "" {
		return time.Time{}, time.Time{}, fmt.Errorf("--from and --to go together: the first and the last day (yyyy-MM-dd)")
	}
	var out [2]time.Time
	for i, s := range []string{from, to} {
		t, err := time.ParseInLocation(time.DateOnly, s, docid.Vietnam)
		if err != nil {
			return time.Time{}, time.Time{}, fmt.Errorf("date %q: want yyyy-MM-dd", s)
		}
		out[i] = t
	}
	return out[0], out[1], nil
}

func statsTable(tw io.Writer, l lang, st app.Stats) {
	day := func(s string) string { return dateIn(l, parseDay(s)) }
	fmt.Fprintln(tw, tr(l, "stats.period", day(st.From), day(st.To)))
	fmt.Fprintf(tw, "\t%s\t%s\t%s\n", tr(l, "stats.col.now"), tr(l, "stats.col.prev"), tr(l, "stats.col.change"))
	row := func(name string, now, prev int64) {
		diff, pct := store.Change(now, prev)
		change := fmt.Sprintf("%+d", diff)
		if prev != 0 {
			change += fmt.Sprintf(" (%+.1f%%)", pct)
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\n", name, now, prev, change)
	}
	sub := func(title string, m map[string]int64, label func(string) string) {
		fmt.Fprintf(tw, "  %s\t\t\t\n", title)
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			fmt.Fprintf(tw, "    %s\t%d\t\t\n", label(k), m[k])
		}
	}
	typeName := func(k string) string {
		if k == "unspecified" {
			return tr(l, "stats.unspecified")
		}
		return k
	}
	prefixed := func(prefix string) func(string) string {
		return func(k string) string { return tr(l, prefix+k) }
	}
	row(tr(l, "stats.documents"), st.Incoming.Total+st.Outgoing.Total, st.Incoming.Previous+st.Outgoing.Previous)
	for _, d := range []struct {
		key string
		c   app.DocumentCounts
	}{{"stats.incoming", st.Incoming}, {"stats.outgoing", st.Outgoing}} {
		row(tr(l, d.key), d.c.Total, d.c.Previous)
		sub(tr(l, "stats.by_type"), d.c.ByType, typeName)
		sub(tr(l, "stats.by_status"), d.c.ByStatus, prefixed("status."))
	}
	fmt.Fprintf(tw, "%s\t%d\t\t\n", tr(l, "stats.signed"), st.Signed)
	fmt.Fprintf(tw, "%s\t%d\t\t\n", tr(l, "stats.signatures"), st.Signatures.Total)
	ordered := func(title string, keys []string, m map[string]int64, prefix string) {
		fmt.Fprintf(tw, "  %s\t\t\t\n", title)
		for _, k := range keys {
			fmt.Fprintf(tw, "    %s\t%d\t\t\n", tr(l, prefix+k), m[k])
		}
	}
	var kinds, keys, certs []string
	for _, k := range store.SignatureKinds {
		kinds = append(kinds, string(k))
	}
	for _, k := range store.KeyKinds {
		keys = append(keys, string(k))
	}
	ordered(tr(l, "stats.by_kind"), kinds, st.Signatures.ByKind, "sig.")
	ordered(tr(l, "stats.by_key"), keys, st.Signatures.ByKeyKind, "key.")
	fmt.Fprintf(tw, "%s\t%s\t%s\t\n", tr(l, "stats.certificates"), tr(l, "stats.certificates.in_force"), tr(l, "stats.certificates.used"))
	fmt.Fprintf(tw, "  %s\t%d\t%d\t\n", tr(l, "stats.total"), st.Certificates.InForce, st.Certificates.Used)
	for _, c := range store.CertCategories {
		certs = append(certs, string(c))
	}
	for _, c := range certs {
		n := st.Certificates.ByKind[c]
		fmt.Fprintf(tw, "    %s\t%d\t%d\t\n", tr(l, "cert."+c), n.InForce, n.Used)
	}
}
