package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/kyso-vn/kyso/app"
	"github.com/kyso-vn/kyso/pkg/docid"
	"github.com/kyso-vn/kyso/pkg/store"
	"github.com/spf13/cobra"
)

// newDocsNumbersCmd lists every number of one register's year with what holds it:
// the same records as GET /v1/registers/{id}/numbers.
func newDocsNumbersCmd(sf *storeFlags) *cobra.Command {
	var (
		agency, kind, series string
		year                 int
		asJSON               bool
	)
	cmd := &cobra.Command{
		Use:   "numbers --agency CODE [--kind outgoing|incoming] [--series NAME] [--year YYYY]",
		Short: "Every number of a register's year: issued, received, reserved, or voided with the reason",
		Long: `List the numbers 1 to the last taken in one register's year (the agency's outgoing
register by default; --series names another series, --kind incoming the arrival
register), each with what holds it: the issued or received document, a reservation
for an issue being signed, or a voided number (số bị hủy) with when, who and why —
an issue cancelled, refused, timed out, failed or expired after its number was
printed on the page. A number is never skipped silently and never given twice.`,
		Example: `  kyso docs numbers --agency 000.00.00.H43 --year 2026
  kyso docs numbers --agency 000.00.00.H43 --series Mật --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if _, err := docid.ParseAgencyCode(agency); err != nil {
				return usageErr("--agency: %v", err)
			}
			if kind != string(store.Outgoing) && kind != string(store.Incoming) {
				return usageErr("--kind must be outgoing or incoming")
			}
			if strings.EqualFold(series, "main") {
				series = ""
			}
			st, err := sf.open(cmd.Context())
			if err != nil {
				return err
			}
			defer st.Close()
			svc := &app.Service{Store: st}
			if year == 0 {
				year = store.NumberingYear(time.Now())
			}
			regs, err := svc.Registers(cmd.Context(), app.Principal{}, agency, year)
			if err != nil {
				return &exitError{code: kindExitCode(err), err: err}
			}
			var reg *app.RegisterRecord
			for i := range regs {
				if regs[i].Kind == kind && regs[i].Series == series {
					reg = &regs[i]
				}
			}
			if reg == nil {
				return &exitError{code: kindExitCode(store.ErrNotFound), err: fmt.Errorf("docs numbers: agency %s has no %s register of series %q", agency, kind, series)}
			}
			lines, err := svc.RegisterNumbers(cmd.Context(), app.Principal{}, reg.ID, year)
			if err != nil {
				return &exitError{code: kindExitCode(err), err: err}
			}
			if lines == nil {
				lines = []app.RegisterNumber{}
			}
			out := struct {
				RegisterID int64                `json:"register_id"`
				Numbers    []app.RegisterNumber `json:"numbers"`
			}{reg.ID, lines}
			return printJSONOrTable(cmd.OutOrStdout(), asJSON, out, func(tw io.Writer) {
				fmt.Fprintln(tw, "SỐ\tTRẠNG THÁI\tVĂN BẢN\tLÚC\tLÝ DO")
				for _, l := range lines {
					doc, at := "", ""
					if l.DocumentID != 0 {
						doc = fmt.Sprintf("%d %s", l.DocumentID, l.Identifier)
					}
					if l.At != nil {
						at = l.At.In(docid.Vietnam).Format(time.RFC3339)
					}
					fmt.Fprintf(tw, "%02d\t%s\t%s\t%s\t%s\n", l.Number, l.Status, doc, at, l.Reason)
				}
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&agency, "agency", "", "the agency whose register it is, e.g. 000.00.00.H43")
	f.StringVar(&kind, "kind", string(store.Outgoing), "outgoing (văn bản đi) or incoming (văn bản đến)")
	f.StringVar(&series, "series", "", "the register series (default: the main one)")
	f.IntVar(&year, "year", 0, "numbering year (default: this year, Vietnam time)")
	f.BoolVar(&asJSON, "json", false, "print JSON, as GET /v1/registers/{id}/numbers answers")
	return cmd
}
