package pades

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"unicode/utf16"

	"github.com/kyso-vn/kyso/signer/pdf"
)

// A small, bounded text extractor: where each character of a page is drawn, in the
// page's user space, so that the issuing step can find the "Số:" line and the
// "ngày … tháng … năm …" of the place-and-date line in a document exported from Word,
// LibreOffice or a browser. It follows the text operators (Tf, Tm, Td, TD, T*, TL, Tc,
// Tw, Tz, Ts, Tj, TJ, ', "), the graphics state (q, Q, cm) and form XObjects, and
// decodes strings through the font's ToUnicode map, else its simple encoding
// (WinAnsi, with /Differences named uniXXXX or for ASCII). Text drawn rotated or
// skewed is skipped: the lines looked for are horizontal.

// Limits of the extractor: the content it decodes, the operators it follows, the
// form XObjects it enters and how deep.
const (
	maxPageContent = 16 << 20
	maxTextOps     = 2_000_000
	maxFormDepth   = 4
	maxGlyphs      = 200_000
)

// glyph is one character drawn on the page: its text, the baseline origin x and the
// end of its advance x1 (user space), its baseline y, and its font size there.
type glyph struct {
	text      string
	x, x1, y  float64
	size      float64
	fontIndex int
	italic    bool // an italic font, or upright glyphs slanted
}

type matrix [6]float64

var identity = matrix{1, 0, 0, 1, 0, 0}

// mul is m × n (m applied first).
func (m matrix) mul(n matrix) matrix {
	return matrix{
		m[0]*n[0] + m[1]*n[2], m[0]*n[1] + m[1]*n[3],
		m[2]*n[0] + m[3]*n[2], m[2]*n[1] + m[3]*n[3],
		m[4]*n[0] + m[5]*n[2] + n[4], m[4]*n[1] + m[5]*n[3] + n[5],
	}
}

// textFont is what the extractor needs of a font: how many bytes a code takes, the
// text and the width of each code.
type textFont struct {
	twoByte bool
	uni     map[uint32]string
	widths  map[uint32]float64
	dw      float64
	id      int
	italic  bool
}

func (f *textFont) decode(s []byte) []uint32 {
	var out []uint32
	if f.twoByte {
		for i := 0; i+1 < len(s); i += 2 {
			out = append(out, uint32(s[i])<<8|uint32(s[i+1]))
		}
		return out
	}
	for _, b := range s {
		out = append(out, uint32(b))
	}
	return out
}

func (f *textFont) width(c uint32) float64 {
	if w, ok := f.widths[c]; ok {
		return w
	}
	return f.dw
}

type extractor struct {
	rd     *pdf.Reader
	glyphs []glyph
	ops    int
	fonts  map[int]*textFont // by object number
	nextID int
}

// pageGlyphs lists the characters drawn on a page, in content order.
func pageGlyphs(rd *pdf.Reader, page pdf.Dict) ([]glyph, error) {
	e := &extractor{rd: rd, fonts: map[int]*textFont{}}
	var data []byte
	contents, _ := rd.Resolve(page["Contents"])
	var streams []pdf.Object
	switch c := contents.(type) {
	case pdf.Array:
		streams = c
	case *pdf.Stream:
		streams = []pdf.Object{c}
	}
	if len(streams) > 1000 {
		return nil, fmt.Errorf("%w: the page has %d content streams", pdf.ErrDamaged, len(streams))
	}
	for _, so := range streams {
		s, ok := mustResolve(rd, so).(*pdf.Stream)
		if !ok {
			continue
		}
		b, err := s.Decode(maxPageContent - int64(len(data)))
		if err != nil {
			return nil, fmt.Errorf("page content: %w", err)
		}
		data = append(append(data, b...), '\n')
	}
	res := rd.Dict(rd.Inherited(page, "Resources"))
	e.run(data, res, identity, 0)
	return e.glyphs, nil
}

type textState struct {
	font                 *textFont
	size, tc, tw, th, tl float64
	rise                 float64
	tm, tlm              matrix
}

