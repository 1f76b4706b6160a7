package verify

import (
	"bytes"
	"compress/zlib"
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kyso-vn/kyso/internal/testpki"
	"github.com/kyso-vn/kyso/pkg/fault"
	"github.com/kyso-vn/kyso/signer/pades"
	"github.com/kyso-vn/kyso/signer/pdf"
)

// The hostile files of issue #13, built here. Each must get a clear fault error or a
// verdict, within a time the test enforces through the context, with the heap well
// under 300 MiB.

const (
	hostileHeap    = 200 << 20 // what a hostile file may add to the heap
	hostileKillAt  = 1 << 30   // the old code's runaway is stopped here, not at 15 GB
	hostileTimeout = 20 * time.Second
)

// bounded runs fn under a deadline while sampling the heap; it returns the peak heap
// above the starting one and the time fn took. A heap past hostileKillAt ends the
// test binary at once, so that a runaway cannot take the machine down.
func bounded(t *testing.T, fn func(ctx context.Context)) (peak uint64, took time.Duration) {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: a hostile file's time and memory are measured (make test runs it)")
	}
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapAlloc
	var max atomic.Uint64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		tk := time.NewTicker(5 * time.Millisecond)
		defer tk.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tk.C:
			}
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			if m.HeapAlloc > max.Load() {
				max.Store(m.HeapAlloc)
			}
			if m.HeapAlloc > base+hostileKillAt {
				fmt.Fprintf(os.Stderr, "FAIL: %s: heap above %d MiB: stopped\n", t.Name(), (m.HeapAlloc-base)>>20)
				os.Exit(3)
			}
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), hostileTimeout)
	defer cancel()
	start := time.Now()
	fn(ctx)
	took = time.Since(start)
	close(stop)
	<-done
	if m := max.Load(); m > base {
		peak = m - base
	}
	return peak, took
}

// checkBounded runs the verifier on doc and checks the bounds and the outcome: a
// fault of kind TooLarge with the code given, or (code "") no limit error.
func checkBounded(t *testing.T, doc []byte, opts Options, code string) (*Report, error) {
	t.Helper()
	var rep *Report
	var err error
	peak, took := bounded(t, func(ctx context.Context) {
		rep, err = VerifyPDF(ctx, bytes.NewReader(doc), int64(len(doc)), "hostile.pdf", opts)
	})
	t.Logf("%d bytes: %v, peak heap +%d MiB, error: %v", len(doc), took.Round(time.Millisecond), peak>>20, err)
	if took > 10*time.Second {
		t.Errorf("took %v, want under 10 s", took)
	}
	if peak > hostileHeap {
		t.Errorf("heap grew by %d MiB, want under %d MiB", peak>>20, hostileHeap>>20)
	}
	switch {
	case code == "" && fault.KindOf(err) == fault.TooLarge:
		t.Errorf("want no limit error, got %v", err)
	case code != "" && (fault.KindOf(err) != fault.TooLarge || fault.CodeOf(err) != code):
		t.Errorf("want a TooLarge fault %q, got %v (kind %v, code %q)", code, err, fault.KindOf(err), fault.CodeOf(err))
	}
	return rep, err
}

// emptyUpdates appends n incremental updates that change nothing to doc (a file
// with a classic cross-reference table).
func emptyUpdates(t testing.TB, doc []byte, n int) []byte {
	t.Helper()
	rd, err := pdf.Open(bytes.NewReader(doc), int64(len(doc)))
	if err != nil {
		t.Fatal(err)
	}
	root := rd.Trailer["Root"].(pdf.Ref)
	size, _ := rd.Trailer["Size"].(int64)
	prev := rd.StartXref
	var b bytes.Buffer
	b.Write(doc)
	if doc[len(doc)-1] != '\n' {
		b.WriteByte('\n')
	}
	for i := 0; i < n; i++ {
		at := b.Len()
		fmt.Fprintf(&b, "xref\n0 0\ntrailer\n<< /Size %d /Root %d 0 R /Prev %d >>\nstartxref\n%d\n%%%%EOF\n", size, root.Num, prev, at)
		prev = int64(at)
	}
	return b.Bytes()
}

