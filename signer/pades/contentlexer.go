package pades

import (
	"bytes"
	"strconv"
	"strings"

	"github.com/kyso-vn/kyso/signer/pdf"
)

// opToken is a content-stream operator.
type opToken string

// contentLexer reads content-stream tokens: numbers (float64), names, strings,
// arrays ([]any) and operators; dictionaries and inline images are skipped.
type contentLexer struct {
	b   []byte
	pos int
}

func (l *contentLexer) skipSpace() {
	for l.pos < len(l.b) {
		c := l.b[l.pos]
		switch {
		case c == '%':
			for l.pos < len(l.b) && l.b[l.pos] != '\n' && l.b[l.pos] != '\r' {
				l.pos++
			}
		case c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '\f' || c == 0:
			l.pos++
		default:
			return
		}
	}
}

func isDelimiter(c byte) bool {
	return strings.IndexByte("()<>[]{}/%", c) >= 0 || c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '\f' || c == 0
}

func (l *contentLexer) next() (any, bool) { return l.token(0) }

func (l *contentLexer) token(depth int) (any, bool) {
	l.skipSpace()
	if l.pos >= len(l.b) || depth > 32 {
		return nil, false
	}
	c := l.b[l.pos]
	switch {
	case c == '/':
		s := l.pos + 1
		l.pos++
		for l.pos < len(l.b) && !isDelimiter(l.b[l.pos]) {
			l.pos++
		}
		return pdf.Name(unescapeName(l.b[s:l.pos])), true
	case c == '(':
		return l.literal(), true
	case c == '<' && l.pos+1 < len(l.b) && l.b[l.pos+1] == '<':
		// a dictionary (marked-content properties, inline image parameters): skipped
		l.pos += 2
		for d := 1; d > 0 && l.pos < len(l.b); {
			switch {
			case bytes.HasPrefix(l.b[l.pos:], []byte("<<")):
				d++
				l.pos += 2
			case bytes.HasPrefix(l.b[l.pos:], []byte(">>")):
				d--
				l.pos += 2
			case l.b[l.pos] == '(':
				l.literal()
			default:
				l.pos++
			}
		}
		return nil, true
	case c == '<':
		l.pos++
		var hex []byte
		for l.pos < len(l.b) && l.b[l.pos] != '>' {
			if isHexDigit(l.b[l.pos]) {
				hex = append(hex, l.b[l.pos])
			}
			l.pos++
		}
		l.pos++
		if len(hex)%2 == 1 {
			hex = append(hex, '0')
		}
		out := make(pdf.String, len(hex)/2)
		for i := range out {
			v, _ := strconv.ParseUint(string(hex[2*i:2*i+2]), 16, 8)
			out[i] = byte(v)
		}
		return out, true
	case c == '[':
		l.pos++
		var arr []any
		for len(arr) < 100_000 {
			l.skipSpace()
			if l.pos >= len(l.b) {
				break
			}
			if l.b[l.pos] == ']' {
				l.pos++
				break
			}
			t, ok := l.token(depth + 1)
			if !ok {
				break
			}
			arr = append(arr, t)
		}
		return arr, true
	case c == ']' || c == ')' || c == '>' || c == '{' || c == '}':
		l.pos++
		return nil, true
	}
	s := l.pos
	for l.pos < len(l.b) && !isDelimiter(l.b[l.pos]) {
		l.pos++
	}
	w := l.b[s:l.pos]
	if v, err := strconv.ParseFloat(string(w), 64); err == nil {
		return v, true
	}
	if string(w) == "BI" {
		// an inline image: skip to EI after the data
		if i := bytes.Index(l.b[l.pos:], []byte("ID")); i >= 0 {
			l.pos += i + 3
			for l.pos < len(l.b) {
				j := bytes.Index(l.b[l.pos:], []byte("EI"))
				if j < 0 {
					l.pos = len(l.b)
					break
				}
				l.pos += j + 2
				if l.pos >= len(l.b) || isDelimiter(l.b[l.pos]) {
					break
				}
			}
		}
		return nil, true
	}
	return opToken(w), true
}

func isHexDigit(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func unescapeName(b []byte) string {
	if bytes.IndexByte(b, '#') < 0 {
		return string(b)
	}
	var out []byte
	for i := 0; i < len(b); i++ {
		if b[i] == '#' && i+2 < len(b) {
			if v, err := strconv.ParseUint(string(b[i+1:i+3]), 16, 8); err == nil {
				out = append(out, byte(v))
				i += 2
				continue
			}
		}
		out = append(out, b[i])
	}
	return string(out)
}

func (l *contentLexer) literal() pdf.String {
	l.pos++ // (
	var out []byte
	depth := 1
	for l.pos < len(l.b) {
		c := l.b[l.pos]
		l.pos++
		switch c {
		case '(':
			depth++
		case ')':
			depth--
			if depth == 0 {
				return out
			}
		case '\\':
			if l.pos >= len(l.b) {
				return out
			}
			e := l.b[l.pos]
			l.pos++
			switch e {
			case 'n':
				c = '\n'
			case 'r':
				c = '\r'
			case 't':
				c = '\t'
			case 'b':
				c = '\b'
			case 'f':
				c = '\f'
			case '\r':
				if l.pos < len(l.b) && l.b[l.pos] == '\n' {
					l.pos++
				}
				continue
			case '\n':
				continue
			default:
				if e >= '0' && e <= '7' {
					v := int(e - '0')
					for k := 0; k < 2 && l.pos < len(l.b) && l.b[l.pos] >= '0' && l.b[l.pos] <= '7'; k++ {
						v = v*8 + int(l.b[l.pos]-'0')
						l.pos++
					}
					c = byte(v)
				} else {
					c = e
				}
			}
		}
		out = append(out, c)
	}
	return out
}