func (e *extractor) run(data []byte, res pdf.Dict, ctm matrix, depth int) {
	ts := textState{th: 1}
	var stack []matrix
	var tsStack []textState
	var operands []any
	lx := &contentLexer{b: data}
	for {
		tok, ok := lx.next()
		if !ok || e.ops > maxTextOps || len(e.glyphs) > maxGlyphs {
			return
		}
		op, isOp := tok.(opToken)
		if !isOp {
			if len(operands) < 64 {
				operands = append(operands, tok)
			}
			continue
		}
		e.ops++
		num := func(i int) float64 {
			if i < len(operands) {
				if v, ok := operands[i].(float64); ok {
					return v
				}
			}
			return 0
		}
		switch string(op) {
		case "q":
			if len(stack) < 256 {
				stack = append(stack, ctm)
				tsStack = append(tsStack, ts)
			}
		case "Q":
			if n := len(stack); n > 0 {
				ctm, ts = stack[n-1], tsStack[n-1]
				stack, tsStack = stack[:n-1], tsStack[:n-1]
			}
		case "cm":
			if len(operands) == 6 {
				ctm = matrix{num(0), num(1), num(2), num(3), num(4), num(5)}.mul(ctm)
			}
		case "BT":
			ts.tm, ts.tlm = identity, identity
		case "Tf":
			if len(operands) == 2 {
				if n, ok := operands[0].(pdf.Name); ok {
					ts.font = e.font(res, n)
				}
				ts.size = num(1)
			}
		case "Tc":
			ts.tc = num(0)
		case "Tw":
			ts.tw = num(0)
		case "Tz":
			ts.th = num(0) / 100
		case "TL":
			ts.tl = num(0)
		case "Ts":
			ts.rise = num(0)
		case "Tm":
			if len(operands) == 6 {
				ts.tm = matrix{num(0), num(1), num(2), num(3), num(4), num(5)}
				ts.tlm = ts.tm
			}
		case "Td", "TD":
			if string(op) == "TD" {
				ts.tl = -num(1)
			}
			ts.tlm = matrix{1, 0, 0, 1, num(0), num(1)}.mul(ts.tlm)
			ts.tm = ts.tlm
		case "T*":
			ts.tlm = matrix{1, 0, 0, 1, 0, -ts.tl}.mul(ts.tlm)
			ts.tm = ts.tlm
		case "Tj":
			if len(operands) == 1 {
				e.show(&ts, ctm, operands[0])
			}
		case "'", "\"":
			if string(op) == "\"" && len(operands) == 3 {
				ts.tw, ts.tc = num(0), num(1)
				operands = operands[2:]
			}
			ts.tlm = matrix{1, 0, 0, 1, 0, -ts.tl}.mul(ts.tlm)
			ts.tm = ts.tlm
			if len(operands) == 1 {
				e.show(&ts, ctm, operands[0])
			}
		case "TJ":
			if len(operands) == 1 {
				if arr, ok := operands[0].([]any); ok {
					for _, el := range arr {
						if v, ok := el.(float64); ok {
							ts.tm = matrix{1, 0, 0, 1, -v / 1000 * ts.size * ts.th, 0}.mul(ts.tm)
						} else {
							e.show(&ts, ctm, el)
						}
					}
				}
			}
		case "Do":
			if len(operands) == 1 && depth < maxFormDepth {
				if n, ok := operands[0].(pdf.Name); ok {
					e.form(res, n, ctm, depth)
				}
			}
		}
		operands = operands[:0]
	}
}

func (e *extractor) form(res pdf.Dict, name pdf.Name, ctm matrix, depth int) {
	s, ok := mustResolve(e.rd, e.rd.Dict(res["XObject"])[name]).(*pdf.Stream)
	if !ok || s.Dict["Subtype"] != pdf.Name("Form") {
		return
	}
	b, err := s.Decode(maxPageContent)
	if err != nil {
		return
	}
	m := identity
	if a := e.rd.Array(s.Dict["Matrix"]); len(a) == 6 {
		for i := range m {
			m[i] = number(a[i])
		}
	}
	r := e.rd.Dict(s.Dict["Resources"])
	if r == nil {
		r = res
	}
	e.run(b, r, m.mul(ctm), depth+1)
}

// show records the characters of one string and advances the text matrix.
func (e *extractor) show(ts *textState, ctm matrix, o any) {
	s, ok := o.(pdf.String)
	if !ok || ts.font == nil {
		return
	}
	f := ts.font
	for _, c := range f.decode(s) {
		trm := matrix{ts.size * ts.th, 0, 0, ts.size, 0, ts.rise}.mul(ts.tm).mul(ctm)
		w := f.width(c) / 1000
		tx := w*ts.size + ts.tc
		if !f.twoByte && c == 32 {
			tx += ts.tw
		}
		tx *= ts.th
		end := matrix{1, 0, 0, 1, tx, 0}.mul(ts.tm)
		endM := matrix{ts.size * ts.th, 0, 0, ts.size, 0, ts.rise}.mul(end).mul(ctm)
		// horizontal text only: a baseline along x, read left to right (a slant, as
		// of a synthesised italic, is fine)
		if math.Abs(trm[1]) < 1e-6*math.Abs(trm[0]) && math.Abs(trm[2]) < 0.5*math.Abs(trm[3]) && trm[0] > 0 {
			txt, ok := f.uni[c]
			if !ok {
				txt = "\ufffd"
			}
			slanted := math.Abs(trm[2]) > 0.05*math.Abs(trm[3])
			e.glyphs = append(e.glyphs, glyph{text: txt, x: trm[4], x1: endM[4], y: trm[5], size: math.Abs(trm[3]), fontIndex: f.id, italic: f.italic || slanted})
		}
		ts.tm = end
	}
}

