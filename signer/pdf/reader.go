package pdf

import (
	"bytes"
	"errors"
	"fmt"
	"io"
)

// Errors a caller branches on.
var (
	// ErrNotPDF: the input has no PDF header.
	ErrNotPDF = errors.New("pdf: not a PDF file (no %PDF- header)")
	// ErrEncrypted: the file is encrypted; Kyso does not write into encrypted files.
	ErrEncrypted = errors.New("pdf: encrypted PDF not supported")
	// ErrDamaged: the cross-reference data cannot be read.
	ErrDamaged = errors.New("pdf: damaged file")
)

type xrefEntry struct {
	kind   byte // 0 free, 1 in file, 2 in object stream
	offset int64
	gen    int
	stream int // object stream number, kind 2
	index  int // index in the object stream, kind 2
}

// Section is one cross-reference section of the file, newest first in Reader.Sections.
type Section struct {
	// Offset is where the section starts (the value startxref or /Prev gave).
	Offset int64
	// Stream tells an xref stream from a classic table.
	Stream  bool
	Trailer Dict
}

// Reader reads a PDF from an io.ReaderAt. It is not safe for concurrent use.
type Reader struct {
	src *source
	// Size is the number of bytes read as the document.
	Size int64
	// HeaderOffset is where "%PDF-" starts (junk before it is tolerated).
	HeaderOffset int64
	// Version is the header's version, e.g. "1.7".
	Version string
	// Trailer is the newest trailer (merged with the xref stream dictionary).
	Trailer Dict
	// Sections lists the cross-reference sections, newest first.
	Sections []Section
	// StartXref is the value of the last startxref.
	StartXref int64
	// Shift is added to offsets found in the file's xref (non-zero for files whose
	// offsets count from the header after leading junk).
	Shift int64

	xref     map[int]xrefEntry
	objstms  map[int]*objStm
	resolved map[int]Object
	// loading holds the objects being parsed, so that a cycle (a stream whose /Length
	// is an object that needs the stream itself) is an error, not endless recursion.
	loading map[int]bool
}

type objStm struct {
	data    []byte
	offsets map[int]int64 // object number → offset in data
}

// Open reads the cross-reference data of the first size bytes of r.
func Open(r io.ReaderAt, size int64) (rd *Reader, err error) {
	defer func() {
		if p := recover(); p != nil {
			rd, err = nil, fmt.Errorf("%w: internal error while reading: %v", ErrDamaged, p)
		}
	}()
	rd = &Reader{src: newSource(r, size), Size: size, xref: map[int]xrefEntry{},
		objstms: map[int]*objStm{}, resolved: map[int]Object{}, loading: map[int]bool{}}
	if err := rd.readHeader(); err != nil {
		return nil, err
	}
	sx, err := rd.findStartXref()
	if err != nil {
		return nil, err
	}
	rd.StartXref = sx
	if err := rd.readXrefChain(sx); err != nil {
		return nil, err
	}
	if _, ok := rd.Trailer["Root"].(Ref); !ok {
		return nil, fmt.Errorf("%w: trailer has no /Root", ErrDamaged)
	}
	return rd, nil
}

func (r *Reader) readHeader() error {
	b, err := r.src.readAt(0, 1024)
	if err != nil {
		return err
	}
	i := bytes.Index(b, []byte("%PDF-"))
	if i < 0 {
		return ErrNotPDF
	}
	r.HeaderOffset = int64(i)
	v := b[i+5:]
	end := 0
	for end < len(v) && end < 4 && (v[end] == '.' || (v[end] >= '0' && v[end] <= '9')) {
		end++
	}
	r.Version = string(v[:end])
	return nil
}

