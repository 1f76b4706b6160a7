package pdf

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kyso-vn/kyso/internal/testenv"
)

type manifestRow struct {
	path, category, expected string
}

func readManifest(t *testing.T, dir string) []manifestRow {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, "MANIFEST.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var rows []manifestRow
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for first := true; sc.Scan(); first = false {
		if first {
			continue
		}
		c := strings.Split(sc.Text(), "\t")
		if len(c) < 6 {
			continue
		}
		rows = append(rows, manifestRow{path: c[0], category: c[3], expected: c[5]})
	}
	return rows
}

// TestOpenCorpus reads every corpus file: files Kyso must sign open and list their
// pages; every other file opens or fails with an error, within a bounded time, never a
// panic.
func TestOpenCorpus(t *testing.T) {
	dir := testenv.CorpusDir(t)
	for _, row := range readManifest(t, dir) {
		t.Run(row.path, func(t *testing.T) {
			f, err := os.Open(filepath.Join(dir, row.path))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			st, _ := f.Stat()
			start := time.Now()
			r, err := Open(f, st.Size())
			var pages []Ref
			if err == nil {
				pages, err = r.Pages()
			}
			if d := time.Since(start); d > 3*time.Second {
				t.Errorf("took %v", d)
			}
			mustSign := strings.HasPrefix(row.expected, "SIGN: must succeed")
			if mustSign && err != nil {
				t.Fatalf("must open: %v", err)
			}
			if mustSign && len(pages) == 0 {
				t.Fatalf("no pages")
			}
			t.Logf("%s: pages=%d err=%v", row.category, len(pages), err)
		})
	}
}