func (e *extractor) font(res pdf.Dict, name pdf.Name) *textFont {
	fo := e.rd.Dict(res["Font"])[name]
	ref, _ := fo.(pdf.Ref)
	if f, ok := e.fonts[ref.Num]; ok && ref.Num != 0 {
		return f
	}
	d := e.rd.Dict(fo)
	if d == nil {
		return nil
	}
	e.nextID++
	f := &textFont{uni: map[uint32]string{}, widths: map[uint32]float64{}, dw: 500, id: e.nextID}
	if d["Subtype"] == pdf.Name("Type0") {
		f.twoByte = true
		f.dw = 1000
		if desc := e.rd.Array(d["DescendantFonts"]); len(desc) > 0 {
			cid := e.rd.Dict(desc[0])
			if v, ok := e.rd.Int(cid["DW"]); ok {
				f.dw = float64(v)
			}
			readCIDWidths(e.rd, e.rd.Array(cid["W"]), f.widths)
		}
	} else {
		first, _ := e.rd.Int(d["FirstChar"])
		for i, w := range e.rd.Array(d["Widths"]) {
			if i > 256 {
				break
			}
			f.widths[uint32(first)+uint32(i)] = number(mustResolve(e.rd, w))
		}
		f.dw = 0
		if fd := e.rd.Dict(d["FontDescriptor"]); fd != nil {
			f.dw = number(fd["MissingWidth"])
		}
		simpleEncoding(e.rd, d, f.uni)
	}
	f.italic = isItalicFont(e.rd, d)
	if s, ok := mustResolve(e.rd, d["ToUnicode"]).(*pdf.Stream); ok {
		if b, err := s.Decode(1 << 20); err == nil {
			parseToUnicode(b, f.uni)
		}
	}
	if ref.Num != 0 {
		e.fonts[ref.Num] = f
	}
	return f
}

func readCIDWidths(rd *pdf.Reader, w pdf.Array, out map[uint32]float64) {
	for i := 0; i < len(w) && len(out) < 70000; {
		first, ok := rd.Int(w[i])
		if !ok || i+1 >= len(w) {
			return
		}
		if arr := rd.Array(w[i+1]); arr != nil {
			for j, v := range arr {
				out[uint32(first)+uint32(j)] = number(mustResolve(rd, v))
			}
			i += 2
			continue
		}
		if i+2 >= len(w) {
			return
		}
		last, _ := rd.Int(w[i+1])
		v := number(mustResolve(rd, w[i+2]))
		for c := first; c <= last && c-first < 70000; c++ {
			out[uint32(c)] = v
		}
		i += 3
	}
}

// simpleEncoding fills the text of a simple font's codes from WinAnsi (ASCII and
// Latin-1 are the same there, apart from 0x80–0x9F, which these documents do not
// use for the words looked for) and /Differences glyph names.
func simpleEncoding(rd *pdf.Reader, d pdf.Dict, uni map[uint32]string) {
	for c := 32; c < 256; c++ {
		if c < 127 || c >= 160 {
			uni[uint32(c)] = string(rune(c))
		}
	}
	enc := rd.Dict(d["Encoding"])
	code := 0
	for _, o := range rd.Array(enc["Differences"]) {
		switch v := o.(type) {
		case int64:
			code = int(v)
		case pdf.Name:
			if r, ok := glyphNameRune(string(v)); ok {
				uni[uint32(code)] = string(r)
			}
			code++
		}
	}
}

func glyphNameRune(n string) (rune, bool) {
	if strings.HasPrefix(n, "uni") && len(n) == 7 {
		if v, err := strconv.ParseUint(n[3:], 16, 32); err == nil {
			return rune(v), true
		}
	}
	if len(n) == 1 {
		return rune(n[0]), true
	}
	switch n {
	case "space":
		return ' ', true
	case "slash":
		return '/', true
	case "colon":
		return ':', true
	case "hyphen":
		return '-', true
	case "period":
		return '.', true
	case "comma":
		return ',', true
	}
	return 0, false
}

