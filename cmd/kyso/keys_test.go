//go:build cgo

package main

import (
	"crypto/x509"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/kyso-vn/kyso/internal/testenv"
)

// kyso runs the root command as the binary would and returns what it printed.
func kyso(t *testing.T, args ...string) (string, error) {
	t.Helper()
	out, errOut, err := runKyso(t, args...)
	return out + errOut, err
}

func TestKeysListGenerateCSR(t *testing.T) {
	const pin = "4826-pin"
	h := testenv.NewSoftHSM(t, "UBND Nghe An", pin)
	// Keys made outside Kyso, with pkcs11-tool.
	h.KeyPairGen(t, "rsa:2048", "lanh-dao", "01")
	h.KeyPairGen(t, "EC:prime256v1", "van-thu", "02")
	h.KeyPairGen(t, "EC:secp384r1", "con-dau", "0a0b")

	out, err := kyso(t, "keys", "list", h.URI("", ""))
	if err != nil {
		t.Fatalf("keys list: %v\n%s", err, out)
	}
	for _, want := range []string{
		`(?m)^lanh-dao\s+01\s+private key\s+RSA 2048$`,
		`(?m)^lanh-dao\s+01\s+public key\s+RSA 2048$`,
		`(?m)^van-thu\s+02\s+private key\s+EC P-256$`,
		`(?m)^van-thu\s+02\s+public key\s+EC P-256$`,
		`(?m)^con-dau\s+0a0b\s+private key\s+EC P-384$`,
	} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("keys list output lacks %s:\n%s", want, out)
		}
	}
	if n := strings.Count(strings.TrimSpace(out), "\n") + 1; n != 6 {
		t.Errorf("keys list printed %d lines for 6 objects:\n%s", n, out)
	}
	// Without the PIN only the public objects show.
	noPIN := strings.Replace(h.URI("", ""), "&pin-value="+pin, "", 1)
	out, err = kyso(t, "keys", "list", noPIN)
	if err != nil || strings.Contains(out, "private key") || !strings.Contains(out, "public key") {
		t.Errorf("keys list without PIN: %v\n%s", err, out)
	}

	openssl := testenv.Tool(t, "openssl", "openssl")
	dir := t.TempDir()
	for _, kt := range []struct{ typ, label, id, want string }{
		{"p256", "new-ec", "10", "EC P-256"},
		{"rsa3072", "new-rsa", "11", "RSA 3072"},
	} {
		t.Run(kt.typ, func(t *testing.T) {
			uri := h.URI(kt.label, kt.id)
			out, err := kyso(t, "keys", "generate", uri, "--type", kt.typ)
			if err != nil {
				t.Fatalf("keys generate: %v\n%s", err, out)
			}
			if !regexp.MustCompile(`(?m)^` + kt.label + `\s+` + kt.id + `\s+private key\s+` + kt.want + `$`).MatchString(out) {
				t.Fatalf("keys generate output:\n%s", out)
			}
			if out, err := kyso(t, "keys", "generate", uri, "--type", kt.typ); err == nil {
				t.Fatalf("second generate with the same label and id succeeded:\n%s", out)
			}
			csr := filepath.Join(dir, kt.label+".csr")
			out, err = kyso(t, "keys", "csr", uri, "--subject", `CN=Nguyễn Văn A,O=UBND tỉnh Nghệ An\, Văn phòng,C=VN,UID=CCCD:001234567890`, "-o", csr)
			if err != nil {
				t.Fatalf("keys csr: %v\n%s", err, out)
			}
			verify, err := exec.Command(openssl, "req", "-verify", "-noout", "-in", csr).CombinedOutput()
			if err != nil || !strings.Contains(string(verify), "verify OK") {
				t.Fatalf("openssl req -verify: %v\n%s", err, verify)
			}
			data, _ := os.ReadFile(csr)
			b, _ := pem.Decode(data)
			req, err := x509.ParseCertificateRequest(b.Bytes)
			if err != nil {
				t.Fatal(err)
			}
			if req.Subject.CommonName != "Nguyễn Văn A" || req.Subject.Organization[0] != "UBND tỉnh Nghệ An, Văn phòng" {
				t.Fatalf("CSR subject %v", req.Subject)
			}
		})
	}
}

func TestKeysErrors(t *testing.T) {
	h := testenv.NewSoftHSM(t, "errors", "1111-pin")
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"keys", "list", "pkcs11:token=errors;vendor=x"}, `unknown path attribute "vendor"`},
		{[]string{"keys", "list", strings.Replace(h.URI("", ""), "1111-pin", "9999-bad", 1)}, "PIN incorrect"},
		{[]string{"keys", "generate", h.URI("k", "01"), "--type", "rsa1024"}, `"rsa1024" is not one of`},
		{[]string{"keys", "generate", h.URI("k", "01")}, `required flag(s) "type" not set`},
		{[]string{"keys", "csr", h.URI("k", "01"), "--subject", "CN=x,Q=y"}, `"Q" is not one of`},
		{[]string{"keys", "csr", h.URI("absent", ""), "--subject", "CN=x"}, "no key matches"},
	}
	for _, tt := range tests {
		out, err := kyso(t, tt.args...)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("kyso %s: err = %v, want %q\n%s", strings.Join(tt.args[:2], " "), err, tt.want, out)
		}
		if err != nil && (strings.Contains(err.Error(), "1111-pin") || strings.Contains(err.Error(), "9999-bad")) {
			t.Errorf("error shows a PIN: %v", err)
		}
	}
}

func TestKeysHelpHasExamples(t *testing.T) {
	for _, sub := range [][]string{{"keys"}, {"keys", "list"}, {"keys", "generate"}, {"keys", "csr"}} {
		out, err := kyso(t, append(sub, "--help")...)
		if err != nil || !strings.Contains(out, "Examples:") || !strings.Contains(out, "kyso "+strings.Join(sub, " ")) {
			t.Errorf("kyso %s --help: %v\n%s", strings.Join(sub, " "), err, out)
		}
	}
}
