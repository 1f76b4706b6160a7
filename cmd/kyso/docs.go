package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/kyso-vn/kyso/app"
	"github.com/kyso-vn/kyso/internal/durable"
	"github.com/kyso-vn/kyso/pkg/config"
	"github.com/kyso-vn/kyso/pkg/docid"
	"github.com/kyso-vn/kyso/pkg/store"
)

func init() { subcommands = append(subcommands, newDocsCmd) }

// storeFlags are the flags of every command that opens the document store; their
// defaults come from the same KYSO_* variables the configuration file reads.
type storeFlags struct {
	driver, dsn, dataDir string
	blobsInDB            bool
	// config is the YAML file whose registers: section chooses documents' register
	// series (the file kyso serve reads); registers is that section, set by open.
	config    string
	registers *config.Registers
}

func addStoreFlags(cmd *cobra.Command) *storeFlags {
	f := &storeFlags{}
	env := func(name, def string) string {
		if v, ok := os.LookupEnv(name); ok {
			return v
		}
		return def
	}
	blobs, _ := strconv.ParseBool(env("KYSO_BLOBS_IN_DB", "false"))
	pf := cmd.PersistentFlags()
	pf.StringVar(&f.driver, "db-driver", env("KYSO_DB_DRIVER", store.DriverSQLite), "store database: sqlite or postgres")
	pf.StringVar(&f.dsn, "db-dsn", env("KYSO_DB_DSN", ""), "database address (default: DATA-DIR/kyso.db for sqlite)")
	pf.StringVar(&f.dataDir, "data-dir", env("KYSO_DATA_DIR", "./kyso-data"), "directory for blobs and the SQLite file")
	pf.BoolVar(&f.blobsInDB, "blobs-in-db", blobs, "keep document content in the database (PostgreSQL replicas without shared disk)")
	pf.StringVar(&f.config, "config", env("KYSO_CONFIG", ""), "kyso serve's YAML configuration, whose registers: section chooses the register series (default: the main series only)")
	return f
}

// open opens the store the flags name.
func (f *storeFlags) open(ctx context.Context) (*store.Store, error) {
	c, err := config.Load(f.config, os.LookupEnv)
	if err != nil {
		return nil, &exitError{code: 2, err: err}
	}
	f.registers = &c.Registers
	cfg := store.Config{Driver: f.driver, DSN: f.dsn, BlobsInDB: f.blobsInDB}
	if !f.blobsInDB {
		cfg.BlobDir = filepath.Join(f.dataDir, "blobs")
	}
	if cfg.DSN == "" && (cfg.Driver == store.DriverSQLite || cfg.Driver == "") {
		if err := os.MkdirAll(f.dataDir, 0o750); err != nil {
			return nil, &exitError{code: 1, err: fmt.Errorf("data dir: %w", err)}
		}
		cfg.DSN = filepath.Join(f.dataDir, "kyso.db")
	}
	s, err := store.Open(ctx, cfg)
	if err != nil {
		return nil, &exitError{code: kindExitCode(err), err: err}
	}
	return s, nil
}