func (r *Reader) findStartXref() (int64, error) {
	n := int64(2048)
	if n > r.Size {
		n = r.Size
	}
	tail, err := r.src.readAt(r.Size-n, int(n))
	if err != nil {
		return 0, err
	}
	i := bytes.LastIndex(tail, []byte("startxref"))
	if i < 0 {
		return 0, fmt.Errorf("%w: no startxref", ErrDamaged)
	}
	l := &lexer{src: r.src, pos: r.Size - n + int64(i) + 9, noRefs: true}
	t, err := l.next()
	if err != nil || t.kind != tInt || t.i < 0 || t.i >= r.Size {
		return 0, fmt.Errorf("%w: startxref is not a valid offset", ErrDamaged)
	}
	return t.i, nil
}

// readXrefChain reads the section at off and its /Prev chain, newest first; entries of
// newer sections win.
func (r *Reader) readXrefChain(off int64) error {
	seen := map[int64]bool{}
	for first := true; ; first = false {
		if seen[off] {
			return fmt.Errorf("%w: cross-reference /Prev loop at offset %d", ErrDamaged, off)
		}
		seen[off] = true
		if len(seen) > 10000 {
			return fmt.Errorf("%w: too many cross-reference sections", ErrDamaged)
		}
		sec, err := r.readSection(off)
		if err != nil {
			return err
		}
		r.Sections = append(r.Sections, sec)
		if first {
			r.Trailer = sec.Trailer
		}
		prev, ok := sec.Trailer["Prev"]
		if !ok {
			return nil
		}
		p, ok := toInt(prev)
		if !ok || p < 0 || p >= r.Size {
			return fmt.Errorf("%w: /Prev is not a valid offset", ErrDamaged)
		}
		off = p
	}
}

func toInt(o Object) (int64, bool) {
	switch v := o.(type) {
	case int64:
		return v, true
	case int:
		return int64(v), true
	case float64:
		if v == float64(int64(v)) {
			return int64(v), true
		}
	}
	return 0, false
}

// readSection reads a classic table or an xref stream at off, trying the header-relative
// offset as well for files with junk before the header.
func (r *Reader) readSection(off int64) (Section, error) {
	var firstErr error
	shifts := []int64{r.Shift}
	if r.HeaderOffset != 0 && r.Shift == 0 {
		shifts = append(shifts, r.HeaderOffset)
	}
	for _, sh := range shifts {
		sec, err := r.readSectionAt(off + sh)
		if err == nil {
			r.Shift = sh
			sec.Offset = off
			return sec, nil
		}
		if firstErr == nil {
			firstErr = err
		}
	}
	return Section{}, firstErr
}

func (r *Reader) readSectionAt(pos int64) (Section, error) {
	l := &lexer{src: r.src, pos: pos, noRefs: true}
	t, err := l.next()
	if err != nil {
		return Section{}, fmt.Errorf("%w: %v", ErrDamaged, err)
	}
	if t.kind == tKeyword && string(t.s) == "xref" {
		return r.readTable(l)
	}
	if t.kind == tInt {
		return r.readXrefStream(pos)
	}
	return Section{}, fmt.Errorf("%w: no cross-reference section at offset %d", ErrDamaged, pos)
}

