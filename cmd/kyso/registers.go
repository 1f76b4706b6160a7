package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kyso-vn/kyso/app"
	"github.com/kyso-vn/kyso/internal/durable"
)

func init() { subcommands = append(subcommands, newRegistersCmd) }

// registerFlags are the flags of kyso registers list and export.
type registerFlags struct {
	agency, kind, series, from, to, csvPath string
	asJSON                                  bool
	as                                      asFlag
}

func newRegistersCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "registers",
		Short: "The outgoing and incoming registers (Decree 30/2020, Appendix IV)",
	}
	sf := addStoreFlags(cmd)
	cmd.AddCommand(newRegistersListCmd(sf), newRegistersExportCmd(sf))
	return cmd
}

func (rf *registerFlags) add(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&rf.agency, "agency", "", "the agency's identifier code, e.g. 000.00.00.H43 (required)")
	f.StringVar(&rf.kind, "kind", "", "out (sổ đăng ký văn bản đi) or in (sổ đăng ký văn bản đến) (required)")
	f.StringVar(&rf.from, "from", "", "first day, yyyy-MM-dd (required)")
	f.StringVar(&rf.to, "to", "", "last day, yyyy-MM-dd, included (required)")
	f.StringVar(&rf.series, "series", "", "a separate number series (default: the main register)")
	rf.as.addOptional(cmd)
}

// book reads the register the flags name, as the --as client when given (its agency
// and clearance rules apply), else as the person at the database.
func (rf *registerFlags) book(cmd *cobra.Command, sf *storeFlags) (app.RegisterBook, error) {
	if rf.agency == "" || rf.kind == "" {
		return app.RegisterBook{}, usageErr("registers: --agency and --kind (out or in) are required")
	}
	from, to, err := dayRange(rf.from, rf.to)
	if err != nil {
		return app.RegisterBook{}, usageErr("registers: %v", err)
	}
	s, err := sf.open(cmd.Context())
	if err != nil {
		return app.RegisterBook{}, err
	}
	defer s.Close()
	svc := &app.Service{Store: s}
	p := app.Principal{}
	if rf.as.id != "" {
		if p, _, err = rf.as.principal(cmd.Context(), svc, cliActor()); err != nil {
			return app.RegisterBook{}, err
		}
	}
	return svc.RegisterBook(cmd.Context(), p, app.RegisterBookQuery{Agency: rf.agency, Kind: rf.kind, Series: rf.series, From: from, To: to})
}

func newRegistersListCmd(sf *storeFlags) *cobra.Command {
	var rf registerFlags
	cmd := &cobra.Command{
		Use:     "list",
		Short:   "Show an agency's register for a period, in number order",
		Example: "  kyso registers list --agency 000.00.00.H43 --kind out --from 2026-01-01 --to 2026-12-31",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			book, err := rf.book(cmd, sf)
			if err != nil {
				return err
			}
			if rf.csvPath != "" {
				if err := writeRegisterCSV(cmd, rf.csvPath, book); err != nil {
					return err
				}
			}
			l := langOf(cmd)
			return printJSONOrTable(cmd.OutOrStdout(), rf.asJSON, book, func(tw io.Writer) { registerTable(tw, l, book) })
		},
	}
	rf.add(cmd)
	cmd.Flags().StringVar(&rf.csvPath, "csv", "", "also write the register as CSV to this file")
	cmd.Flags().BoolVar(&rf.asJSON, "json", false, "print JSON (the API's)")
	return cmd
}

func newRegistersExportCmd(sf *storeFlags) *cobra.Command {
	var rf registerFlags
	cmd := &cobra.Command{
		Use:     "export",
		Short:   "Write a register as CSV (opens in Excel)",
		Example: "  kyso registers export --agency 000.00.00.H43 --kind in --from 2026-01-01 --to 2026-03-31 --csv so-den-q1.csv",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			book, err := rf.book(cmd, sf)
			if err != nil {
				return err
			}
			if rf.csvPath == "" || rf.csvPath == "-" {
				return app.WriteRegisterCSV(cmd.OutOrStdout(), book)
			}
			if err := writeRegisterCSV(cmd, rf.csvPath, book); err != nil {
				return err
			}
			fmt.Fprintln(cmd.ErrOrStderr(), tr(langOf(cmd), "registers.written", len(book.Entries), rf.csvPath))
			return nil
		},
	}
	rf.add(cmd)
	cmd.Flags().StringVar(&rf.csvPath, "csv", "", "write the CSV to this file (default: standard output)")
	return cmd
}

// writeRegisterCSV writes the register durably: a file that is there is whole. It may
// list confidential documents' numbers, so it is its owner's alone.
func writeRegisterCSV(cmd *cobra.Command, path string, book app.RegisterBook) error {
	if err := durable.Write(path, 0o600, func(w io.Writer) error { return app.WriteRegisterCSV(w, book) }); err != nil {
		return &exitError{code: 1, err: fmt.Errorf("registers: %w", err)}
	}
	return nil
}

// registerTable prints a register for the terminal: the title, then the columns of
// Appendix IV that the store fills.
func registerTable(tw io.Writer, l lang, b app.RegisterBook) {
	day := func(s string) string { return dateIn(l, parseDay(s)) }
	fmt.Fprintln(tw, tr(l, "registers.title."+b.Kind, b.Agency, day(b.From), day(b.To)))
	fmt.Fprintln(tw, tr(l, "registers.col."+b.Kind))
	for _, e := range b.Entries {
		num := fmt.Sprintf("%02d", e.Number)
		title := e.TypeAndSummary()
		marks := strings.Trim(app.ConfidentialityName[e.Confidentiality]+", "+app.UrgencyName[e.Urgency], ", ")
		note := e.Note
		switch {
		case e.Voided:
			note = strings.Trim(tr(l, "registers.voided")+": "+e.Note, ": ")
		case e.Status == "reserved":
			note = tr(l, "registers.reserved")
		case e.Withheld:
			note = tr(l, "registers.withheld")
		case b.Kind == "outgoing" && e.Status != "issued":
			note = tr(l, "registers.not_issued")
		}
		if b.Kind == "incoming" {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", num, dateIn(l, e.Date), e.Issuer, e.NumberSymbol,
				dateIn(l, e.DocumentDate), title, marks, e.Verification, note)
			continue
		}
		pages := ""
		if e.Pages > 0 {
			pages = fmt.Sprint(e.Pages)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", num, dateIn(l, e.Date), e.Symbol, title, e.Signer, pages, marks, note)
	}
	fmt.Fprintln(tw, tr(l, "registers.rows", len(b.Entries)))
}
