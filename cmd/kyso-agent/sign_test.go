package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kyso-vn/kyso/internal/testenv"
	"github.com/kyso-vn/kyso/internal/testpki"
	"github.com/kyso-vn/kyso/pkg/pki"
	"github.com/kyso-vn/kyso/pkg/pki/pkitest"
	"github.com/kyso-vn/kyso/signer/verify"
)

// signCase runs kyso-agent with args and stdin, and returns its exit code and
// everything it said.
func signCase(t *testing.T, stdin string, args ...string) (int, string) {
	t.Helper()
	stdout, stderr, err := run(t, stdin, args...)
	code := 0
	var ee *exitError
	switch {
	case errors.As(err, &ee):
		code = ee.code
	case err != nil:
		code = -1
	}
	msg := stdout + stderr
	if err != nil {
		msg += err.Error()
	}
	return code, msg
}

// verdict verifies a signed file with the test PKI's root as the only anchor, its
// revocation servers running: what a recipient sees.
func verdict(t *testing.T, p *testpki.TestPKI, path string) *verify.Report {
	t.Helper()
	services := pkitest.StartServices(t, p)
	signed, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := verify.VerifyPDF(context.Background(), bytes.NewReader(signed), int64(len(signed)), filepath.Base(path),
		verify.Options{Anchors: []*x509.Certificate{p.Root.Cert}, Revocation: &pki.Checker{RewriteURL: services.RewriteURL}})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// TestSignTwoCertificateToken: on the README's token — the leader's and the
// organisation's certificates with their keys, the sub CA, and an old expired
// certificate with its key — --token alone lists the two that can sign (in
// Vietnamese and English, with subjects and ids) without asking for the PIN;
// --cert-id picks one, whose signature verifies TOTAL_PASSED; the expired one is
// refused, saying so, before any PIN.
func TestSignTwoCertificateToken(t *testing.T) {
	p := testpki.Committed(t)
	tok := testenv.NewSoftHSM(t, "Nguyen Van A", pin)
	for _, k := range []struct {
		stem, id string
		cert     *testpki.Cert
	}{{"leader", "01", p.Leader}, {"org", "02", p.Org}, {"expired", "03", p.Expired}} {
		keyPEM, err := os.ReadFile(p.Path(k.stem + ".key"))
		if err != nil {
			t.Fatal(err)
		}
		tok.ImportKey(t, keyPEM, k.stem, k.id)
		tok.ImportCert(t, k.cert.Cert.Raw, k.stem, k.id)
	}
	tok.ImportCert(t, p.Sub.Cert.Raw, "sub-ca", "c0")
	dir := t.TempDir()
	pinFile := filepath.Join(dir, "pin")
	_ = os.WriteFile(pinFile, []byte(pin+"\n"), 0o600)
	in := filepath.Join(dir, "draft.pdf")
	_ = os.WriteFile(in, testenv.OnePagePDF("Công văn thử"), 0o644)
	base := func(out string, extra ...string) []string {
		return append([]string{"sign", in, "-o", out, "--module", tok.Module, "--token", "Nguyen Van A",
			"--chain", p.Path("root-ca.pem")}, extra...)
	}

	out := filepath.Join(dir, "ambiguous.pdf")
	code, msg := signCase(t, "", base(out)...) // no PIN anywhere: asking for it would be exit 2
	if code != 1 {
		t.Fatalf("--token alone: exit %d\n%s", code, msg)
	}
	for _, want := range []string{"--cert-id 01", "--cert-id 02", pki.DisplayName(p.Leader.Cert.Subject), pki.DisplayName(p.Org.Cert.Subject),
		"name one with --cert-id", "chọn một bằng --cert-id"} {
		if !strings.Contains(msg, want) {
			t.Errorf("the refusal does not say %q:\n%s", want, msg)
		}
	}
	if strings.Contains(msg, "--cert-id 03") {
		t.Errorf("the expired certificate is offered:\n%s", msg)
	}

	out = filepath.Join(dir, "expired.pdf")
	code, msg = signCase(t, "", base(out, "--cert-id", "03")...)
	if code != 1 || !strings.Contains(msg, "expired on 2023-12-31") || !strings.Contains(msg, "đã hết hạn ngày 31/12/2023") || strings.Contains(msg, "PIN") {
		t.Fatalf("the expired certificate: exit %d\n%s", code, msg)
	}
	if _, err := os.Stat(out); err == nil {
		t.Fatal("a refused signature left an output file")
	}

	out = filepath.Join(dir, "org.pdf")
	if code, msg := signCase(t, "", base(out, "--cert-id", "02", "--pin-source", pinFile)...); code != 0 {
		t.Fatalf("--cert-id 02: exit %d\n%s", code, msg)
	}
	rep := verdict(t, p, out)
	if rep.Indication != verify.TotalPassed || !strings.Contains(rep.Signatures[0].Signer.Subject, "organizationIdentifier=000.00.00.H43") {
		t.Fatalf("verify: %s, signer %s", rep.Indication, rep.Signatures[0].Signer.Subject)
	}
}

// TestSignEmbedsChain: a token holding only the leader's certificate and key. With
// no chain anywhere, kyso-agent sign refuses before the PIN, naming the missing
// issuer; with the chain file the configuration names, the signature carries the
// sub CA and a recipient with only the root as anchor gets TOTAL_PASSED.
func TestSignEmbedsChain(t *testing.T) {
	p := testpki.Committed(t)
	tok := testenv.NewSoftHSM(t, "Leaf only", pin)
	keyPEM, _ := os.ReadFile(p.Path("leader.key"))
	tok.ImportKey(t, keyPEM, "leader", "01")
	tok.ImportCert(t, p.Leader.Cert.Raw, "leader", "01")
	dir := t.TempDir()
	pinFile := filepath.Join(dir, "pin")
	_ = os.WriteFile(pinFile, []byte(pin+"\n"), 0o600)
	in := filepath.Join(dir, "draft.pdf")
	_ = os.WriteFile(in, testenv.OnePagePDF("Tờ trình"), 0o644)

	out := filepath.Join(dir, "nochain.pdf")
	code, msg := signCase(t, "", "sign", in, "-o", out, "--module", tok.Module)
	if code != 1 || !strings.Contains(msg, pki.DisplayName(p.Sub.Cert.Subject)) || !strings.Contains(msg, "thiếu chứng thư của nơi cấp") {
		t.Fatalf("no chain: exit %d\n%s", code, msg)
	}

	cfg := filepath.Join(dir, "agent.yaml")
	_ = os.WriteFile(cfg, []byte("modules: [{path: "+tok.Module+"}]\nchain_files: ["+p.Path("chain.pem")+"]\n"), 0o600)
	out = filepath.Join(dir, "signed.pdf")
	if code, msg := signCase(t, "", "sign", in, "-o", out, "--config", cfg, "--pin-source", pinFile); code != 0 {
		t.Fatalf("with chain_files: exit %d\n%s", code, msg)
	}
	if rep := verdict(t, p, out); rep.Indication != verify.TotalPassed {
		t.Fatalf("verify: %s %s", rep.Indication, rep.SubIndication)
	}
	// The token list warns of the missing issuer, and not once the chain file is named.
	if code, msg := signCase(t, "", "tokens", "--config", cfg); code != 0 || strings.Contains(msg, "⚠") {
		t.Fatalf("tokens with the chain file: exit %d\n%s", code, msg)
	}
	_ = os.WriteFile(cfg, []byte("modules: [{path: "+tok.Module+"}]\n"), 0o600)
	if code, msg := signCase(t, "", "tokens", "--config", cfg); code != 0 || !strings.Contains(msg, "⚠ Thiếu chứng thư của nơi cấp") || !strings.Contains(msg, "⚠ The issuer's certificate") {
		t.Fatalf("tokens without a chain: exit %d\n%s", code, msg)
	}
}
