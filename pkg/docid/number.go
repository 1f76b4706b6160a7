package docid

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits from Decree 30 Annex VI (CodeNumber String(11), CodeNotation String(30)); the
// number is kept well inside an int on every platform.
const (
	MaxNumber    = 999_999_999
	MaxSymbolLen = 30 // characters, not bytes: symbols carry Vietnamese letters such as Đ
)

// NumberSymbol is a document's number and symbol ("số, ký hiệu"), written
// `05/UBND-VP`: the number with a leading zero below 10, "/" between number and symbol,
// "-" between the symbol's groups, no spaces. Legal normative documents also carry the
// year between the two (`30/2020/NĐ-CP`); Year is 0 when absent.
type NumberSymbol struct {
	Number int
	Year   int
	Symbol string
}

// FormatNumber writes a document number as the decree wants it: at least two digits.
func FormatNumber(n int) string { return fmt.Sprintf("%02d", n) }

// String formats ns in its canonical form.
func (ns NumberSymbol) String() string {
	if ns.Year != 0 {
		return fmt.Sprintf("%s/%04d/%s", FormatNumber(ns.Number), ns.Year, ns.Symbol)
	}
	return FormatNumber(ns.Number) + "/" + ns.Symbol
}

// Line formats the number line of the document header: `Số: 05/UBND-VP`.
func (ns NumberSymbol) Line() string { return numberLinePrefix + ns.String() }

const numberLinePrefix = "Số: "

// ParseNumberLine parses a header number line `Số: 05/UBND-VP`.
func ParseNumberLine(s string) (NumberSymbol, error) {
	rest, ok := strings.CutPrefix(s, numberLinePrefix)
	if !ok {
		return NumberSymbol{}, &SyntaxError{What: "number line", Input: s, Reason: `must start with "Số: "`}
	}
	return ParseNumberSymbol(rest)
}

// ParseNumberSymbol parses `05/UBND-VP` or `30/2020/NĐ-CP` strictly: only the canonical
// form is accepted, so that one document has one spelling and lookups by number and
// symbol cannot miss.
func ParseNumberSymbol(s string) (NumberSymbol, error) {
	bad := func(reason string) (NumberSymbol, error) {
		return NumberSymbol{}, &SyntaxError{What: "number and symbol", Input: s, Reason: reason}
	}
	parts := strings.Split(s, "/")
	var ns NumberSymbol
	switch len(parts) {
	case 2:
	case 3:
		y := parts[1]
		if len(y) != 4 || !allDigits(y) || y[0] == '0' {
			return bad("the middle part must be a four-digit year")
		}
		ns.Year, _ = strconv.Atoi(y)
	default:
		return bad(`want number "/" symbol`)
	}
	n, err := parseNumber(parts[0])
	if err != nil {
		return bad(err.Error())
	}
	ns.Number = n
	sym := parts[len(parts)-1]
	if err := validateSymbol(sym); err != nil {
		return bad(err.Error())
	}
	ns.Symbol = sym
	return ns, nil
}

func parseNumber(s string) (int, error) {
	if s == "" || !allDigits(s) {
		return 0, fmt.Errorf("number must be digits")
	}
	if len(s) > len(strconv.Itoa(MaxNumber)) {
		return 0, fmt.Errorf("number longer than %d digits", len(strconv.Itoa(MaxNumber)))
	}
	n, _ := strconv.Atoi(s)
	if n < 1 {
		return 0, fmt.Errorf("numbers start at 01")
	}
	if FormatNumber(n) != s {
		return 0, fmt.Errorf("number must have a leading zero below 10 and no other (want %s)", FormatNumber(n))
	}
	return n, nil
}

// ValidateSymbol checks a document symbol such as `UBND-VP`, `QĐ-UBND` or `TTr-BNV`.
func ValidateSymbol(sym string) error {
	if err := validateSymbol(sym); err != nil {
		return &SyntaxError{What: "symbol", Input: sym, Reason: err.Error()}
	}
	return nil
}

// validateSymbol allows Latin letters (Vietnamese capitals such as Đ included, and the
// lower-case letters of abbreviations like TTr and QyĐ) and digits in groups joined by
// "-"; each group starts with a capital letter or a digit.
func validateSymbol(sym string) error {
	if sym == "" {
		return fmt.Errorf("empty symbol")
	}
	if !utf8.ValidString(sym) {
		return fmt.Errorf("symbol is not valid UTF-8")
	}
	if utf8.RuneCountInString(sym) > MaxSymbolLen {
		return fmt.Errorf("symbol longer than %d characters", MaxSymbolLen)
	}
	for _, g := range strings.Split(sym, "-") {
		if g == "" {
			return fmt.Errorf("empty symbol group (leading, trailing or doubled -)")
		}
		for i, r := range g {
			letter := unicode.IsLetter(r) && unicode.Is(unicode.Latin, r)
			digit := r >= '0' && r <= '9'
			if !letter && !digit {
				return fmt.Errorf("symbol groups hold only letters and digits (use precomposed letters, no spaces)")
			}
			if i == 0 && letter && !unicode.IsUpper(r) {
				return fmt.Errorf("symbol groups start with a capital letter or a digit")
			}
		}
	}
	return nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
