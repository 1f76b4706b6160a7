package verify

import (
	"bufio"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kyso-vn/kyso/internal/testenv"
)

// corpusExpectation is what Kyso must say about one corpus file, from its MANIFEST
// row: the exit status, and for a few files the integrity verdict.
type corpusExpectation struct {
	exit      int
	integrity string // required integrity of every signature, when set
}

// expectFor derives the expectation from the manifest's path and category.
func expectFor(path, category string) corpusExpectation {
	switch path {
	case "signed/pdfjs-signed.pdf", "signed/verapdf-pdfa2b-dummy-signature.pdf", "signed/multi-revision-ur3-fieldmdp.pdf":
		return corpusExpectation{exit: 1}
	case "signed/pyhanko-ed448.pdf":
		return corpusExpectation{exit: 3, integrity: IntegrityUnsupported}
	case "encrypted/dss-signed-and-encrypted.pdf":
		return corpusExpectation{exit: 3}
	case "signed/dss-5sigs-1doctst.pdf":
		// The last two revisions (DSS and the document timestamp) have damaged
		// cross-reference data: revision 7's startxref points past its own end and
		// revision 8's trailer says /Prev 0. They are read by reconstruction, as viewers
		// read them, and judged like any revision: only validation data and a document
		// timestamp were added, so the five signatures and the timestamp are intact and
		// untrusted, as the MANIFEST says.
		return corpusExpectation{exit: 3, integrity: IntegrityIntact}
	}
	switch {
	case strings.HasPrefix(path, "attacks/"):
		return corpusExpectation{exit: 1}
	case category == "signed":
		return corpusExpectation{exit: 3}
	}
	// plain, broken, forms, encrypted, vietnamese: not a signed document
	return corpusExpectation{exit: 2}
}

func readManifestRows(t *testing.T, dir string) [][]string {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, "MANIFEST.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var rows [][]string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for first := true; sc.Scan(); first = false {
		c := strings.Split(sc.Text(), "\t")
		if first || len(c) < 6 {
			continue
		}
		rows = append(rows, c)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return rows
}

func TestCorpus(t *testing.T) {
	dir := testenv.CorpusDir(t)
	at := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	var table strings.Builder
	table.WriteString("\nfile | expected | got | indication/sub-indication per signature | reason\n")
	for _, row := range readManifestRows(t, dir) {
		path, category := row[0], row[3]
		want := expectFor(path, category)
		start := time.Now()
		rep, err := VerifyFile(context.Background(), filepath.Join(dir, path), Options{At: at, Offline: true})
		took := time.Since(start)
		got := ExitStatus(rep, err)
		var inds []string
		reason := ""
		if err != nil {
			reason = err.Error()
		}
		bad := got != want.exit
		// a damaged file may also get a clear FORMAT_FAILURE verdict instead of exit 2
		if strings.HasPrefix(path, "broken/") && got == 1 && rep != nil && rep.SubIndication == FormatFailure {
			bad = false
		}
		if rep != nil {
			for _, s := range rep.Signatures {
				inds = append(inds, string(s.Indication)+"/"+string(s.SubIndication)+"("+s.Integrity+")")
				if want.integrity != "" && s.Integrity != want.integrity {
					bad = true
				}
				if reason == "" && len(s.Errors) > 0 {
					reason = s.Errors[0]
				}
			}
		}
		if path == "signed/dss-two-fields-same-sig.pdf" && (rep == nil || len(rep.Signatures) != 1 || !strings.Contains(rep.Signatures[0].Field, ", ")) {
			t.Errorf("%s: one signature value shared by two fields must be reported once, naming both", path)
		}
		// the manifest sets 3 s for the files crafted to loop; the rest must not hang
		// (a loaded shared machine can slow a many-signature file well past 3 s)
		limit := 30 * time.Second
		if strings.Contains(row[5], "within 3 s") {
			limit = 3 * time.Second
		}
		if took > limit {
			t.Errorf("%s: verification took %v (limit %v)", path, took, limit)
		}
		if len(reason) > 140 {
			reason = reason[:140] + "…"
		}
		mark := ""
		if bad {
			mark = "  <-- WRONG"
			t.Errorf("%s: exit %d, want %d (integrity %q) %v: %s", path, got, want.exit, want.integrity, inds, reason)
		}
		table.WriteString(path + " | " + itoa(want.exit) + " | " + itoa(got) + " | " + strings.Join(inds, " ") + " | " + reason + mark + "\n")
	}
	t.Log(table.String())
}

func itoa(i int) string { return string(rune('0' + i)) }
