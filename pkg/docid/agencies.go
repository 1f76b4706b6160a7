package docid

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode"
)

// Agency is one version of an agency's entry in the list of identifier codes. A code is
// valid from ValidFrom (inclusive) until ValidTo (exclusive; zero means still valid);
// reorganisations close one version and open another, so lookups take a date.
type Agency struct {
	Code      AgencyCode
	Name      string
	Parent    AgencyCode // empty for a level-1 body
	ValidFrom time.Time  // midnight in Vietnam
	ValidTo   time.Time  // zero: open-ended
}

// ActiveAt reports whether this version of the entry is in force at t.
func (a Agency) ActiveAt(t time.Time) bool {
	return !t.Before(a.ValidFrom) && (a.ValidTo.IsZero() || t.Before(a.ValidTo))
}

// AgencyCSVHeader is the header ReadAgencies expects.
var AgencyCSVHeader = []string{"code", "name", "parent_code", "valid_from", "valid_to"}

// LineError is an error in one line of an agency CSV file.
type LineError struct {
	Line int
	Err  error
}

func (e *LineError) Error() string {
	return fmt.Sprintf("docid: agency list line %d: %v", e.Line, e.Err)
}
func (e *LineError) Unwrap() error { return e.Err }

// maxLineErrors bounds how many bad lines are reported at once: enough to fix a file in
// one pass, not so many that a wrong file floods the terminal.
const maxLineErrors = 20

// ReadAgencies reads an agency list as CSV with the header
// code,name,parent_code,valid_from,valid_to (dates yyyy-MM-dd in Vietnam, valid_to empty
// when still valid). It checks every line and returns all bad lines (up to 20) as
// *LineError values joined with errors.Join, so a clerk fixes the file in one pass.
func ReadAgencies(r io.Reader) ([]Agency, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = len(AgencyCSVHeader)
	var (
		out  []Agency
		errs []error
	)
	addErr := func(line int, err error) {
		errs = append(errs, &LineError{Line: line, Err: err})
	}
	header := true
	type period struct{ from, to time.Time }
	seen := map[AgencyCode][]period{}
	for len(errs) < maxLineErrors {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if !errors.As(err, &pe) {
				errs = append(errs, fmt.Errorf("docid: agency list: %w", err))
				break
			}
			addErr(pe.StartLine, pe.Err)
			if errors.Is(pe.Err, csv.ErrFieldCount) {
				continue
			}
			break
		}
		line, _ := cr.FieldPos(0)
		if header {
			header = false
			for i, h := range AgencyCSVHeader {
				if strings.TrimSpace(strings.TrimPrefix(rec[i], "\ufeff")) != h {
					addErr(line, fmt.Errorf("header must be %s", strings.Join(AgencyCSVHeader, ",")))
					return nil, errors.Join(errs...)
				}
			}
			continue
		}
		a, err := parseAgencyRecord(rec)
		if err != nil {
			addErr(line, err)
			continue
		}
		p := period{a.ValidFrom, a.ValidTo}
		for _, q := range seen[a.Code] {
			if overlaps(p.from, p.to, q.from, q.to) {
				addErr(line, fmt.Errorf("code %s is already valid in an overlapping period", a.Code))
			}
		}
		seen[a.Code] = append(seen[a.Code], p)
		out = append(out, a)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

func parseAgencyRecord(rec []string) (Agency, error) {
	var a Agency
	code, err := ParseAgencyCode(strings.TrimSpace(rec[0]))
	if err != nil {
		return a, err
	}
	a.Code = code
	a.Name = strings.TrimSpace(rec[1])
	if a.Name == "" {
		return a, fmt.Errorf("name is empty")
	}
	// A name is one line of text: a line break or other control character would not
	// survive the CSV round trip (the reader turns \r\n into \n) and has no place on a
	// seal or in a register.
	if strings.IndexFunc(a.Name, unicode.IsControl) >= 0 {
		return a, fmt.Errorf("name must be one line without control characters")
	}
	if p := strings.TrimSpace(rec[2]); p != "" {
		if a.Parent, err = ParseAgencyCode(p); err != nil {
			return a, fmt.Errorf("parent_code: %w", err)
		}
		if a.Parent == a.Code {
			return a, fmt.Errorf("agency %s is its own parent", a.Code)
		}
	}
	if a.ValidFrom, err = parseCSVDate(rec[3]); err != nil || a.ValidFrom.IsZero() {
		return a, fmt.Errorf("valid_from must be a date yyyy-MM-dd")
	}
	if v := strings.TrimSpace(rec[4]); v != "" {
		if a.ValidTo, err = parseCSVDate(v); err != nil {
			return a, fmt.Errorf("valid_to must be empty or a date yyyy-MM-dd")
		}
		if !a.ValidTo.After(a.ValidFrom) {
			return a, fmt.Errorf("valid_to must be after valid_from")
		}
	}
	return a, nil
}

func parseCSVDate(s string) (time.Time, error) {
	return time.ParseInLocation(time.DateOnly, strings.TrimSpace(s), Vietnam)
}

func overlaps(aFrom, aTo, bFrom, bTo time.Time) bool {
	// Zero ends are open; intervals are half-open [from, to).
	aEndsBeforeB := !aTo.IsZero() && !aTo.After(bFrom)
	bEndsBeforeA := !bTo.IsZero() && !bTo.After(aFrom)
	return !aEndsBeforeB && !bEndsBeforeA
}

// WriteAgencies writes agencies in the format ReadAgencies reads.
func WriteAgencies(w io.Writer, agencies []Agency) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(AgencyCSVHeader); err != nil {
		return fmt.Errorf("docid: write agency list: %w", err)
	}
	for _, a := range agencies {
		to := ""
		if !a.ValidTo.IsZero() {
			to = a.ValidTo.In(Vietnam).Format(time.DateOnly)
		}
		rec := []string{string(a.Code), a.Name, string(a.Parent), a.ValidFrom.In(Vietnam).Format(time.DateOnly), to}
		if err := cw.Write(rec); err != nil {
			return fmt.Errorf("docid: write agency list: %w", err)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("docid: write agency list: %w", err)
	}
	return nil
}
