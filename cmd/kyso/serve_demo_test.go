package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kyso-vn/kyso/demo"
	"github.com/kyso-vn/kyso/hsm"
	"github.com/kyso-vn/kyso/internal/testenv"
)

// TestServeNoConfiguration: kyso serve with no configuration, outside a checkout,
// refuses with exit 2, says what it lacks and how to get a demo, and leaves the
// directory as it was (no ./kyso-data).
func TestServeNoConfiguration(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	var stdout, stderr bytes.Buffer
	err := serve(context.Background(), serveParams{
		env:    func(string) (string, bool) { return "", false },
		stdout: &stdout, stderr: &stderr,
		ready: func(net.Addr) { t.Error("kyso serve listened with no configuration") },
	})
	var ee *exitError
	if !errors.As(err, &ee) || ee.code != 2 {
		t.Fatalf("serve with no configuration: %v, want exit 2", err)
	}
	for _, want := range []string{"no signing key", "no trust anchors", "--config", "kyso serve --demo"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the refusal does not say %q:\n%s", want, err)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("the refusal left %d entries in the directory (%s…)", len(entries), entries[0].Name())
	}
}

// TestServeDemo: kyso serve --demo from an empty directory signs with the embedded
// demo key and verifies TOTAL_PASSED, the revocation answered by the CRLs the demo
// serves itself, and says DEMO in its log and its key listing.
func TestServeDemo(t *testing.T) {
	t.Chdir(t.TempDir())
	env := map[string]string{"KYSO_LISTEN": "127.0.0.1:0"}
	rs := &runningServer{stdout: &lockedBuffer{}, stderr: &lockedBuffer{}}
	addr := make(chan net.Addr, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- serve(ctx, serveParams{demo: true, env: func(k string) (string, bool) { v, ok := env[k]; return v, ok },
			stdout: rs.stdout, stderr: rs.stderr, ready: func(a net.Addr) { addr <- a }})
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	}()
	select {
	case a := <-addr:
		rs.base = "http://" + a.String()
	case err := <-done:
		t.Fatalf("serve --demo ended: %v\n%s", err, rs.stderr)
	case <-time.After(30 * time.Second):
		t.Fatal("serve --demo did not listen within 30 s")
	}
	admin := adminKeyLine.FindStringSubmatch(rs.stdout.String())
	if admin == nil {
		t.Fatalf("no admin key: %q", rs.stdout)
	}
	if log := rs.stderr.String(); !strings.Contains(log, "DEMO mode (--demo)") || !strings.Contains(log, "CRLs are served") {
		t.Errorf("the log does not say DEMO:\n%s", log)
	}
	resp, body := rs.call(t, "GET", "/v1/keys", admin[1], "", nil)
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"demo-org"`) || !strings.Contains(string(body), demo.Marker) {
		t.Errorf("keys: %d %s", resp.StatusCode, body)
	}
	draft, err := demo.File(demo.DraftPDF)
	if err != nil {
		t.Fatal(err)
	}
	resp, signed := rs.call(t, "POST", "/v1/sign?key=demo-org", admin[1], "application/pdf", bytes.NewReader(draft))
	if resp.StatusCode != 200 {
		t.Fatalf("sign: %d %s", resp.StatusCode, signed)
	}
	resp, body = rs.call(t, "POST", "/v1/verify", "", "application/pdf", bytes.NewReader(signed))
	var rep struct {
		Indication string
		Signatures []struct {
			Indication string
			Revocation struct{ Status, Source string }
		}
	}
	if err := json.Unmarshal(body, &rep); err != nil || resp.StatusCode != 200 {
		t.Fatalf("verify: %d %s", resp.StatusCode, body)
	}
	if rep.Indication != "TOTAL_PASSED" || len(rep.Signatures) != 1 || rep.Signatures[0].Revocation.Source != "crl" || rep.Signatures[0].Revocation.Status != "good" {
		t.Errorf("verify: %s", body)
	}
}

// TestVerifyDemoTrust: kyso verify with the test root as --trust takes revocation from
// the test PKI's built-in CRLs and says so; those CRLs are real data, so the revoked
// test certificate is found revoked, and a signature of another PKI gains nothing.
func TestVerifyDemoTrust(t *testing.T) {
	dir := t.TempDir()
	pki := testenv.TestPKIDir()
	in := filepath.Join(dir, "in.pdf")
	if err := os.WriteFile(in, testenv.OnePagePDF("demo"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		who      string
		code     int
		contains string
	}{
		{"org", 0, "good (crl)"},
		{"revoked", 3, "revoked (crl) 2025-06-01"},
	} {
		out := filepath.Join(dir, c.who+".pdf")
		key := "softkey:path=" + filepath.Join(pki, c.who+".key") + ";cert=" + filepath.Join(pki, c.who+".pem")
		if code, msg := kysoExit(t, "sign", "--key", key, "--chain", filepath.Join(pki, "chain.pem"), "-o", out, in); code != 0 {
			t.Fatalf("sign as %s: %d %s", c.who, code, msg)
		}
		code, msg := kysoExit(t, "verify", "--lang", "en", "--trust", filepath.Join(pki, "root-ca.pem"), out)
		if code != c.code || !strings.Contains(msg, c.contains) || !strings.Contains(msg, "DEMO") {
			t.Errorf("verify %s: exit %d, want %d with %q and DEMO:\n%s", c.who, code, c.code, c.contains, msg)
		}
		// Without the test root as trust the demo data is not used, and nothing is said.
		if code, msg := kysoExit(t, "verify", "--lang", "en", "--builtin-trust=false", out); code == 0 || strings.Contains(msg, "DEMO") {
			t.Errorf("verify %s with no demo trust: exit %d:\n%s", c.who, code, msg)
		}
	}
}

// TestDemoToken: kyso demo token makes a SoftHSM2 token whose three keys open from
// the URIs it prints, each with its certificate and the chain to the root; run again
// it prints the same lines and leaves the token alone.
func TestDemoToken(t *testing.T) {
	testenv.Tool(t, "softhsm2-util", "softhsm2")
	t.Setenv("SOFTHSM2_CONF", "") // makeDemoToken sets it for this process; restored after
	dir := filepath.Join(t.TempDir(), "token")
	var first bytes.Buffer
	if err := makeDemoToken(context.Background(), &first, dir); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(first.String(), "(demo PIN): "+demo.PIN) || strings.Contains(first.String(), "pin-value") {
		t.Errorf("the lines do not name the demo PIN, or put it in a URI:\n%s", first.String())
	}
	vars := map[string]string{}
	for _, l := range strings.Split(first.String(), "\n") {
		if k, v, ok := strings.Cut(l, "='"); ok && !strings.HasPrefix(l, "#") {
			vars[k] = strings.TrimSuffix(v, "'")
		}
	}
	for _, who := range demo.Identities {
		uri := vars[demoTokenVar[who.Name]]
		k, err := hsm.Open(context.Background(), uri, hsm.Options{})
		if err != nil {
			t.Fatalf("%s: %v", who.Name, err)
		}
		want, _ := demo.File(who.Name + ".pem")
		got := k.Certificate()
		if got == nil || !strings.Contains(string(want), "CERTIFICATE") || len(k.Chain()) != 2 || !bytes.Equal(k.Chain()[1].Raw, demo.Root().Raw) {
			t.Errorf("%s: certificate %v, chain of %d", who.Name, got != nil, len(k.Chain()))
		}
		if got != nil && !strings.Contains(got.Subject.CommonName, who.Agent) {
			t.Errorf("%s: the token's certificate is %q", who.Name, got.Subject.CommonName)
		}
		closeKey(k)
	}
	var again bytes.Buffer
	if err := makeDemoToken(context.Background(), &again, dir); err != nil || again.String() != first.String() {
		t.Errorf("second run: %v\n%s\nwant\n%s", err, again.String(), first.String())
	}
}

// TestDemoFiles: kyso demo files writes the samples and certificates, run again
// changes nothing, and a different file of the same name is left alone (exit 1).
func TestDemoFiles(t *testing.T) {
	dir := t.TempDir()
	if code, msg := kysoExit(t, "demo", "files", dir); code != 0 || !strings.Contains(msg, "written") {
		t.Fatalf("demo files: %d %s", code, msg)
	}
	for _, n := range []string{demo.DraftPDF, demo.SignatureImage, demo.SealImage, "root-ca.pem", "leader.pem"} {
		got, err := os.ReadFile(filepath.Join(dir, n))
		want, _ := demo.File(n)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s: %v", n, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "org.key")); err == nil {
		t.Error("demo files wrote a private key; the keys go to the demo token only")
	}
	if code, msg := kysoExit(t, "demo", "files", dir); code != 0 || !strings.Contains(msg, "already in") {
		t.Errorf("second run: %d %s", code, msg)
	}
	mine := filepath.Join(dir, demo.SealImage)
	if err := os.WriteFile(mine, []byte("my own seal"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, msg := kysoExit(t, "demo", "files", dir); code != 1 || !strings.Contains(msg, "not overwritten") {
		t.Errorf("over a different file: %d %s", code, msg)
	}
	if b, _ := os.ReadFile(mine); string(b) != "my own seal" {
		t.Error("the different file was overwritten")
	}
}
