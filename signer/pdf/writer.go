package pdf

import (
	"bytes"
	"fmt"
	"sort"
)

// Update collects the new and changed objects of one incremental update. The original
// bytes are never touched: Bytes returns what to append after them.
type Update struct {
	r    *Reader
	next int
	objs map[int]updObj
	// TrailerExtra adds or replaces keys of the new trailer (a new /Info).
	TrailerExtra Dict
}

type updObj struct {
	gen int
	obj Object
}

// NewUpdate starts an incremental update of r.
func NewUpdate(r *Reader) *Update {
	return &Update{r: r, next: r.MaxObjectNumber() + 1, objs: map[int]updObj{}}
}

// Add allocates a new object number for o.
func (u *Update) Add(o Object) Ref {
	ref := Ref{Num: u.next}
	u.next++
	u.objs[ref.Num] = updObj{obj: o}
	return ref
}

// Alloc reserves an object number to be Set later (for objects that refer to each other).
func (u *Update) Alloc() Ref {
	ref := Ref{Num: u.next}
	u.next++
	u.objs[ref.Num] = updObj{}
	return ref
}

// Set writes o as object ref (a changed object of the original, or an allocated one).
func (u *Update) Set(ref Ref, o Object) { u.objs[ref.Num] = updObj{gen: ref.Gen, obj: o} }

// Bytes lays out the update: the objects, a cross-reference section of the same kind as
// the file's newest (table or stream), the trailer and %%EOF.
func (u *Update) Bytes() ([]byte, error) {
	var b bytes.Buffer
	// The update starts on a fresh line so that "%%EOF" of the original stays a comment.
	if c, ok := u.r.src.byteAt(u.r.Size - 1); ok && c != '\n' && c != '\r' {
		b.WriteByte('\n')
	}
	nums := make([]int, 0, len(u.objs)+1)
	for n := range u.objs {
		nums = append(nums, n)
	}
	sort.Ints(nums)
	offsets := map[int]int64{}
	for _, n := range nums {
		o := u.objs[n]
		offsets[n] = u.r.Size + int64(b.Len()) - u.r.Shift
		fmt.Fprintf(&b, "%d %d obj\n", n, o.gen)
		if err := appendObject(&b, o.obj, 0); err != nil {
			return nil, fmt.Errorf("pdf: object %d: %w", n, err)
		}
		b.WriteString("\nendobj\n")
	}
	trailer := Dict{"Prev": u.r.StartXref}
	for _, k := range []Name{"Root", "Info", "ID", "Encrypt"} {
		if v, ok := u.r.Trailer[k]; ok {
			trailer[k] = v
		}
	}
	for k, v := range u.TrailerExtra {
		trailer[k] = v
	}
	xrefPos := u.r.Size + int64(b.Len()) - u.r.Shift
	if u.r.newestIsStream() {
		xn := u.next
		offsets[xn] = xrefPos
		nums = append(nums, xn)
		trailer["Size"] = int64(xn + 1)
		trailer["Type"] = Name("XRef")
		w := 4
		if xrefPos > 1<<32-1 {
			w = 8
		}
		trailer["W"] = Array{int64(1), int64(w), int64(2)}
		var idx Array
		var data []byte
		for _, g := range groups(nums) {
			idx = append(idx, int64(g[0]), int64(len(g)))
			for _, n := range g {
				data = append(data, 1)
				off := offsets[n]
				for i := w - 1; i >= 0; i-- {
					data = append(data, byte(off>>(8*i)))
				}
				gen := u.objs[n].gen
				data = append(data, byte(gen>>8), byte(gen))
			}
		}
		trailer["Index"] = idx
		fmt.Fprintf(&b, "%d 0 obj\n", xn)
		if err := appendObject(&b, &Stream{Dict: trailer, Data: data}, 0); err != nil {
			return nil, err
		}
		b.WriteString("\nendobj\n")
	} else {
		trailer["Size"] = int64(u.next)
		b.WriteString("xref\n")
		for _, g := range groups(nums) {
			fmt.Fprintf(&b, "%d %d\n", g[0], len(g))
			for _, n := range g {
				fmt.Fprintf(&b, "%010d %05d n\r\n", offsets[n], u.objs[n].gen)
			}
		}
		b.WriteString("trailer\n")
		if err := appendObject(&b, trailer, 0); err != nil {
			return nil, err
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "startxref\n%d\n%%%%EOF\n", xrefPos)
	return b.Bytes(), nil
}

// groups splits sorted numbers into runs of consecutive numbers.
func groups(nums []int) [][]int {
	var out [][]int
	for i, n := range nums {
		if i == 0 || n != nums[i-1]+1 {
			out = append(out, nil)
		}
		out[len(out)-1] = append(out[len(out)-1], n)
	}
	return out
}
