package pades

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"golang.org/x/image/font/sfnt"
	"golang.org/x/image/math/fixed"

	"github.com/kyso-vn/kyso/signer/pdf"
)

// Blank is an empty, read-only text field laid over a blank of the first page: the
// number after "Số:", the day, month (and year) of "ngày … tháng … năm …". The
// leader's approval revision makes them (its signature covers the blanks as they
// are), and the issuing revision fills them with the number and date the system
// assigned (Decree 30/2020, Art. 15.3; Appendix I II.3–4). Filling a field that was
// there when the leader signed is form filling, which an approval permits (DocMDP
// P=2 semantics); the page's content is never changed, so the verifier still tells
// a change of content apart.
type Blank struct {
	Name string // BlankNumber, BlankNumberSymbol, BlankDay, BlankMonth or BlankYear
	Page int    // 1-based
	// Rect is the field's rectangle in the page's default user space; the text's
	// baseline lies 0.32 × Size above its bottom.
	Rect  [4]float64
	Size  float64 // font size of the text around the blank
	Align int     // the field's /Q: 0 left, 1 centred, 2 right
	// Italic: the text around is italic (the date line, Appendix I II.4), so the
	// value is drawn slanted too.
	Italic bool
}

// The names of the blank fields.
const (
	BlankNumber       = "kyso_so"         // the number only: the symbol is printed after it
	BlankNumberSymbol = "kyso_so_ky_hieu" // number and symbol: nothing printed after "Số:"
	BlankDay          = "kyso_ngay"
	BlankMonth        = "kyso_thang"
	BlankYear         = "kyso_nam"
	// given by hand (BlanksAt): the whole number line and the whole date
	BlankNumberLine = "kyso_so_dong"        // "Số: 05/UBND-VP"
	BlankDate       = "kyso_ngay_thang_nam" // "ngày 05 tháng 01 năm 2026"
)

// BlanksAt gives the places of the number line and the date by hand, for a draft
// whose first page has no blanks FindBlanks recognises: number and date are the
// baseline origins (x, y in the page's default user space) where "Số: 05/UBND-VP"
// and "ngày 05 tháng 01 năm 2026" begin, at size points (13 when zero).
func BlanksAt(page int, number, date [2]float64, size float64) []Blank {
	if size <= 0 {
		size = 13
	}
	b := []Blank{
		blankAt(BlankNumberLine, number[0], number[0]+textWidth("Số: 0000/UBND-VPHC", size), number[1], size, 0),
		blankAt(BlankDate, date[0], date[0]+textWidth("ngày 00 tháng 00 năm 0000 ", size), date[1], size, 0),
	}
	for i := range b {
		b[i].Page = page
	}
	return b
}

// Mark is text placed on a page: its baseline origin in user space, size and text.
type Mark struct {
	Page       int
	X, Y, Size float64
	Text       string
}

// ErrNoPlace: the page shows no blank for the number or the date.
var ErrNoPlace = errors.New("pades: no place for the number and date on the first page")

// NumberDate is what the issuing step writes on the page.
type NumberDate struct {
	Number int
	Symbol string    // e.g. "UBND-VP"; written when the page does not print it
	Date   time.Time // in Vietnam's zone
}

// NumberText is the number as Decree 30/2020 writes it: below 10 with a leading 0.
func NumberText(n int) string { return fmt.Sprintf("%02d", n) }

// DayText and MonthText write the date's parts as Decree 30/2020 does: a day below 10
// and the months 1 and 2 with a leading 0 ("ngày 05 tháng 01", "ngày 29 tháng 6").
func DayText(t time.Time) string { return fmt.Sprintf("%02d", t.Day()) }

// MonthText: see DayText.
func MonthText(t time.Time) string {
	if t.Month() <= 2 {
		return fmt.Sprintf("%02d", int(t.Month()))
	}
	return fmt.Sprint(int(t.Month()))
}

