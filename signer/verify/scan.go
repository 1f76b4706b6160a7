package verify

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
)

// The scanner here reads raw file bytes that signer/pdf does not expose: where each
// revision ends (%%EOF lines), where the /Contents value of a signature dictionary lies,
// and which "N G obj" headers an appended revision carries. It is deliberately small and
// byte-oriented: the ByteRange must be checked against the bytes as they are, not
// against a parser's idea of them.

const scanChunk = 1 << 20

// eofMark is one "%%EOF" marker: after is the offset just past the marker, eol just
// past the end-of-line that follows it (equal to after when none does).
type eofMark struct{ after, eol int64 }

// filePass reads the file once, in bounded chunks, for the SHA-256 of the whole file
// and every "%%EOF" marker in file order.
func filePass(ctx context.Context, r io.ReaderAt, size int64) ([]eofMark, string, error) {
	marker := []byte("%%EOF")
	var ends []eofMark
	h := sha256.New()
	buf := make([]byte, min(size, scanChunk)+int64(len(marker))+2)
	for off := int64(0); off < size; off += scanChunk {
		if err := ctx.Err(); err != nil {
			return nil, "", err
		}
		n := int64(len(buf))
		if off+n > size {
			n = size - off
		}
		b := buf[:n]
		if _, err := r.ReadAt(b, off); err != nil && !errors.Is(err, io.EOF) {
			return nil, "", fmt.Errorf("verify: read at %d: %w", off, err)
		}
		h.Write(b[:min(int64(scanChunk), n)])
		for i := 0; ; {
			j := bytes.Index(b[i:], marker)
			if j < 0 {
				break
			}
			pos := i + j
			i = pos + 1
			if int64(pos) >= scanChunk { // the next chunk sees it whole
				break
			}
			after := pos + len(marker)
			eol := after
			if eol < len(b) && b[eol] == '\r' {
				eol++
			}
			if eol < len(b) && b[eol] == '\n' {
				eol++
			}
			ends = append(ends, eofMark{after: off + int64(after), eol: off + int64(eol)})
			if len(ends) > 100000 {
				return nil, "", fmt.Errorf("verify: more than 100000 %%%%EOF markers")
			}
		}
	}
	return ends, hex.EncodeToString(h.Sum(nil)), nil
}

// rangeJob is one signature's digest over its byte ranges.
type rangeJob struct {
	br []int64
	h  hash.Hash
}

// hashRanges computes every job's digest in one sequential pass over the file: with
// several signatures, the bytes are read once, not once per signature.
func hashRanges(ctx context.Context, r io.ReaderAt, jobs []rangeJob) error {
	var end int64
	for _, j := range jobs {
		end = max(end, j.br[2]+j.br[3], j.br[0]+j.br[1])
	}
	buf := make([]byte, min(end, scanChunk))
	for off := int64(0); off < end; off += scanChunk {
		if err := ctx.Err(); err != nil {
			return err
		}
		n := min(int64(scanChunk), end-off)
		b := buf[:n]
		if _, err := r.ReadAt(b, off); err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("verify: read at %d: %w", off, err)
		}
		for _, j := range jobs {
			for _, rg := range [][2]int64{{j.br[0], j.br[0] + j.br[1]}, {j.br[2], j.br[2] + j.br[3]}} {
				lo, hi := max(rg[0], off), min(rg[1], off+n)
				if lo < hi {
					j.h.Write(b[lo-off : hi-off])
				}
			}
		}
	}
	return nil
}

// atRevisionEnd reports whether a revision may end at off: right after a "%%EOF"
// marker or after its end-of-line.
func atRevisionEnd(ends []eofMark, off int64) bool {
	for _, e := range ends {
		if e.after == off || e.eol == off {
			return true
		}
	}
	return false
}

// rawScanner tokenizes just enough PDF syntax to walk one dictionary in the file.
type rawScanner struct {
	r    io.ReaderAt
	size int64
	pos  int64
	buf  []byte
	bufO int64
}

func newRawScanner(r io.ReaderAt, size, pos int64) *rawScanner {
	return &rawScanner{r: r, size: size, pos: pos, bufO: -1}
}

func (s *rawScanner) at(off int64) (byte, bool) {
	if off < 0 || off >= s.size {
		return 0, false
	}
	if s.bufO < 0 || off < s.bufO || off >= s.bufO+int64(len(s.buf)) {
		n := int64(4096)
		if off+n > s.size {
			n = s.size - off
		}
		if cap(s.buf) < int(n) {
			s.buf = make([]byte, n)
		}
		s.buf = s.buf[:n]
		m, err := s.r.ReadAt(s.buf, off)
		if m <= 0 && err != nil {
			return 0, false
		}
		s.buf = s.buf[:m]
		s.bufO = off
	}
	return s.buf[off-s.bufO], true
}

