package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kyso-vn/kyso/internal/testenv"
	"github.com/kyso-vn/kyso/pkg/pki/pkitest"
	"github.com/kyso-vn/kyso/pkg/store"
	"github.com/kyso-vn/kyso/signer/pdf"
	"github.com/kyso-vn/kyso/signer/verify"
)

// TestDocsFlowCLI: import a draft, the leader approves with the handwritten image, the
// clerk issues with the seal; the stored document carries its number and identifier,
// and both signatures verify TOTAL_PASSED. Issuing an unapproved draft is refused.
func TestDocsFlowCLI(t *testing.T) {
	// docs issue checks the approval's revocation at the URLs its certificate names.
	p := pkitest.ServeRevocation(t)
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	sig := filepath.Join(dir, "sig.png")
	seal := filepath.Join(dir, "seal.png")
	os.WriteFile(sig, testenv.SignaturePNG(), 0o644)
	os.WriteFile(seal, testenv.SealPNG(), 0o644)
	pkiDir := p.Dir
	leaderKey := "softkey:path=" + filepath.Join(pkiDir, "leader.key") + ";cert=" + filepath.Join(pkiDir, "leader.pem")
	orgKey := "softkey:path=" + filepath.Join(pkiDir, "org.key") + ";cert=" + filepath.Join(pkiDir, "org.pem")
	root := filepath.Join(pkiDir, "root-ca.pem")
	chain := filepath.Join(pkiDir, "chain.pem")

	// a công văn with blanks for the number and the date, which issuing fills
	draft := filepath.Join(dir, "draft.pdf")
	os.WriteFile(draft, testenv.CongVanPDF(t), 0o644)
	code, out := kysoExit(t, "docs", "import", "--data-dir", data, "--direction", "outgoing", "--agency", "000.00.00.H43",
		"--number", "UBND-VP", "--summary", "Về việc thử nghiệm", "--actor", "chuyên viên", draft)
	if code != 0 {
		t.Fatalf("import: %d %s", code, out)
	}
	leaderID := cliClient(t, data, "chu-tich", "leader", "000.00.00.H43", p.Leader.Cert)
	clerkID := cliClient(t, data, "van-thu", "clerk", "000.00.00.H43")
	// a draft is not issued
	if code, out := kysoExit(t, "docs", "issue", "1", "--data-dir", data, "--key", orgKey, "--chain", chain,
		"--seal", seal, "--as", clerkID, "--actor", "văn thư", "--trust", root); code != 1 || !strings.Contains(out, "approved") {
		t.Fatalf("issuing a draft: %d %s", code, out)
	}
	if code, out := kysoExit(t, "docs", "approve", "1", "--data-dir", data, "--key", leaderKey, "--chain", chain,
		"--image", sig, "--page", "1", "--rect", "300,100,480,160", "--as", leaderID, "--actor", "Chủ tịch", "--trust", root); code != 0 {
		t.Fatalf("approve: %d %s", code, out)
	}
	code, out = kysoExit(t, "docs", "issue", "1", "--data-dir", data, "--key", orgKey, "--chain", chain,
		"--seal", seal, "--seal-size", "60", "--as", clerkID, "--actor", "văn thư", "--trust", root)
	if code != 0 {
		t.Fatalf("issue: %d %s", code, out)
	}
	if !regexp.MustCompile(`01/UBND-VP\t000\.00\.00\.H43,\d{4}/\d{2}/\d{2},01/UBND-VP`).MatchString(out) {
		t.Errorf("issue printed %q", out)
	}
	ctx := context.Background()
	st, err := store.Open(ctx, store.Config{DSN: filepath.Join(data, "kyso.db"), BlobDir: filepath.Join(data, "blobs")})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	d, err := st.GetDocument(ctx, 1)
	if err != nil || d.Status != store.StatusIssued {
		t.Fatalf("document: %+v %v", d, err)
	}
	rc, err := st.OpenBlob(ctx, d.ContentSHA256)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	b.ReadFrom(rc)
	rc.Close()
	r, err := pdf.Open(bytes.NewReader(b.Bytes()), int64(b.Len()))
	if err != nil {
		t.Fatal(err)
	}
	if got := pdf.DecodeText(r.Dict(r.Trailer["Info"])["KysoIdentifier"].(pdf.String)); got != *d.Identifier {
		t.Errorf("/Info identifier %q, want %q", got, *d.Identifier)
	}
	rep, err := verify.VerifyPDF(ctx, bytes.NewReader(b.Bytes()), int64(b.Len()), "issued.pdf", verify.Options{Anchors: []*x509.Certificate{p.Root.Cert}})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Indication != verify.TotalPassed || len(rep.Signatures) != 2 {
		var txt bytes.Buffer
		rep.WriteText(&txt, verify.English)
		t.Fatalf("verify:\n%s", txt.String())
	} // the number and date on the page, where the draft left them blank
	if txt := testenv.PageText(t, b.Bytes()); !strings.Contains(txt, "Số: 01/UBND-VP") || !strings.Contains(txt, testenv.IssueDayMonth(time.Now())) {
		t.Errorf("pdftotext -layout of the issued page:\n%s", txt)
	}
}

// TestDocsFlowOpenErrors: docs issue and docs approve open their key, its certificates
// and the store the same way, and fail with the same exit codes: 1 for a key that does
// not open, 2 for a certificate file that holds none or a store configuration that is
// not valid (as every other docs command).
func TestDocsFlowOpenErrors(t *testing.T) {
	root := filepath.Join(testenv.TestPKIDir(), "root-ca.pem")
	data := t.TempDir()
	cases := []struct {
		name string
		args []string
		code int
		says string
	}{
		{"key does not open", []string{"--key", "softkey:path=" + filepath.Join(data, "absent.key")}, 1, "absent.key"},
		{"certificate file without a certificate", []string{"--key", demoKeyURI(), "--cert", os.DevNull}, 2, os.DevNull},
		{"store driver not valid", []string{"--key", demoKeyURI(), "--db-driver", "oracle"}, 2, `unknown store driver "oracle"`},
	}
	commands := map[string][]string{
		"issue":   {"docs", "issue", "1", "--actor", "văn thư", "--trust", root},
		"approve": {"docs", "approve", "1", "--actor", "Chủ tịch", "--trust", root},
	}
	for name, cmd := range commands {
		for _, c := range cases {
			t.Run(name+"/"+c.name, func(t *testing.T) {
				args := append(append(slices.Clone(cmd), "--data-dir", data), c.args...)
				if code, out := kysoExit(t, args...); code != c.code || !strings.Contains(out, c.says) {
					t.Errorf("exit %d, want %d saying %q:\n%s", code, c.code, c.says, out)
				}
			})
		}
	}
}

// cliClient makes an API client in the SQLite store of data and returns its id.
func cliClient(t *testing.T, data, name, role, agency string, certs ...*x509.Certificate) string {
	t.Helper()
	return storeClient(t, store.Config{DSN: filepath.Join(data, "kyso.db"), BlobDir: filepath.Join(data, "blobs")}, name, role, agency, certs...)
}
