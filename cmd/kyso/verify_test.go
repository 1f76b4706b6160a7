package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kyso-vn/kyso/internal/testenv"
)

// runVerifyCLI runs kyso verify with args and returns stdout and the exit status.
func runVerifyCLI(t *testing.T, args ...string) (string, int) {
	t.Helper()
	out, _, err := runKyso(t, append([]string{"verify"}, args...)...)
	return out, exitCode(err)
}

func TestVerifyCLI(t *testing.T) {
	dir := testenv.CorpusDir(t)
	c := func(p string) string { return filepath.Join(dir, p) }
	root := filepath.Join(testenv.TestPKIDir(), "root-ca.pem")
	for _, tc := range []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"shadow attack, Vietnamese", []string{"--lang", "vi", c("attacks/shadow/dss-2236-replace.pdf")}, 1, []string{"VĂN BẢN ĐÃ BỊ SỬA ĐỔI SAU KHI KÝ", "KHÔNG được phép"}},
		{"incremental saving attack, English", []string{"--lang", "en", c("attacks/isa/isa_A.pdf")}, 1, []string{"THE DOCUMENT WAS CHANGED AFTER IT WAS SIGNED"}},
		{"untrusted but intact", []string{"--lang", "vi", "--offline", "--trust", root, c("signed/dss-pdfa2u-signed.pdf")}, 3, []string{"KHÔNG XÁC ĐỊNH ĐƯỢC CHỨNG THƯ CỦA NGƯỜI KÝ", "nguyên vẹn"}},
		{"digest mismatch", []string{"--lang", "vi", "--offline", c("signed/pdfjs-signed.pdf")}, 1, []string{"CHỮ KÝ KHÔNG HỢP LỆ"}},
		{"not a PDF", []string{c("broken/qpdf-not-a-pdf-5-bytes.pdf")}, 2, nil},
		{"no signature", []string{c("plain/pdf20-simple.pdf")}, 2, nil},
		{"worst of several files", []string{"--offline", c("signed/dss-pdfa2u-signed.pdf"), c("attacks/usf/usf_01_Empty_Contents.pdf")}, 1, nil},
		{"html", []string{"--format", "html", "--lang", "en", c("attacks/swa/siwa_A.pdf")}, 1, []string{"<!DOCTYPE html>", "The signature is not valid"}},
		{"unknown format", []string{"--format", "xml", c("signed/pdfjs-signed.pdf")}, 2, nil},
		{"bad time", []string{"--at", "yesterday", c("signed/pdfjs-signed.pdf")}, 2, nil},
		{"missing anchor file", []string{"--trust", filepath.Join(t.TempDir(), "none.pem"), c("signed/pdfjs-signed.pdf")}, 2, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, code := runVerifyCLI(t, tc.args...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\n%s", code, tc.code, out)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			// the HTML page is self-contained: nothing fetched from elsewhere
			if strings.Contains(out, "<html") && (strings.Contains(out, "src=") || strings.Contains(out, "<link") || strings.Contains(out, "http")) {
				t.Errorf("the HTML page refers to outside resources:\n%s", out)
			}
		})
	}
}

// TestVerifyCLIJSON checks the JSON contract of REPORT.md on a multi-signature file.
func TestVerifyCLIJSON(t *testing.T) {
	dir := testenv.CorpusDir(t)
	out, code := runVerifyCLI(t, "--format", "json", "--offline", filepath.Join(dir, "signed/dss-sk-6.pdf"))
	if code != 3 {
		t.Fatalf("exit %d\n%s", code, out)
	}
	var rep map[string]any
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"version", "indication", "file", "sha256", "signatures"} {
		if _, ok := rep[k]; !ok {
			t.Errorf("report lacks %q", k)
		}
	}
	if rep["version"] != float64(1) {
		t.Errorf("version %v", rep["version"])
	}
	sigs, _ := rep["signatures"].([]any)
	if len(sigs) != 3 {
		t.Fatalf("%d signatures", len(sigs))
	}
	for _, s := range sigs {
		m := s.(map[string]any)
		for _, k := range []string{"field", "signer", "signing_time", "time_source", "indication", "sub_indication",
			"integrity", "covers_whole_document", "level", "modifications", "chain", "revocation", "timestamp", "errors", "warnings"} {
			if _, ok := m[k]; !ok {
				t.Errorf("signature lacks %q", k)
			}
		}
	}
}

// TestVerifyCLIDetached signs a file with openssl cms (an outside tool) and verifies
// the .p7s with --content; then with the content changed.
func TestVerifyCLIDetached(t *testing.T) {
	openssl := testenv.Tool(t, "openssl", "openssl")
	pki := testenv.TestPKIDir()
	tmp := t.TempDir()
	content := filepath.Join(tmp, "report.txt")
	if err := os.WriteFile(content, []byte("Báo cáo tình hình kinh tế - xã hội năm 2025\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	sig := filepath.Join(tmp, "report.txt.p7s")
	cmd := exec.Command(openssl, "cms", "-sign", "-binary", "-md", "sha256", "-in", content, "-outform", "DER", "-out", sig,
		"-signer", filepath.Join(pki, "leader.pem"), "-inkey", filepath.Join(pki, "leader.key"), "-certfile", filepath.Join(pki, "sub-ca.pem"))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("openssl cms -sign: %v\n%s", err, out)
	}
	root := filepath.Join(pki, "root-ca.pem")
	// offline, nothing tells the revocation status: intact but INDETERMINATE
	out, code := runVerifyCLI(t, "--offline", "--lang", "en", "--trust", root, "--content", content, sig)
	if code != 3 || !strings.Contains(out, "revocation status could not be checked") {
		t.Fatalf("exit %d\n%s", code, out)
	}
	if err := os.WriteFile(content, []byte("Báo cáo tình hình kinh tế - xã hội năm 2026\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, code = runVerifyCLI(t, "--offline", "--trust", root, "--content", content, sig)
	if code != 1 || !strings.Contains(out, "HASH_FAILURE") {
		t.Fatalf("changed content: exit %d\n%s", code, out)
	}
	if _, code := runVerifyCLI(t, "--content", content, content); code != 2 {
		t.Errorf("a non-CMS signature file: exit %d, want 2", code)
	}
}

// TestVerifyCLILimit: a document past a limit is exit status 2 with a message that
// names the limit's configuration key.
func TestVerifyCLILimit(t *testing.T) {
	dir := testenv.CorpusDir(t)
	_, stderr, err := runKyso(t, "verify", "--offline", "--max-revisions", "5", filepath.Join(dir, "signed/dss-25-signatures.pdf"))
	if exitCode(err) != 2 || !strings.Contains(stderr, "verify.max_revisions") {
		t.Errorf("exit %d, stderr %q; want 2 and a message naming verify.max_revisions", exitCode(err), stderr)
	}
}
