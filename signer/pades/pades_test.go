package pades

import (
	"bufio"
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kyso-vn/kyso/internal/testenv"
	"github.com/kyso-vn/kyso/internal/testpki"
	"github.com/kyso-vn/kyso/signer/pdf"
)

// countingSigner proves the key is asked exactly once per signature.
type countingSigner struct {
	crypto.Signer
	mu sync.Mutex
	n  int
}

func (c *countingSigner) SignContext(ctx context.Context, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	c.mu.Lock()
	c.n++
	c.mu.Unlock()
	return SignDigest(ctx, c.Signer, digest, opts)
}

func orgOptions(t testing.TB) (Options, *countingSigner) {
	p := testpki.Committed(t)
	return Options{
		Certificate: p.Org.Cert,
		Chain:       []*x509.Certificate{p.Sub.Cert},
		Reason:      "Phát hành văn bản",
		Location:    "Ninh Thuận",
		Time:        time.Date(2025, 3, 5, 14, 30, 15, 0, time.FixedZone("ICT", 7*3600)),
	}, &countingSigner{Signer: p.Org.Key}
}

// signBytes signs in and returns the output.
func signBytes(t testing.TB, in []byte, key crypto.Signer, opts Options) ([]byte, error) {
	t.Helper()
	var out bytes.Buffer
	err := Sign(context.Background(), key, bytes.NewReader(in), int64(len(in)), &out, opts)
	return out.Bytes(), err
}

type judged struct {
	valid, total bool
	pdfsig       string
	qpdf         string
}

// judge runs poppler's pdfsig and qpdf --check over a signed file.
func judge(t testing.TB, path string) judged {
	t.Helper()
	pdfsig := testenv.Tool(t, "pdfsig", "poppler-utils")
	qpdf := testenv.Tool(t, "qpdf", "qpdf")
	out, _ := exec.Command(pdfsig, "-nocert", path).CombinedOutput()
	s := string(out)
	// the last signature is the one we added
	blocks := strings.Split(s, "Signature #")
	last := blocks[len(blocks)-1]
	q, _ := exec.Command(qpdf, "--check", path).CombinedOutput()
	return judged{
		valid:  strings.Contains(last, "Signature Validation: Signature is Valid."),
		total:  strings.Contains(last, "Total document signed"),
		pdfsig: s, qpdf: string(q),
	}
}

func qpdfErrors(out string) []string {
	var errs []string
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		l := sc.Text()
		if strings.Contains(l, "No syntax or stream encoding errors found") || strings.Contains(l, "errors that qpdf cannot detect") {
			continue
		}
		if strings.Contains(l, "WARNING") || strings.Contains(l, "ERROR") || strings.Contains(l, "error") {
			// the file's path differs between input and output: compare the message only
			if i := strings.Index(l, ".pdf"); i >= 0 {
				l = l[i+4:]
			}
			errs = append(errs, l)
		}
	}
	return errs
}

type manifestRow struct{ path, category, expected string }

func readManifest(t *testing.T, dir string) []manifestRow {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "MANIFEST.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	var rows []manifestRow
	for i, line := range strings.Split(string(b), "\n") {
		c := strings.Split(line, "\t")
		if i == 0 || len(c) < 6 {
			continue
		}
		rows = append(rows, manifestRow{c[0], c[3], c[5]})
	}
	return rows
}

// TestSignCorpus signs every corpus file the MANIFEST marks SIGN and prints the table.
// Files that must be signed: the original stays a prefix, pdfsig says the new
// signature is valid and covers the whole document, qpdf --check finds nothing new.
// The others: signed that way, or refused with an error; never a panic or a hang.
func TestSignCorpus(t *testing.T) {
	dir := testenv.CorpusDir(t)
	opts, key := orgOptions(t)
	out := t.TempDir()
	var table strings.Builder
	fmt.Fprintf(&table, "\n%-55s %-10s %s\n", "file", "result", "detail")
	for _, row := range readManifest(t, dir) {
		if !strings.HasPrefix(row.expected, "SIGN") {
			continue
		}
		t.Run(row.path, func(t *testing.T) {
			in, err := os.ReadFile(filepath.Join(dir, row.path))
			if err != nil {
				t.Fatal(err)
			}
			mustSign := strings.HasPrefix(row.expected, "SIGN: must succeed")
			before := key.n
			o := opts
			if strings.Contains(row.expected, "existing field") || strings.Contains(row.expected, "into the existing") {
				o.Field = firstEmptySigField(t, in)
			}
			start := time.Now()
			signed, err := signBytes(t, in, key, o)
			if d := time.Since(start); d > 30*time.Second {
				t.Errorf("took %v", d)
			}
			if err != nil {
				fmt.Fprintf(&table, "%-55s %-10s %v\n", row.path, "refused", err)
				if mustSign {
					t.Fatalf("must sign: %v", err)
				}
				if key.n != before {
					t.Errorf("the key was asked to sign a document that was refused")
				}
				return
			}
			if key.n != before+1 {
				t.Errorf("key asked %d times, want 1", key.n-before)
			}
			if !bytes.HasPrefix(signed, in) {
				t.Fatal("the original is not a prefix of the output")
			}
			p := filepath.Join(out, strings.ReplaceAll(row.path, "/", "_"))
			if err := os.WriteFile(p, signed, 0o644); err != nil {
				t.Fatal(err)
			}
			j := judge(t, p)
			qBefore := qpdfErrorsOf(t, filepath.Join(dir, row.path))
			newQ := diff(qpdfErrors(j.qpdf), qBefore)
			status := "signed"
			if !j.valid || !j.total || len(newQ) > 0 {
				status = "BAD"
			}
			fmt.Fprintf(&table, "%-55s %-10s valid=%v total=%v qpdf-new=%d\n", row.path, status, j.valid, j.total, len(newQ))
			if !j.valid || !j.total {
				t.Errorf("pdfsig: valid=%v total=%v\n%s", j.valid, j.total, j.pdfsig)
			}
			if len(newQ) > 0 {
				t.Errorf("qpdf --check reports new problems: %v", newQ)
			}
			checkFieldsKept(t, in, signed)
		})
	}
	t.Log(table.String())
}

