package hsm_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"log/slog"
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"

	. "github.com/kyso-vn/kyso/hsm"
	"github.com/kyso-vn/kyso/hsm/hsmtest"
	"github.com/kyso-vn/kyso/internal/testenv"
	"github.com/miekg/pkcs11"
)

const testPIN = "7391-pin"

// openKey opens uri and closes the key when the test ends.
func openKey(t *testing.T, uri string, opts Options) *PKCS11Key {
	t.Helper()
	k, err := OpenPKCS11(context.Background(), uri, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k.Close() })
	return k
}

// selfSign makes a self-signed certificate for k, signed by k itself.
func selfSign(t *testing.T, k crypto.Signer, cn string) *x509.Certificate {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, k.Public(), k)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestPKCS11Conformance(t *testing.T) {
	h := testenv.NewSoftHSM(t, "conformance", testPIN)
	h.KeyPairGen(t, "rsa:2048", "rsa", "01")
	h.KeyPairGen(t, "EC:prime256v1", "ec256", "02")
	h.KeyPairGen(t, "EC:secp384r1", "ec384", "03")
	// The RSA key gets a certificate made by the key itself through our provider.
	func() {
		k, err := OpenPKCS11(context.Background(), h.URI("rsa", "01"), Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer k.Close()
		h.ImportCert(t, selfSign(t, k, "conformance rsa").Raw, "rsa", "01")
	}()
	for _, key := range []struct{ label, id string }{{"rsa", "01"}, {"ec256", "02"}, {"ec384", "03"}} {
		t.Run(key.label, func(t *testing.T) {
			hsmtest.RunConformance(t, func(t *testing.T) Key {
				return openKey(t, h.URI(key.label, key.id), Options{})
			})
		})
	}
	if c := openKey(t, h.URI("rsa", ""), Options{}).Certificate(); c == nil || c.Subject.CommonName != "conformance rsa" {
		t.Fatalf("RSA key's certificate not found: %v", c)
	}
}

// tokenInfo reads the token's info from outside the provider, with a context of its
// own on the same module (sharing the provider's initialisation if it has one).
func tokenInfo(t *testing.T, h *testenv.SoftHSM) pkcs11.TokenInfo {
	t.Helper()
	p := pkcs11.New(h.Module)
	if p == nil {
		t.Fatal("cannot load", h.Module)
	}
	defer p.Destroy()
	err := p.Initialize()
	if err == nil {
		defer p.Finalize()
	} else if !errors.Is(err, pkcs11.Error(pkcs11.CKR_CRYPTOKI_ALREADY_INITIALIZED)) {
		t.Fatal(err)
	}
	slots, err := p.GetSlotList(true)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range slots {
		ti, err := p.GetTokenInfo(s)
		if err == nil && ti.Label == h.Label {
			return ti
		}
	}
	t.Fatalf("token %q not found", h.Label)
	return pkcs11.TokenInfo{}
}

func TestPKCS11TwoThousandSignatures(t *testing.T) {
	h := testenv.NewSoftHSM(t, "load", testPIN)
	h.KeyPairGen(t, "rsa:2048", "signer", "0a")
	k := openKey(t, h.URI("signer", "0a"), Options{})
	start := time.Now()
	verified, failed := hsmtest.SignConcurrently(t, k, 16, 125)
	d := time.Since(start)
	t.Logf("16 goroutines: %d signatures verified, %d failed, in %v (%.0f/s)", verified, failed, d, float64(verified)/d.Seconds())
	if verified != 2000 || failed != 0 {
		t.Fatalf("%d verified, %d failed; want 2000 and 0", verified, failed)
	}
}

func signAndVerify(t *testing.T, k Key) {
	t.Helper()
	d := hsmtest.Digest(t, crypto.SHA256)
	sig, err := k.SignContext(context.Background(), d, crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	if err := hsmtest.Verify(k.Public(), d, sig, crypto.SHA256); err != nil {
		t.Fatal(err)
	}
}

// logBuffer collects a provider's log lines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *logBuffer) options() Options {
	return Options{Logger: slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug}))}
}

func pkcs8PEM(t *testing.T, key crypto.Signer) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

func TestPKCS11Recovery(t *testing.T) {
	t.Run("sessions closed under the provider", func(t *testing.T) {
		h := testenv.NewSoftHSM(t, "closed", testPIN)
		h.KeyPairGen(t, "EC:prime256v1", "k", "01")
		var logs logBuffer
		k := openKey(t, h.URI("k", "01"), logs.options())
		signAndVerify(t, k)
		if err := CloseAllSessions(k); err != nil {
			t.Fatal(err)
		}
		signAndVerify(t, k)
		signAndVerify(t, k)
		if !strings.Contains(logs.String(), "recovering") {
			t.Fatalf("no recovery logged:\n%s", logs.String())
		}
	})
	t.Run("token deleted and created again", func(t *testing.T) {
		h := testenv.NewSoftHSM(t, "recreated", testPIN)
		key, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		h.ImportKey(t, pkcs8PEM(t, key), "k", "01")
		var logs logBuffer
		k := openKey(t, h.URI("k", "01"), logs.options())
		signAndVerify(t, k)
		serial := h.Serial(t)
		h.DeleteToken(t)
		h.InitToken(t)
		h.ImportKey(t, pkcs8PEM(t, key), "k", "01")
		if s := h.Serial(t); s == serial {
			t.Fatalf("token serial %s unchanged: not a new token", s)
		}
		signAndVerify(t, k)
		signAndVerify(t, k)
		t.Logf("log:\n%s", logs.String())
	})
	t.Run("token created again with another key", func(t *testing.T) {
		h := testenv.NewSoftHSM(t, "swapped", testPIN)
		h.KeyPairGen(t, "EC:prime256v1", "k", "01")
		k := openKey(t, h.URI("k", "01"), Options{})
		signAndVerify(t, k)
		h.DeleteToken(t)
		h.InitToken(t)
		h.KeyPairGen(t, "EC:prime256v1", "k", "01")
		_, err := k.SignContext(context.Background(), hsmtest.Digest(t, crypto.SHA256), crypto.SHA256)
		if err == nil || !strings.Contains(err.Error(), "public key changed") {
			t.Fatalf("signed with a different key on the new token, or failed oddly: %v", err)
		}
	})
}
