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
func (r *Reader) readSection(off int64) (*xrefSection, error) {
	var firstErr error
	shifts := []int64{r.Shift}
	if r.HeaderOffset != 0 && r.Shift == 0 {
		shifts = append(shifts, r.HeaderOffset)
	}
	for _, sh := range shifts {
		saved := r.src.hw
		r.src.hw = 0
		sec, err := r.readSectionAt(off+sh, sh)
		reach := r.src.hw
		r.src.hw = max(saved, reach)
		if err == nil {
			r.Shift = sh
			sec.Offset = off
			sec.reach = reach
			return sec, nil
		}
		if firstErr == nil {
			firstErr = err
		}
	}
	return nil, firstErr
}

func (r *Reader) readSectionAt(pos, shift int64) (*xrefSection, error) {
	l := &lexer{src: r.src, pos: pos, noRefs: true}
	t, err := l.next()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrDamaged, err)
	}
	sec := &xrefSection{entries: map[int]xrefEntry{}}
	switch {
	case t.kind == tKeyword && string(t.s) == "xref":
		err = r.readTable(l, sec, shift)
	case t.kind == tInt:
		err = r.readXrefStream(pos, sec)
	default:
		return nil, fmt.Errorf("%w: no cross-reference section at offset %d", ErrDamaged, pos)
	}
	if err == nil {
		err = r.file.chargeEntries(sec.uncharged)
		sec.uncharged = 0
	}
	if err != nil {
		return nil, err
	}
	return sec, nil
}

// add records an entry of sec unless the section defined num already, charging the
// file's budget.
func (r *Reader) add(sec *xrefSection, num int, e xrefEntry) error {
	if _, done := sec.entries[num]; done {
		return nil
	}
	if sec.uncharged++; sec.uncharged == 1024 {
		sec.uncharged = 0
		if err := r.file.chargeEntries(1024); err != nil {
			return err
		}
		if err := r.file.check(); err != nil {
			return err
		}
	}
	sec.entries[num] = e
	sec.maxNum = max(sec.maxNum, num)
	return nil
}

func (r *Reader) readTable(l *lexer, sec *xrefSection, shift int64) error {
	for {
		t, err := l.next()
		if err != nil {
			return fmt.Errorf("%w: %v", ErrDamaged, err)
		}
		if t.kind == tKeyword && string(t.s) == "trailer" {
			break
		}
		if t.kind != tInt {
			return fmt.Errorf("%w: bad cross-reference subsection at offset %d", ErrDamaged, t.pos)
		}
		t2, err := l.next()
		if err != nil || t2.kind != tInt || t.i < 0 || t2.i < 0 || t2.i > 1<<24 {
			return fmt.Errorf("%w: bad cross-reference subsection at offset %d", ErrDamaged, t.pos)
		}
		start, count := t.i, t2.i
		for k := int64(0); k < count; k++ {
			if k&1023 == 1023 {
				if err := r.file.check(); err != nil {
					return err
				}
			}
			a, err1 := l.next()
			b, err2 := l.next()
			c, err3 := l.next()
			if err1 != nil || err2 != nil || err3 != nil || a.kind != tInt || b.kind != tInt || c.kind != tKeyword {
				return fmt.Errorf("%w: bad cross-reference entry near offset %d", ErrDamaged, a.pos)
			}
			num := int(start + k)
			switch string(c.s) {
			case "n":
				err = r.add(sec, num, xrefEntry{kind: 1, offset: a.i, gen: int(b.i)})
			case "f":
				err = r.add(sec, num, xrefEntry{kind: 0, gen: int(b.i)})
			default:
				return fmt.Errorf("%w: bad cross-reference entry type %q", ErrDamaged, c.s)
			}
			if err != nil {
				return err
			}
		}
	}
	l.noRefs = false
	tr, err := l.parseObject(0)
	if err != nil {
		return fmt.Errorf("%w: trailer: %v", ErrDamaged, err)
	}
	d, ok := tr.(Dict)
	if !ok {
		return fmt.Errorf("%w: trailer is not a dictionary", ErrDamaged)
	}
	sec.Trailer = d
	// A hybrid file's /XRefStm holds the entries of compressed objects; entries of the
	// table win, so they were loaded first.
	if xs, ok := toInt(d["XRefStm"]); ok && xs > 0 {
		if xs >= r.Size {
			r.src.hw = poisoned // a longer view of the file would read it
		} else {
			tmp := &xrefSection{entries: map[int]xrefEntry{}}
			if err := r.readXrefStream(xs+shift, tmp); err != nil {
				return err
			}
			if err := r.file.chargeEntries(tmp.uncharged); err != nil {
				return err
			}
			for n, e := range tmp.entries {
				if _, done := sec.entries[n]; !done {
					sec.entries[n] = e
					sec.maxNum = max(sec.maxNum, n)
				}
			}
		}
	}
	return nil
}