// FindBlanks reads the first page's text and lays a Blank over each blank of the
// number and the date: between "Số:" and the "/SYMBOL" printed after it (the number
// right-aligned against the "/"), or after "Số:" when no symbol is printed (number
// and symbol); between "ngày" and "tháng" and between "tháng" and "năm" (centred);
// after "năm" when the year is blank too; each at the size of the text around it.
// It returns ErrNoPlace, saying what is missing, when the page has no such blanks.
func FindBlanks(rd *pdf.Reader) ([]Blank, error) {
	pages, err := rd.Pages()
	if err != nil {
		return nil, err
	}
	if len(pages) == 0 {
		return nil, fmt.Errorf("%w: the document has no page", ErrNoPlace)
	}
	page := rd.Dict(pages[0])
	if page == nil {
		return nil, fmt.Errorf("%w: page 1 is not a dictionary", pdf.ErrDamaged)
	}
	gs, err := pageGlyphs(rd, page)
	if err != nil {
		return nil, err
	}
	ls := lines(gs)
	var blanks []Blank
	var missing []string
	if b, ok := findNumber(ls); ok {
		blanks = append(blanks, b)
	} else {
		missing = append(missing, `the number after "Số:"`)
	}
	if bs, ok := findDate(ls); ok {
		blanks = append(blanks, bs...)
	} else {
		missing = append(missing, `the day and month of "ngày … tháng … năm …"`)
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%w: the first page has no blank for %s", ErrNoPlace, strings.Join(missing, " nor for "))
	}
	for i := range blanks {
		blanks[i].Page = 1
	}
	return blanks, nil
}

// blankAt is the Blank over x0..x1 of a line at baseline y.
func blankAt(name string, x0, x1, y, size float64, align int) Blank {
	return Blank{Name: name, Rect: [4]float64{x0, y - 0.32*size, x1, y + 0.88*size}, Size: size, Align: align}
}

// lineText is a line's characters as runes, each with the glyph it came from.
func lineText(l textLine) ([]rune, []int) {
	var rs []rune
	var idx []int
	for i, g := range l.glyphs {
		for _, r := range g.text {
			rs = append(rs, r)
			idx = append(idx, i)
		}
	}
	return rs, idx
}

// find returns the rune index of word in rs at or after from, matched case-insensitively
// and, at the start, only at a word boundary.
func find(rs []rune, word string, from int) int {
	w := []rune(strings.ToLower(word))
	for i := from; i+len(w) <= len(rs); i++ {
		if i > 0 && isLetter(rs[i-1]) {
			continue
		}
		ok := true
		for j, r := range w {
			if toLower(rs[i+j]) != r {
				ok = false
				break
			}
		}
		if ok {
			return i
		}
	}
	return -1
}

func toLower(r rune) rune { return []rune(strings.ToLower(string(r)))[0] }

func isLetter(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r > 0x7f && r != 0xa0 && r != '…'
}

func isBlank(r rune) bool {
	return r == ' ' || r == 0xa0 || r == '.' || r == '…' || r == '_' || r == '\t'
}

func findNumber(ls []textLine) (Blank, bool) {
	for _, l := range ls {
		rs, idx := lineText(l)
		i := find(rs, "Số", 0)
		for i >= 0 {
			j := i + 2
			for j < len(rs) && rs[j] == ' ' {
				j++
			}
			if j < len(rs) && rs[j] == ':' {
				break
			}
			i = find(rs, "Số", i+1)
		}
		if i < 0 {
			continue
		}
		colon := i + 2
		for rs[colon] != ':' {
			colon++
		}
		k := colon + 1
		for k < len(rs) && isBlank(rs[k]) {
			k++
		}
		size := l.glyphs[idx[i]].size
		end := l.glyphs[idx[colon]].x1 + textWidth(" ", size)
		switch {
		case k < len(rs) && rs[k] == '/':
			// the symbol is printed: the number goes just before its "/"
			// wide enough for a number of four digits, whatever the blank's width
			x1 := l.glyphs[idx[k]].x
			return blankAt(BlankNumber, minf(end, x1-textWidth("0000", size)), x1, l.y, size, 2), true
		case k < len(rs):
			return Blank{}, false // something is printed there already
		}
		return blankAt(BlankNumberSymbol, end, end+12*size, l.y, size, 0), true
	}
	return Blank{}, false
}

