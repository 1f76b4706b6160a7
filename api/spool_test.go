package api

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"io"
	"os"
	"testing"
)

// TestSpoolMemoryOrFile: a small upload stays in memory within the budget, a larger
// one (or any once the budget is spent) goes to an unlinked temporary file; either
// reads back byte for byte with its hash, limits hold, and Close returns the memory.
func TestSpoolMemoryOrFile(t *testing.T) {
	cases := []struct {
		name     string
		size     int
		max      int64
		spent    int64 // budget already used by other uploads
		inMemory bool
		err      error
	}{
		{"small", 1 << 10, 1 << 20, 0, true, nil},
		{"exactly small", smallUpload, 1 << 20, 0, true, nil},
		{"one byte more", smallUpload + 1, 1 << 20, 0, false, nil},
		{"large", 3 << 20, 4 << 20, 0, false, nil},
		{"small, budget spent", 1 << 10, 1 << 20, inMemoryBudget, false, nil},
		{"over a limit below the memory size", 200, 100, 0, false, errTooLarge},
		{"over the limit, from a file", 2 << 20, 1 << 20, 0, false, errTooLarge},
		{"empty", 0, 1 << 20, 0, false, errBadUpload},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := &Server{tempDir: t.TempDir(), maxUpload: c.max}
			s.inMemory.Store(c.spent)
			body := bytes.Repeat([]byte("kyso "), c.size/5+1)[:c.size]
			up, err := s.spool(bytes.NewReader(body), "doc.pdf", "application/pdf")
			if c.err != nil {
				if !errors.Is(err, c.err) {
					t.Fatalf("spool = %v, want %v", err, c.err)
				}
				if got := s.inMemory.Load(); got != c.spent {
					t.Errorf("memory in use %d after a refusal, want %d", got, c.spent)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if _, mem := up.r.(*bytes.Reader); mem != c.inMemory {
				t.Errorf("in memory = %v, want %v", mem, c.inMemory)
			}
			got, _ := io.ReadAll(io.NewSectionReader(up, 0, up.Size()))
			if !bytes.Equal(got, body) || up.SHA256() != sha256.Sum256(body) {
				t.Error("the upload does not read back as sent")
			}
			if entries, _ := os.ReadDir(s.tempDir); len(entries) != 0 {
				t.Errorf("%d names left in the temporary directory", len(entries))
			}
			if err := up.Close(); err != nil {
				t.Fatal(err)
			}
			if got := s.inMemory.Load(); got != c.spent {
				t.Errorf("memory in use %d after Close, want %d", got, c.spent)
			}
		})
	}
}
