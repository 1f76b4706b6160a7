package pdf

import "fmt"

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
