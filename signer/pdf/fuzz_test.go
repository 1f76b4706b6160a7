package pdf

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/kyso-vn/kyso/internal/testenv"
)

// FuzzOpen feeds the reader arbitrary bytes: it must return a document or an error,
// never panic or loop, and whatever it opens must survive a walk of its pages, its
// objects and an incremental update. Seeds: the corpus files under 256 KiB (read at
// test time, never committed) and a minimal PDF.
func FuzzOpen(f *testing.F) {
	f.Add([]byte("%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj 2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\nxref\n0 3\n0000000000 65535 f\r\n0000000009 00000 n\r\n0000000052 00000 n\r\ntrailer<</Size 3/Root 1 0 R>>\nstartxref\n98\n%%EOF\n"))
	if corpus := corpusForSeeds(); corpus != "" {
		_ = filepath.WalkDir(corpus, func(p string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() || filepath.Ext(p) != ".pdf" {
				return nil
			}
			if info, err := d.Info(); err == nil && info.Size() < 256<<10 {
				if b, err := os.ReadFile(p); err == nil {
					f.Add(b)
				}
			}
			return nil
		})
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		// A watchdog turns a hang into a failure the fuzzer records.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		done := make(chan struct{})
		go func() {
			defer close(done)
			exercise(ctx, data)
		}()
		select {
		case <-done:
		case <-time.After(11 * time.Second):
			t.Fatalf("reading %d bytes took over 10 s, past its context's deadline", len(data))
		}
	})
}

// fuzzLimits keep one input under about 256 MiB: what may be decoded in all is a
// quarter of that, and one stream's decoding at most 64 MiB.
var fuzzLimits = Limits{MaxDecodedBytes: 64 << 20, MaxObjects: 200_000, MaxXrefEntries: 500_000, MaxRevisions: 200}

// exercise opens data, strictly and by repair, and walks everything the signer and
// the verifier touch, through one File as the verifier does.
func exercise(ctx context.Context, data []byte) {
	f := NewFile(ctx, bytes.NewReader(data), int64(len(data)), fuzzLimits)
	if r, err := f.Repair(int64(len(data))); err == nil {
		_, _ = r.Pages()
	}
	{
		r, err := f.Open(int64(len(data)))
		if err != nil {
			return
		}
		_, _ = r.Pages()
		for i, n := range r.Objects() {
			if i > 2000 {
				break
			}
			if o, err := r.Get(n); err == nil {
				if s, ok := o.(*Stream); ok {
					_, _ = s.Decode(1 << 20)
				}
			}
		}
		u := NewUpdate(r)
		if cat, ref, err := r.Catalog(); err == nil {
			u.Set(ref, cat)
		}
		_, _ = u.Bytes()
	}
}

// corpusForSeeds is the shared corpus, or "" when it is absent (the fuzz target then
// runs on its built-in seed only).
func corpusForSeeds() string {
	dir := os.Getenv("KYSO_CORPUS")
	if dir == "" {
		dir = filepath.Join(testenv.ModuleRoot(), "..", "shared", "corpus")
	}
	if _, err := os.Stat(dir); err != nil {
		return ""
	}
	return dir
}
