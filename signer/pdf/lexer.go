package pdf

import (
	"errors"
	"fmt"
	"io"
	"strconv"
)

// source gives random byte access to the first size bytes of a file through a block
// cache shared by every view of the file, so that the whole file is never in memory.
// hw is the high-water mark of the bytes examined (poisoned once a read ran into the
// end of the view): a parse that examined only bytes before hw gives the same result
// in every view of at least hw bytes.
type source struct {
	r     io.ReaderAt
	size  int64
	cache *blockCache
	hw    int64
	// the block read last, so that consecutive bytes need no cache lookup
	cur  []byte
	curN int64
}

const (
	blockSize  = 16 << 10
	maxBlocks  = 256 // 4 MiB of cache at most
	maxObjSize = 64 << 20
)

func newSource(r io.ReaderAt, size int64) *source {
	return &source{r: r, size: size, cache: newBlockCache(r, size)}
}

// view is a source over the first size bytes of the same file, sharing its blocks.
func (c *blockCache) view(size int64) *source {
	return &source{r: c.r, size: min(size, c.size), cache: c}
}

func (s *source) touch(end int64) {
	if end > s.hw {
		s.hw = end
	}
}

func (c *blockCache) block(n int64) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if b, ok := c.cache[n]; ok {
		return b, nil
	}
	off := n * blockSize
	l := int64(blockSize)
	if off+l > c.size {
		l = c.size - off
	}
	if l <= 0 {
		return nil, io.EOF
	}
	b := make([]byte, l)
	if _, err := c.r.ReadAt(b, off); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("pdf: read at %d: %w", off, err)
	}
	if len(c.order) >= maxBlocks {
		delete(c.cache, c.order[0])
		c.order = c.order[1:]
	}
	c.cache[n] = b
	c.order = append(c.order, n)
	return b, nil
}

// byteAt returns the byte at off; ok is false past the end.
func (s *source) byteAt(off int64) (byte, bool) {
	if off < 0 || off >= s.size {
		if off >= s.size {
			s.hw = poisoned
		}
		return 0, false
	}
	if off+1 > s.hw {
		s.hw = off + 1
	}
	n := off / blockSize
	b := s.cur
	if b == nil || n != s.curN {
		var err error
		if b, err = s.cache.block(n); err != nil {
			return 0, false
		}
		s.cur, s.curN = b, n
	}
	i := off % blockSize
	if i >= int64(len(b)) {
		return 0, false
	}
	return b[i], true
}

// readAt reads n bytes at off (n bounded by the caller).
func (s *source) readAt(off int64, n int) ([]byte, error) {
	if off < 0 || off > s.size {
		s.hw = poisoned
		return nil, fmt.Errorf("pdf: offset %d outside the file", off)
	}
	if off+int64(n) > s.size {
		n = int(s.size - off)
		s.hw = poisoned
	}
	s.touch(off + int64(n))
	b := make([]byte, n)
	if _, err := s.r.ReadAt(b, off); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("pdf: read at %d: %w", off, err)
	}
	return b, nil
}

// lexer tokenizes PDF syntax from a source, starting at pos.
type lexer struct {
	src *source
	pos int64
	// refs, when false, parses "1 0 R" as three tokens (content streams, xref tables).
	noRefs bool
}

type tokKind int

const (
	tEOF tokKind = iota
	tInt
	tReal
	tName
	tString
	tKeyword
	tDictOpen
	tDictClose
	tArrOpen
	tArrClose
)

type token struct {
	kind tokKind
	i    int64
	f    float64
	s    []byte
	pos  int64
}

var errSyntax = errors.New("pdf: syntax error")

func syntaxErr(pos int64, format string, a ...any) error {
	return fmt.Errorf("%w at offset %d: %s", errSyntax, pos, fmt.Sprintf(format, a...))
}

func (l *lexer) peekByte() (byte, bool) { return l.src.byteAt(l.pos) }

func (l *lexer) skipSpace() {
	for {
		c, ok := l.peekByte()
		if !ok {
			return
		}
		if isSpace(c) {
			l.pos++
			continue
		}
		if c == '%' {
			for {
				c, ok := l.peekByte()
				if !ok || c == '\n' || c == '\r' {
					break
				}
				l.pos++
			}
			continue
		}
		return
	}
}

