package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kyso-vn/kyso/internal/testenv"
	"github.com/kyso-vn/kyso/internal/testpki"
	"github.com/kyso-vn/kyso/pkg/pki"
	"github.com/kyso-vn/kyso/pkg/pki/pkitest"
	"github.com/kyso-vn/kyso/signer/verify"
)

const pin = "kx7-PIN-9217"

func run(t *testing.T, stdin string, args ...string) (string, string, error) {
	t.Helper()
	cmd := newRootCmd()
	var out, errOut bytes.Buffer
	cmd.SetArgs(args)
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SetIn(strings.NewReader(stdin))
	err := cmd.ExecuteContext(context.Background())
	return out.String(), errOut.String(), err
}

// TestSignOffline: kyso-agent sign signs a PDF with the certificate on the token, the
// PIN from a file or from standard input; the result verifies TOTAL_PASSED and
// poppler's pdfsig finds the signature valid; a wrong PIN is exit code 1 and its
// message does not hold the PIN.
func TestSignOffline(t *testing.T) {
	p, err := testpki.Load(testenv.TestPKIDir())
	if err != nil {
		t.Fatal(err)
	}
	tok := testenv.NewSoftHSM(t, "Nguyen Van A", pin)
	keyPEM, _ := os.ReadFile(p.Path("leader.key"))
	tok.ImportKey(t, keyPEM, "leader", "01")
	tok.ImportCert(t, p.Leader.Cert.Raw, "leader", "01")
	tok.ImportCert(t, p.Sub.Cert.Raw, "sub-ca", "c0")
	services := pkitest.StartServices(t, p)
	vopts := verify.Options{Anchors: []*x509.Certificate{p.Root.Cert}, Revocation: &pki.Checker{RewriteURL: services.RewriteURL}}
	in := filepath.Join(testenv.CorpusDir(t), "plain/lo-writer-trivial.pdf")
	dir := t.TempDir()
	pinFile := filepath.Join(dir, "pin")
	_ = os.WriteFile(pinFile, []byte(pin+"\n"), 0o600)
	wrongFile := filepath.Join(dir, "wrong")
	_ = os.WriteFile(wrongFile, []byte("000000\n"), 0o600)

	cases := []struct {
		name  string
		stdin string
		args  []string
		code  int
	}{
		{"pin source", "", []string{"--pin-source", pinFile, "--reason", "Phê duyệt"}, 0},
		{"pin on stdin", pin + "\n", []string{"--cert-id", "01"}, 0},
		{"wrong pin", "", []string{"--pin-source", wrongFile}, 1},
		{"no such token", "", []string{"--pin-source", pinFile, "--token", "other"}, 1},
		{"no such certificate", "", []string{"--pin-source", pinFile, "--cert-id", "09"}, 1},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out := filepath.Join(dir, "signed"+string(rune('a'+i))+".pdf")
			// The token carries the sub CA; the root comes from a chain file.
			root := p.Path("root-ca.pem")
			args := append([]string{"sign", in, "-o", out, "--module", tok.Module, "--token", "Nguyen Van A", "--chain", root}, c.args...)
			if c.name == "no such token" {
				args = append([]string{"sign", in, "-o", out, "--module", tok.Module, "--chain", root}, c.args...)
			}
			stdout, stderr, err := run(t, c.stdin, args...)
			code := 0
			var ee *exitError
			if errors.As(err, &ee) {
				code = ee.code
			} else if err != nil {
				code = -1
			}
			if code != c.code {
				t.Fatalf("exit %d (%v), want %d\n%s%s", code, err, c.code, stdout, stderr)
			}
			if err != nil {
				if strings.Contains(err.Error(), pin) || strings.Contains(err.Error(), "000000") {
					t.Fatalf("the error shows a PIN: %v", err)
				}
				if _, serr := os.Stat(out); serr == nil {
					t.Fatal("a failed signature left an output file")
				}
				return
			}
			signed, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			rep, err := verify.VerifyPDF(context.Background(), bytes.NewReader(signed), int64(len(signed)), "signed.pdf", vopts)
			if err != nil {
				t.Fatal(err)
			}
			if rep.Indication != verify.TotalPassed {
				t.Fatalf("verify: %s", rep.Indication)
			}
			pdfsig := testenv.Tool(t, "pdfsig", "poppler-utils")
			res, _ := exec.Command(pdfsig, out).CombinedOutput()
			if !strings.Contains(string(res), "Signature Validation: Signature is Valid.") {
				t.Fatalf("pdfsig:\n%s", res)
			}
		})
	}
}

// TestHelp: the help of the agent and of its commands carries examples.
func TestHelp(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"sign", "--help"}, {"serve", "--help"}, {"tokens", "--help"}, {"install", "--help"}, {"uninstall", "--help"}} {
		out, _, err := run(t, "", args...)
		if err != nil || !strings.Contains(out, "Examples:") || !strings.Contains(out, "kyso-agent") {
			t.Errorf("%v: %v\n%s", args, err, out)
		}
	}
}

// TestSystemdUnit: the user unit passes systemd-analyze verify.
func TestSystemdUnit(t *testing.T) {
	tool := testenv.Tool(t, "systemd-analyze", "systemd")
	unit, err := os.ReadFile("kyso-agent.service")
	if err != nil {
		t.Fatal(err)
	}
	self, _ := os.Executable()
	// ExecStart must name an executable that exists; the test binary stands in.
	fixed := strings.ReplaceAll(string(unit), "%h/.local/bin/kyso-agent", self)
	path := filepath.Join(t.TempDir(), "kyso-agent.service")
	_ = os.WriteFile(path, []byte(fixed), 0o644)
	if out, err := exec.Command(tool, "verify", path).CombinedOutput(); err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
}

// TestServe: "kyso-agent serve" answers on loopback with its page and refuses an
// origin not on the allow-list; a second one on the same address ends quietly; the
// first stops cleanly when its context ends.
func TestServe(t *testing.T) {
	tok := testenv.NewSoftHSM(t, "Nguyen Van A", pin)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cfg := filepath.Join(t.TempDir(), "config.yaml")
	_ = os.WriteFile(cfg, []byte("modules:\n  - path: "+tok.Module+"\nallowed_origins: [\"https://kyso.example.vn\"]\n"), 0o600)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		cmd := newRootCmd()
		cmd.SetArgs([]string{"serve", "--config", cfg, "--listen", addr})
		cmd.SetOut(io.Discard)
		done <- cmd.ExecuteContext(ctx)
	}()
	var page string
	for i := 0; ; i++ {
		resp, err := http.Get("http://" + addr + "/?lang=en")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			page = string(b)
			break
		}
		if i > 100 {
			t.Fatalf("the agent does not answer: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.Contains(page, "Signing tokens") {
		t.Fatalf("page:\n%s", page)
	}
	req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/api/tokens", nil)
	req.Header.Set("Origin", "https://evil.example")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("other origin: %s %v", resp.Status, resp.Header)
	}
	// Started a second time (autostart entry and systemd unit): it leaves the first
	// serving and ends without an error.
	second := newRootCmd()
	second.SetArgs([]string{"serve", "--config", cfg, "--listen", addr})
	second.SetOut(io.Discard)
	second.SetErr(io.Discard)
	if err := second.ExecuteContext(context.Background()); err != nil {
		t.Fatalf("a second serve: %v", err)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve does not stop")
	}
}
