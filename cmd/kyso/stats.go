package main

import (
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/kyso-vn/kyso/pkg/docid"
	"github.com/kyso-vn/kyso/pkg/store"
)

func init() { subcommands = append(subcommands, newStatsCmd) }

func newStatsCmd() *cobra.Command {
	var (
		year   int
		asJSON bool
		flags  *storeFlags
	)
	cmd := &cobra.Command{
		Use:   "stats",
		Short: "Yearly figures of the province report: documents in and out, signed, certificates",
		RunE: func(cmd *cobra.Command, args []string) error {
			if year == 0 {
				year = time.Now().In(docid.Vietnam).Year()
			}
			s, err := flags.open(cmd.Context())
			if err != nil {
				return err
			}
			defer s.Close()
			st, err := s.Stats(cmd.Context(), year)
			if err != nil {
				return &exitError{code: 1, err: err}
			}
			return printJSONOrTable(cmd.OutOrStdout(), asJSON, st, func(tw io.Writer) {
				fmt.Fprintf(tw, "\t%d\t%d\tchange\n", st.Year, st.Year-1)
				row := func(name string, now, prev int64) {
					diff, pct := store.Change(now, prev)
					change := fmt.Sprintf("%+d", diff)
					if prev != 0 {
						change += fmt.Sprintf(" (%+.1f%%)", pct)
					}
					fmt.Fprintf(tw, "%s\t%d\t%d\t%s\n", name, now, prev, change)
				}
				row("documents (total)", st.Incoming+st.Outgoing, st.IncomingPrevYear+st.OutgoingPrevYear)
				row("incoming", st.Incoming, st.IncomingPrevYear)
				row("outgoing", st.Outgoing, st.OutgoingPrevYear)
				fmt.Fprintf(tw, "documents signed\t%d\n", st.Signed)
				fmt.Fprintf(tw, "signatures\t%d\n", st.Signatures)
				fmt.Fprintf(tw, "certificates in use\t%d\n", st.Certificates)
				for _, k := range []store.CertKind{store.CertOrganisation, store.CertPersonal} {
					fmt.Fprintf(tw, "  %s\t%d\n", k, st.CertificatesByKind[k])
				}
				for _, f := range []store.CertForm{store.FormUSBToken, store.FormSIMPKI, store.FormHSM} {
					fmt.Fprintf(tw, "  %s\t%d\n", f, st.CertificatesByForm[f])
				}
			})
		},
	}
	flags = addStoreFlags(cmd)
	cmd.Flags().IntVar(&year, "year", 0, "calendar year in Vietnam (default: this year)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}
