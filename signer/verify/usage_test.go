package verify

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/kyso-vn/kyso/internal/testenv"
	"github.com/kyso-vn/kyso/signer/pdf"
)

// TestCorpusWithinLimits: verifying any corpus file uses at most a tenth of each
// default limit, so that the defaults refuse hostile files only.
func TestCorpusWithinLimits(t *testing.T) {
	dir := testenv.CorpusDir(t)
	d := pdf.DefaultLimits()
	var most struct {
		revs, objs, entries int
		decoded             int64
		names               [4]string
	}
	for _, row := range readManifestRows(t, dir) {
		b, err := os.ReadFile(filepath.Join(dir, row[0]))
		if err != nil {
			t.Fatal(err)
		}
		v := &pdfVerifier{f: bytes.NewReader(b), size: int64(len(b)), opts: Options{Offline: true, At: fuzzTime}, rep: &Report{}, at: fuzzTime,
			file: pdf.NewFile(context.Background(), bytes.NewReader(b), int64(len(b)), pdf.Limits{})}
		_ = v.run(context.Background())
		o, e, dec := v.file.Usage()
		if len(v.revs)*10 > d.MaxRevisions || o*10 > d.MaxObjects || e*10 > d.MaxXrefEntries || dec*10 > d.MaxDecodedBytes {
			t.Errorf("%s: %d revisions, %d objects, %d xref entries, %d decoded bytes: within a tenth of the defaults %+v?", row[0], len(v.revs), o, e, dec, d)
		}
		if len(v.revs) > most.revs {
			most.revs, most.names[0] = len(v.revs), row[0]
		}
		if o > most.objs {
			most.objs, most.names[1] = o, row[0]
		}
		if e > most.entries {
			most.entries, most.names[2] = e, row[0]
		}
		if dec > most.decoded {
			most.decoded, most.names[3] = dec, row[0]
		}
	}
	t.Logf("most revisions %d (%s), objects %d (%s), xref entries %d (%s), decoded bytes %d (%s)",
		most.revs, most.names[0], most.objs, most.names[1], most.entries, most.names[2], most.decoded, most.names[3])
}