func (r *Reader) readTable(l *lexer) (Section, error) {
	for {
		t, err := l.next()
		if err != nil {
			return Section{}, fmt.Errorf("%w: %v", ErrDamaged, err)
		}
		if t.kind == tKeyword && string(t.s) == "trailer" {
			break
		}
		if t.kind != tInt {
			return Section{}, fmt.Errorf("%w: bad cross-reference subsection at offset %d", ErrDamaged, t.pos)
		}
		t2, err := l.next()
		if err != nil || t2.kind != tInt || t.i < 0 || t2.i < 0 || t2.i > 1<<24 {
			return Section{}, fmt.Errorf("%w: bad cross-reference subsection at offset %d", ErrDamaged, t.pos)
		}
		start, count := t.i, t2.i
		for k := int64(0); k < count; k++ {
			a, err1 := l.next()
			b, err2 := l.next()
			c, err3 := l.next()
			if err1 != nil || err2 != nil || err3 != nil || a.kind != tInt || b.kind != tInt || c.kind != tKeyword {
				return Section{}, fmt.Errorf("%w: bad cross-reference entry near offset %d", ErrDamaged, a.pos)
			}
			num := int(start + k)
			if _, done := r.xref[num]; done {
				continue
			}
			switch string(c.s) {
			case "n":
				r.xref[num] = xrefEntry{kind: 1, offset: a.i, gen: int(b.i)}
			case "f":
				r.xref[num] = xrefEntry{kind: 0, gen: int(b.i)}
			default:
				return Section{}, fmt.Errorf("%w: bad cross-reference entry type %q", ErrDamaged, c.s)
			}
		}
	}
	l.noRefs = false
	tr, err := l.parseObject(0)
	if err != nil {
		return Section{}, fmt.Errorf("%w: trailer: %v", ErrDamaged, err)
	}
	d, ok := tr.(Dict)
	if !ok {
		return Section{}, fmt.Errorf("%w: trailer is not a dictionary", ErrDamaged)
	}
	// A hybrid file's /XRefStm holds the entries of compressed objects; entries of the
	// table win, so they were loaded first.
	if xs, ok := toInt(d["XRefStm"]); ok && xs > 0 && xs < r.Size {
		if _, err := r.readXrefStream(xs + r.Shift); err != nil {
			return Section{}, err
		}
	}
	return Section{Trailer: d}, nil
}

func (r *Reader) readXrefStream(pos int64) (Section, error) {
	obj, _, err := r.parseIndirectAt(pos, -1)
	if err != nil {
		return Section{}, fmt.Errorf("%w: xref stream: %v", ErrDamaged, err)
	}
	s, ok := obj.(*Stream)
	if !ok || s.Dict["Type"] != Name("XRef") {
		return Section{}, fmt.Errorf("%w: no xref stream at offset %d", ErrDamaged, pos)
	}
	data, err := s.decodeWith(nil, 256<<20)
	if err != nil {
		return Section{}, fmt.Errorf("%w: xref stream: %v", ErrDamaged, err)
	}
	w, ok := s.Dict["W"].(Array)
	if !ok || len(w) != 3 {
		return Section{}, fmt.Errorf("%w: xref stream /W", ErrDamaged)
	}
	var ws [3]int
	total := 0
	for i := range ws {
		v, ok := toInt(w[i])
		if !ok || v < 0 || v > 8 {
			return Section{}, fmt.Errorf("%w: xref stream /W", ErrDamaged)
		}
		ws[i] = int(v)
		total += int(v)
	}
	if total == 0 {
		return Section{}, fmt.Errorf("%w: xref stream /W", ErrDamaged)
	}
	size, _ := toInt(s.Dict["Size"])
	index := Array{int64(0), size}
	if ix, ok := s.Dict["Index"].(Array); ok && len(ix)%2 == 0 {
		index = ix
	}
	p := 0
	for i := 0; i+1 < len(index); i += 2 {
		start, ok1 := toInt(index[i])
		count, ok2 := toInt(index[i+1])
		if !ok1 || !ok2 || start < 0 || count < 0 {
			return Section{}, fmt.Errorf("%w: xref stream /Index", ErrDamaged)
		}
		for k := int64(0); k < count; k++ {
			if p+total > len(data) {
				return Section{}, fmt.Errorf("%w: xref stream shorter than its /Index", ErrDamaged)
			}
			f := [3]int64{1, 0, 0}
			for j := 0; j < 3; j++ {
				if ws[j] == 0 {
					continue
				}
				var v int64
				for b := 0; b < ws[j]; b++ {
					v = v<<8 | int64(data[p])
					p++
				}
				f[j] = v
			}
			num := int(start + k)
			if _, done := r.xref[num]; done {
				continue
			}
			switch f[0] {
			case 0:
				r.xref[num] = xrefEntry{kind: 0}
			case 1:
				r.xref[num] = xrefEntry{kind: 1, offset: f[1], gen: int(f[2])}
			case 2:
				r.xref[num] = xrefEntry{kind: 2, stream: int(f[1]), index: int(f[2])}
			}
		}
	}
	return Section{Stream: true, Trailer: s.Dict}, nil
}

