package verify

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"sort"

	"github.com/kyso-vn/kyso/signer/pdf"
)

// Which objects two states of a document define differently, and whether two values
// are equal across the states.

// changedObject is one object a revision redefined, added or removed.
type changedObject struct {
	num      int
	old, new pdf.Object // nil when absent
}

// objectChanges lists the objects whose definition differs between two states.
// Objects whose cross-reference entry moved but whose value is identical are not
// changes.
func objectChanges(old, cur *pdf.Reader) ([]changedObject, error) {
	sorted := candidateChanges(old, cur)
	var out []changedObject
	for i, n := range sorted {
		if i&1023 == 1023 {
			if err := cur.File().Check(); err != nil {
				return nil, err
			}
		}
		o1, s1, ok1 := old.ObjectOffset(n)
		o2, s2, ok2 := cur.ObjectOffset(n)
		if ok1 && ok2 && o1 == o2 && s1 == s2 {
			if s1 == 0 {
				continue
			}
			// in an object stream: unchanged if the stream itself did not move
			a1, _, _ := old.ObjectOffset(s1)
			a2, _, _ := cur.ObjectOffset(s2)
			if a1 == a2 {
				continue
			}
		}
		var v1, v2 pdf.Object
		var err error
		if ok1 {
			if v1, err = old.Get(n); err != nil {
				return nil, fmt.Errorf("object %d of the earlier revision: %w", n, err)
			}
		}
		if ok2 {
			if v2, err = cur.Get(n); err != nil {
				return nil, fmt.Errorf("object %d of the later revision: %w", n, err)
			}
		}
		if isContainer(v2) && (v1 == nil || isContainer(v1)) {
			continue // object and xref streams are judged by what they contain
		}
		if (&comparer{a: old, b: cur}).equal(v1, v2, 0) {
			continue
		}
		out = append(out, changedObject{num: n, old: v1, new: v2})
		if len(out) > 1_000_000 {
			return nil, fmt.Errorf("too many changed objects")
		}
	}
	return out, nil
}

// candidateChanges lists, sorted, the object numbers whose entries may differ between
// two states: when cur is old with one more cross-reference section (an incremental
// update, the common case), the numbers that section lists, unless one of them was an
// object stream in old (its members move with it); else every number of both.
func candidateChanges(old, cur *pdf.Reader) []int {
	if nums, ok := cur.ChangedSince(old); ok {
		simple := true
		for _, n := range nums {
			if _, inStream, ok := old.ObjectOffset(n); ok && inStream == 0 {
				if v, err := old.Get(n); err == nil && isContainer(v) {
					simple = false
					break
				}
			}
		}
		if simple {
			sort.Ints(nums)
			return nums
		}
	}
	set := map[int]bool{}
	for _, n := range old.Objects() {
		set[n] = true
	}
	for _, n := range cur.Objects() {
		set[n] = true
	}
	sorted := make([]int, 0, len(set))
	for n := range set {
		sorted = append(sorted, n)
	}
	sort.Ints(sorted)
	return sorted
}

func isContainer(o pdf.Object) bool {
	s, ok := o.(*pdf.Stream)
	if !ok {
		return false
	}
	t, _ := s.Dict["Type"].(pdf.Name)
	return t == "ObjStm" || t == "XRef"
}

// comparer compares values of two states. References to the same number are equal
// (whether that object changed is judged on its own); references to different numbers
// are resolved in their states and compared by value, so that a writer that rewrites
// an unchanged dictionary under a new number does not count as a change.
type comparer struct {
	a, b   *pdf.Reader
	budget int
}

const compareBudget = 100000

func equalObjects(a, b pdf.Object, depth int) bool { return (&comparer{}).equal(a, b, depth) }

func (c *comparer) equal(a, b pdf.Object, depth int) bool {
	if depth > 64 || c.budget > compareBudget {
		return false
	}
	c.budget++
	if ra, ok := a.(pdf.Ref); ok {
		rb, ok := b.(pdf.Ref)
		if !ok {
			return false
		}
		if ra.Num == rb.Num || c.a == nil {
			return ra.Num == rb.Num
		}
		va, err1 := c.a.Resolve(ra)
		vb, err2 := c.b.Resolve(rb)
		return err1 == nil && err2 == nil && c.equal(va, vb, depth+8)
	}
	switch x := a.(type) {
	case nil:
		return b == nil
	case pdf.Dict:
		y, ok := b.(pdf.Dict)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			w, ok := y[k]
			if !ok || !c.equal(v, w, depth+1) {
				return false
			}
		}
		return true
	case pdf.Array:
		y, ok := b.(pdf.Array)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !c.equal(x[i], y[i], depth+1) {
				return false
			}
		}
		return true
	case pdf.String:
		y, ok := b.(pdf.String)
		return ok && bytes.Equal(x, y)
	case *pdf.Stream:
		y, ok := b.(*pdf.Stream)
		if !ok || !c.equal(x.Dict, y.Dict, depth+1) || x.Len() != y.Len() {
			return false
		}
		if x.Offset() == y.Offset() {
			return true
		}
		return streamHash(x) == streamHash(y)
	case int64:
		switch y := b.(type) {
		case int64:
			return x == y
		case float64:
			return float64(x) == y
		}
		return false
	case float64:
		switch y := b.(type) {
		case int64:
			return x == float64(y)
		case float64:
			return x == y
		}
		return false
	}
	return a == b
}

func streamHash(s *pdf.Stream) [32]byte {
	h := sha256.New()
	_, _ = io.Copy(h, io.LimitReader(s.RawReader(), maxStreamCompare))
	var out [32]byte
	copy(out[:], h.Sum(nil))
	return out
}

const maxStreamCompare = 1 << 30