func (l *lexer) next() (token, error) {
	l.skipSpace()
	start := l.pos
	c, ok := l.peekByte()
	if !ok {
		return token{kind: tEOF, pos: start}, nil
	}
	switch {
	case c == '<':
		l.pos++
		if c2, _ := l.peekByte(); c2 == '<' {
			l.pos++
			return token{kind: tDictOpen, pos: start}, nil
		}
		return l.hexString(start)
	case c == '>':
		l.pos++
		if c2, _ := l.peekByte(); c2 == '>' {
			l.pos++
			return token{kind: tDictClose, pos: start}, nil
		}
		return token{}, syntaxErr(start, "stray '>'")
	case c == '[':
		l.pos++
		return token{kind: tArrOpen, pos: start}, nil
	case c == ']':
		l.pos++
		return token{kind: tArrClose, pos: start}, nil
	case c == '(':
		l.pos++
		return l.literalString(start)
	case c == '/':
		l.pos++
		return l.name(start)
	case c == ')' || c == '{' || c == '}':
		l.pos++
		return token{kind: tKeyword, s: []byte{c}, pos: start}, nil
	}
	// a regular-character run: number or keyword
	var buf []byte
	for {
		c, ok := l.peekByte()
		if !ok || isSpace(c) || isDelim(c) {
			break
		}
		buf = append(buf, c)
		l.pos++
		if len(buf) > 256 {
			return token{}, syntaxErr(start, "token too long")
		}
	}
	if isNumber(buf) {
		if i, err := strconv.ParseInt(string(buf), 10, 64); err == nil {
			return token{kind: tInt, i: i, pos: start}, nil
		}
		f, err := strconv.ParseFloat(normalizeReal(buf), 64)
		if err != nil {
			return token{kind: tReal, f: 0, pos: start}, nil
		}
		return token{kind: tReal, f: f, pos: start}, nil
	}
	return token{kind: tKeyword, s: buf, pos: start}, nil
}

func isNumber(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	digits := 0
	for i, c := range b {
		switch {
		case c >= '0' && c <= '9':
			digits++
		case (c == '+' || c == '-') && i == 0:
		case c == '.':
		case c == '-' && i > 0: // "0.-1" style garbage some writers emit
		default:
			return false
		}
	}
	return digits > 0
}

func normalizeReal(b []byte) string {
	out := make([]byte, 0, len(b))
	for i, c := range b {
		if c == '-' && i > 0 {
			continue
		}
		out = append(out, c)
	}
	return string(out)
}

func (l *lexer) name(start int64) (token, error) {
	var buf []byte
	for {
		c, ok := l.peekByte()
		if !ok || isSpace(c) || isDelim(c) {
			break
		}
		l.pos++
		if c == '#' {
			h1, ok1 := l.src.byteAt(l.pos)
			h2, ok2 := l.src.byteAt(l.pos + 1)
			if ok1 && ok2 && isHex(h1) && isHex(h2) {
				buf = append(buf, unhex(h1)<<4|unhex(h2))
				l.pos += 2
				continue
			}
		}
		buf = append(buf, c)
		if len(buf) > 4096 {
			return token{}, syntaxErr(start, "name too long")
		}
	}
	return token{kind: tName, s: buf, pos: start}, nil
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

func unhex(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}

func (l *lexer) hexString(start int64) (token, error) {
	var buf []byte
	var hi byte
	half := false
	for {
		c, ok := l.peekByte()
		if !ok {
			return token{}, syntaxErr(start, "unterminated hex string")
		}
		l.pos++
		if c == '>' {
			break
		}
		if isSpace(c) {
			continue
		}
		if !isHex(c) {
			return token{}, syntaxErr(l.pos-1, "bad character %q in hex string", c)
		}
		if half {
			buf = append(buf, hi<<4|unhex(c))
		} else {
			hi = unhex(c)
		}
		half = !half
		if len(buf) > maxObjSize {
			return token{}, syntaxErr(start, "hex string too long")
		}
	}
	if half {
		buf = append(buf, hi<<4)
	}
	return token{kind: tString, s: buf, pos: start}, nil
}

func (l *lexer) literalString(start int64) (token, error) {
	var buf []byte
	depth := 1
	for {
		c, ok := l.peekByte()
		if !ok {
			return token{}, syntaxErr(start, "unterminated string")
		}
		l.pos++
		switch c {
		case '(':
			depth++
		case ')':
			depth--
			if depth == 0 {
				return token{kind: tString, s: buf, pos: start}, nil
			}
		case '\r':
			// an end of line in a string is a single \n
			if c2, _ := l.peekByte(); c2 == '\n' {
				l.pos++
			}
			c = '\n'
		case '\\':
			e, ok := l.peekByte()
			if !ok {
				return token{}, syntaxErr(start, "unterminated string")
			}
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
				if c2, _ := l.peekByte(); c2 == '\n' {
					l.pos++
				}
				continue
			case '\n':
				continue
			default:
				if e >= '0' && e <= '7' {
					v := int(e - '0')
					for k := 0; k < 2; k++ {
						d, ok := l.peekByte()
						if !ok || d < '0' || d > '7' {
							break
						}
						l.pos++
						v = v*8 + int(d-'0')
					}
					c = byte(v)
				} else {
					c = e
				}
			}
		}
		buf = append(buf, c)
		if len(buf) > maxObjSize {
			return token{}, syntaxErr(start, "string too long")
		}
	}
}