func qpdfErrorsOf(t testing.TB, path string) []string {
	q, _ := exec.Command(testenv.Tool(t, "qpdf", "qpdf"), "--check", path).CombinedOutput()
	return qpdfErrors(string(q))
}

func diff(after, before []string) []string {
	seen := map[string]bool{}
	for _, b := range before {
		seen[b] = true
	}
	var out []string
	for _, a := range after {
		if !seen[a] && !strings.Contains(a, "linearization") {
			out = append(out, a)
		}
	}
	return out
}

func openBytes(t testing.TB, b []byte) *pdf.Reader {
	t.Helper()
	r, err := pdf.Open(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func fieldNames(t testing.TB, b []byte) []string {
	r := openBytes(t, b)
	cat, _, err := r.Catalog()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range walkFields(r, r.Dict(cat["AcroForm"])) {
		names = append(names, f.name)
	}
	return names
}

// checkFieldsKept: every form field of the original is still reachable.
func checkFieldsKept(t *testing.T, in, out []byte) {
	t.Helper()
	after := map[string]bool{}
	for _, n := range fieldNames(t, out) {
		after[n] = true
	}
	for _, n := range fieldNames(t, in) {
		if !after[n] {
			t.Errorf("form field %q lost", n)
		}
	}
}

func firstEmptySigField(t testing.TB, b []byte) string {
	r := openBytes(t, b)
	cat, _, _ := r.Catalog()
	for _, f := range walkFields(r, r.Dict(cat["AcroForm"])) {
		if f.ft == "Sig" && r.Dict(f.dict["V"]) == nil {
			return f.name
		}
	}
	return ""
}

// TestPrecompute: the kept CMS bound is the one Prepare would compute, and a change of
// signer after Precompute is noticed rather than signed into a too-small reserve.
func TestPrecompute(t *testing.T) {
	p := testpki.Committed(t)
	opts := Options{Certificate: p.PersonalEC.Cert}
	if err := opts.Precompute(); err != nil {
		t.Fatal(err)
	}
	// reserve is the /Contents reserve Prepare would use: from the kept estimate, or
	// (fresh) computed anew.
	reserve := func(o Options, fresh bool) int {
		t.Helper()
		if fresh {
			o.estimate = nil
		}
		if err := o.normalize(); err != nil {
			t.Fatal(err)
		}
		n, err := o.contentsReserve()
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	fresh := func(o Options) int { return reserve(o, true) }
	kept := func(o Options) int { return reserve(o, false) }
	if got, want := kept(opts), fresh(opts); got != want {
		t.Errorf("precomputed reserve %d, fresh %d", got, want)
	}
	for name, change := range map[string]func(o *Options){
		"certificate": func(o *Options) { o.Certificate = p.Org.Cert },
		"chain":       func(o *Options) { o.Chain = []*x509.Certificate{p.Sub.Cert, p.Root.Cert} },
		"digest":      func(o *Options) { o.Hash = crypto.SHA512 },
	} {
		o := opts
		change(&o)
		if got, want := kept(o), fresh(o); got != want {
			t.Errorf("after changing the %s: reserve %d, want %d", name, got, want)
		}
	}
	// And a batch signs with it: the EC estimate kept, an RSA-3072 key signing.
	o := opts
	o.Certificate = p.Org.Cert
	out, err := signBytes(t, pdfWithStream(1<<10), p.Org.Key, o)
	if err != nil {
		t.Fatalf("signing after changing the certificate: %v", err)
	}
	if !bytes.Contains(out, []byte("/ETSI.CAdES.detached")) {
		t.Fatal("no signature written")
	}
}
