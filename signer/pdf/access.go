package pdf

import "fmt"

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