// parseIndirectAt parses "num gen obj ... endobj" at pos. want is the expected object
// number, or -1.
func (r *Reader) parseIndirectAt(pos int64, want int) (Object, Ref, error) {
	l := &lexer{src: r.src, pos: pos, noRefs: true}
	a, err := l.next()
	if err != nil {
		return nil, Ref{}, err
	}
	b, err := l.next()
	if err != nil {
		return nil, Ref{}, err
	}
	c, err := l.next()
	if err != nil {
		return nil, Ref{}, err
	}
	if a.kind != tInt || b.kind != tInt || c.kind != tKeyword || string(c.s) != "obj" {
		return nil, Ref{}, syntaxErr(pos, "no object header")
	}
	ref := Ref{Num: int(a.i), Gen: int(b.i)}
	if want >= 0 && ref.Num != want {
		return nil, ref, syntaxErr(pos, "found object %d where %d was expected", ref.Num, want)
	}
	l.noRefs = false
	obj, err := l.parseObject(0)
	if err != nil {
		return nil, ref, err
	}
	d, isDict := obj.(Dict)
	if !isDict {
		return obj, ref, nil
	}
	save := l.pos
	t, err := l.next()
	if err != nil || t.kind != tKeyword || string(t.s) != "stream" {
		l.pos = save
		return obj, ref, nil
	}
	// data starts after the EOL that follows "stream"
	p := l.pos
	if c, _ := r.src.byteAt(p); c == '\r' {
		p++
	}
	if c, _ := r.src.byteAt(p); c == '\n' {
		p++
	}
	s := &Stream{Dict: d, r: r, dataOff: p}
	s.dataLen = r.streamLength(d, p, ref.Num)
	if s.dataLen < 0 {
		return nil, ref, syntaxErr(p, "stream of object %d has no valid length", ref.Num)
	}
	return s, ref, nil
}

// streamLength trusts /Length when "endstream" follows it, else searches for endstream.
func (r *Reader) streamLength(d Dict, dataOff int64, num int) int64 {
	var n int64 = -1
	switch v := d["Length"].(type) {
	case int64:
		n = v
	case Ref:
		if v.Num != num { // a stream's length cannot be itself
			if o, err := r.getObject(v.Num, 1); err == nil {
				if i, ok := toInt(o); ok {
					n = i
				}
			}
		}
	}
	if n >= 0 && dataOff+n <= r.Size {
		b, _ := r.src.readAt(dataOff+n, 32)
		if bytes.Contains(b, []byte("endstream")) {
			return n
		}
	}
	// scan for endstream, bounded
	const chunk = 64 << 10
	for off := dataOff; off < r.Size && off-dataOff < maxObjSize; off += chunk - 16 {
		b, err := r.src.readAt(off, chunk)
		if err != nil {
			return -1
		}
		if i := bytes.Index(b, []byte("endstream")); i >= 0 {
			end := off + int64(i)
			// drop the EOL before endstream
			if c, _ := r.src.byteAt(end - 1); c == '\n' {
				end--
				if c, _ := r.src.byteAt(end - 1); c == '\r' {
					end--
				}
			} else if c == '\r' {
				end--
			}
			if end < dataOff {
				end = dataOff
			}
			return end - dataOff
		}
		if len(b) < chunk {
			break
		}
	}
	return -1
}

// Get returns object num (generation is not checked: the newest definition wins).
func (r *Reader) Get(num int) (Object, error) { return r.getObject(num, 0) }

// Ref returns the object that ref points to; a missing object is null, as the spec says.
func (r *Reader) Ref(ref Ref) (Object, error) { return r.getObject(ref.Num, 0) }

