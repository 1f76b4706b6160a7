package hsm_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	. "github.com/kyso-vn/kyso/hsm"
	"github.com/kyso-vn/kyso/hsm/hsmtest"
	"github.com/kyso-vn/kyso/internal/testenv"
)

// demoPKI writes a CA and a leaf for key into dir: key.pem (PKCS#8), leaf.pem, ca.pem
// and chain.pem (CA first, then leaf: files list certificates in any order).
func demoPKI(t *testing.T, dir string, key crypto.Signer) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	caT := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Demo CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caT, caT, caKey.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	leafT := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "Nguyễn Văn A"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment,
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafT, ca, key.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	certPEM := func(der ...[]byte) []byte {
		var out []byte
		for _, d := range der {
			out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: d})...)
		}
		return out
	}
	files := map[string][]byte{
		"key.pem":   pkcs8PEM(t, key),
		"leaf.pem":  certPEM(leafDER),
		"ca.pem":    certPEM(caDER),
		"chain.pem": certPEM(caDER, leafDER),
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

func TestSoftwareDemoKeyConformance(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	openssl := testenv.Tool(t, "openssl", "openssl")
	for name, key := range map[string]crypto.Signer{"rsa": rsaKey, "ec": ecKey} {
		dir := t.TempDir()
		demoPKI(t, dir, key)
		// PKCS#12 as x/crypto/pkcs12 reads it: 3DES and SHA-1 MAC (openssl's -legacy).
		p12 := filepath.Join(dir, "demo.p12")
		out, err := exec.Command(openssl, "pkcs12", "-export", "-inkey", filepath.Join(dir, "key.pem"),
			"-in", filepath.Join(dir, "leaf.pem"), "-certfile", filepath.Join(dir, "ca.pem"),
			"-keypbe", "PBE-SHA1-3DES", "-certpbe", "PBE-SHA1-3DES", "-macalg", "sha1",
			"-passout", "pass:demo-pass", "-out", p12).CombinedOutput()
		if err != nil {
			t.Fatalf("openssl pkcs12: %v\n%s", err, out)
		}
		uris := map[string]string{
			"pem+cert":  "softkey:path=" + filepath.Join(dir, "key.pem") + ";cert=" + filepath.Join(dir, "chain.pem"),
			"pem alone": "softkey:path=" + filepath.Join(dir, "key.pem"),
			"pkcs12":    "softkey:path=" + p12 + "?pin-value=demo-pass",
		}
		for form, uri := range uris {
			t.Run(name+"/"+form, func(t *testing.T) {
				hsmtest.RunConformance(t, func(t *testing.T) Key {
					k, err := Open(context.Background(), uri, Options{})
					if err != nil {
						t.Fatal(err)
					}
					return k
				})
				k, err := Open(context.Background(), uri, Options{})
				if err != nil {
					t.Fatal(err)
				}
				if form == "pem alone" {
					if k.Certificate() != nil {
						t.Fatal("certificate from nowhere")
					}
					return
				}
				if k.Certificate() == nil || k.Certificate().Subject.CommonName != "Nguyễn Văn A" ||
					len(k.Chain()) != 1 || k.Chain()[0].Subject.CommonName != "Demo CA" {
					t.Fatalf("certificate %v, chain %v", k.Certificate(), k.Chain())
				}
				if strings.Contains(k.(interface{ String() string }).String(), "demo-pass") {
					t.Fatal("String() shows the password")
				}
			})
		}
		t.Run(name+"/wrong password", func(t *testing.T) {
			_, err := Open(context.Background(), "softkey:path="+p12+"?pin-value=nope", Options{})
			if err == nil || strings.Contains(err.Error(), "nope") {
				t.Fatalf("err = %v", err)
			}
		})
	}
}

func TestSoftwareDemoKeyRefusals(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	other, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	demoPKI(t, dir, other)
	keyFile := filepath.Join(dir, "mine.pem")
	if err := os.WriteFile(keyFile, pkcs8PEM(t, key), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct{ name, uri, want string }{
		{"no key in file", "softkey:path=" + filepath.Join(dir, "leaf.pem"), "no unencrypted private key"},
		{"missing file", "softkey:path=" + filepath.Join(dir, "absent.pem"), "no such file"},
		{"unknown scheme", "file:" + keyFile, `scheme "file"`},
	}
	for _, tt := range tests {
		if _, err := Open(context.Background(), tt.uri, Options{}); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want %q", tt.name, err, tt.want)
		}
	}
	_, err = Open(context.Background(), "softkey:path="+keyFile+";cert="+filepath.Join(dir, "leaf.pem"), Options{})
	if err == nil || !strings.Contains(err.Error(), "none of the certificates given is the key's") {
		t.Errorf("key with a foreign certificate: err = %v", err)
	}
	if _, err := NewSoftwareDemoKey(key, &x509.Certificate{PublicKey: other.Public()}); err == nil {
		t.Error("NewSoftwareDemoKey took a certificate of another key")
	}
	sk, err := NewSoftwareDemoKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sk.SignContext(context.Background(), make([]byte, 20), crypto.SHA1); !errors.Is(err, ErrUnsupported) {
		t.Errorf("SHA-1: err = %v, want ErrUnsupported", err)
	}
}

func pkcs8PEM(t *testing.T, key crypto.Signer) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

func TestProviderClosesWhatItOpened(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	demoPKI(t, dir, key)
	p := NewProvider(Options{})
	k, err := p.Open(context.Background(), "softkey:path="+filepath.Join(dir, "key.pem")+";cert="+filepath.Join(dir, "chain.pem"))
	if err != nil {
		t.Fatal(err)
	}
	if k.Certificate() == nil {
		t.Fatal("no certificate")
	}
	if _, err := p.Open(context.Background(), "softkey:path="+filepath.Join(dir, "absent")); err == nil {
		t.Fatal("opened a missing file")
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Open(ctx, "softkey:path="+filepath.Join(dir, "key.pem"), Options{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("open with a cancelled context: %v", err)
	}
}
