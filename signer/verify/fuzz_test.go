package verify

import (
	"bytes"
	"context"
	"crypto/x509"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kyso-vn/kyso/internal/testenv"
	"github.com/kyso-vn/kyso/signer/pades"
)

var fuzzTime = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

// checkNoInternalError fails when the verifier's recover caught a panic: the recover
// keeps users safe, but a panic is still a bug.
func checkNoInternalError(t testing.TB, name string, rep *Report) {
	t.Helper()
	if rep == nil {
		return
	}
	for _, e := range rep.Errors {
		if strings.Contains(e, "internal error") {
			t.Fatalf("%s: %s", name, e)
		}
	}
}

// FuzzVerify feeds the PDF verifier mutations of a Kyso-signed document and of small
// corpus files (read at test time, never committed). It must return a report or an
// error, never panic, never hang.
func FuzzVerify(f *testing.F) {
	p := loadPKI(f)
	signed := sign(f, formPDF(), p.PersonalEC, pades.Options{})
	f.Add(signed)
	f.Add(fillNumber(f, signed, "01/QD"))
	dir := testenv.CorpusDir(f)
	for _, name := range []string{
		"attacks/usf/usf_01_Empty_Contents.pdf", "attacks/isa/isa_A.pdf", "attacks/swa/siwa_A.pdf",
		"attacks/coverage/pyhanko-one-byterange.pdf", "signed/pyhanko-sig-no-signed-attrs.pdf",
		"broken/pyhanko-circular-page-tree.pdf", "broken/qpdf-xref-loop.pdf", "xrefstream/pyhanko-uncompressed-objstm.pdf",
	} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	anchors := []*x509.Certificate{p.Root.Cert}
	f.Fuzz(func(t *testing.T, b []byte) {
		rep, _ := VerifyPDF(context.Background(), bytes.NewReader(b), int64(len(b)), "fuzz.pdf",
			Options{Anchors: anchors, Offline: true, At: fuzzTime})
		checkNoInternalError(t, "fuzz input", rep)
	})
}

// TestCorpusNoPanic runs every corpus file, whole and cut short at several points,
// through the verifier: none may reach the verifier's recover.
func TestCorpusNoPanic(t *testing.T) {
	dir := testenv.CorpusDir(t)
	for _, row := range readManifestRows(t, dir) {
		b, err := os.ReadFile(filepath.Join(dir, row[0]))
		if err != nil {
			t.Fatal(err)
		}
		for _, cut := range []int{len(b), len(b) - 1, len(b) * 2 / 3, len(b) / 2} {
			if cut < 0 {
				continue
			}
			start := time.Now()
			rep, _ := VerifyPDF(context.Background(), bytes.NewReader(b[:cut]), int64(cut), row[0], Options{Offline: true, At: fuzzTime})
			checkNoInternalError(t, row[0], rep)
			if d := time.Since(start); d > 3*time.Second {
				t.Errorf("%s cut at %d: %v (limit 3 s)", row[0], cut, d)
			} else if d > 300*time.Millisecond {
				t.Logf("%s cut at %d: %v", row[0], cut, d)
			}
		}
	}
}

// BenchmarkVerifySmall measures verifications per second of a small PAdES B-B
// document with its chain to the test root (offline).
func BenchmarkVerifySmall(b *testing.B) {
	p := loadPKI(b)
	doc := sign(b, formPDF(), p.Org, pades.Options{})
	opts := Options{Anchors: []*x509.Certificate{p.Root.Cert}, Offline: true, At: fuzzTime}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rep, err := VerifyPDF(context.Background(), bytes.NewReader(doc), int64(len(doc)), "bench.pdf", opts)
		if err != nil || rep.Signatures[0].Integrity != IntegrityIntact {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "verifications/s")
}