func TestHostileEmptyUpdates(t *testing.T) {
	p := testpki.Committed(t)
	signed := sign(t, formPDF(), p.Org, pades.Options{})
	opts := Options{Offline: true, At: fuzzTime}

	// 20,000 empty updates (1.6 MB): more revisions than allowed, refused at once
	// (the old code kept a reader per %%EOF, each with the whole /Prev chain).
	doc := emptyUpdates(t, signed, 20000)
	_, err := checkBounded(t, doc, opts, "limit/revisions")
	if err != nil && !strings.Contains(fault.DetailOf(err), "verify.max_revisions") {
		t.Errorf("the detail %q does not name verify.max_revisions", fault.DetailOf(err))
	}

	// 990 of them, within the limit: a verdict, in linear time and memory.
	doc = emptyUpdates(t, signed, 990)
	rep, _ := checkBounded(t, doc, opts, "")
	if rep != nil {
		if rep.Revisions != 992 || len(rep.Signatures) != 1 || rep.Signatures[0].Integrity != IntegrityIntact {
			t.Errorf("revisions %d, signatures %+v", rep.Revisions, rep.Signatures)
		}
		for _, m := range rep.Signatures[0].Modifications {
			if !m.Allowed {
				t.Errorf("an empty update is not an allowed change: %+v", m)
				break
			}
		}
	}
}

// xrefBomb is a file whose cross-reference stream inflates to size bytes, each byte
// an entry (/W [1 0 0]).
func xrefBomb(t testing.TB, size int) []byte {
	t.Helper()
	var z bytes.Buffer
	zw, _ := zlib.NewWriterLevel(&z, zlib.BestCompression)
	zero := make([]byte, 1<<20)
	for i := 0; i < size>>20; i++ {
		zw.Write(zero)
	}
	zw.Close()
	var b bytes.Buffer
	b.WriteString("%PDF-1.7\n")
	o1 := b.Len()
	b.WriteString("1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n")
	o2 := b.Len()
	b.WriteString("2 0 obj\n<< /Type /Pages /Kids [] /Count 0 >>\nendobj\n")
	_, _ = o1, o2
	xs := b.Len()
	fmt.Fprintf(&b, "3 0 obj\n<< /Type /XRef /Size %d /W [1 0 0] /Root 1 0 R /Filter /FlateDecode /Length %d >>\nstream\n", size, z.Len())
	b.Write(z.Bytes())
	fmt.Fprintf(&b, "\nendstream\nendobj\nstartxref\n%d\n%%%%EOF\n", xs)
	return b.Bytes()
}

func TestHostileXrefStreamBomb(t *testing.T) {
	doc := xrefBomb(t, 256<<20)
	checkBounded(t, doc, Options{Offline: true, At: fuzzTime}, "limit/xref-entries")
}

