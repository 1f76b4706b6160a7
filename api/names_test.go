package api

import (
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
)

// TestNameLikeIsTheRegexp: the hand-written checks accept exactly what the regular
// expressions they replace accepted.
func TestNameLikeIsTheRegexp(t *testing.T) {
	checks := []struct {
		name string
		fn   func(string) bool
		re   *regexp.Regexp
	}{
		{"clientName", clientName, regexp.MustCompile(`^[\p{L}\p{N}][\p{L}\p{N} ._-]{0,63}$`)},
		{"grantPrincipal", grantPrincipal, regexp.MustCompile(`^[\p{L}\p{N}][\p{L}\p{N} ._:-]{0,127}$`)},
	}
	fixed := []string{"", "a", "Văn thư", "role:clerk", " a", "a ", ".a", "a.b-c_d:e", "٣٤", "Ⅻ", "½x",
		"a\n", "a\x00", "a\xff", "\xffa", "a/b", "😀", "a😀", strings.Repeat("x", 64), strings.Repeat("x", 65),
		strings.Repeat("ư", 128), strings.Repeat("ư", 129)}
	alphabet := []rune("aZ9ưỦ٣Ⅻ ._:-/\n\x00😀\uFFFD")
	r := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		b := make([]rune, r.IntN(140))
		for i := range b {
			b[i] = alphabet[r.IntN(len(alphabet))]
		}
		fixed = append(fixed, string(b))
	}
	fixed = append(fixed, "a\xffb", "\xc3")
	for _, c := range checks {
		for _, s := range fixed {
			if got, want := c.fn(s), c.re.MatchString(s); got != want {
				t.Errorf("%s(%q) = %v, the regexp says %v", c.name, s, got, want)
			}
		}
	}
}
