package verify

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kyso-vn/kyso/internal/testenv"
	"github.com/kyso-vn/kyso/internal/testpki"
	"github.com/kyso-vn/kyso/pkg/fault"
	"github.com/kyso-vn/kyso/signer/pades"
	"github.com/kyso-vn/kyso/signer/pdf"
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
	p := testpki.Committed(f)
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
	// the hostile files of issue #13, small
	f.Add(emptyUpdates(f, signed, 40))
	f.Add(objStmFile(f, 2, 64<<10, 2))
	f.Add(xrefBomb(f, 1<<20))
	anchors := []*x509.Certificate{p.Root.Cert}
	// one input stays under about 256 MiB and 10 s
	lim := pdf.Limits{MaxDecodedBytes: 64 << 20, MaxObjects: 200_000, MaxXrefEntries: 500_000, MaxRevisions: 200, Timeout: 10 * time.Second}
	f.Fuzz(func(t *testing.T, b []byte) {
		rep, err := VerifyPDF(context.Background(), bytes.NewReader(b), int64(len(b)), "fuzz.pdf",
			Options{Anchors: anchors, Offline: true, At: fuzzTime, Limits: lim})
		checkNoInternalError(t, "fuzz input", rep)
		if fault.CodeOf(err) == "limit/timeout" {
			t.Fatalf("%d bytes took longer than 10 s", len(b))
		}
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
			if d := time.Since(start); d > 30*time.Second {
				t.Errorf("%s cut at %d: %v (limit 30 s)", row[0], cut, d)
			} else if d > time.Second {
				t.Logf("%s cut at %d: %v", row[0], cut, d)
			}
		}
	}
}

// BenchmarkVerifySmall measures verifications per second of a small PAdES B-B
// document with its chain to the test root (offline).
func BenchmarkVerifySmall(b *testing.B) {
	p := testpki.Committed(b)
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

// largePDF writes a signed PDF of about size bytes (one big image stream) to a temp
// file and returns its path.
func largePDF(b *testing.B, size int) string {
	b.Helper()
	p := testpki.Committed(b)
	data := make([]byte, size)
	for i := range data {
		data[i] = byte(i*7 + i>>9)
	}
	var doc bytes.Buffer
	doc.WriteString("%PDF-1.7\n")
	var offs []int
	obj := func(s string) {
		offs = append(offs, doc.Len())
		fmt.Fprintf(&doc, "%d 0 obj\n%s\nendobj\n", len(offs), s)
	}
	obj("<< /Type /Catalog /Pages 2 0 R >>")
	obj("<< /Type /Pages /Kids [3 0 R] /Count 1 >>")
	obj("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R /Resources << /XObject << /Im1 5 0 R >> >> >>")
	obj("<< /Length 31 >>\nstream\nq 100 0 0 100 0 0 cm /Im1 Do Q\nendstream")
	offs = append(offs, doc.Len())
	fmt.Fprintf(&doc, "5 0 obj\n<< /Type /XObject /Subtype /Image /Width 1 /Height %d /ColorSpace /DeviceGray /BitsPerComponent 8 /Length %d >>\nstream\n", size, size)
	doc.Write(data)
	doc.WriteString("\nendstream\nendobj\n")
	xref := doc.Len()
	fmt.Fprintf(&doc, "xref\n0 %d\n0000000000 65535 f \n", len(offs)+1)
	for _, o := range offs {
		fmt.Fprintf(&doc, "%010d 00000 n \n", o)
	}
	fmt.Fprintf(&doc, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(offs)+1, xref)
	path := filepath.Join(b.TempDir(), "large.pdf")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	in := doc.Bytes()
	if err := pades.Sign(context.Background(), p.Org.Key, bytes.NewReader(in), int64(len(in)), f,
		pades.Options{Certificate: p.Org.Cert, Chain: p.Org.Chain}); err != nil {
		b.Fatal(err)
	}
	return path
}

// BenchmarkVerifyLarge verifies a 64 MiB signed PDF; compare its MB/s with
// BenchmarkSHA256Large, one SHA-256 pass over the same file (what openssl dgst does).
func BenchmarkVerifyLarge(b *testing.B) {
	path := largePDF(b, 64<<20)
	st, _ := os.Stat(path)
	b.SetBytes(st.Size())
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rep, err := VerifyFile(context.Background(), path, Options{Offline: true, At: fuzzTime})
		if err != nil || rep.Signatures[0].Integrity != IntegrityIntact {
			b.Fatal(err)
		}
	}
}

func BenchmarkSHA256Large(b *testing.B) {
	path := largePDF(b, 64<<20)
	st, _ := os.Stat(path)
	b.SetBytes(st.Size())
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		f, err := os.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		h := sha256.New()
		if _, err := io.Copy(h, f); err != nil {
			b.Fatal(err)
		}
		f.Close()
	}
}