func (r *Reader) readXrefStream(pos int64, sec *xrefSection) error {
	obj, _, err := r.parseIndirectAt(pos, -1, false)
	if err != nil {
		return fmt.Errorf("%w: xref stream: %v", ErrDamaged, err)
	}
	s, ok := obj.(*Stream)
	if !ok || s.Dict["Type"] != Name("XRef") {
		return fmt.Errorf("%w: no xref stream at offset %d", ErrDamaged, pos)
	}
	w, ok := s.Dict["W"].(Array)
	if !ok || len(w) != 3 {
		return fmt.Errorf("%w: xref stream /W", ErrDamaged)
	}
	var ws [3]int
	total := 0
	for i := range ws {
		v, ok := toInt(w[i])
		if !ok || v < 0 || v > 8 {
			return fmt.Errorf("%w: xref stream /W", ErrDamaged)
		}
		ws[i] = int(v)
		total += int(v)
	}
	if total == 0 {
		return fmt.Errorf("%w: xref stream /W", ErrDamaged)
	}
	size, _ := toInt(s.Dict["Size"])
	index := Array{int64(0), size}
	if ix, ok := s.Dict["Index"].(Array); ok && len(ix)%2 == 0 {
		index = ix
	}
	// The entries the stream claims bound what is decoded of it (a row of each, plus
	// a predictor byte): a small stream that inflates to gigabytes is read only as far
	// as its entries go, and more entries than the budget allows are refused first.
	var claimed int64
	for i := 0; i+1 < len(index); i += 2 {
		start, ok1 := toInt(index[i])
		count, ok2 := toInt(index[i+1])
		if !ok1 || !ok2 || start < 0 || count < 0 {
			return fmt.Errorf("%w: xref stream /Index", ErrDamaged)
		}
		claimed += count
		if claimed > int64(r.file.remainingEntries()) {
			return r.file.Fail(LimitError("xref-entries", "verify.max_xref_entries",
				"a cross-reference stream claims more entries than the reader may read", r.file.lim.MaxXrefEntries))
		}
	}
	data, err := s.decode(nil, r.file, claimed*int64(total+1)+64, true)
	if err != nil {
		if fe := r.file.Err(); fe != nil {
			return fe
		}
		return fmt.Errorf("%w: xref stream: %v", ErrDamaged, err)
	}
	p := 0
	for i := 0; i+1 < len(index); i += 2 {
		start, _ := toInt(index[i])
		count, _ := toInt(index[i+1])
		for k := int64(0); k < count; k++ {
			if p+total > len(data) {
				return fmt.Errorf("%w: xref stream shorter than its /Index", ErrDamaged)
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
			switch f[0] {
			case 0:
				err = r.add(sec, num, xrefEntry{kind: 0})
			case 1:
				err = r.add(sec, num, xrefEntry{kind: 1, offset: f[1], gen: int(f[2])})
			case 2:
				err = r.add(sec, num, xrefEntry{kind: 2, stream: int(f[1]), index: int(f[2])})
			}
			if err != nil {
				return err
			}
		}
	}
	sec.Stream = true
	sec.Trailer = s.Dict
	return nil
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
		if ferr := r.file.Err(); ferr != nil {
			return nil, ref, ferr
		}
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
	if r.top != nil {
		return max(m, r.top.maxNum)
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
	if r.top == nil {
		out := make([]int, 0, len(r.xref))
		for n, e := range r.xref {
			if e.kind != 0 {
				out = append(out, n)
			}
		}
		return out
	}
	seen := map[int]bool{}
	var out []int
	for l := r.top; l != nil; l = l.below {
		for n, e := range l.sec.entries {
			if seen[n] {
				continue
			}
			seen[n] = true
			if e.kind != 0 {
				out = append(out, n)
			}
		}
	}
	return out
}

// ObjectOffset tells where object num lies in the file (kind 1), or its object stream.
func (r *Reader) ObjectOffset(num int) (offset int64, inStream int, ok bool) {
	e, ok := r.entry(num)
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
		if ferr := r.file.Err(); ferr != nil {
			return nil, ferr // a limit or the context, not the page tree, stopped the walk
		}
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