// parseToUnicode reads the bfchar and bfrange entries of a ToUnicode CMap.
func parseToUnicode(b []byte, out map[uint32]string) {
	lx := &contentLexer{b: b}
	var ops []any
	mode := ""
	for n := 0; n < 200_000; n++ {
		tok, ok := lx.next()
		if !ok {
			return
		}
		if op, isOp := tok.(opToken); isOp {
			switch string(op) {
			case "beginbfchar", "beginbfrange":
				mode = string(op)
			case "endbfchar", "endbfrange":
				mode = ""
			}
			ops = ops[:0]
			continue
		}
		if mode == "" {
			continue
		}
		ops = append(ops, tok)
		switch mode {
		case "beginbfchar":
			if len(ops) == 2 {
				src, ok1 := ops[0].(pdf.String)
				dst, ok2 := ops[1].(pdf.String)
				if ok1 && ok2 {
					out[codeOf(src)] = utf16Text(dst)
				}
				ops = ops[:0]
			}
		case "beginbfrange":
			if len(ops) == 3 {
				lo, ok1 := ops[0].(pdf.String)
				hi, ok2 := ops[1].(pdf.String)
				if ok1 && ok2 {
					a, z := codeOf(lo), codeOf(hi)
					switch dst := ops[2].(type) {
					case pdf.String:
						base := []rune(utf16Text(dst))
						for c := a; c <= z && c-a < 65536 && len(base) > 0; c++ {
							r := append([]rune(nil), base...)
							r[len(r)-1] += rune(c - a)
							out[c] = string(r)
						}
					case []any:
						for i, x := range dst {
							if s, ok := x.(pdf.String); ok && a+uint32(i) <= z {
								out[a+uint32(i)] = utf16Text(s)
							}
						}
					}
				}
				ops = ops[:0]
			}
		}
	}
}

func codeOf(s pdf.String) uint32 {
	var c uint32
	for _, b := range s {
		c = c<<8 | uint32(b)
	}
	return c
}

func utf16Text(s pdf.String) string {
	u := make([]uint16, 0, len(s)/2)
	for i := 0; i+1 < len(s); i += 2 {
		u = append(u, uint16(s[i])<<8|uint16(s[i+1]))
	}
	return string(utf16.Decode(u))
}

// textLine is a line of text: its characters left to right with where each is.
type textLine struct {
	glyphs []glyph
	y      float64
}

// lines groups glyphs into horizontal lines (same baseline within a third of the
// font size), left to right. A gap wider than a quarter of the font size between two
// characters reads as a space (some writers draw no space characters).
func lines(gs []glyph) []textLine {
	sorted := append([]glyph(nil), gs...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].y > sorted[j].y })
	var out []textLine
	for _, g := range sorted {
		if g.text == "" {
			continue
		}
		if n := len(out); n > 0 && math.Abs(out[n-1].y-g.y) < g.size/3 {
			out[n-1].glyphs = append(out[n-1].glyphs, g)
			continue
		}
		out = append(out, textLine{glyphs: []glyph{g}, y: g.y})
	}
	for i := range out {
		gl := out[i].glyphs
		sort.SliceStable(gl, func(a, b int) bool { return gl[a].x < gl[b].x })
		var merged []glyph
		for j, g := range gl {
			if j > 0 {
				prev := merged[len(merged)-1]
				if g.x-prev.x1 > g.size/4 && prev.text != " " && g.text != " " {
					merged = append(merged, glyph{text: " ", x: prev.x1, x1: g.x, y: g.y, size: g.size})
				}
			}
			merged = append(merged, g)
		}
		out[i].glyphs = merged
	}
	return out
}

// isItalicFont tells an italic or oblique font by its name or its descriptor.
func isItalicFont(rd *pdf.Reader, d pdf.Dict) bool {
	fd := rd.Dict(d["FontDescriptor"])
	if desc := rd.Array(d["DescendantFonts"]); fd == nil && len(desc) > 0 {
		fd = rd.Dict(rd.Dict(desc[0])["FontDescriptor"])
	}
	name, _ := d["BaseFont"].(pdf.Name)
	n := strings.ToLower(string(name))
	if strings.Contains(n, "italic") || strings.Contains(n, "oblique") {
		return true
	}
	if fd != nil {
		if a := number(mustResolve(rd, fd["ItalicAngle"])); a != 0 {
			return true
		}
		if fl, ok := rd.Int(fd["Flags"]); ok && fl&64 != 0 {
			return true
		}
	}
	return false
}