// printJSON writes v as indented JSON, the shape every --json output of this binary
// has.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// printJSONOrTable writes v as JSON when asJSON is set, else the tab-separated rows
// that rows writes, aligned in columns.
func printJSONOrTable(w io.Writer, asJSON bool, v any, rows func(tw io.Writer)) error {
	if asJSON {
		return printJSON(w, v)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	rows(tw)
	return tw.Flush()
}

func cliActor() string {
	if u := os.Getenv("USER"); u != "" {
		return "cli:" + u
	}
	return "cli"
}

func newDocsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "docs",
		Short: "The document store: import, list, get, check, agencies, approve, issue, receive, export",
	}
	sf := addStoreFlags(cmd)
	cmd.AddCommand(newDocsImportCmd(sf), newDocsListCmd(sf), newDocsGetCmd(sf), newDocsCheckCmd(sf), newDocsAgenciesCmd(sf), newDocsExportCmd(sf), newDocsApproveCmd(sf), newDocsIssueCmd(sf), newDocsReceiveCmd(sf))
	cmd.AddCommand(newDocsNumbersCmd(sf))
	cmd.AddCommand(newDocsLifecycleCmds(sf)...)
	return cmd
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func newDocsListCmd(sf *storeFlags) *cobra.Command {
	var (
		q        app.DocumentQuery
		from, to string
		asJSON   bool
	)
	cmd := &cobra.Command{
		Use:   "list",
		Short: "Find documents by identifier, number, agency, date range or text in the summary",
		Long: `Find documents in the store, newest first. --json prints the API's JSON, the very
shape GET /v1/documents answers ({"documents": [...]}, ISO 8601 times).`,
		RunE: func(cmd *cobra.Command, args []string) error {
			for _, d := range []struct {
				s   string
				dst *time.Time
			}{{from, &q.IssuedFrom}, {to, &q.IssuedTo}} {
				if d.s == "" {
					continue
				}
				t, err := time.ParseInLocation(time.DateOnly, d.s, docid.Vietnam)
				if err != nil {
					return &exitError{code: 2, err: fmt.Errorf("docs list: date %q: want yyyy-MM-dd", d.s)}
				}
				*d.dst = t
			}
			if !q.IssuedTo.IsZero() {
				q.IssuedTo = q.IssuedTo.AddDate(0, 0, 1) // --to is inclusive
			}
			s, err := sf.open(cmd.Context())
			if err != nil {
				return err
			}
			defer s.Close()
			docs, err := (&app.Service{Store: s}).SearchDocuments(cmd.Context(), app.Principal{}, q)
			if err != nil {
				return &exitError{code: 1, err: err}
			}
			l := langOf(cmd)
			return printJSONOrTable(cmd.OutOrStdout(), asJSON, map[string]any{"documents": docs}, func(tw io.Writer) {
				fmt.Fprintln(tw, tr(l, "docs.list.header"))
				for _, d := range docs {
					status := tr(l, "status."+d.Status)
					if d.Withdrawn != nil {
						status += " (" + withdrawnText(d.Withdrawn) + ")"
					}
					fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", d.ID, tr(l, "direction."+d.Direction), status,
						recordReg(d), recordNumber(d), dateIn(l, d.IssuedAt), orDash(d.Identifier), recordVerdict(d), d.Summary)
				}
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&q.Identifier, "identifier", "", "edXML document identifier")
	f.IntVar(&q.Number, "number", 0, "the issuing agency's number")
	f.StringVar(&q.Symbol, "symbol", "", "symbol, e.g. UBND-VP")
	f.IntVar(&q.Year, "year", 0, "register year")
	f.StringVar(&q.AgencyCode, "agency", "", "issuing agency code")
	f.StringVar(&q.HolderCode, "holder", "", "keeping agency code")
	f.StringVar(&q.Direction, "direction", "", "incoming or outgoing")
	f.StringVar(&q.Status, "status", "", "draft, approved, issued, received or returned")
	f.StringVar(&from, "from", "", "issued on or after yyyy-MM-dd")
	f.StringVar(&to, "to", "", "issued on or before yyyy-MM-dd")
	f.StringVar(&q.Text, "text", "", "text in the summary")
	f.IntVar(&q.Limit, "limit", 100, "at most this many (≤1000)")
	f.IntVar(&q.Offset, "offset", 0, "skip this many")
	f.BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

// recordReg is a record's place in its register, "05/2026".
func recordReg(d app.DocumentRecord) string {
	if d.RegisterNumber == 0 {
		return "-"
	}
	return fmt.Sprintf("%s/%d", docid.FormatNumber(d.RegisterNumber), d.RegisterYear)
}

// recordNumber is a record's number and symbol, "…/SYMBOL" before it has a number.
func recordNumber(d app.DocumentRecord) string {
	switch {
	case d.Number > 0 && d.Symbol != "":
		return docid.NumberSymbol{Number: d.Number, Year: d.LegalYear, Symbol: d.Symbol}.String()
	case d.Symbol != "":
		return "…/" + d.Symbol
	}
	return "-"
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func regString(d *store.Document) string {
	s := "-"
	if d.RegNumber != nil {
		s = fmt.Sprintf("%s/%d", docid.FormatNumber(*d.RegNumber), *d.Year)
	}
	if d.Series != "" { // the main series goes unnamed
		s += " (" + d.Series + ")"
	}
	return s
}

func numberString(d *store.Document) string {
	switch {
	case d.Number > 0 && d.Symbol != "":
		return d.NumberSymbol().String()
	case d.Symbol != "":
		return "…/" + d.Symbol
	}
	return "-"
}

// verdictString is a document's verdict, INDICATION/SUB_INDICATION ("-": never verified).
func verdictString(d *store.Document) string {
	if d.Verdict == "" {
		return "-"
	}
	return strings.TrimSuffix(d.Verdict+"/"+d.VerdictSub, "/")
}

// recordVerdict is verdictString of a record.
func recordVerdict(d app.DocumentRecord) string {
	if d.Verdict == nil {
		return "-"
	}
	return strings.TrimSuffix(d.Verdict.Indication+"/"+d.Verdict.SubIndication, "/")
}

func newDocsGetCmd(sf *storeFlags) *cobra.Command {
	var (
		out     string
		version int
		asJSON  bool
		actor   string
	)
	cmd := &cobra.Command{
		Use:   "get ID|IDENTIFIER",
		Short: "Show a document with its versions and audit trail, or write its content (--out)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			s, err := sf.open(ctx)
			if err != nil {
				return err
			}
			defer s.Close()
			var d *store.Document
			if id, perr := strconv.ParseInt(args[0], 10, 64); perr == nil {
				d, err = s.GetDocument(ctx, id)
			} else {
				d, err = s.FindByIdentifier(ctx, args[0], "")
			}
			if err != nil {
				return &exitError{code: 1, err: err}
			}
			if out != "" {
				return writeContent(cmd, s, d, version, out, actor)
			}
			if asJSON {
				rec, err := (&app.Service{Store: s}).GetDocument(ctx, app.Principal{}, d.ID)
				if err != nil {
					return &exitError{code: 1, err: err}
				}
				return printJSON(cmd.OutOrStdout(), rec)
			}
			vs, err := s.Versions(ctx, d.ID)
			if err != nil {
				return &exitError{code: 1, err: err}
			}
			as, err := s.Attachments(ctx, d.ID)
			if err != nil {
				return &exitError{code: 1, err: err}
			}
			events, err := s.AuditEvents(ctx, d.ID, 0)
			if err != nil {
				return &exitError{code: 1, err: err}
			}
			wd, err := s.Withdrawals(ctx, d.ID)
			if err != nil {
				return &exitError{code: 1, err: err}
			}
			replaces, err := s.Replaces(ctx, d.ID)
			if err != nil {
				return &exitError{code: 1, err: err}
			}
			w := cmd.OutOrStdout()
			l := langOf(cmd)
			fmt.Fprintln(w, tr(l, "docs.get.title", d.ID, tr(l, "direction."+string(d.Direction)), tr(l, "status."+string(d.Status))))
			if wr, ok := wd[d.ID]; ok {
				fmt.Fprintf(w, "  %s: %s", withdrawalText(wr, ok), wr.Reason)
				if wr.Decision != "" {
					fmt.Fprintf(w, " (%s)", wr.Decision)
				}
				fmt.Fprintf(w, ", %s\n", dateIn(l, &wr.At))
			}
			for _, r := range replaces {
				fmt.Fprintf(w, "  Thay thế văn bản %d\n", r)
			}
			fmt.Fprint(w, tr(l, "docs.get.fields", deref(d.Identifier), numberString(d), regString(d), d.Type, d.Summary,
				d.AgencyCode, d.HolderCode, dateIn(l, d.IssuedAt), dateIn(l, d.ReceivedAt)))
			fmt.Fprint(w, tr(l, "docs.get.verdict", verdictString(d)))
			if d.VerdictReason != "" {
				fmt.Fprintf(w, " — %s", d.VerdictReason)
			}
			fmt.Fprintln(w)
			fmt.Fprintln(w, tr(l, "docs.get.versions"))
			for _, v := range vs {
				fmt.Fprintln(w, tr(l, "docs.get.version", v.Seq, v.SHA256, v.Size, v.SignatureCount, v.Filename, v.CreatedBy))
			}
			for _, a := range as {
				fmt.Fprintln(w, tr(l, "docs.get.attachment", a.Name, a.SHA256, a.Size))
			}
			fmt.Fprintln(w, tr(l, "docs.get.audit"))
			for _, e := range events {
				fmt.Fprintf(w, "  #%d  %s  %-8s  %s  %s\n", e.ID, e.At.In(docid.Vietnam).Format(time.RFC3339), e.Action, e.Actor, e.Detail)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&out, "out", "", "write the content to this file (- for standard output)")
	f.IntVar(&version, "version", 0, "version to write (default: the current one)")
	f.BoolVar(&asJSON, "json", false, "print the API's JSON (GET /v1/documents/{id}): the record with its versions")
	f.StringVar(&actor, "actor", cliActor(), "who is downloading, for the audit trail")
	return cmd
}

// withdrawnText is withdrawalText for the record the list prints.
func withdrawnText(w *app.WithdrawalRecord) string {
	if w.Kind == "replaced" {
		return fmt.Sprintf("Đã được thay thế bởi văn bản %d", w.ReplacedBy)
	}
	return "Đã bị thu hồi"
}

func writeContent(cmd *cobra.Command, s *store.Store, d *store.Document, version int, out, actor string) error {
	rc, _, err := s.Download(cmd.Context(), d.ID, version, actor)
	if err != nil {
		return &exitError{code: 1, err: err}
	}
	defer rc.Close()
	if out == "-" {
		if _, err := io.Copy(cmd.OutOrStdout(), rc); err != nil {
			return &exitError{code: 1, err: fmt.Errorf("docs get: %w", err)}
		}
		return nil
	}
	// A failed download leaves no partial file that looks complete; the content may
	// be confidential, so the file is the user's alone.
	if err := durable.Write(out, 0o600, func(w io.Writer) error {
		_, err := io.Copy(w, rc)
		return err
	}); err != nil {
		return &exitError{code: 1, err: fmt.Errorf("docs get: %w", err)}
	}
	return nil
}

func newDocsCheckCmd(sf *storeFlags) *cobra.Command {
	var removeOrphans bool
	var exportHead, againstHead string
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Verify every stored content hash, the whole audit chain and every document row against it (exit 1 on a problem)",
		Long: `Check re-hashes every stored blob, walks the audit chain, and compares every document
row and its version rows with the digest the chain recorded at their last change, so
a status, number, identifier, register place or version pointer changed in the
database is found. --export-head writes the chain's head (last event id and hash) to
a file ("-" for standard output) to keep outside the database; --head FILE checks
the chain still holds that event with that hash, so a chain cut back together with
its head row is found. kyso serve also logs the head every 15 minutes.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := sf.open(cmd.Context())
			if err != nil {
				return err
			}
			defer s.Close()
			start := time.Now()
			rep, err := s.Check(cmd.Context())
			if err != nil {
				return &exitError{code: 1, err: err}
			}
			if againstHead != "" {
				if err := checkAgainstHead(cmd.Context(), s, rep, againstHead); err != nil {
					return err
				}
			}
			w := cmd.OutOrStdout()
			l := langOf(cmd)
			fmt.Fprintln(w, tr(l, "docs.check.summary",
				rep.Documents, rep.Versions, rep.Blobs, rep.AuditEvents, time.Since(start).Round(time.Millisecond)))
			if ok, how, err := s.Durability(cmd.Context()); err == nil {
				if ok {
					fmt.Fprintln(w, tr(l, "docs.check.durable", how))
				} else {
					fmt.Fprintln(w, tr(l, "docs.check.not_durable", how))
				}
			}
			// Copies of documents left in DATA_DIR/tmp by a process that crashed (those of
			// running processes are locked and stay).
			if n, err := sweepTemp(tempRoot(sf.dataDir)); err != nil {
				return &exitError{code: 1, err: err}
			} else if n > 0 {
				fmt.Fprintln(w, tr(l, "docs.check.temp", n))
			}
			if len(rep.OrphanBlobs) > 0 {
				fmt.Fprintln(w, tr(l, "docs.check.orphans", len(rep.OrphanBlobs)))
				if removeOrphans {
					n, err := s.RemoveOrphans(cmd.Context())
					if err != nil {
						return &exitError{code: 1, err: err}
					}
					fmt.Fprintln(w, tr(l, "docs.check.removed", n))
				}
			}
			for _, p := range rep.Problems {
				fmt.Fprintf(w, "PROBLEM %s\n", p)
			}
			if !rep.OK() {
				if rep.FirstBadAudit != 0 {
					return &exitError{code: 1, err: fmt.Errorf("docs check: audit trail broken at event %d", rep.FirstBadAudit)}
				}
				return &exitError{code: 1, err: fmt.Errorf("docs check: %d problems", len(rep.Problems))}
			}
			if exportHead != "" {
				if err := writeHead(cmd, s, exportHead); err != nil {
					return err
				}
			}
			fmt.Fprintln(w, "OK")
			return nil
		},
	}
	cmd.Flags().BoolVar(&removeOrphans, "remove-orphans", false, "delete unreferenced blobs (only while nothing writes to the store)")
	cmd.Flags().StringVar(&exportHead, "export-head", "", "after a clean check, write the audit chain's head as JSON to this file (- for stdout)")
	cmd.Flags().StringVar(&againstHead, "head", "", "a head exported earlier: the chain must still hold its event, with its hash")
	return cmd
}

func newDocsAgenciesCmd(sf *storeFlags) *cobra.Command {
	var actor string
	cmd := &cobra.Command{
		Use:   "agencies FILE.csv",
		Short: "Load the list of agency identifier codes (code,name,parent_code,valid_from,valid_to)",
		Long: `Load the list of agency identifier codes (Decision 20/2020/QĐ-TTg). Codes change when
agencies are reorganised, so each row is valid from valid_from until valid_to (empty:
still valid); loading the list again updates rows with the same code and valid_from.
Every bad line is reported with its number and nothing is loaded.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := os.Open(args[0])
			if err != nil {
				return &exitError{code: 1, err: err}
			}
			defer f.Close()
			list, err := docid.ReadAgencies(f)
			if err != nil {
				return &exitError{code: 2, err: fmt.Errorf("%s:\n%w", args[0], err)}
			}
			s, err := sf.open(cmd.Context())
			if err != nil {
				return err
			}
			defer s.Close()
			n, err := s.ImportAgencies(cmd.Context(), list, actor)
			if err != nil {
				return &exitError{code: 1, err: err}
			}
			fmt.Fprintln(cmd.OutOrStdout(), tr(langOf(cmd), "docs.agencies", n))
			return nil
		},
	}
	cmd.Flags().StringVar(&actor, "actor", cliActor(), "who is loading the list, for the audit trail")
	return cmd
}
