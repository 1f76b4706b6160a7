//go:build cgo

package hsm_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
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
	t.Run("sessions closed while 16 goroutines sign", func(t *testing.T) {
		h := testenv.NewSoftHSM(t, "closedbusy", testPIN)
		h.KeyPairGen(t, "EC:prime256v1", "k", "01")
		var logs logBuffer
		k := openKey(t, h.URI("k", "01"), logs.options())
		done := make(chan struct{})
		var verified, failed int
		go func() {
			defer close(done)
			verified, failed = hsmtest.SignConcurrently(t, k, 16, 50)
		}()
		time.Sleep(50 * time.Millisecond)
		if err := CloseAllSessions(k); err != nil {
			t.Fatal(err)
		}
		<-done
		if verified != 800 || failed != 0 {
			t.Fatalf("%d verified, %d failed; want 800 and 0", verified, failed)
		}
		if n := strings.Count(logs.String(), "recovering"); n == 0 {
			t.Fatalf("sessions were not lost mid-run (signing finished first?):\n%s", logs.String())
		} else {
			t.Logf("%d goroutines saw the loss and recovered", n)
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

func TestPKCS11WrongPIN(t *testing.T) {
	h := testenv.NewSoftHSM(t, "wrongpin", testPIN)
	h.KeyPairGen(t, "EC:prime256v1", "k", "01")
	wrong := strings.Replace(h.URI("k", "01"), "pin-value="+testPIN, "pin-value=0000-wrong", 1)

	if f := tokenInfo(t, h).Flags; f&(pkcs11.CKF_USER_PIN_COUNT_LOW|pkcs11.CKF_USER_PIN_FINAL_TRY|pkcs11.CKF_USER_PIN_LOCKED) != 0 {
		t.Fatalf("fresh token has PIN flags 0x%x", f)
	}
	before := LoginAttempts()
	_, err := OpenPKCS11(context.Background(), wrong, Options{})
	if !errors.Is(err, ErrPINIncorrect) || !strings.Contains(err.Error(), "refused the PIN") {
		t.Fatalf("err = %v, want ErrPINIncorrect saying the PIN was refused", err)
	}
	if n := LoginAttempts() - before; n != 1 {
		t.Fatalf("%d login attempts for one wrong PIN, want 1", n)
	}
	// SoftHSM2 keeps no retry counter: it sets CKF_USER_PIN_COUNT_LOW after a failed
	// login and clears it after a good one, and never sets FINAL_TRY or LOCKED. That
	// flag is the counter it has; one failed login sets it.
	f := tokenInfo(t, h).Flags
	if f&pkcs11.CKF_USER_PIN_COUNT_LOW == 0 || f&(pkcs11.CKF_USER_PIN_FINAL_TRY|pkcs11.CKF_USER_PIN_LOCKED) != 0 {
		t.Fatalf("after one wrong PIN token flags are 0x%x, want COUNT_LOW only", f)
	}

	k := openKey(t, h.URI("k", "01"), Options{})
	signAndVerify(t, k)
	if f := tokenInfo(t, h).Flags; f&pkcs11.CKF_USER_PIN_COUNT_LOW != 0 {
		t.Fatalf("good login left COUNT_LOW set (flags 0x%x)", f)
	}
	// With the token logged in, C_Login cannot check a PIN (it answers
	// CKR_USER_ALREADY_LOGGED_IN): the wrong PIN must still be refused, without a try.
	before = LoginAttempts()
	_, err = OpenPKCS11(context.Background(), wrong, Options{})
	if !errors.Is(err, ErrPINIncorrect) {
		t.Fatalf("wrong PIN accepted while the token is logged in: %v", err)
	}
	if n := LoginAttempts() - before; n != 0 {
		t.Fatalf("%d login attempts, want none", n)
	}
	signAndVerify(t, k)
}

func TestPKCS11NoPINInLogsErrorsOrStrings(t *testing.T) {
	const pin, badPIN = "PIN-9f3e71", "PIN-bad-6a2c"
	h := testenv.NewSoftHSM(t, "nopin", pin)
	h.KeyPairGen(t, "rsa:2048", "k", "01")
	var logs logBuffer
	opts := logs.options()
	var seen []string
	note := func(err error) {
		if err != nil {
			seen = append(seen, err.Error(), fmt.Sprintf("%+v %#v", err, err))
		}
	}
	bad := strings.Replace(h.URI("k", "01"), pin, badPIN, 1)
	_, err := OpenPKCS11(context.Background(), bad, opts)
	note(err)
	k := openKey(t, h.URI("k", "01"), opts)
	seen = append(seen, k.String(), fmt.Sprintf("%v %+v %s", k, k, k))
	_, err = OpenPKCS11(context.Background(), bad, opts)
	note(err)
	note(CloseAllSessions(k))
	signAndVerify(t, k)
	_, err = k.SignContext(context.Background(), []byte("short"), crypto.SHA256)
	note(err)
	u, err := ParsePKCS11URI(h.URI("k", "01"))
	note(err)
	seen = append(seen, u.String(), fmt.Sprintf("%v %+v %#v", u, *u, u), logs.String())
	_, err = ListObjects(context.Background(), bad, opts)
	note(err)
	_, err = GenerateKey(context.Background(), strings.Replace(bad, "object=k", "object=new", 1), KeySpec{Type: ECP256}, opts)
	note(err)
	if !strings.Contains(logs.String(), "recovering") || !strings.Contains(logs.String(), "refused the PIN") {
		t.Fatalf("the log lacks the events this test means to cover:\n%s", logs.String())
	}
	for _, s := range seen {
		if strings.Contains(s, pin) || strings.Contains(s, badPIN) {
			t.Errorf("PIN shown in: %s", s)
		}
	}
	t.Logf("%d strings and %d log bytes checked", len(seen), len(logs.String()))
}

func TestPKCS11AlwaysAuthenticate(t *testing.T) {
	h := testenv.NewSoftHSM(t, "alwaysauth", testPIN)
	for _, kt := range []KeyType{RSA2048, ECP256} {
		t.Run(string(kt), func(t *testing.T) {
			k, err := GenerateKey(context.Background(), h.URI("aa-"+string(kt), ""), KeySpec{Type: kt, AlwaysAuthenticate: true}, Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = k.Close() })
			if !k.AlwaysAuthenticate() {
				t.Fatal("CKA_ALWAYS_AUTHENTICATE not set on the generated key")
			}
			// The token enforces it: without the context-specific login it refuses.
			err = SignSkippingContextLogin(k, hsmtest.Digest(t, crypto.SHA256))
			if !errors.Is(err, pkcs11.Error(pkcs11.CKR_USER_NOT_LOGGED_IN)) {
				t.Fatalf("signing without the per-signature login: %v, want CKR_USER_NOT_LOGGED_IN", err)
			}
			before := LoginAttempts()
			for range 3 {
				signAndVerify(t, k)
			}
			if n := LoginAttempts() - before; n != 3 {
				t.Fatalf("%d logins for 3 signatures, want one context-specific login each", n)
			}
			if v, f := hsmtest.SignConcurrently(t, k, 4, 5); v != 20 || f != 0 {
				t.Fatalf("concurrent: %d verified, %d failed", v, f)
			}
		})
	}
}

func TestPKCS11WaitForSessionHonoursContext(t *testing.T) {
	h := testenv.NewSoftHSM(t, "wait", testPIN)
	h.KeyPairGen(t, "EC:prime256v1", "k", "01")
	k := openKey(t, h.URI("k", "01"), Options{MaxSessions: 1})
	give, err := Hold(k)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = k.SignContext(ctx, hsmtest.Digest(t, crypto.SHA256), crypto.SHA256)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want context.DeadlineExceeded", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("gave up after %v", d)
	}
	give()
	signAndVerify(t, k)
}

func TestPKCS11OpenRefusals(t *testing.T) {
	h := testenv.NewSoftHSM(t, "refusals", testPIN)
	h.KeyPairGen(t, "EC:prime256v1", "k", "01")
	h.KeyPairGen(t, "EC:prime256v1", "twin", "02")
	h.KeyPairGen(t, "EC:prime256v1", "twin", "03")
	other, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	h.ImportCert(t, selfSign(t, other, "not k").Raw, "k", "01")
	tests := []struct {
		name    string
		uri     string
		opts    Options
		target  error
		message string
	}{
		{"module not allowed", h.URI("k", "01"), Options{AllowedModules: []string{"/opt/hsm/libvendor.so"}}, ErrModuleNotAllowed, h.Module},
		{"module allowed", h.URI("nothing", ""), Options{AllowedModules: []string{h.Module}}, ErrKeyNotFound, `object="nothing"`},
		{"relative module", strings.Replace(h.URI("k", "01"), h.Module, "libsofthsm2.so", 1), Options{}, ErrBadURI, "not absolute"},
		{"no module", "pkcs11:token=refusals;object=k", Options{}, ErrBadURI, "no module-path"},
		{"no such token", strings.Replace(h.URI("k", "01"), "token=refusals", "token=absent", 1), Options{}, ErrTokenNotFound, `token="absent"`},
		{"ambiguous key", h.URI("twin", ""), Options{}, nil, "several objects match"},
		{"certificate of another key", h.URI("k", "01"), Options{}, nil, "does not match its certificate"},
		{"certificate type", strings.Replace(h.URI("k", "01"), "object=k", "object=k;type=cert", 1), Options{}, nil, "names no signing key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := OpenPKCS11(context.Background(), tt.uri, tt.opts)
			if err == nil {
				k.Close()
				t.Fatal("opened")
			}
			if tt.target != nil && !errors.Is(err, tt.target) || !strings.Contains(err.Error(), tt.message) {
				t.Fatalf("err = %v, want %v containing %q", err, tt.target, tt.message)
			}
		})
	}
	// The twins are told apart by id.
	signAndVerify(t, openKey(t, h.URI("twin", "03"), Options{}))
}

