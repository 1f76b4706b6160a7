package pdf

import (
	"bytes"
	"fmt"
	"io"
	"regexp"
	"strconv"
)

// objHeader finds "N G obj" at the start of a line.
var objHeader = regexp.MustCompile(`(?m)(?:^|[\r\n])(\d{1,10})[ \t\r\n]+(\d{1,5})[ \t\r\n]+obj\b`)

// Repair reads a file whose cross-reference data cannot be trusted the way lenient
// viewers do: it scans the whole file for "N G obj" headers (a later definition of a
// number replaces an earlier one), adds the objects of every object stream, and takes
// the last trailer dictionary (or cross-reference stream dictionary) that names a
// catalog. It is for verification, to see what a viewer shows; Kyso never writes into
// a repaired document.
func Repair(r io.ReaderAt, size int64) (rd *Reader, err error) {
	defer func() {
		if p := recover(); p != nil {
			rd, err = nil, fmt.Errorf("%w: internal error while repairing: %v", ErrDamaged, p)
		}
	}()
	rd = &Reader{src: newSource(r, size), Size: size, xref: map[int]xrefEntry{},
		objstms: map[int]*objStm{}, resolved: map[int]Object{}, loading: map[int]bool{}}
	if err := rd.readHeader(); err != nil {
		return nil, err
	}
	const chunk = 1 << 20
	const overlap = 64
	var trailerAt []int64
	for off := int64(0); off < size; off += chunk - overlap {
		b, err := rd.src.readAt(off, chunk)
		if err != nil {
			return nil, err
		}
		for _, m := range objHeader.FindAllSubmatchIndex(b, -1) {
			start := int64(m[2]) + off
			if m[2] > chunk-overlap && off+chunk < size {
				continue // seen again at the start of the next chunk
			}
			num, err1 := strconv.Atoi(string(b[m[2]:m[3]]))
			gen, err2 := strconv.Atoi(string(b[m[4]:m[5]]))
			if err1 != nil || err2 != nil || num <= 0 || num > 1<<24 {
				continue
			}
			rd.xref[num] = xrefEntry{kind: 1, offset: start, gen: gen}
		}
		for i := 0; ; {
			j := bytes.Index(b[i:], []byte("trailer"))
			if j < 0 {
				break
			}
			if p := int64(i+j) + off; len(trailerAt) == 0 || trailerAt[len(trailerAt)-1] != p {
				trailerAt = append(trailerAt, p)
			}
			i += j + 7
		}
		if len(b) < chunk {
			break
		}
	}
	if len(rd.xref) == 0 {
		return nil, fmt.Errorf("%w: no object found", ErrDamaged)
	}
	// objects inside object streams, where no direct definition exists
	for num, e := range rd.snapshotXref() {
		o, err := rd.getObject(num, 0)
		if err != nil || e.kind != 1 {
			continue
		}
		s, ok := o.(*Stream)
		if !ok || s.Dict["Type"] != Name("ObjStm") {
			continue
		}
		data, err := s.Decode(64 << 20)
		if err != nil {
			continue
		}
		n, _ := toInt(s.Dict["N"])
		l := &lexer{src: newSource(bytes.NewReader(data), int64(len(data))), noRefs: true}
		for k := int64(0); k < n && k < 1<<20; k++ {
			a, err1 := l.next()
			if _, err2 := l.next(); err1 != nil || err2 != nil || a.kind != tInt {
				break
			}
			if _, defined := rd.xref[int(a.i)]; !defined {
				rd.xref[int(a.i)] = xrefEntry{kind: 2, stream: num, index: int(k)}
			}
		}
	}
	rd.resolved = map[int]Object{}
	for i := len(trailerAt) - 1; i >= 0 && rd.Trailer == nil; i-- {
		l := &lexer{src: rd.src, pos: trailerAt[i] + 7}
		if o, err := l.parseObject(0); err == nil {
			if d, ok := o.(Dict); ok {
				if _, ok := d["Root"].(Ref); ok {
					rd.Trailer = d
				}
			}
		}
	}
	if rd.Trailer == nil {
		for num := range rd.xref {
			if d := rd.Dict(Ref{Num: num}); d != nil && d["Type"] == Name("XRef") {
				if _, ok := d["Root"].(Ref); ok {
					rd.Trailer = d
				}
			}
		}
	}
	if rd.Trailer == nil {
		return nil, fmt.Errorf("%w: no trailer names a catalog", ErrDamaged)
	}
	if _, _, err := rd.Catalog(); err != nil {
		return nil, err
	}
	return rd, nil
}

func (r *Reader) snapshotXref() map[int]xrefEntry {
	out := make(map[int]xrefEntry, len(r.xref))
	for k, v := range r.xref {
		out[k] = v
	}
	return out
}
