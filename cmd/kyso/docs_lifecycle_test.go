package main

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kyso-vn/kyso/hsm"
	"github.com/kyso-vn/kyso/internal/testenv"
	"github.com/kyso-vn/kyso/internal/testpki"
	"github.com/kyso-vn/kyso/pkg/pki/pkitest"
)

// TestDocsApproveRefusesCertificateBeforePIN (issue #17): docs approve refuses an
// expired, not yet valid, revoked or unchained leader's certificate with exit 1 and the
// reason in Vietnamese (English with KYSO_LANG=en) before the key is opened: the
// expired one is on a SoftHSM2 token given a wrong PIN, and the refusal is the
// certificate's, not the PIN's, with the token's "wrong PIN given" flag still clear.
// The draft stays a draft with one version.
func TestDocsApproveRefusesCertificateBeforePIN(t *testing.T) {
	p := pkitest.ServeRevocation(t)
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	draft := filepath.Join(dir, "draft.pdf")
	os.WriteFile(draft, testenv.CongVanPDF(t), 0o644)
	root, chain := p.Path("root-ca.pem"), p.Path("chain.pem")

	tok := testenv.NewSoftHSM(t, "leader", "123456")
	keyPEM, err := os.ReadFile(p.Path("expired.key"))
	if err != nil {
		t.Fatal(err)
	}
	tok.ImportKey(t, keyPEM, "expired", "05")
	tok.ImportCert(t, p.Expired.Cert.Raw, "expired", "05")
	wrongPIN := strings.Replace(tok.URI("expired", "05"), "pin-value=123456", "pin-value=000000", 1)

	now := time.Now()
	future := p.PKI().Issue(t, testpki.Spec{Kind: testpki.Personal, Subject: pkix.Name{CommonName: "Kyso TEST future — Đỗ Văn G"},
		NotBefore: now.AddDate(0, 1, 0), NotAfter: now.AddDate(2, 0, 0)})
	der, err := x509.MarshalPKCS8PrivateKey(future.Key)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "future.key"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600)
	os.WriteFile(filepath.Join(dir, "future.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: future.Cert.Raw}), 0o644)
	softkey := func(key, cert string) string { return "softkey:path=" + key + ";cert=" + cert }

	cases := []struct {
		name, key string
		cert      *x509.Certificate
		chain     bool
		vi, en    string
	}{
		{"expired on a token, wrong PIN", wrongPIN, p.Expired.Cert, true, "đã hết hạn ngày 31/12/2023", "expired on 2023-12-31"},
		{"not yet valid", softkey(filepath.Join(dir, "future.key"), filepath.Join(dir, "future.pem")), future.Cert, true, "chưa có hiệu lực", "not valid yet"},
		{"revoked", softkey(p.Path("revoked.key"), p.Path("revoked.pem")), p.Revoked.Cert, true, "đã bị thu hồi ngày 01/06/2025", "was revoked on 2025-06-01"},
		{"no chain", softkey(p.Path("leader.key"), p.Path("leader.pem")), p.Leader.Cert, false,
			"thiếu chứng thư của CA cấp \"" + p.Sub.Cert.Subject.String(), "the issuer certificate \"" + p.Sub.Cert.Subject.String() + "\" is missing"},
	}
	for i, c := range cases {
		if code, out := kysoExit(t, "docs", "import", "--data-dir", data, "--direction", "outgoing", "--agency", "000.00.00.H43",
			"--number", "UBND-VP", "--summary", "Về việc thử nghiệm", "--actor", "chuyên viên", draft); code != 0 {
			t.Fatalf("import: %d %s", code, out)
		}
		id := cliClient(t, data, "leader-"+c.name, "leader", "000.00.00.H43", c.cert)
		args := []string{"docs", "approve", strings.TrimSpace(string(rune('1' + i))), "--data-dir", data, "--key", c.key,
			"--as", id, "--actor", "Chủ tịch", "--trust", root}
		if c.chain {
			args = append(args, "--chain", chain)
		}
		code, out := kysoExit(t, args...)
		if code != 1 || !strings.Contains(out, c.vi) || strings.Contains(strings.ToLower(out), "pin") {
			t.Errorf("%s: exit %d, want 1 saying %q:\n%s", c.name, code, c.vi, out)
		}
		t.Setenv("KYSO_LANG", "en")
		_, _, err := runKyso(t, args...)
		if msg := errorMessage(err); !strings.Contains(msg, c.en) {
			t.Errorf("%s in English: %q, want %q", c.name, msg, c.en)
		}
		t.Setenv("KYSO_LANG", "")
		code, out = kysoExit(t, "docs", "get", strings.TrimSpace(string(rune('1'+i))), "--data-dir", data, "--lang", "en")
		if code != 0 || !strings.Contains(out, "(outgoing, draft)") || strings.Contains(out, "approve") {
			t.Errorf("%s: the draft after the refusal:\n%s", c.name, out)
		}
	}
	m, err := hsm.OpenModule(tok.Module, hsm.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	tokens, err := m.Tokens()
	if err != nil || len(tokens) == 0 {
		t.Fatalf("tokens: %v %v", tokens, err)
	}
	for _, ti := range tokens {
		if ti.Label == "leader" && (ti.PINCountLow || ti.PINFinalTry || ti.PINLocked) {
			t.Errorf("the wrong PIN reached the token: %+v", ti)
		}
	}
}

// TestDocsReturnRecallReplaceCLI: approve, return to draft (the clerk, with a reason),
// issuing refused, approve again and issue; a second document issued; the first
// replaced by the second and the second recalled — docs get and docs list show it,
// and nothing is deleted.
func TestDocsReturnRecallReplaceCLI(t *testing.T) {
	p := pkitest.ServeRevocation(t)
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	draft := filepath.Join(dir, "draft.pdf")
	os.WriteFile(draft, testenv.CongVanPDF(t), 0o644)
	leaderKey := "softkey:path=" + p.Path("leader.key") + ";cert=" + p.Path("leader.pem")
	orgKey := "softkey:path=" + p.Path("org.key") + ";cert=" + p.Path("org.pem")
	root, chain := p.Path("root-ca.pem"), p.Path("chain.pem")
	run := func(want int, args ...string) string {
		t.Helper()
		code, out := kysoExit(t, append(args, "--data-dir", data)...)
		if code != want {
			t.Fatalf("%v: exit %d, want %d:\n%s", args, code, want, out)
		}
		return out
	}
	for range 2 {
		run(0, "docs", "import", "--direction", "outgoing", "--agency", "000.00.00.H43", "--number", "UBND-VP",
			"--summary", "Về việc thử nghiệm", "--actor", "chuyên viên", draft)
	}
	leader := cliClient(t, data, "chu-tich", "leader", "000.00.00.H43", p.Leader.Cert)
	clerk := cliClient(t, data, "van-thu", "clerk", "000.00.00.H43")
	approve := func(id string) {
		run(0, "docs", "approve", id, "--key", leaderKey, "--chain", chain, "--as", leader, "--actor", "Chủ tịch", "--trust", root)
	}
	issue := func(id string, want int) string {
		return run(want, "docs", "issue", id, "--key", orgKey, "--chain", chain, "--as", clerk, "--actor", "văn thư", "--trust", root)
	}
	approve("1")
	run(2, "docs", "return-draft", "1", "--as", clerk, "--actor", "văn thư")
	if out := run(0, "docs", "return-draft", "1", "--reason", "Sửa lại trích yếu", "--as", clerk, "--actor", "văn thư"); !strings.Contains(out, "returned to draft\tdraft") {
		t.Errorf("return-draft printed %q", out)
	}
	if out := issue("1", 1); !strings.Contains(out, "approved") {
		t.Errorf("issuing a document returned to draft: %s", out)
	}
	approve("1")
	issue("1", 0)
	approve("2")
	issue("2", 0)
	run(1, "docs", "return-draft", "2", "--reason", "x", "--as", clerk, "--actor", "văn thư")
	run(0, "docs", "replace", "1", "--by", "2", "--reason", "Thay đổi thời hạn", "--decision", "Văn bản số 02/UBND-VP", "--as", clerk, "--actor", "văn thư")
	run(0, "docs", "recall", "2", "--reason", "Ban hành sai thẩm quyền", "--decision", "Quyết định số 12/QĐ-UBND", "--as", leader, "--actor", "Chủ tịch")
	run(1, "docs", "recall", "2", "--reason", "again", "--as", leader, "--actor", "Chủ tịch")
	if out := run(0, "docs", "get", "1"); !strings.Contains(out, "Đã được thay thế bởi văn bản 2: Thay đổi thời hạn (Văn bản số 02/UBND-VP)") ||
		!strings.Contains(out, "(outgoing, issued)") || !strings.Contains(out, "replace") {
		t.Errorf("docs get 1:\n%s", out)
	}
	if out := run(0, "docs", "get", "2"); !strings.Contains(out, "Đã bị thu hồi: Ban hành sai thẩm quyền") || !strings.Contains(out, "Thay thế văn bản 1") {
		t.Errorf("docs get 2:\n%s", out)
	}
	out := run(0, "docs", "list", "--status", "issued")
	if !strings.Contains(out, "issued (Đã được thay thế bởi văn bản 2)") || !strings.Contains(out, "issued (Đã bị thu hồi)") {
		t.Errorf("docs list:\n%s", out)
	}
}