func TestPKCS11TokenAndKeySelection(t *testing.T) {
	h := testenv.NewSoftHSM(t, "first", testPIN)
	h.KeyPairGen(t, "EC:prime256v1", "k", "01")
	h.KeyPairGen(t, "EC:prime256v1", "j", "02")
	h.Util(t, "--init-token", "--free", "--label", "second", "--pin", testPIN, "--so-pin", h.SOPIN)
	serial := h.Serial(t)
	slot := tokenSlot(t, h)
	query := "?module-path=" + h.Module + "&pin-value=" + testPIN
	tests := []struct {
		name, uri, wantErr string
	}{
		{"label and id", "pkcs11:token=first;object=k;id=%01" + query, ""},
		{"label only", "pkcs11:token=first;object=k" + query, ""},
		{"id only", "pkcs11:token=first;id=%02" + query, ""},
		{"serial", "pkcs11:serial=" + serial + ";object=k" + query, ""},
		{"slot-id", fmt.Sprintf("pkcs11:slot-id=%d;object=k", slot) + query, ""},
		{"model and manufacturer", "pkcs11:token=first;manufacturer=SoftHSM%20project;model=SoftHSM%20v2;object=k" + query, ""},
		{"library", "pkcs11:token=first;library-manufacturer=SoftHSM;object=k" + query, ""},
		{"wrong library", "pkcs11:token=first;library-manufacturer=Thales;object=k" + query, "not what the URI names"},
		{"label and other serial", "pkcs11:token=first;serial=0000000000000000;object=k" + query, "no token matches"},
		{"two tokens", "pkcs11:object=k" + query, "2 tokens match"},
		{"label and id of two keys", "pkcs11:token=first;object=k;id=%02" + query, "no key matches"},
		{"two keys", "pkcs11:token=first" + query, "several objects match"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := OpenPKCS11(context.Background(), tt.uri, Options{})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer k.Close()
			signAndVerify(t, k)
		})
	}
}

// tokenSlot finds the token's slot id from outside the provider.
func tokenSlot(t *testing.T, h *testenv.SoftHSM) uint {
	t.Helper()
	p := pkcs11.New(h.Module)
	defer p.Destroy()
	if err := p.Initialize(); err != nil {
		t.Fatal(err)
	}
	defer p.Finalize()
	slots, err := p.GetSlotList(true)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range slots {
		if ti, err := p.GetTokenInfo(s); err == nil && ti.Label == h.Label {
			return s
		}
	}
	t.Fatalf("token %q not found", h.Label)
	return 0
}