func isWS(c byte) bool {
	switch c {
	case ' ', '\t', '\r', '\n', '\f', 0:
		return true
	}
	return false
}

func isDelimiter(c byte) bool {
	switch c {
	case '(', ')', '<', '>', '[', ']', '{', '}', '/', '%':
		return true
	}
	return false
}

func (s *rawScanner) skipWS() {
	for {
		c, ok := s.at(s.pos)
		if !ok {
			return
		}
		if isWS(c) {
			s.pos++
			continue
		}
		if c == '%' {
			for {
				c, ok := s.at(s.pos)
				if !ok || c == '\n' || c == '\r' {
					break
				}
				s.pos++
			}
			continue
		}
		return
	}
}

// rawTok is one token: its kind byte ('<' hex string, '(' literal string, '/' name,
// 'D' dict open, 'd' dict close, '[' and ']', 'w' word) and its extent in the file.
type rawTok struct {
	kind       byte
	start, end int64
	text       []byte // names and words only, bounded
}

var errRawSyntax = errors.New("verify: unexpected bytes in a signature dictionary")

const maxRawObject = 16 << 20 // no signature dictionary is larger

func (s *rawScanner) next() (rawTok, error) {
	s.skipWS()
	start := s.pos
	c, ok := s.at(s.pos)
	if !ok {
		return rawTok{}, io.EOF
	}
	switch c {
	case '<':
		if c2, _ := s.at(s.pos + 1); c2 == '<' {
			s.pos += 2
			return rawTok{kind: 'D', start: start, end: s.pos}, nil
		}
		for s.pos++; ; s.pos++ {
			c, ok := s.at(s.pos)
			if !ok || s.pos-start > maxRawObject {
				return rawTok{}, errRawSyntax
			}
			if c == '>' {
				s.pos++
				return rawTok{kind: '<', start: start, end: s.pos}, nil
			}
		}
	case '>':
		if c2, _ := s.at(s.pos + 1); c2 == '>' {
			s.pos += 2
			return rawTok{kind: 'd', start: start, end: s.pos}, nil
		}
		return rawTok{}, errRawSyntax
	case '[', ']':
		s.pos++
		return rawTok{kind: c, start: start, end: s.pos}, nil
	case '(':
		depth := 0
		for ; ; s.pos++ {
			c, ok := s.at(s.pos)
			if !ok || s.pos-start > maxRawObject {
				return rawTok{}, errRawSyntax
			}
			switch c {
			case '\\':
				s.pos++
			case '(':
				depth++
			case ')':
				depth--
				if depth == 0 {
					s.pos++
					return rawTok{kind: '(', start: start, end: s.pos}, nil
				}
			}
		}
	case '/':
		s.pos++
		t := s.word()
		return rawTok{kind: '/', start: start, end: s.pos, text: t}, nil
	case ')', '{', '}':
		s.pos++
		return rawTok{kind: 'w', start: start, end: s.pos, text: []byte{c}}, nil
	}
	t := s.word()
	return rawTok{kind: 'w', start: start, end: s.pos, text: t}, nil
}

func (s *rawScanner) word() []byte {
	var t []byte
	for {
		c, ok := s.at(s.pos)
		if !ok || isWS(c) || isDelimiter(c) {
			return t
		}
		if len(t) < 64 {
			t = append(t, c)
		}
		s.pos++
	}
}

// contentsExtent finds, in the indirect object starting at objOff, the value of the
// top-level /Contents key of its dictionary, and returns the token's extent (for a hex
// string: from '<' to just past '>') and its kind. A dictionary that names /Contents
// twice is refused: readers disagree on which one wins.
func contentsExtent(r io.ReaderAt, size, objOff int64) (start, end int64, kind byte, err error) {
	s := newRawScanner(r, size, objOff)
	for i := 0; i < 3; i++ { // "N G obj"
		t, err := s.next()
		if err != nil || t.kind != 'w' || (i == 2 && string(t.text) != "obj") {
			return 0, 0, 0, errRawSyntax
		}
	}
	if t, err := s.next(); err != nil || t.kind != 'D' {
		return 0, 0, 0, errRawSyntax
	}
	found := false
	for keys := 0; keys < 4096; keys++ {
		t, err := s.next()
		if err != nil {
			return 0, 0, 0, errRawSyntax
		}
		if t.kind == 'd' {
			if !found {
				return 0, 0, 0, errNoContents
			}
			return start, end, kind, nil
		}
		if t.kind != '/' {
			return 0, 0, 0, errRawSyntax
		}
		vs, ve, vk, err := s.skipValue()
		if err != nil {
			return 0, 0, 0, err
		}
		if string(t.text) == "Contents" {
			if found {
				return 0, 0, 0, errDuplicateContents
			}
			found, start, end, kind = true, vs, ve, vk
		}
	}
	return 0, 0, 0, errRawSyntax
}

