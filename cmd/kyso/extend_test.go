package main

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kyso-vn/kyso/internal/testenv"
	"github.com/kyso-vn/kyso/internal/testpki"
	"github.com/kyso-vn/kyso/pkg/pki/pkitest"
)

// foreignKeyURI writes a person of another CA — whose OCSP responder and CRL server
// do not answer — as a soft key, with its chain file.
func foreignKeyURI(t *testing.T, dir string) (uri, chain, cn string) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + l.Addr().String()
	l.Close()
	p := testpki.New(t, testpki.Options{RootName: "Foreign TEST Root", SubName: "Foreign TEST Sub",
		OCSPURL: dead + "/ocsp", CRLURL: dead + "/sub.crl", RootCRLURL: dead + "/root.crl"})
	leaf := p.Issue(t, testpki.Spec{Kind: testpki.Personal, Subject: pkix.Name{CommonName: "Người ký nơi khác", Country: []string{"VN"}}})
	der, err := x509.MarshalPKCS8PrivateKey(leaf.Key)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, blocks ...*pem.Block) string {
		var b []byte
		for _, bl := range blocks {
			b = append(b, pem.EncodeToMemory(bl)...)
		}
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	key := write("foreign.key", &pem.Block{Type: "PRIVATE KEY", Bytes: der})
	cert := write("foreign.pem", &pem.Block{Type: "CERTIFICATE", Bytes: leaf.Cert.Raw})
	var chainBlocks []*pem.Block
	for _, c := range leaf.Chain {
		chainBlocks = append(chainBlocks, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	return "softkey:path=" + key + ";cert=" + cert, write("foreign-chain.pem", chainBlocks...), leaf.Cert.Subject.CommonName
}

// TestExtendCLIWarnings: kyso extend on a document signed first elsewhere (its CA's
// revocation unreachable) then by Kyso's test organisation: the file is extended, the
// command names the foreign signature and exits 3; the Kyso signature alone extends
// with exit 0; the foreign one alone is not extended (exit 1) and the file is left
// as it was.
func TestExtendCLIWarnings(t *testing.T) {
	p := pkitest.ServeRevocation(t)
	dir := t.TempDir()
	foreignKey, foreignChain, foreignCN := foreignKeyURI(t, dir)
	orgKey := "softkey:path=" + filepath.Join(p.Dir, "org.key") + ";cert=" + filepath.Join(p.Dir, "org.pem")
	chain := filepath.Join(p.Dir, "chain.pem")
	plain := filepath.Join(dir, "plain.pdf")
	if err := os.WriteFile(plain, testenv.OnePagePDF("Cong van den"), 0o644); err != nil {
		t.Fatal(err)
	}
	foreign := filepath.Join(dir, "foreign.pdf")
	if code, out := kysoExit(t, "sign", "--key", foreignKey, "--chain", foreignChain, "-o", foreign, plain); code != 0 {
		t.Fatalf("foreign signature: %d %s", code, out)
	}
	both := filepath.Join(dir, "both.pdf")
	if code, out := kysoExit(t, "sign", "--key", orgKey, "--chain", chain, "-o", both, foreign); code != 0 {
		t.Fatalf("Kyso signature: %d %s", code, out)
	}
	kysoOnly := filepath.Join(dir, "kyso.pdf")
	if code, out := kysoExit(t, "sign", "--key", orgKey, "--chain", chain, "-o", kysoOnly, plain); code != 0 {
		t.Fatalf("Kyso signature: %d %s", code, out)
	}

	extended := filepath.Join(dir, "both-lt.pdf")
	code, out := kysoExit(t, "extend", "--level", "B-LT", "-o", extended, both)
	if code != 3 || !strings.Contains(out, "with warnings") || !strings.Contains(out, `"Signature1"`) || !strings.Contains(out, foreignCN) {
		t.Fatalf("extend with a foreign signature: exit %d, %s", code, out)
	}
	if strings.Contains(out, `"Signature2"`) {
		t.Errorf("the Kyso signature is named as unvalidated: %s", out)
	}
	in, _ := os.ReadFile(both)
	got, err := os.ReadFile(extended)
	if err != nil || len(got) <= len(in) || !strings.Contains(string(got[len(in):]), "/DSS") {
		t.Fatalf("the extended file was not written with a DSS (%v)", err)
	}

	if code, out := kysoExit(t, "extend", "--level", "B-LT", "-o", filepath.Join(dir, "kyso-lt.pdf"), kysoOnly); code != 0 || out != "" {
		t.Errorf("extend of Kyso's signature alone: exit %d, %q", code, out)
	}

	// several files in place: each is extended on its own, the worst exit wins
	a, b := filepath.Join(dir, "a.pdf"), filepath.Join(dir, "b.pdf")
	os.WriteFile(a, in, 0o644)
	k, _ := os.ReadFile(kysoOnly)
	os.WriteFile(b, k, 0o644)
	if code, out := kysoExit(t, "extend", "--level", "B-LT", "--in-place", a, b); code != 3 || !strings.Contains(out, "a.pdf") || strings.Contains(out, "b.pdf") || !strings.Contains(out, "1 of 2 files extended with warnings") {
		t.Errorf("two files in place: exit %d, %s", code, out)
	}
	if got, _ := os.ReadFile(b); len(got) <= len(k) {
		t.Error("the second file was not extended in place")
	}
	if code, _ := kysoExit(t, "extend", "--level", "B-LT", "-o", filepath.Join(dir, "x.pdf"), a, b); code != 2 {
		t.Errorf("-o with two files: exit %d, want 2", code)
	}

	before, _ := os.ReadFile(foreign)
	if code, out := kysoExit(t, "extend", "--level", "B-LT", "--in-place", foreign); code != 1 || !strings.Contains(out, "Signature1") {
		t.Errorf("extend of the foreign signature alone: exit %d, %s", code, out)
	}
	if after, _ := os.ReadFile(foreign); len(after) != len(before) {
		t.Errorf("a failed extension changed the file: %d → %d bytes", len(before), len(after))
	}
}