// objStmFile is a file whose n pages each sit in an object stream that decodes to
// about each bytes, with updates revisions after it (each reader of the old code
// decoded them all again and kept them).
func objStmFile(t testing.TB, n, each, updates int) []byte {
	t.Helper()
	var b bytes.Buffer
	b.WriteString("%PDF-1.7\n")
	offs := map[int]int{}
	kids := ""
	for i := 0; i < n; i++ {
		kids += fmt.Sprintf(" %d 0 R", 100+i)
	}
	offs[1] = b.Len()
	b.WriteString("1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n")
	offs[2] = b.Len()
	fmt.Fprintf(&b, "2 0 obj\n<< /Type /Pages /Kids [%s] /Count %d >>\nendobj\n", kids, n)
	pad := bytes.Repeat([]byte(" "), each)
	for i := 0; i < n; i++ {
		obj := "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>"
		hdr := fmt.Sprintf("%d 0 ", 100+i)
		var z bytes.Buffer
		zw, _ := zlib.NewWriterLevel(&z, zlib.BestCompression)
		zw.Write([]byte(hdr + obj))
		zw.Write(pad)
		zw.Close()
		offs[10+i] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n<< /Type /ObjStm /N 1 /First %d /Filter /FlateDecode /Length %d >>\nstream\n", 10+i, len(hdr), z.Len())
		b.Write(z.Bytes())
		b.WriteString("\nendstream\nendobj\n")
	}
	// an xref stream: objects 1, 2 and the object streams in the file, the pages in them
	var rows []byte
	row := func(kind byte, a, c int) {
		rows = append(rows, kind, byte(a>>24), byte(a>>16), byte(a>>8), byte(a), byte(c>>8), byte(c))
	}
	size := 100 + n
	xs := b.Len()
	for num := 0; num < size; num++ {
		switch {
		case num == 1 || num == 2 || (num >= 10 && num < 10+n):
			row(1, offs[num], 0)
		case num >= 100:
			row(2, 10+num-100, 0)
		case num == 3:
			row(1, xs, 0)
		default:
			row(0, 0, 0)
		}
	}
	fmt.Fprintf(&b, "3 0 obj\n<< /Type /XRef /Size %d /W [1 4 2] /Root 1 0 R /Length %d >>\nstream\n", size, len(rows))
	b.Write(rows)
	fmt.Fprintf(&b, "\nendstream\nendobj\nstartxref\n%d\n%%%%EOF\n", xs)
	prev := xs
	for i := 0; i < updates; i++ {
		at := b.Len()
		var r []byte
		r = append(r, 1, byte(at>>24), byte(at>>16), byte(at>>8), byte(at), 0, 0)
		fmt.Fprintf(&b, "%d 0 obj\n<< /Type /XRef /Size %d /W [1 4 2] /Index [%d 1] /Root 1 0 R /Prev %d /Length %d >>\nstream\n", size+i, size+i+1, size+i, prev, len(r))
		b.Write(r)
		fmt.Fprintf(&b, "\nendstream\nendobj\nstartxref\n%d\n%%%%EOF\n", at)
		prev = at
	}
	return b.Bytes()
}

func TestHostileObjectStreams(t *testing.T) {
	// 12 object streams of 40 MiB each in a 1 MB file, read by 4 revisions.
	doc := objStmFile(t, 12, 40<<20, 3)
	checkBounded(t, doc, Options{Offline: true, At: fuzzTime}, "limit/decoded-bytes")

	// Within the budget, the revisions share the decoded streams: 3 of 4 MiB, read by
	// 4 revisions, decode 12 MiB, not 48 (the budget here is 20).
	doc = objStmFile(t, 3, 4<<20, 3)
	_, err := checkBounded(t, doc, Options{Offline: true, At: fuzzTime, Limits: pdf.Limits{MaxDecodedBytes: 20 << 20}}, "")
	if !errors.Is(err, ErrNotSigned) {
		t.Errorf("want ErrNotSigned, got %v", err)
	}
}

// TestHostileCancel: a client that goes away stops the work within a second; a file
// that takes longer than verify.timeout is refused naming it.
func TestHostileCancel(t *testing.T) {
	doc := objStmFile(t, 12, 40<<20, 3)
	lim := pdf.Limits{MaxDecodedBytes: 1 << 40}
	ctx, cancel := context.WithCancel(context.Background())
	var err error
	peak, took := bounded(t, func(context.Context) {
		time.AfterFunc(300*time.Millisecond, cancel)
		_, err = VerifyPDF(ctx, bytes.NewReader(doc), int64(len(doc)), "slow.pdf", Options{Offline: true, At: fuzzTime, Limits: lim})
	})
	t.Logf("cancelled after 300 ms: returned after %v, peak heap +%d MiB: %v", took.Round(time.Millisecond), peak>>20, err)
	if took > 1300*time.Millisecond {
		t.Errorf("returned %v after the start, want within a second of the cancellation at 300 ms", took)
	}
	if fault.KindOf(err) != fault.Canceled {
		t.Errorf("want a Canceled fault, got %v (kind %v)", err, fault.KindOf(err))
	}

	lim.Timeout = 300 * time.Millisecond
	peak, took = bounded(t, func(ctx context.Context) {
		_, err = VerifyPDF(ctx, bytes.NewReader(doc), int64(len(doc)), "slow.pdf", Options{Offline: true, At: fuzzTime, Limits: lim})
	})
	t.Logf("verify.timeout 300 ms: returned after %v, peak heap +%d MiB: %v", took.Round(time.Millisecond), peak>>20, err)
	if took > 1300*time.Millisecond {
		t.Errorf("returned after %v, want within a second of the 300 ms timeout", took)
	}
	if fault.KindOf(err) != fault.TooLarge || fault.CodeOf(err) != "limit/timeout" || !strings.Contains(fault.DetailOf(err), "verify.timeout") {
		t.Errorf("want a TooLarge fault naming verify.timeout, got %v (kind %v, code %q)", err, fault.KindOf(err), fault.CodeOf(err))
	}
}

