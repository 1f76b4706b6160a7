package pdf

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"testing"

	"github.com/kyso-vn/kyso/internal/testenv"
	"github.com/kyso-vn/kyso/pkg/fault"
)

// eofEnds are the offsets just past each "%%EOF" line of b.
func eofEnds(b []byte) []int64 {
	var out []int64
	for i := 0; ; {
		j := bytes.Index(b[i:], []byte("%%EOF"))
		if j < 0 {
			return out
		}
		e := i + j + 5
		if e < len(b) && b[e] == '\r' {
			e++
		}
		if e < len(b) && b[e] == '\n' {
			e++
		}
		out = append(out, int64(e))
		i = e
	}
}

// sameState compares two readers of the same bytes: the objects they define, where,
// the trailer, and the values of the objects.
func sameState(t *testing.T, name string, a, b *Reader) {
	t.Helper()
	oa, ob := a.Objects(), b.Objects()
	sort.Ints(oa)
	sort.Ints(ob)
	if !reflect.DeepEqual(oa, ob) {
		t.Errorf("%s: objects differ: %d vs %d", name, len(oa), len(ob))
		return
	}
	if a.MaxObjectNumber() != b.MaxObjectNumber() || a.StartXref != b.StartXref || a.Shift != b.Shift {
		t.Errorf("%s: max object %d/%d, startxref %d/%d, shift %d/%d", name, a.MaxObjectNumber(), b.MaxObjectNumber(), a.StartXref, b.StartXref, a.Shift, b.Shift)
	}
	ta, _ := MarshalBytes(a.Trailer)
	tb, _ := MarshalBytes(b.Trailer)
	if !bytes.Equal(ta, tb) {
		t.Errorf("%s: trailers differ:\n%s\n%s", name, ta, tb)
	}
	for i, n := range oa {
		if i > 3000 {
			break
		}
		o1, s1, ok1 := a.ObjectOffset(n)
		o2, s2, ok2 := b.ObjectOffset(n)
		if o1 != o2 || s1 != s2 || ok1 != ok2 {
			t.Errorf("%s: object %d at %d/%d/%v, %d/%d/%v", name, n, o1, s1, ok1, o2, s2, ok2)
			return
		}
		v1, err1 := a.Get(n)
		v2, err2 := b.Get(n)
		if (err1 == nil) != (err2 == nil) {
			t.Errorf("%s: object %d: %v vs %v", name, n, err1, err2)
			return
		}
		m1, _ := marshalLoose(v1)
		m2, _ := marshalLoose(v2)
		if !bytes.Equal(m1, m2) {
			t.Errorf("%s: object %d differs:\n%.200s\n%.200s", name, n, m1, m2)
			return
		}
	}
}

// marshalLoose writes a value for comparison; a stream read from a file is its
// dictionary and extent.
func marshalLoose(o Object) ([]byte, error) {
	if s, ok := o.(*Stream); ok {
		d, err := MarshalBytes(s.Dict)
		return append(d, fmt.Sprintf(" @%d+%d", s.Offset(), s.Len())...), err
	}
	return MarshalBytes(o)
}

// TestSharedReadersMatchFreshOnes: every revision of every corpus file reads the same
// through one File (shared sections, objects, object streams, one repair scan) as
// through a reader of its own bytes alone.
func TestSharedReadersMatchFreshOnes(t *testing.T) {
	dir := testenv.CorpusDir(t)
	files := 0
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || filepath.Ext(p) != ".pdf" {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		files++
		name, _ := filepath.Rel(dir, p)
		f := NewFile(context.Background(), bytes.NewReader(b), int64(len(b)), Limits{})
		ends := eofEnds(b)
		// the whole file first, as the verifier does, then every revision
		ends = append([]int64{int64(len(b))}, ends...)
		for i, end := range ends {
			fresh, err1 := Open(bytes.NewReader(b[:end]), end)
			shared, err2 := f.Open(end)
			if (err1 == nil) != (err2 == nil) {
				t.Errorf("%s at %d: fresh %v, shared %v", name, end, err1, err2)
				continue
			}
			if err1 == nil {
				sameState(t, fmt.Sprintf("%s at %d", name, end), fresh, shared)
			}
			if i > 3 && i < len(ends)-3 {
				continue // a fresh repair per prefix is the slow way this test compares with
			}
			rf, err1 := Repair(bytes.NewReader(b[:end]), end)
			rs, err2 := f.Repair(end)
			if (err1 == nil) != (err2 == nil) {
				t.Errorf("%s at %d, repaired: fresh %v, shared %v", name, end, err1, err2)
				continue
			}
			if err1 == nil {
				sameState(t, fmt.Sprintf("%s at %d, repaired", name, end), rf, rs)
			}
		}
		if err := f.Err(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d files", files)
}

// TestLimitErrors: each limit, exceeded, is a TooLarge fault with its code and key,
// and stays the file's error.
func TestLimitErrors(t *testing.T) {
	var b bytes.Buffer
	b.WriteString("%PDF-1.4\n")
	var offs []int
	for _, o := range []string{"<</Type/Catalog/Pages 2 0 R>>", "<</Type/Pages/Kids[3 0 R]/Count 1>>", "<</Type/Page/Parent 2 0 R>>"} {
		offs = append(offs, b.Len())
		fmt.Fprintf(&b, "%d 0 obj%sendobj\n", len(offs), o)
	}
	xref := b.Len()
	b.WriteString("xref\n0 4\n0000000000 65535 f\r\n")
	for _, o := range offs {
		fmt.Fprintf(&b, "%010d 00000 n\r\n", o)
	}
	fmt.Fprintf(&b, "trailer<</Size 4/Root 1 0 R>>\nstartxref\n%d\n%%%%EOF\n", xref)
	doc := b.Bytes()
	open := func(lim Limits) (*File, error) {
		f := NewFile(context.Background(), bytes.NewReader(doc), int64(len(doc)), lim)
		r, err := f.Open(int64(len(doc)))
		if err == nil {
			_, err = r.Pages()
		}
		if err == nil {
			err = f.Err()
		}
		return f, err
	}
	if _, err := open(Limits{}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		lim       Limits
		code, key string
	}{
		{Limits{MaxObjects: 2}, "limit/objects", "verify.max_objects"},
		{Limits{MaxXrefEntries: 3}, "limit/xref-entries", "verify.max_xref_entries"},
	} {
		f, err := open(c.lim)
		if fault.KindOf(err) != fault.TooLarge || fault.CodeOf(err) != c.code || !bytes.Contains([]byte(fault.DetailOf(err)), []byte(c.key)) {
			t.Errorf("%+v: %v (kind %v, code %q)", c.lim, err, fault.KindOf(err), fault.CodeOf(err))
		}
		if !errors.Is(f.Err(), fault.TooLarge) {
			t.Errorf("%+v: the file's error is %v", c.lim, f.Err())
		}
	}
	// a context that has ended stops the reader
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := NewFile(ctx, bytes.NewReader(doc), int64(len(doc)), Limits{}).Open(int64(len(doc))); fault.KindOf(err) != fault.Canceled {
		t.Errorf("cancelled: %v", err)
	}
}
