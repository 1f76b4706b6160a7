package pdf

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strconv"
)

// objHeader finds "N G obj" at the start of a line.
var objHeader = regexp.MustCompile(`(?m)(?:^|[\r\n])(\d{1,10})[ \t\r\n]+(\d{1,5})[ \t\r\n]+obj\b`)

// repairIndex is what one scan of the whole file finds: every "N G obj" header and
// every "trailer" keyword, in file order. Each repaired revision is read from it.
type repairIndex struct {
	headers  []repairHeader
	trailers []int64
	err      error
}

type repairHeader struct {
	num, gen int
	off, end int64 // where the header starts and ends
}

// Repair reads a file whose cross-reference data cannot be trusted the way lenient
// viewers do: it scans the whole file for "N G obj" headers (a later definition of a
// number replaces an earlier one), adds the objects of every object stream, and takes
// the last trailer dictionary (or cross-reference stream dictionary) that names a
// catalog. It is for verification, to see what a viewer shows; Kyso never writes into
// a repaired document.
func Repair(r io.ReaderAt, size int64) (*Reader, error) {
	return NewFile(context.Background(), r, size, Limits{}).Repair(size)
}

// scanForRepair scans the whole file once; every Repair of the file uses it.
func (f *File) scanForRepair() (*repairIndex, error) {
	f.mu.Lock()
	idx := f.repair
	f.mu.Unlock()
	if idx != nil {
		return idx, idx.err
	}
	idx = &repairIndex{}
	src := f.blocks.view(f.size)
	const chunk = 1 << 20
	const overlap = 64
	for off := int64(0); off < f.size; off += chunk - overlap {
		if err := f.checkNow(); err != nil {
			return nil, err // not kept: the caller's context ended
		}
		b, err := src.readAt(off, chunk)
		if err != nil {
			idx.err = err
			break
		}
		for _, m := range objHeader.FindAllSubmatchIndex(b, -1) {
			start := int64(m[2]) + off
			if m[2] > chunk-overlap && off+chunk < f.size {
				continue // seen again at the start of the next chunk
			}
			num, err1 := strconv.Atoi(string(b[m[2]:m[3]]))
			gen, err2 := strconv.Atoi(string(b[m[4]:m[5]]))
			if err1 != nil || err2 != nil || num <= 0 || num > 1<<24 {
				continue
			}
			idx.headers = append(idx.headers, repairHeader{num: num, gen: gen, off: start, end: off + int64(m[1])})
			if len(idx.headers)&1023 == 0 {
				if err := f.chargeEntries(1024); err != nil {
					return nil, err
				}
			}
		}
		for i := 0; ; {
			j := bytes.Index(b[i:], []byte("trailer"))
			if j < 0 {
				break
			}
			if p := int64(i+j) + off; len(idx.trailers) == 0 || idx.trailers[len(idx.trailers)-1] < p {
				idx.trailers = append(idx.trailers, p)
			}
			i += j + 7
		}
		if len(b) < chunk {
			break
		}
	}
	f.mu.Lock()
	f.repair = idx
	f.mu.Unlock()
	return idx, idx.err
}

// Repair reads the document as it ends at byte end by reconstruction (see Repair).
// The file is scanned once for all the revisions repaired.
func (f *File) Repair(end int64) (rd *Reader, err error) {
	defer func() {
		if p := recover(); p != nil {
			rd, err = nil, fmt.Errorf("%w: internal error while repairing: %v", ErrDamaged, p)
		}
	}()
	if err := f.checkNow(); err != nil {
		return nil, err
	}
	rd = f.newReader(end)
	rd.xref = map[int]xrefEntry{}
	if err := rd.readHeader(); err != nil {
		return nil, err
	}
	idx, err := f.scanForRepair()
	if err != nil {
		return nil, err
	}
	for _, h := range idx.headers {
		if h.end > rd.Size {
			break
		}
		rd.xref[h.num] = xrefEntry{kind: 1, offset: h.off, gen: h.gen}
	}
	if err := f.chargeEntries(len(rd.xref)); err != nil {
		return nil, err
	}
	if len(rd.xref) == 0 {
		return nil, fmt.Errorf("%w: no object found", ErrDamaged)
	}
	// objects inside object streams, where no direct definition exists: the streams
	// latest in the file first, so that a number two streams hold is the later one's
	// (and the result does not depend on the order of a map)
	direct := make([]int, 0, len(rd.xref))
	for num := range rd.xref {
		direct = append(direct, num)
	}
	sort.Slice(direct, func(i, j int) bool { return rd.xref[direct[i]].offset > rd.xref[direct[j]].offset })
	for _, num := range direct {
		o, err := rd.getObject(num, 0)
		if fe := f.Err(); fe != nil {
			return nil, fe
		}
		if err != nil {
			continue
		}
		s, ok := o.(*Stream)
		if !ok || s.Dict["Type"] != Name("ObjStm") {
			continue
		}
		os, err := rd.objStream(num, 0)
		if fe := f.Err(); fe != nil {
			return nil, fe
		}
		if err != nil {
			continue
		}
		// the members in the order the stream lists them
		members := make([]int, 0, len(os.offsets))
		for m := range os.offsets {
			members = append(members, m)
		}
		sort.Slice(members, func(i, j int) bool { return os.offsets[members[i]] < os.offsets[members[j]] })
		for k, m := range members {
			if _, defined := rd.xref[m]; !defined {
				rd.xref[m] = xrefEntry{kind: 2, stream: num, index: k}
			}
		}
		if err := f.chargeEntries(len(members)); err != nil {
			return nil, err
		}
	}
	rd.resolved = map[int]Object{}
	for i := len(idx.trailers) - 1; i >= 0 && rd.Trailer == nil; i-- {
		if idx.trailers[i]+7 > rd.Size {
			continue
		}
		l := &lexer{src: rd.src, pos: idx.trailers[i] + 7}
		if o, err := l.parseObject(0); err == nil {
			if d, ok := o.(Dict); ok {
				if _, ok := d["Root"].(Ref); ok {
					rd.Trailer = d
				}
			}
		}
	}
	if rd.Trailer == nil {
		// the latest cross-reference stream that names a catalog
		for _, num := range direct {
			if d := rd.Dict(Ref{Num: num}); d != nil && d["Type"] == Name("XRef") {
				if _, ok := d["Root"].(Ref); ok {
					rd.Trailer = d
					break
				}
			}
		}
	}
	if fe := f.Err(); fe != nil {
		return nil, fe
	}
	if rd.Trailer == nil {
		return nil, fmt.Errorf("%w: no trailer names a catalog", ErrDamaged)
	}
	if _, _, err := rd.Catalog(); err != nil {
		return nil, err
	}
	return rd, nil
}
