package pdf

import (
	"bytes"
	"context"
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

// xrefSection is one section as parsed: its entries (the first definition of a number
// in the section wins, a hybrid file's /XRefStm entries after the table's), and reach,
// the bytes its parse examined.
type xrefSection struct {
	Section
	entries map[int]xrefEntry
	maxNum  int
	reach   int64
	// uncharged counts the entries not yet charged to the file's budget (charged
	// 1024 at a time, and the rest when the section is read)
	uncharged int
}

// xrefLayer is a section over the chain of its /Prev sections. Layers are shared by
// every reader of a file whose chain passes through them, so that N revisions hold N
// sections, not N chains. Every spanEvery-th layer also holds the merged entries of
// the layers down to the one before, so that a lookup walks at most spanEvery layers
// and then jumps.
type xrefLayer struct {
	sec    *xrefSection
	below  *xrefLayer
	depth  int
	maxNum int
	reach  int64
	span   map[int]xrefEntry
	skip   *xrefLayer // the layer below the span
}

const spanEvery = 32

func (f *File) newLayer(sec *xrefSection, below *xrefLayer) (*xrefLayer, error) {
	l := &xrefLayer{sec: sec, below: below, depth: 1, maxNum: sec.maxNum, reach: sec.reach}
	if below != nil {
		l.depth = below.depth + 1
		l.maxNum = max(l.maxNum, below.maxNum)
		l.reach = max(l.reach, below.reach)
	}
	if l.depth%spanEvery == 0 {
		span := map[int]xrefEntry{}
		x := l
		for ; x != nil && (x == l || x.depth%spanEvery != 0); x = x.below {
			for n, e := range x.sec.entries {
				if _, done := span[n]; !done {
					span[n] = e
				}
			}
		}
		if err := f.chargeEntries(len(span)); err != nil {
			return nil, err
		}
		l.span, l.skip = span, x
	}
	return l, nil
}

func (l *xrefLayer) lookup(num int) (xrefEntry, bool) {
	for l != nil {
		if l.span != nil {
			if e, ok := l.span[num]; ok {
				return e, true
			}
			l = l.skip
			continue
		}
		if e, ok := l.sec.entries[num]; ok {
			return e, true
		}
		l = l.below
	}
	return xrefEntry{}, false
}

// Reader reads a PDF from an io.ReaderAt. It is not safe for concurrent use.
type Reader struct {
	file *File
	src  *source
	// Size is the number of bytes read as the document.
	Size int64
	// HeaderOffset is where "%PDF-" starts (junk before it is tolerated).
	HeaderOffset int64
	// Version is the header's version, e.g. "1.7".
	Version string
	// Trailer is the newest trailer (merged with the xref stream dictionary).
	Trailer Dict
	// StartXref is the value of the last startxref.
	StartXref int64
	// Shift is added to offsets found in the file's xref (non-zero for files whose
	// offsets count from the header after leading junk).
	Shift int64

	top *xrefLayer
	// xref holds every entry of a repaired reader (top is nil then).
	xref     map[int]xrefEntry
	objstm   *objStm // the last object stream decoded that the file could not share
	resolved map[int]Object
	// loading holds the objects being parsed, so that a cycle (a stream whose /Length
	// is an object that needs the stream itself) is an error, not endless recursion.
	loading map[int]bool
}

type objStm struct {
	num     int
	data    []byte
	offsets map[int]int64 // object number → offset in data
}

// Open reads the cross-reference data of the first size bytes of r, with the default
// limits and no deadline.
func Open(r io.ReaderAt, size int64) (*Reader, error) {
	return NewFile(context.Background(), r, size, Limits{}).Open(size)
}

// File is the file the reader reads, with its budget.
func (r *Reader) File() *File { return r.file }

func (f *File) newReader(size int64) *Reader {
	return &Reader{file: f, src: f.blocks.view(size), Size: min(size, f.size),
		resolved: map[int]Object{}, loading: map[int]bool{}}
}

// Open reads the document as it ends at byte end of the file (a revision: the bytes
// up to an %%EOF). Readers of one File share what they read.
func (f *File) Open(end int64) (rd *Reader, err error) {
	defer func() {
		if p := recover(); p != nil {
			rd, err = nil, fmt.Errorf("%w: internal error while reading: %v", ErrDamaged, p)
		}
	}()
	if err := f.checkNow(); err != nil {
		return nil, err
	}
	rd = f.newReader(end)
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
// newer sections win. The part of the chain another reader of the file has read
// already (within this reader's bytes) is shared, not read again.
func (r *Reader) readXrefChain(off int64) error {
	f := r.file
	// Files with junk before the header find their offsets by trial (Shift); their
	// chains are read for each reader alone.
	shared := r.HeaderOffset == 0
	seen := map[int64]bool{}
	var pending []*xrefSection
	var base *xrefLayer
	for {
		if err := f.check(); err != nil {
			return err
		}
		if shared {
			f.mu.Lock()
			l := f.layers[off]
			f.mu.Unlock()
			if l != nil && l.reach <= r.Size {
				base = l
				break
			}
		}
		if seen[off] {
			return fmt.Errorf("%w: cross-reference /Prev loop at offset %d", ErrDamaged, off)
		}
		seen[off] = true
		if len(seen) > f.lim.MaxRevisions {
			return f.RevisionsError()
		}
		sec, err := r.readSection(off)
		if err != nil {
			return err
		}
		pending = append(pending, sec)
		prev, ok := sec.Trailer["Prev"]
		if !ok {
			break
		}
		p, ok := toInt(prev)
		if !ok || p < 0 || p >= r.Size {
			return fmt.Errorf("%w: /Prev is not a valid offset", ErrDamaged)
		}
		off = p
	}
	if base != nil && base.depth+len(pending) > f.lim.MaxRevisions {
		return f.RevisionsError()
	}
	l := base
	for i := len(pending) - 1; i >= 0; i-- {
		var err error
		if l, err = f.newLayer(pending[i], l); err != nil {
			return err
		}
		if shared {
			f.mu.Lock()
			if old := f.layers[pending[i].Offset]; old == nil || old.reach > l.reach {
				f.layers[pending[i].Offset] = l
			}
			f.mu.Unlock()
		}
	}
	r.top = l
	r.Trailer = l.sec.Trailer
	return nil
}

// Sections lists the cross-reference sections, newest first.
func (r *Reader) Sections() []Section {
	var out []Section
	for l := r.top; l != nil; l = l.below {
		out = append(out, l.sec.Section)
	}
	return out
}

// newestIsStream tells whether the newest section is an xref stream.
func (r *Reader) newestIsStream() bool { return r.top != nil && r.top.sec.Stream }

// ChangedSince lists the object numbers whose cross-reference entries may differ
// between old and r, when r's chain is old's with one section on top (an incremental
// update of it); ok is false otherwise.
func (r *Reader) ChangedSince(old *Reader) (nums []int, ok bool) {
	if r.top == nil || old.top == nil || r.top.below != old.top || r.Shift != old.Shift {
		return nil, false
	}
	nums = make([]int, 0, len(r.top.sec.entries))
	for n := range r.top.sec.entries {
		nums = append(nums, n)
	}
	return nums, true
}

// parseIndirectAt parses "num gen obj ... endobj" at pos. want is the expected object
// number, or -1. resolveLength allows an indirect /Length to be looked up (not while
// the cross-reference data is being read).
func (r *Reader) parseIndirectAt(pos int64, want int, resolveLength bool) (Object, Ref, error) {
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
	n := int64(-1)
	if resolveLength {
		n = r.lengthHint(d, ref.Num)
	} else if v, ok := d["Length"].(int64); ok {
		n = v
	}
	s.dataLen = r.streamLength(n, p)
	if s.dataLen < 0 {
		return nil, ref, syntaxErr(p, "stream of object %d has no valid length", ref.Num)
	}
	return s, ref, nil
}

// lengthHint is a stream's /Length: direct, or the integer object it refers to; -1
// when there is none.
func (r *Reader) lengthHint(d Dict, num int) int64 {
	switch v := d["Length"].(type) {
	case int64:
		return v
	case Ref:
		if v.Num != num { // a stream's length cannot be itself
			if o, err := r.getObject(v.Num, 1); err == nil {
				if i, ok := toInt(o); ok {
					return i
				}
			}
		}
	}
	return -1
}

// streamLength trusts the length n when "endstream" follows it, else searches for
// endstream.
func (r *Reader) streamLength(n, dataOff int64) int64 {
	if n >= 0 && dataOff+n <= r.Size {
		b, _ := r.src.readAt(dataOff+n, 32)
		if bytes.Contains(b, []byte("endstream")) {
			return n
		}
	} else if n >= 0 {
		r.src.hw = poisoned // a longer view of the file would trust n
	}
	// scan for endstream, bounded
	const chunk = 64 << 10
	for off := dataOff; off < r.Size && off-dataOff < maxObjSize; off += chunk - 16 {
		if err := r.file.check(); err != nil {
			return -1
		}
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

// entry is the cross-reference entry of num.
func (r *Reader) entry(num int) (xrefEntry, bool) {
	if r.top == nil {
		e, ok := r.xref[num]
		return e, ok
	}
	return r.top.lookup(num)
}

func (r *Reader) getObject(num int, depth int) (obj Object, err error) {
	if depth > 32 {
		return nil, fmt.Errorf("%w: references nested too deep at object %d", ErrDamaged, num)
	}
	if o, ok := r.resolved[num]; ok {
		return o, nil
	}
	if err := r.file.check(); err != nil {
		return nil, err
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
	e, ok := r.entry(num)
	if !ok || e.kind == 0 {
		return nil, nil
	}
	if err := r.file.chargeObjects(1); err != nil {
		return nil, err
	}
	switch e.kind {
	case 1:
		var firstErr error
		for _, sh := range []int64{r.Shift, 0, r.HeaderOffset} {
			o, err := r.objectAt(e.offset+sh, num)
			if err == nil {
				obj = o
				firstErr = nil
				break
			}
			if fe := r.file.Err(); fe != nil {
				return nil, fe
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

// objectAt parses object num at pos of the file, or takes it from the file's cache
// when another reader parsed it there from bytes this reader reads too (and an
// indirect /Length resolves to the same value here).
func (r *Reader) objectAt(pos int64, num int) (Object, error) {
	if c := r.file.cachedObject(pos); c != nil && c.ref.Num == num && c.reach <= r.Size &&
		(c.lenRef < 0 || r.lengthOf(c.lenRef) == c.lenVal) {
		return r.own(c.obj), nil
	}
	saved := r.src.hw
	r.src.hw = 0
	o, ref, err := r.parseIndirectAt(pos, num, true)
	reach := r.src.hw
	r.src.hw = max(saved, reach)
	if err != nil {
		return nil, err
	}
	c := &cachedObj{ref: ref, obj: o, reach: reach, lenRef: -1, cost: reach - pos}
	if s, ok := o.(*Stream); ok {
		c.cost = s.dataOff - pos + 64
		if lr, ok := s.Dict["Length"].(Ref); ok {
			c.lenRef, c.lenVal = lr.Num, r.lengthOf(lr.Num)
		}
	}
	if reach != poisoned && c.cost >= 0 {
		r.file.storeObject(pos, c)
	}
	return o, nil
}

// lengthOf is the integer value of object num, or -1.
func (r *Reader) lengthOf(num int) int64 {
	o, err := r.getObject(num, 1)
	if err != nil {
		return -1
	}
	if i, ok := toInt(o); ok {
		return i
	}
	return -1
}

// own gives a stream parsed by another reader of the file this reader's context (its
// filters resolve here).
func (r *Reader) own(o Object) Object {
	if s, ok := o.(*Stream); ok && s.r != r {
		c := *s
		c.r = r
		return &c
	}
	return o
}

func (r *Reader) fromObjStm(stmNum, num, depth int) (Object, error) {
	os, err := r.objStream(stmNum, depth)
	if err != nil {
		return nil, err
	}
	off, ok := os.offsets[num]
	if !ok {
		return nil, fmt.Errorf("%w: object %d not in object stream %d", ErrDamaged, num, stmNum)
	}
	l := &lexer{src: newSource(bytes.NewReader(os.data), int64(len(os.data))), pos: off}
	return l.parseObject(0)
}

// objStream decodes object stream stmNum, or takes it from the file's cache: an object
// stream whose data, header and filters are the same decodes the same in every
// revision.
func (r *Reader) objStream(stmNum, depth int) (*objStm, error) {
	if r.objstm != nil && r.objstm.num == stmNum {
		return r.objstm, nil
	}
	o, err := r.getObject(stmNum, depth+1)
	if err != nil {
		return nil, err
	}
	s, ok := o.(*Stream)
	if !ok {
		return nil, fmt.Errorf("%w: object stream %d is not a stream", ErrDamaged, stmNum)
	}
	n, _ := toInt(s.Dict["N"])
	first, _ := toInt(s.Dict["First"])
	key := ""
	if directFilters(s.Dict) {
		f, _ := MarshalBytes(Array{s.Dict["Filter"], s.Dict["DecodeParms"]})
		key = fmt.Sprintf("%d %d %d %d %d %s", stmNum, s.dataOff, s.dataLen, n, first, f)
		if c := r.file.cachedStm(key); c != nil {
			r.objstm = c
			return c, nil
		}
	}
	data, err := s.Decode(64 << 20)
	if err != nil {
		if fe := r.file.Err(); fe != nil {
			return nil, fe
		}
		return nil, fmt.Errorf("%w: object stream %d: %v", ErrDamaged, stmNum, err)
	}
	if n < 0 || n > 1<<20 || first < 0 || first > int64(len(data)) {
		return nil, fmt.Errorf("%w: object stream %d header", ErrDamaged, stmNum)
	}
	os := &objStm{num: stmNum, data: data, offsets: map[int]int64{}}
	src := newSource(bytes.NewReader(data), int64(len(data)))
	l := &lexer{src: src, noRefs: true}
	for i := int64(0); i < n; i++ {
		if i&1023 == 1023 {
			if err := r.file.check(); err != nil {
				return nil, err
			}
		}
		a, err1 := l.next()
		b, err2 := l.next()
		if err1 != nil || err2 != nil || a.kind != tInt || b.kind != tInt {
			return nil, fmt.Errorf("%w: object stream %d header", ErrDamaged, stmNum)
		}
		if _, dup := os.offsets[int(a.i)]; !dup {
			os.offsets[int(a.i)] = first + b.i
		}
	}
	if key != "" {
		r.file.storeStm(key, os)
	}
	if len(data) <= 1<<20 {
		r.objstm = os // a small one stays with the reader (its members are read in a row)
	}
	return os, nil
}

// directFilters tells whether a stream's filters are written in its dictionary (so
// that its decoding is the same in every revision that has the same stream).
func directFilters(d Dict) bool {
	for _, k := range []Name{"Filter", "DecodeParms"} {
		switch v := d[k].(type) {
		case Ref:
			return false
		case Array:
			for _, e := range v {
				if _, isRef := e.(Ref); isRef {
					return false
				}
			}
		}
	}
	return true
}