func (r *Reader) getObject(num int, depth int) (obj Object, err error) {
	if depth > 32 {
		return nil, fmt.Errorf("%w: references nested too deep at object %d", ErrDamaged, num)
	}
	if o, ok := r.resolved[num]; ok {
		return o, nil
	}
	if r.loading[num] {
		return nil, fmt.Errorf("%w: object %d refers to itself while it is read", ErrDamaged, num)
	}
	r.loading[num] = true
	defer delete(r.loading, num)
	defer func() {
		if p := recover(); p != nil {
			obj, err = nil, fmt.Errorf("%w: internal error at object %d: %v", ErrDamaged, num, p)
		}
	}()
	e, ok := r.xref[num]
	if !ok || e.kind == 0 {
		return nil, nil
	}
	switch e.kind {
	case 1:
		var firstErr error
		for _, sh := range []int64{r.Shift, 0, r.HeaderOffset} {
			o, _, err := r.parseIndirectAt(e.offset+sh, num)
			if err == nil {
				obj = o
				firstErr = nil
				break
			}
			if firstErr == nil {
				firstErr = err
			}
		}
		if firstErr != nil {
			return nil, fmt.Errorf("%w: object %d: %v", ErrDamaged, num, firstErr)
		}
	case 2:
		obj, err = r.fromObjStm(e.stream, num, depth)
		if err != nil {
			return nil, err
		}
	}
	if len(r.resolved) > 100000 {
		r.resolved = map[int]Object{}
	}
	r.resolved[num] = obj
	return obj, nil
}

func (r *Reader) fromObjStm(stmNum, num, depth int) (Object, error) {
	os, ok := r.objstms[stmNum]
	if !ok {
		o, err := r.getObject(stmNum, depth+1)
		if err != nil {
			return nil, err
		}
		s, ok := o.(*Stream)
		if !ok {
			return nil, fmt.Errorf("%w: object stream %d is not a stream", ErrDamaged, stmNum)
		}
		data, err := s.Decode(64 << 20)
		if err != nil {
			return nil, fmt.Errorf("%w: object stream %d: %v", ErrDamaged, stmNum, err)
		}
		n, _ := toInt(s.Dict["N"])
		first, _ := toInt(s.Dict["First"])
		if n < 0 || n > 1<<20 || first < 0 || first > int64(len(data)) {
			return nil, fmt.Errorf("%w: object stream %d header", ErrDamaged, stmNum)
		}
		os = &objStm{data: data, offsets: map[int]int64{}}
		src := newSource(bytes.NewReader(data), int64(len(data)))
		l := &lexer{src: src, noRefs: true}
		for i := int64(0); i < n; i++ {
			a, err1 := l.next()
			b, err2 := l.next()
			if err1 != nil || err2 != nil || a.kind != tInt || b.kind != tInt {
				return nil, fmt.Errorf("%w: object stream %d header", ErrDamaged, stmNum)
			}
			if _, dup := os.offsets[int(a.i)]; !dup {
				os.offsets[int(a.i)] = first + b.i
			}
		}
		if len(r.objstms) > 64 {
			r.objstms = map[int]*objStm{}
		}
		r.objstms[stmNum] = os
	}
	off, ok := os.offsets[num]
	if !ok {
		return nil, fmt.Errorf("%w: object %d not in object stream %d", ErrDamaged, num, stmNum)
	}
	l := &lexer{src: newSource(bytes.NewReader(os.data), int64(len(os.data))), pos: off}
	return l.parseObject(0)
}

// Resolve follows references until o is not a Ref.
func (r *Reader) Resolve(o Object) (Object, error) {
	for i := 0; i < 32; i++ {
		ref, ok := o.(Ref)
		if !ok {
			return o, nil
		}
		var err error
		o, err = r.getObject(ref.Num, 0)
		if err != nil {
			return nil, err
		}
	}
	return nil, fmt.Errorf("%w: reference chain too long", ErrDamaged)
}

// Dict resolves o and returns it as a dictionary (a stream's dictionary counts), or nil.
func (r *Reader) Dict(o Object) Dict {
	o, err := r.Resolve(o)
	if err != nil {
		return nil
	}
	switch v := o.(type) {
	case Dict:
		return v
	case *Stream:
		return v.Dict
	}
	return nil
}

