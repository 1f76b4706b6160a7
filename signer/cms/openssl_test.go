package cms_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kyso-vn/kyso/internal/testenv"
	"github.com/kyso-vn/kyso/signer/cms"
)

func writePEM(t testing.TB, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

func runOpenSSL(t testing.TB, args ...string) ([]byte, error) {
	t.Helper()
	cmd := exec.Command(testenv.Tool(t, "openssl", "openssl"), args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.Bytes(), err
}

// TestOpenSSLVerifiesOurs: `openssl cms -verify` accepts our detached signatures, and
// rejects them once the content changes (so the check can fail).
func TestOpenSSLVerifiesOurs(t *testing.T) {
	for _, tc := range []struct {
		kind    string
		hash    crypto.Hash
		pss     bool
		profile cms.Profile
	}{
		{"RSA-2048", crypto.SHA256, false, cms.ProfileCAdES},
		{"RSA-3072", crypto.SHA384, true, cms.ProfilePAdES},
		{"P-256", crypto.SHA256, false, cms.ProfileCAdES},
		{"P-384", crypto.SHA512, false, cms.ProfilePAdES},
	} {
		t.Run(tc.kind, func(t *testing.T) {
			dir := t.TempDir()
			p := newPKI(t, tc.kind)
			tsa := newTSA(t, p, "P-256")
			content := []byte("Ủy ban nhân dân tỉnh Ninh Thuận\n")
			der, err := cms.SignWithTimestamp(context.Background(), p.leafKey, spec(p, tc.hash, tc.pss, tc.profile), digestOf(tc.hash, content), tsa)
			if err != nil {
				t.Fatal(err)
			}
			sig, file, root := filepath.Join(dir, "f.p7s"), filepath.Join(dir, "f.txt"), filepath.Join(dir, "root.pem")
			os.WriteFile(sig, der, 0o600)
			os.WriteFile(file, content, 0o600)
			writePEM(t, root, "CERTIFICATE", p.root.Raw)
			args := []string{"cms", "-verify", "-binary", "-inform", "DER", "-in", sig, "-content", file, "-CAfile", root, "-purpose", "any", "-out", os.DevNull}
			if out, err := runOpenSSL(t, args...); err != nil || !strings.Contains(string(out), "Verification successful") {
				t.Fatalf("openssl refused our CMS: %v\n%s", err, out)
			}
			os.WriteFile(file, append(content, '!'), 0o600)
			if out, err := runOpenSSL(t, args...); err == nil {
				t.Fatalf("openssl accepted changed content:\n%s", out)
			}
		})
	}
}

// TestWeVerifyOpenSSL: signatures made by openssl — with attributes, without
// (-noattr: the digest signed directly), streamed BER (-stream), PSS — verify here.
func TestWeVerifyOpenSSL(t *testing.T) {
	dir := t.TempDir()
	content := []byte("văn bản do OpenSSL ký\n")
	file := filepath.Join(dir, "content.txt")
	os.WriteFile(file, content, 0o600)
	for _, tc := range []struct {
		name     string
		kind     string
		args     []string
		attached bool
		attrs    bool
		weak     string // an algorithm refused by policy: intact, yet never valid
	}{
		{"RSA attrs", "RSA-2048", []string{"-md", "sha256"}, false, true, ""},
		{"RSA no attrs", "RSA-2048", []string{"-md", "sha256", "-noattr"}, false, false, ""},
		{"RSA PSS", "RSA-2048", []string{"-md", "sha384", "-keyopt", "rsa_padding_mode:pss"}, false, true, ""},
		{"ECDSA no attrs", "P-256", []string{"-md", "sha256", "-noattr"}, false, false, ""},
		{"ECDSA streamed BER", "P-384", []string{"-md", "sha384", "-stream", "-nodetach"}, true, true, ""},
		{"ECDSA signer named by key identifier", "P-256", []string{"-md", "sha256", "-keyid"}, false, true, ""},
		{"RSA SHA-1", "RSA-2048", []string{"-md", "sha1"}, false, true, "SHA-1"},
		{"RSA-1024", "RSA-1024", []string{"-md", "sha256"}, false, true, "RSA-1024"},
		{"ECDSA P-224", "P-224", []string{"-md", "sha256", "-noattr"}, false, false, "P-224"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newPKI(t, tc.kind)
			keyDER, err := x509.MarshalPKCS8PrivateKey(p.leafKey)
			if err != nil {
				t.Fatal(err)
			}
			cert, key, out := filepath.Join(dir, "leaf.pem"), filepath.Join(dir, "leaf.key"), filepath.Join(dir, "out.p7s")
			writePEM(t, cert, "CERTIFICATE", p.leaf.Raw)
			writePEM(t, key, "PRIVATE KEY", keyDER)
			args := append([]string{"cms", "-sign", "-binary", "-in", file, "-signer", cert, "-inkey", key, "-outform", "DER", "-out", out}, tc.args...)
			if msg, err := runOpenSSL(t, args...); err != nil {
				t.Fatalf("openssl cms -sign: %v\n%s", err, msg)
			}
			der, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			if ber := len(der) > 1 && der[1] == 0x80; ber != tc.attached {
				t.Fatalf("indefinite-length (BER) output = %v; the streamed case must exercise BER", ber)
			}
			sd, err := cms.Parse(der)
			if err != nil {
				t.Fatal(err)
			}
			if tc.attached != (sd.Content != nil) {
				t.Fatalf("attached = %v", sd.Content != nil)
			}
			if tc.attached && !bytes.Equal(sd.Content, content) {
				t.Fatalf("content %q", sd.Content)
			}
			res, err := sd.VerifyContent(bytes.NewReader(content))
			if tc.weak != "" {
				var ae *cms.AlgorithmError
				if !errors.As(err, &ae) || !ae.Verified || !strings.Contains(ae.Algorithm, tc.weak) || res == nil {
					t.Fatalf("got %v, want an intact signature refused for %s", err, tc.weak)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(tc.name, "key identifier") && (sd.SignerInfos[0].SubjectKeyID == nil || sd.SignerInfos[0].SerialNumber != nil) {
				t.Errorf("signer identifier is not a subject key identifier")
			}
			if res.HasSignedAttrs != tc.attrs {
				t.Errorf("signed attributes present = %v, want %v", res.HasSignedAttrs, tc.attrs)
			}
			_, err = sd.VerifyContent(strings.NewReader("other"))
			want := cms.ErrDigestMismatch
			if !tc.attrs {
				want = cms.ErrSignatureInvalid // without attributes the digest is inside the signature
			}
			if !errors.Is(err, want) {
				t.Errorf("other content: %v, want %v", err, want)
			}
		})
	}
}