// TestWriteHostileFiles writes the hostile files to $KYSO_HOSTILE_DIR, for measuring
// a kyso binary or a server against them (skipped without it).
func TestWriteHostileFiles(t *testing.T) {
	dir := os.Getenv("KYSO_HOSTILE_DIR")
	if dir == "" {
		t.Skip("KYSO_HOSTILE_DIR is not set")
	}
	p := testpki.Committed(t)
	signed := sign(t, formPDF(), p.Org, pades.Options{})
	files := map[string][]byte{
		"xref-bomb.pdf":       xrefBomb(t, 256<<20),
		"objstm-12x40MiB.pdf": objStmFile(t, 12, 40<<20, 3),
		"objects-1M.pdf":      manyObjects(1_000_000),
		"objects-3M.pdf":      manyObjects(3_000_000),
		"damaged-900.pdf":     damagedTails(signed, 900),
	}
	for _, n := range []int{1000, 2000, 4000, 20000} {
		files[fmt.Sprintf("updates-%d.pdf", n)] = emptyUpdates(t, signed, n)
	}
	for name, b := range files {
		if err := os.WriteFile(dir+"/"+name, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// manyObjects is a file of n tiny objects, all listed in an array of the catalog (so
// that the verifier's walk of the document reaches every one).
func manyObjects(n int) []byte {
	var b bytes.Buffer
	b.WriteString("%PDF-1.7\n")
	offs := make([]int, n+4)
	offs[1] = b.Len()
	b.WriteString("1 0 obj\n<< /Type /Catalog /Pages 2 0 R /Names 3 0 R >>\nendobj\n")
	offs[2] = b.Len()
	b.WriteString("2 0 obj\n<< /Type /Pages /Kids [] /Count 0 >>\nendobj\n")
	offs[3] = b.Len()
	b.WriteString("3 0 obj\n[")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "%d 0 R ", 4+i)
	}
	b.WriteString("]\nendobj\n")
	for i := 0; i < n; i++ {
		offs[4+i] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n<</A %d>>\nendobj\n", 4+i, i)
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f\r\n", n+4)
	for _, o := range offs[1:] {
		fmt.Fprintf(&b, "%010d 00000 n\r\n", o)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", n+4, xref)
	return b.Bytes()
}

// damagedTails appends n updates to doc whose cross-reference data is broken (their
// startxref points nowhere), each with one new object: a viewer reads them by
// reconstruction, and so does the verifier (the old code repaired every prefix anew).
func damagedTails(doc []byte, n int) []byte {
	var b bytes.Buffer
	b.Write(doc)
	if doc[len(doc)-1] != '\n' {
		b.WriteByte('\n')
	}
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "%d 0 obj\n<< /Note (update %d) >>\nendobj\nstartxref\n%d\n%%%%EOF\n", 1000+i, i, b.Len()+7)
	}
	return b.Bytes()
}

func TestHostileDamagedTails(t *testing.T) {
	p := testpki.Committed(t)
	signed := sign(t, formPDF(), p.Org, pades.Options{})
	opts := Options{Offline: true, At: fuzzTime}
	// more damaged revisions than allowed: refused, without a repair per prefix
	checkBounded(t, damagedTails(signed, 3000), opts, "limit/revisions")
	// 900: read by reconstruction from one scan of the file, and judged
	rep, _ := checkBounded(t, damagedTails(signed, 900), opts, "")
	if rep == nil || rep.Revisions != 902 || len(rep.Signatures) != 1 || rep.Signatures[0].Integrity != IntegrityIntact {
		t.Fatalf("report %+v", rep)
	}
	found := false
	for _, w := range rep.Warnings {
		found = found || strings.Contains(w, "reconstruction")
	}
	if !found {
		t.Errorf("no warning about the reconstruction: %v", rep.Warnings)
	}
}