// Array resolves o and returns it as an array, or nil.
func (r *Reader) Array(o Object) Array {
	o, err := r.Resolve(o)
	if err != nil {
		return nil
	}
	a, _ := o.(Array)
	return a
}

// Int resolves o as an integer.
func (r *Reader) Int(o Object) (int64, bool) {
	o, err := r.Resolve(o)
	if err != nil {
		return 0, false
	}
	return toInt(o)
}

// Catalog returns the document catalog.
func (r *Reader) Catalog() (Dict, Ref, error) {
	ref, _ := r.Trailer["Root"].(Ref)
	d := r.Dict(ref)
	if d == nil {
		return nil, ref, fmt.Errorf("%w: no document catalog", ErrDamaged)
	}
	return d, ref, nil
}

// Encrypted tells whether the trailer names an /Encrypt dictionary.
func (r *Reader) Encrypted() bool { _, ok := r.Trailer["Encrypt"]; return ok }

// MaxObjectNumber is the largest object number in use or declared by /Size, minus one.
func (r *Reader) MaxObjectNumber() int {
	m := 0
	if s, ok := toInt(r.Trailer["Size"]); ok && s > 0 && s < 1<<24 {
		m = int(s) - 1
	}
	for n := range r.xref {
		if n > m {
			m = n
		}
	}
	return m
}

// Objects lists the object numbers the cross-reference data defines (not free ones).
func (r *Reader) Objects() []int {
	out := make([]int, 0, len(r.xref))
	for n, e := range r.xref {
		if e.kind != 0 {
			out = append(out, n)
		}
	}
	return out
}

// ObjectOffset tells where object num lies in the file (kind 1), or its object stream.
func (r *Reader) ObjectOffset(num int) (offset int64, inStream int, ok bool) {
	e, ok := r.xref[num]
	if !ok || e.kind == 0 {
		return 0, 0, false
	}
	if e.kind == 2 {
		return 0, e.stream, true
	}
	return e.offset + r.Shift, 0, true
}

// Pages returns the page dictionaries' references in order, bounded against cycles.
func (r *Reader) Pages() ([]Ref, error) {
	cat, _, err := r.Catalog()
	if err != nil {
		return nil, err
	}
	root, ok := cat["Pages"].(Ref)
	if !ok {
		return nil, fmt.Errorf("%w: catalog has no /Pages reference", ErrDamaged)
	}
	var out []Ref
	seen := map[int]bool{}
	var walk func(ref Ref, depth int) error
	walk = func(ref Ref, depth int) error {
		if depth > 64 || seen[ref.Num] {
			return fmt.Errorf("%w: page tree has a cycle at object %d", ErrDamaged, ref.Num)
		}
		seen[ref.Num] = true
		d := r.Dict(ref)
		if d == nil {
			return fmt.Errorf("%w: page tree node %d is not a dictionary", ErrDamaged, ref.Num)
		}
		kids, hasKids := d["Kids"]
		if t, _ := d["Type"].(Name); t == "Page" || (!hasKids && t != "Pages") {
			out = append(out, ref)
			return nil
		}
		for _, k := range r.Array(kids) {
			kr, ok := k.(Ref)
			if !ok {
				return fmt.Errorf("%w: page tree kid is not a reference", ErrDamaged)
			}
			if err := walk(kr, depth+1); err != nil {
				return err
			}
			if len(out) > 1<<20 {
				return fmt.Errorf("%w: too many pages", ErrDamaged)
			}
		}
		return nil
	}
	if err := walk(root, 0); err != nil {
		return nil, err
	}
	return out, nil
}

// Inherited looks key up on a page and its ancestors (Resources, MediaBox, CropBox,
// Rotate are inheritable).
func (r *Reader) Inherited(page Dict, key Name) Object {
	d := page
	for i := 0; i < 64 && d != nil; i++ {
		if v, ok := d[key]; ok {
			return v
		}
		d = r.Dict(d["Parent"])
	}
	return nil
}
