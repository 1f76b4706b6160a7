package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/kyso-vn/kyso/internal/testenv"
)

func demoKeyURI() string {
	d := testenv.TestPKIDir()
	return "softkey:path=" + filepath.Join(d, "org.key") + ";cert=" + filepath.Join(d, "org.pem")
}

// TestSignCLI: the exit codes and the batch of the CLI contract; the batch output is
// judged by pdfsig.
func TestSignCLI(t *testing.T) {
	corpus := testenv.CorpusDir(t)
	pdfsig := testenv.Tool(t, "pdfsig", "poppler-utils")
	chain := filepath.Join(testenv.TestPKIDir(), "chain.pem")
	dir := t.TempDir()
	good := []string{
		filepath.Join(corpus, "plain/lo-writer-trivial.pdf"),
		filepath.Join(corpus, "xrefstream/pdftex-objstm.pdf"),
		filepath.Join(corpus, "forms/field-types.pdf"),
	}
	code, out := kysoExit(t, append([]string{"sign", "--key", demoKeyURI(), "--chain", chain, "--out-dir", dir}, good...)...)
	if code != 0 {
		t.Fatalf("batch exit %d: %s", code, out)
	}
	for _, g := range good {
		res, _ := exec.Command(pdfsig, "-nocert", filepath.Join(dir, filepath.Base(g))).CombinedOutput()
		if !strings.Contains(string(res), "Signature is Valid.") {
			t.Errorf("%s: %s", g, res)
		}
	}
	// a broken input: exit 1, the message names the file, nothing written
	bad := filepath.Join(corpus, "broken/qpdf-not-a-pdf-5-bytes.pdf")
	outFile := filepath.Join(dir, "bad.pdf")
	code, out = kysoExit(t, "sign", "--key", demoKeyURI(), "-o", outFile, bad)
	if code != 1 || !strings.Contains(out, "qpdf-not-a-pdf-5-bytes.pdf") {
		t.Errorf("broken input: exit %d, %q", code, out)
	}
	if _, err := os.Stat(outFile); !os.IsNotExist(err) {
		t.Errorf("an output was written for a document that could not be signed")
	}
	// usage errors: exit 2
	for _, args := range [][]string{
		{"sign", "-o", outFile, good[0]},
		{"sign", "--key", demoKeyURI(), good[0]},
		{"sign", "--key", demoKeyURI(), "--level", "B-X", "-o", outFile, good[0]},
		{"sign", "--key", demoKeyURI(), "--level", "B-T", "-o", outFile, good[0]},
	} {
		if code, out := kysoExit(t, args...); code != 2 {
			t.Errorf("%v: exit %d (%s), want 2", args, code, out)
		}
	}
	// in place: the file grows by the signature only
	inPlace := filepath.Join(dir, "in-place.pdf")
	orig, _ := os.ReadFile(good[0])
	if err := os.WriteFile(inPlace, orig, 0o644); err != nil {
		t.Fatal(err)
	}
	if code, out := kysoExit(t, "sign", "--key", demoKeyURI(), "--chain", chain, "--in-place", inPlace); code != 0 {
		t.Fatalf("in place: %d %s", code, out)
	}
	got, _ := os.ReadFile(inPlace)
	if !bytes.HasPrefix(got, orig) || len(got) == len(orig) {
		t.Fatal("in-place signing did not append to the original")
	}
	res, _ := exec.Command(pdfsig, "-nocert", inPlace).CombinedOutput()
	if !strings.Contains(string(res), "Total document signed") {
		t.Errorf("in place: %s", res)
	}
}

// TestSignCAdES: a file that is not a PDF gets a detached .p7s that openssl cms
// -verify accepts against the test root.
func TestSignCAdES(t *testing.T) {
	openssl := testenv.Tool(t, "openssl", "openssl")
	pkiDir := testenv.TestPKIDir()
	dir := t.TempDir()
	in := filepath.Join(dir, "contract.docx")
	if err := os.WriteFile(in, []byte("Hợp đồng — nội dung bất kỳ, không phải PDF\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "contract.docx.p7s")
	if code, msg := kysoExit(t, "sign", "--key", demoKeyURI(), "--chain", filepath.Join(pkiDir, "chain.pem"), "-o", out, in); code != 0 {
		t.Fatalf("exit %d: %s", code, msg)
	}
	res, err := exec.Command(openssl, "cms", "-verify", "-binary", "-inform", "DER", "-in", out, "-content", in,
		"-CAfile", filepath.Join(pkiDir, "root-ca.pem"), "-purpose", "any", "-out", os.DevNull).CombinedOutput()
	if err != nil || !strings.Contains(string(res), "Verification successful") {
		t.Fatalf("openssl cms -verify: %v\n%s", err, res)
	}
	// one changed byte: openssl refuses
	if err := os.WriteFile(in, []byte("Hợp đồng — nội dung bất kỳ, không phải PDF!\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if res, err := exec.Command(openssl, "cms", "-verify", "-binary", "-inform", "DER", "-in", out, "-content", in,
		"-CAfile", filepath.Join(pkiDir, "root-ca.pem"), "-purpose", "any", "-out", os.DevNull).CombinedOutput(); err == nil {
		t.Fatalf("openssl accepted changed content:\n%s", res)
	}
}

// TestSignOutputsAndOptions: an output gets its input's permissions (a signed copy
// of a private document stays private) and appears with no temporary file beside it;
// the options follow app's rules: a visible signature with neither image nor text
// shows the text block of Decree 30 (the signing organisation and the time), and a level the flags cannot reach is
// a usage error naming the flag.
func TestSignOutputsAndOptions(t *testing.T) {
	pdftotext := testenv.Tool(t, "pdftotext", "poppler-utils")
	dir := t.TempDir()
	in := filepath.Join(dir, "private.pdf")
	if err := os.WriteFile(in, serveTestPDF("private"), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(in, 0o640); err != nil { // whatever the umask
		t.Fatal(err)
	}
	outDir := t.TempDir()
	out := filepath.Join(outDir, "signed.pdf")
	if code, msg := kysoExit(t, "sign", "--key", demoKeyURI(), "--visible", "-o", out, in); code != 0 {
		t.Fatalf("exit %d: %s", code, msg)
	}
	st, err := os.Stat(out)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o640 {
		t.Errorf("output mode %v, want the input's 0640", st.Mode().Perm())
	}
	if entries, _ := os.ReadDir(outDir); len(entries) != 1 {
		t.Errorf("output directory holds %d files, want the output alone", len(entries))
	}
	text, err := exec.Command(pdftotext, out, "-").Output()
	if err != nil || !strings.Contains(string(text), "Ủy ban nhân dân tỉnh Ninh Thuận") || !regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+07:00`).Match(text) {
		t.Errorf("visible signature text %q (%v), want the signing organisation and the time as ISO 8601 in Vietnam's zone", text, err)
	}
	code, msg := kysoExit(t, "sign", "--key", demoKeyURI(), "--level", "B-T", "-o", filepath.Join(outDir, "t.pdf"), in)
	if code != 2 || !strings.Contains(msg, "--tsa") {
		t.Errorf("B-T without a TSA: exit %d, %q; want 2 naming --tsa", code, msg)
	}
}
