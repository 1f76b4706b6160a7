package durable

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// names lists a directory's entries.
func names(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var n []string
	for _, e := range es {
		n = append(n, e.Name())
	}
	return n
}

func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "out.pdf")
	if err := os.WriteFile(target, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(target, []byte("new"), 0o644); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(target)
	st, _ := os.Stat(target)
	if string(got) != "new" || st.Mode().Perm() != 0o644&^umask {
		t.Errorf("target holds %q mode %v, want %q mode %v", got, st.Mode().Perm(), "new", 0o644&^umask)
	}
	// a failed write leaves the target as it was and no temporary file
	boom := errors.New("boom")
	err := Write(target, 0o644, func(w io.Writer) error {
		if f, ok := w.(*File); ok {
			if st, err := f.Stat(); err != nil || st.Mode().Perm() != 0o600 {
				t.Errorf("temporary file mode %v (%v), want 0600 while written", st.Mode().Perm(), err)
			}
		}
		_, _ = w.Write([]byte("partial"))
		return boom
	})
	if !errors.Is(err, boom) {
		t.Errorf("Write = %v, want the writer's error", err)
	}
	if got, _ := os.ReadFile(target); string(got) != "new" {
		t.Errorf("a failed write changed the target to %q", got)
	}
	if n := names(t, dir); len(n) != 1 {
		t.Errorf("directory holds %v, want the target alone", n)
	}
}

// TestCommitMany: beyond fsyncEachUpTo the outputs are flushed together, and every
// one is renamed into place; in-place appends are flushed as they are.
func TestCommitMany(t *testing.T) {
	dir := t.TempDir()
	var ps []Pending
	for i := range fsyncEachUpTo + 3 {
		f, err := Create(filepath.Join(dir, fmt.Sprintf("doc%d", i)), 0o644)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(f, "document %d", i)
		p, err := f.Stage()
		if err != nil {
			t.Fatal(err)
		}
		ps = append(ps, p)
	}
	inPlace := filepath.Join(dir, "in-place")
	if err := os.WriteFile(inPlace, []byte("original"), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := Append(inPlace, []byte("+tail"))
	if err != nil {
		t.Fatal(err)
	}
	if err := Commit(append(ps, p)...); err != nil {
		t.Fatal(err)
	}
	for i := range fsyncEachUpTo + 3 {
		if got, _ := os.ReadFile(filepath.Join(dir, fmt.Sprintf("doc%d", i))); string(got) != fmt.Sprintf("document %d", i) {
			t.Errorf("doc%d holds %q", i, got)
		}
	}
	if got, _ := os.ReadFile(inPlace); string(got) != "original+tail" {
		t.Errorf("in place: %q", got)
	}
	for _, n := range names(t, dir) {
		if strings.HasPrefix(n, TempPrefix) {
			t.Errorf("temporary file %s left", n)
		}
	}
}

// TestBatch: whole chunks are committed as they fill; an unfinished batch keeps them
// and removes the rest.
func TestBatch(t *testing.T) {
	dir := t.TempDir()
	b := NewBatch(10, 4)
	for i := range 10 {
		f, err := Create(filepath.Join(dir, fmt.Sprintf("doc%d", i)), 0o644)
		if err != nil {
			t.Fatal(err)
		}
		p, err := f.Stage()
		if err != nil {
			t.Fatal(err)
		}
		b.Add(p)
	}
	if err := b.Finish(false); err != nil {
		t.Fatal(err)
	}
	if n := names(t, dir); len(n) != 8 {
		t.Errorf("after an unfinished batch of 10 in chunks of 4: %v, want the 8 committed", n)
	}
}

// TestBatchLost: when a chunk cannot be committed, the batch reports it, stops, and
// names every output it did not write (that chunk and all added after it).
func TestBatchLost(t *testing.T) {
	dir := t.TempDir()
	gone := filepath.Join(dir, "gone")
	if err := os.Mkdir(gone, 0o755); err != nil {
		t.Fatal(err)
	}
	var ps []Pending
	for i := range 5 {
		f, err := Create(filepath.Join(gone, fmt.Sprintf("doc%d", i)), 0o644)
		if err != nil {
			t.Fatal(err)
		}
		p, err := f.Stage()
		if err != nil {
			t.Fatal(err)
		}
		ps = append(ps, p)
	}
	if err := os.RemoveAll(gone); err != nil {
		t.Fatal(err)
	}
	b := NewBatch(5, 2)
	for _, p := range ps {
		b.Add(p)
	}
	if err := b.Finish(true); err == nil {
		t.Fatal("a batch whose directory vanished committed")
	}
	if !b.Failed() || len(b.Lost()) != 5 {
		t.Errorf("failed %v, lost %d; want failed and all 5 lost", b.Failed(), len(b.Lost()))
	}
}