// skipValue reads one complete value: a simple token, a dictionary or array with
// everything nested in it, or an indirect reference "N G R".
func (s *rawScanner) skipValue() (start, end int64, kind byte, err error) {
	t, err := s.next()
	if err != nil {
		return 0, 0, 0, errRawSyntax
	}
	switch t.kind {
	case 'D', '[':
		depth := 1
		for steps := 0; depth > 0; steps++ {
			u, err := s.next()
			if err != nil || steps > 1<<20 {
				return 0, 0, 0, errRawSyntax
			}
			switch u.kind {
			case 'D', '[':
				depth++
			case 'd', ']':
				depth--
			}
			end = u.end
		}
		return t.start, end, t.kind, nil
	case 'd', ']':
		return 0, 0, 0, errRawSyntax
	case 'w':
		if isInt(t.text) {
			save := s.pos
			g, err1 := s.next()
			rr, err2 := s.next()
			if err1 == nil && err2 == nil && g.kind == 'w' && isInt(g.text) && rr.kind == 'w' && string(rr.text) == "R" {
				return t.start, rr.end, 'R', nil
			}
			s.pos = save
		}
	}
	return t.start, t.end, t.kind, nil
}

var errDuplicateContents = errors.New("verify: signature dictionary names /Contents twice")
var errNoContents = errors.New("verify: signature dictionary has no /Contents")

func isInt(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// objectHeaders lists the offsets of "N G obj" headers that start a line in [from, to).
// It is how a revision is checked for objects its cross-reference section does not
// list (objects a repairing viewer would still pick up).
func objectHeaders(r io.ReaderAt, from, to int64) ([]int64, error) {
	var out []int64
	buf := make([]byte, min(max(to-from, 0), scanChunk)+64)
	for off := from; off < to; off += scanChunk {
		n := int64(len(buf))
		if off+n > to {
			n = to - off
		}
		b := buf[:n]
		if _, err := r.ReadAt(b, off); err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("verify: read at %d: %w", off, err)
		}
		for i := 0; i < len(b) && int64(i) < scanChunk; {
			j := bytes.Index(b[i:], []byte("obj"))
			if j < 0 {
				break
			}
			p := i + j
			i = p + 3
			if int64(p) >= scanChunk {
				break
			}
			if p+3 < len(b) && !isWS(b[p+3]) && !isDelimiter(b[p+3]) {
				continue
			}
			// walk back over "gen", spaces, "num", and expect a line start
			k := p - 1
			if k < 0 || !isWS(b[k]) {
				continue
			}
			for k >= 0 && isWS(b[k]) && b[k] != '\n' && b[k] != '\r' {
				k--
			}
			g := k
			for k >= 0 && b[k] >= '0' && b[k] <= '9' {
				k--
			}
			if k == g || k < 0 || !isWS(b[k]) {
				continue
			}
			for k >= 0 && isWS(b[k]) && b[k] != '\n' && b[k] != '\r' {
				k--
			}
			nEnd := k
			for k >= 0 && b[k] >= '0' && b[k] <= '9' {
				k--
			}
			if k == nEnd {
				continue
			}
			if k >= 0 && b[k] != '\n' && b[k] != '\r' {
				continue
			}
			out = append(out, off+int64(k+1))
			if len(out) > 1<<20 {
				return nil, fmt.Errorf("verify: too many objects in one revision")
			}
		}
	}
	return out, nil
}

// contains reports whether pattern occurs in [from, to) of r, read in bounded chunks.
func contains(r io.ReaderAt, from, to int64, pattern []byte) (bool, error) {
	buf := make([]byte, min(max(to-from, 0), scanChunk)+int64(len(pattern)))
	for off := from; off < to; off += scanChunk {
		n := int64(len(buf))
		if off+n > to {
			n = to - off
		}
		b := buf[:n]
		if _, err := r.ReadAt(b, off); err != nil && !errors.Is(err, io.EOF) {
			return false, fmt.Errorf("verify: read at %d: %w", off, err)
		}
		if bytes.Contains(b, pattern) {
			return true, nil
		}
	}
	return false, nil
}