// parseObject parses one object starting at the lexer's position.
func (l *lexer) parseObject(depth int) (Object, error) {
	tok, err := l.next()
	if err != nil {
		return nil, err
	}
	return l.objectFrom(tok, depth)
}

func (l *lexer) objectFrom(tok token, depth int) (Object, error) {
	if depth > maxDepth {
		return nil, syntaxErr(tok.pos, "objects nested deeper than %d", maxDepth)
	}
	switch tok.kind {
	case tEOF:
		return nil, syntaxErr(tok.pos, "unexpected end of file")
	case tInt:
		if l.noRefs {
			return tok.i, nil
		}
		// "num gen R"?
		save := l.pos
		t2, err := l.next()
		if err == nil && t2.kind == tInt {
			t3, err := l.next()
			if err == nil && t3.kind == tKeyword && string(t3.s) == "R" {
				if tok.i < 0 || tok.i > 1<<31 || t2.i < 0 || t2.i > 65535 {
					return nil, syntaxErr(tok.pos, "bad reference %d %d R", tok.i, t2.i)
				}
				return Ref{Num: int(tok.i), Gen: int(t2.i)}, nil
			}
		}
		l.pos = save
		return tok.i, nil
	case tReal:
		return tok.f, nil
	case tName:
		return Name(tok.s), nil
	case tString:
		return String(tok.s), nil
	case tArrOpen:
		arr := Array{}
		for {
			t, err := l.next()
			if err != nil {
				return nil, err
			}
			if t.kind == tArrClose {
				return arr, nil
			}
			if t.kind == tEOF {
				return nil, syntaxErr(tok.pos, "unterminated array")
			}
			if t.kind == tKeyword && (string(t.s) == "endobj" || string(t.s) == "obj") {
				return nil, syntaxErr(t.pos, "unterminated array")
			}
			o, err := l.objectFrom(t, depth+1)
			if err != nil {
				return nil, err
			}
			arr = append(arr, o)
			if len(arr) > 1<<22 {
				return nil, syntaxErr(tok.pos, "array too long")
			}
		}
	case tDictOpen:
		d := Dict{}
		for {
			t, err := l.next()
			if err != nil {
				return nil, err
			}
			if t.kind == tDictClose {
				return d, nil
			}
			if t.kind != tName {
				return nil, syntaxErr(t.pos, "dictionary key is not a name")
			}
			v, err := l.parseObject(depth + 1)
			if err != nil {
				return nil, err
			}
			if _, isKw := v.(keyword); isKw {
				return nil, syntaxErr(t.pos, "keyword as dictionary value")
			}
			d[Name(t.s)] = v
			if len(d) > 1<<20 {
				return nil, syntaxErr(tok.pos, "dictionary too large")
			}
		}
	case tKeyword:
		switch string(tok.s) {
		case "true":
			return true, nil
		case "false":
			return false, nil
		case "null":
			return nil, nil
		}
		return keyword(tok.s), nil
	}
	return nil, syntaxErr(tok.pos, "unexpected token")
}

// keyword is a bare keyword met where an object was expected (obj, endobj, stream, R …).
type keyword string