func findDate(ls []textLine) ([]Blank, bool) {
	for _, l := range ls {
		rs, idx := lineText(l)
		for d := find(rs, "ngày", 0); d >= 0; d = find(rs, "ngày", d+4) {
			m := find(rs, "tháng", d+4)
			if m < 0 {
				break
			}
			y := find(rs, "năm", m+5)
			if y < 0 {
				break
			}
			size := l.glyphs[idx[d]].size
			// the blank between two words, as x from the end of the first to the
			// start of the second; ok when it holds nothing but blanks
			gap := func(a, b int) (float64, float64, bool) {
				for k := a; k < b; k++ {
					if !isBlank(rs[k]) {
						return 0, 0, false
					}
				}
				return l.glyphs[idx[a-1]].x1, l.glyphs[idx[b]].x, b > a
			}
			d0, d1, ok1 := gap(d+4, m)
			m0, m1, ok2 := gap(m+5, y)
			if !ok1 || !ok2 {
				continue
			}
			// at least as wide as two digits and a little, centred on the blank
			widen := func(a, b float64) (float64, float64) {
				if need := textWidth("00", size) + 2; b-a < need {
					c := (a + b) / 2
					return c - need/2, c + need/2
				}
				return a, b
			}
			d0, d1 = widen(d0, d1)
			m0, m1 = widen(m0, m1)
			blanks := []Blank{blankAt(BlankDay, d0, d1, l.y, size, 1), blankAt(BlankMonth, m0, m1, l.y, size, 1)}
			italic := l.glyphs[idx[d]].italic
			// the year: a field only when its place is blank too
			k := y + 3
			for k < len(rs) && isBlank(rs[k]) {
				k++
			}
			if k >= len(rs) || !(rs[k] >= '0' && rs[k] <= '9') {
				x := l.glyphs[idx[y+2]].x1 + textWidth(" ", size)
				blanks = append(blanks, blankAt(BlankYear, x, x+3*size, l.y, size, 0))
			}
			for i := range blanks {
				blanks[i].Italic = italic
			}
			return blanks, true
		}
	}
	return nil, false
}

// BlankValues gives the values of the blank fields the document has (made by
// the approval), from the number and date assigned; ErrNoPlace when it lacks the
// number's or the date's.
func BlankValues(rd *pdf.Reader, nd NumberDate) (map[string]string, error) {
	have, err := emptyTextFields(rd)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	numberSymbol := NumberText(nd.Number) + "/" + nd.Symbol
	switch {
	case have[BlankNumber]:
		out[BlankNumber] = NumberText(nd.Number)
	case have[BlankNumberSymbol]:
		out[BlankNumberSymbol] = numberSymbol
	case have[BlankNumberLine]:
		out[BlankNumberLine] = "Số: " + numberSymbol
	default:
		return nil, fmt.Errorf("%w: no blank field for the number", ErrNoPlace)
	}
	switch {
	case have[BlankDay] && have[BlankMonth]:
		out[BlankDay], out[BlankMonth] = DayText(nd.Date), MonthText(nd.Date)
		if have[BlankYear] {
			out[BlankYear] = fmt.Sprint(nd.Date.Year())
		}
	case have[BlankDate]:
		out[BlankDate] = fmt.Sprintf("ngày %s tháng %s năm %d", DayText(nd.Date), MonthText(nd.Date), nd.Date.Year())
	default:
		return nil, fmt.Errorf("%w: no blank fields for the date", ErrNoPlace)
	}
	return out, nil
}

// emptyTextFields are the names of the document's text fields without a value.
func emptyTextFields(rd *pdf.Reader) (map[string]bool, error) {
	cat, _, err := rd.Catalog()
	if err != nil {
		return nil, err
	}
	have := map[string]bool{}
	for _, f := range walkFields(rd, rd.Dict(cat["AcroForm"])) {
		if f.ft == "Tx" && rd.Dict(f.dict["V"]) == nil && f.dict["V"] == nil {
			have[f.name] = true
		}
	}
	return have, nil
}

// HasLookupBlank tells whether the approval made the lookup blank and it is still
// empty.
func HasLookupBlank(rd *pdf.Reader) bool {
	have, err := emptyTextFields(rd)
	return err == nil && have[BlankLookup]
}

