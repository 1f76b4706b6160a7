package main

import (
	"bytes"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/kyso-vn/kyso/internal/testenv"
	"github.com/kyso-vn/kyso/signer/verify"
)

// kyso verify --format json on an adbe.pkcs7.sha1 signature (EFY-CA's form: the
// signer signs the SHA-1 of the byte ranges), made by kyso sign and re-signed by
// openssl: integrity intact, the chain found, INDETERMINATE /
// CRYPTO_CONSTRAINTS_FAILURE_NO_POE with the reason in Vietnamese and English, exit 3;
// with --crypto SHA-1=none it passes the constraint.
func TestVerifyCLIAdbeSHA1(t *testing.T) {
	openssl := testenv.Tool(t, "openssl", "openssl")
	corpus := testenv.CorpusDir(t)
	pki := testenv.TestPKIDir()
	dir := t.TempDir()
	signed := filepath.Join(dir, "signed.pdf")
	if code, out := kysoExit(t, "sign", "--key", demoKeyURI(), "--chain", filepath.Join(pki, "chain.pem"), "-o", signed,
		filepath.Join(corpus, "plain/lo-writer-trivial.pdf")); code != 0 {
		t.Fatalf("sign: %s", out)
	}
	doc, err := os.ReadFile(signed)
	if err != nil {
		t.Fatal(err)
	}
	old := []byte("/ETSI.CAdES.detached")
	i := bytes.Index(doc, old)
	if i < 0 {
		t.Fatal("no ETSI.CAdES.detached /SubFilter")
	}
	copy(doc[i:], "/adbe.pkcs7.sha1    ")
	m := regexp.MustCompile(`/ByteRange\s*\[\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*\]`).FindSubmatch(doc)
	var br [4]int
	for k := range br {
		br[k], _ = strconv.Atoi(string(m[k+1]))
	}
	sum := sha1.Sum(append(bytes.Clone(doc[br[0]:br[0]+br[1]]), doc[br[2]:br[2]+br[3]]...))
	in, p7 := filepath.Join(dir, "digest"), filepath.Join(dir, "sig.der")
	if err := os.WriteFile(in, sum[:], 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(openssl, "cms", "-sign", "-binary", "-nodetach", "-md", "sha1", "-nosmimecap", "-in", in, "-outform", "DER", "-out", p7,
		"-signer", filepath.Join(pki, "org.pem"), "-inkey", filepath.Join(pki, "org.key"), "-certfile", filepath.Join(pki, "sub-ca.pem")).CombinedOutput(); err != nil {
		t.Fatalf("openssl: %v\n%s", err, out)
	}
	der, _ := os.ReadFile(p7)
	hx := strings.ToUpper(hex.EncodeToString(der))
	start, end := br[0]+br[1]+1, br[2]-1
	if len(hx) > end-start {
		t.Skipf("openssl's CMS (%d hex digits) does not fit the %d kyso reserved", len(hx), end-start)
	}
	copy(doc[start:end], strings.Repeat("0", end-start))
	copy(doc[start:], hx)
	legacy := filepath.Join(dir, "efy.pdf")
	if err := os.WriteFile(legacy, doc, 0o644); err != nil {
		t.Fatal(err)
	}

	root := filepath.Join(pki, "root-ca.pem")
	out, code := runVerifyCLI(t, "--format", "json", "--offline", "--trust", root, legacy)
	var rep verify.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	s := rep.Signatures[0]
	if code != 3 || s.SubFilter != "adbe.pkcs7.sha1" || s.Integrity != "intact" || len(s.Chain) != 3 || s.PKI == "" ||
		s.Indication != verify.Indeterminate || s.SubIndication != verify.CryptoConstraintsFailureNoPOE || s.Explanation == nil ||
		!strings.Contains(s.Explanation.VI, "SHA-1 không còn được chấp nhận từ ngày 01/01/2009") ||
		!strings.Contains(s.Explanation.EN, "SHA-1 is no longer accepted since 2009-01-01 and nothing proves it was signed earlier") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	if strings.Contains(out, "2.5.4.97=#") {
		t.Errorf("a name in hex:\n%s", out)
	}
	out, _ = runVerifyCLI(t, "--format", "json", "--offline", "--trust", root, "--crypto", "SHA-1=none", legacy)
	if err := json.Unmarshal([]byte(out), &rep); err != nil || rep.Signatures[0].SubIndication == verify.CryptoConstraintsFailureNoPOE {
		t.Errorf("--crypto SHA-1=none:\n%s", out)
	}
}
