package main

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/kyso-vn/kyso/app"
	"github.com/kyso-vn/kyso/pkg/config"
	"github.com/kyso-vn/kyso/pkg/docid"
	"github.com/kyso-vn/kyso/pkg/store"
)

// importMeta is the metadata of imported files, from flags or one CSV row per file.
type importMeta struct {
	file, direction, agency, holder, docType, summary, number, issued, received, identifier string
	urgency, confidentiality, series                                                        string
}

// importCSVHeader names the columns of `docs import --csv`.
var importCSVHeader = []string{"file", "direction", "agency", "holder", "type", "summary", "number", "issued", "received", "identifier"}

func newDocsImportCmd(sf *storeFlags) *cobra.Command {
	var (
		m       importMeta
		csvPath string
		actor   string
	)
	cmd := &cobra.Command{
		Use:   "import [FILE...]",
		Short: "Store files (PDFs or any) as received (incoming) or draft (outgoing) documents",
		Long: `Store files as documents. Metadata comes from the flags (the same for every file)
or from a CSV file (--csv) with the columns
  file,direction,agency,holder,type,summary,number,issued,received,identifier[,series]
where number is like 05/UBND-VP and dates are yyyy-MM-dd (Vietnam). Incoming documents
get the next arrival number of the holder's incoming register. The register series
comes from the type and confidentiality (registers: in --config; by default the main
series) unless --series or the series column names another, which is checked.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			var items []importMeta
			if csvPath != "" {
				if len(args) > 0 {
					return &exitError{code: 2, err: errors.New("docs import: give files either as arguments or in --csv, not both")}
				}
				var err error
				if items, err = readImportCSV(csvPath); err != nil {
					return &exitError{code: 2, err: err}
				}
			} else {
				if len(args) == 0 {
					return &exitError{code: 2, err: errors.New("docs import: no files given")}
				}
				for _, a := range args {
					it := m
					it.file = a
					items = append(items, it)
				}
			}
			docs := make([]store.NewDocument, len(items))
			var total int64
			for i, it := range items {
				nd, err := it.document()
				if err != nil {
					return &exitError{code: 2, err: fmt.Errorf("docs import: %s: %w", it.file, err)}
				}
				fi, err := os.Stat(it.file)
				if err != nil {
					return &exitError{code: 1, err: fmt.Errorf("docs import: %w", err)}
				}
				nd.Actor = actor
				docs[i] = nd
				total += fi.Size()
			}
			s, err := sf.open(cmd.Context())
			if err != nil {
				return err
			}
			defer s.Close()
			for i, nd := range docs { // a series the configuration does not have is a usage error, before anything is stored
				if _, err := sf.registers.SeriesFor(string(nd.Direction), nd.Type, string(nd.Confidentiality), nd.Series); err != nil {
					return &exitError{code: 2, err: fmt.Errorf("docs import: %s: %w", items[i].file, err)}
				}
			}
			return runImport(cmd, s, sf.registers, items, docs, total)
		},
	}
	f := cmd.Flags()
	f.StringVar(&csvPath, "csv", "", "CSV file with one row of metadata per file")
	f.StringVar(&m.direction, "direction", "incoming", "incoming (stored as received) or outgoing (stored as draft)")
	f.StringVar(&m.agency, "agency", "", "issuing agency code, e.g. 000.00.00.G22")
	f.StringVar(&m.holder, "holder", "", "agency keeping the document (default: --agency)")
	f.StringVar(&m.docType, "type", "", "document type: QĐ, CV, TTr, BC, …")
	f.StringVar(&m.summary, "summary", "", "summary (trích yếu); default: the file name")
	f.StringVar(&m.number, "number", "", "number and symbol, e.g. 05/UBND-VP (a symbol alone for drafts)")
	f.StringVar(&m.issued, "issued", "", "issue date yyyy-MM-dd")
	f.StringVar(&m.received, "received", "", "arrival date yyyy-MM-dd (default: now)")
	f.StringVar(&m.identifier, "identifier", "", "edXML document identifier OrganId,yyyy/MM/dd,Number/Symbol")
	f.StringVar(&m.urgency, "urgency", "", "urgent, very_urgent or flash")
	f.StringVar(&m.confidentiality, "confidentiality", "", "confidential, secret or top_secret")
	f.StringVar(&m.series, "series", "", "register series instead of the one --type and --confidentiality give (checked; main: the main series)")
	f.StringVar(&actor, "actor", cliActor(), "who is importing, for the audit trail")
	return cmd
}

func runImport(cmd *cobra.Command, s *store.Store, series *config.Registers, items []importMeta, docs []store.NewDocument, total int64) error {
	stderr := cmd.ErrOrStderr()
	tty := false
	if f, ok := stderr.(*os.File); ok {
		tty = term.IsTerminal(int(f.Fd()))
	}
	bar := progressbar.NewOptions64(total,
		progressbar.OptionSetWriter(stderr),
		progressbar.OptionSetVisibility(tty),
		progressbar.OptionSetDescription("importing"),
		progressbar.OptionShowBytes(true),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionClearOnFinish(),
	)
	svc := &app.Service{Store: s, RegisterSeries: series}
	start := time.Now()
	var ok, failed int
	for i, nd := range docs {
		d, err := svc.ImportFile(cmd.Context(), items[i].file, nd, bar)
		if err != nil {
			failed++
			fmt.Fprintf(stderr, "%s: %v\n", items[i].file, err)
			continue
		}
		ok++
		if !tty {
			fmt.Fprintf(cmd.OutOrStdout(), "%d\t%s\t%s\n", d.ID, items[i].file, deref(d.Identifier))
		}
	}
	_ = bar.Finish()
	el := time.Since(start)
	rate := float64(ok) / max(el.Seconds(), 1e-9)
	l := langOf(cmd)
	fmt.Fprint(stderr, tr(l, "docs.imported", ok,
		float64(total)/(1<<20), el.Round(time.Millisecond), rate, float64(total)/(1<<20)/max(el.Seconds(), 1e-9)))
	if failed > 0 {
		fmt.Fprintln(stderr, tr(l, "docs.failed", failed))
		return &exitError{code: 1, err: fmt.Errorf("docs import: %d of %d files failed", failed, len(docs))}
	}
	fmt.Fprintln(stderr)
	return nil
}

func (m importMeta) document() (store.NewDocument, error) {
	nd := store.NewDocument{
		Direction: store.Direction(m.direction), Type: m.docType, Summary: m.summary,
		AgencyCode: docid.AgencyCode(m.agency), HolderCode: docid.AgencyCode(m.holder), Identifier: m.identifier,
		Urgency: store.Urgency(m.urgency), Confidentiality: store.Confidentiality(m.confidentiality),
		Series: m.series, Filename: filepath.Base(m.file),
	}
	if strings.EqualFold(filepath.Ext(m.file), ".pdf") {
		nd.MediaType = "application/pdf"
	}
	if nd.Summary == "" {
		nd.Summary = strings.TrimSuffix(filepath.Base(m.file), filepath.Ext(m.file))
	}
	if m.agency == "" {
		if m.identifier == "" {
			return nd, errors.New("--agency (or an identifier) is required")
		}
		id, err := docid.ParseDocumentID(m.identifier)
		if err != nil {
			return nd, err
		}
		nd.AgencyCode = id.Organ
	}
	if m.number != "" {
		if strings.Contains(m.number, "/") {
			ns, err := docid.ParseNumberSymbol(m.number)
			if err != nil {
				return nd, err
			}
			nd.Number = ns
		} else {
			nd.Number.Symbol = m.number
		}
	}
	for _, d := range []struct {
		s   string
		dst *time.Time
	}{{m.issued, &nd.IssuedAt}, {m.received, &nd.ReceivedAt}} {
		if d.s == "" {
			continue
		}
		t, err := time.ParseInLocation(time.DateOnly, d.s, docid.Vietnam)
		if err != nil {
			return nd, fmt.Errorf("date %q: want yyyy-MM-dd", d.s)
		}
		*d.dst = t
	}
	return nd, nil
}

func readImportCSV(path string) ([]importMeta, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("docs import: %w", err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1 // the header says whether the optional series column is there
	var out []importMeta
	columns := 0
	for line := 1; ; line++ {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("docs import: %s: %w", path, err)
		}
		if line == 1 {
			if len(rec) != len(importCSVHeader) && len(rec) != len(importCSVHeader)+1 {
				return nil, fmt.Errorf("docs import: %s line 1: wrong number of fields (%d; want %d, or %d with series)", path, len(rec), len(importCSVHeader), len(importCSVHeader)+1)
			}
			head := strings.Join(rec, ",")
			if head != strings.Join(importCSVHeader, ",") && head != strings.Join(importCSVHeader, ",")+",series" {
				return nil, fmt.Errorf("docs import: %s line 1: header must be %s (and optionally ,series)", path, strings.Join(importCSVHeader, ","))
			}
			columns = len(rec)
			continue
		}
		if len(rec) != columns {
			return nil, fmt.Errorf("docs import: %s line %d: %d fields, want %d", path, line, len(rec), columns)
		}
		m := importMeta{file: rec[0], direction: rec[1], agency: rec[2], holder: rec[3], docType: rec[4], summary: rec[5],
			number: rec[6], issued: rec[7], received: rec[8], identifier: rec[9]}
		if columns > len(importCSVHeader) {
			m.series = rec[len(importCSVHeader)]
		}
		if m.direction == "" {
			m.direction = string(store.Incoming)
		}
		if !filepath.IsAbs(m.file) {
			m.file = filepath.Join(filepath.Dir(path), m.file)
		}
		out = append(out, m)
	}
	return out, nil
}