// blankFields makes the blank fields as merged field-widgets, listed by page.
func blankFields(rd *pdf.Reader, u *pdf.Update, blanks []Blank, pages []pdf.Ref) (map[int][]pdf.Ref, error) {
	out := map[int][]pdf.Ref{}
	seen := map[string]bool{}
	for _, b := range blanks {
		if b.Page < 1 || b.Page > len(pages) {
			return nil, fmt.Errorf("%w: page %d does not exist (the document has %d)", ErrOptions, b.Page, len(pages))
		}
		if b.Size <= 0 || b.Size > 200 || b.Rect[2] <= b.Rect[0] || b.Rect[3] <= b.Rect[1] || seen[b.Name] || b.Name == "" {
			return nil, fmt.Errorf("%w: blank field %q at %v, %g pt", ErrOptions, b.Name, b.Rect, b.Size)
		}
		seen[b.Name] = true
		w, h := b.Rect[2]-b.Rect[0], b.Rect[3]-b.Rect[1]
		empty := u.Add(&pdf.Stream{Dict: pdf.Dict{"Type": pdf.Name("XObject"), "Subtype": pdf.Name("Form"),
			"BBox": pdf.Array{0.0, 0.0, w, h}}, Data: []byte("/Tx BMC EMC\n")})
		ref := u.Add(pdf.Dict{
			"FT": pdf.Name("Tx"), "T": pdf.TextString(b.Name), "Ff": int64(1), // ReadOnly
			"Type": pdf.Name("Annot"), "Subtype": pdf.Name("Widget"), "F": int64(4), // Print
			"P": pages[b.Page-1], "Rect": pdf.Array{b.Rect[0], b.Rect[1], b.Rect[2], b.Rect[3]},
			"DA": pdf.String(fmt.Sprintf("/%s %s Tf 0 g", daFont(b.Italic), f2(b.Size))), "Q": int64(b.Align),
			"AP": pdf.Dict{"N": empty},
		})
		out[b.Page] = append(out[b.Page], ref)
	}
	return out, nil
}

func flatten(m map[int][]pdf.Ref, pages int) []pdf.Ref {
	var out []pdf.Ref
	for p := 1; p <= pages; p++ {
		out = append(out, m[p]...)
	}
	return out
}

func refsArray(refs []pdf.Ref) pdf.Array {
	out := make(pdf.Array, len(refs))
	for i, r := range refs {
		out[i] = r
	}
	return out
}

// daFont is the default-resources font a blank field's /DA names: Helvetica, or
// its oblique for a blank in italic text (the filled value is then slanted too).
func daFont(italic bool) string {
	if italic {
		return "HeIt"
	}
	return "Helv"
}

// addHelv gives the form the default resources the blank fields' /DA names.
func addHelv(rd *pdf.Reader, acro pdf.Dict) {
	dr := copyDict(rd.Dict(acro["DR"]))
	fonts := copyDict(rd.Dict(dr["Font"]))
	for name, base := range map[pdf.Name]pdf.Name{"Helv": "Helvetica", "HeIt": "Helvetica-Oblique"} {
		if _, ok := fonts[name]; !ok {
			fonts[name] = pdf.Dict{"Type": pdf.Name("Font"), "Subtype": pdf.Name("Type1"), "BaseFont": base, "Encoding": pdf.Name("WinAnsiEncoding")}
		}
	}
	dr["Font"] = fonts
	acro["DR"] = dr
	if _, ok := acro["DA"]; !ok {
		acro["DA"] = pdf.String("/Helv 0 Tf 0 g")
	}
}

// textWidth is the width of s in the text font at size.
func textWidth(s string, size float64) float64 {
	f, err := serifFont()
	if err != nil {
		return 0
	}
	var buf sfnt.Buffer
	w := 0.0
	for _, r := range s {
		g, err := f.GlyphIndex(&buf, r)
		if err != nil {
			continue
		}
		adv, err := f.GlyphAdvance(&buf, g, fixed.I(int(f.UnitsPerEm())), 0)
		if err == nil {
			w += float64(adv) / 64 / float64(f.UnitsPerEm()) * size
		}
	}
	return w
}
