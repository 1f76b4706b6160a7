package store

import (
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// foldText is what summary search compares: lower case without diacritics, đ as d, so
// "giay moi" finds "Giấy mời" (people type without tones as often as with them) and
// case folding works for Vietnamese letters on SQLite too, whose LIKE folds ASCII only.
func foldText(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range norm.NFD.String(s) {
		if unicode.Is(unicode.Mn, r) {
			continue
		}
		if r == 'đ' || r == 'Đ' {
			r = 'd'
		}
		b.WriteRune(unicode.ToLower(r))
	}
	return b.String()
}
