//go:build cgo

package hsm_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"

	. "github.com/kyso-vn/kyso/hsm"
	"github.com/kyso-vn/kyso/internal/testenv"
	"github.com/kyso-vn/kyso/pkg/fault"
)

// TestModuleTokensCertificatesAndKeys: what the desktop agent does through one module
// loader: list the tokens of an allowed module and the certificates on them without a
// PIN, open a key by token and CKA_ID with the PIN as a Secret, sign; see a token
// created after the module was loaded once it is initialised again. Refusals carry
// their fault kind and still match the package's sentinels.
func TestModuleTokensCertificatesAndKeys(t *testing.T) {
	h := testenv.NewSoftHSM(t, "agent token", testPIN)
	h.KeyPairGen(t, "EC:prime256v1", "leader", "01")
	k := openKey(t, h.URI("leader", "01"), Options{})
	cert := selfSign(t, k, "Nguyễn Văn A")
	old := selfSign(t, k, "Trần Thị B")
	k.Close()
	h.ImportCert(t, cert.Raw, "leader", "01")
	// A certificate with no key on the token (an old one kept, say).
	h.ImportCert(t, old.Raw, "old", "02")

	if _, err := OpenModule(h.Module, Options{AllowedModules: []string{"/opt/vendor/lib.so"}}); !errors.Is(err, ErrModuleNotAllowed) || fault.KindOf(err) != fault.Forbidden {
		t.Fatalf("a module off the allow-list: %v (kind %v)", err, fault.KindOf(err))
	}
	var logs bytes.Buffer
	m, err := OpenModule(h.Module, Options{AllowedModules: []string{h.Module}, GuardPINTries: true, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	toks, err := m.Tokens()
	if err != nil || len(toks) != 1 || toks[0].Label != "agent token" || toks[0].Serial == "" || toks[0].PINAtRisk() || toks[0].PINCountLow {
		t.Fatalf("tokens: %+v %v", toks, err)
	}
	tok := toks[0]
	certs, err := m.Certificates(tok.Slot)
	slices.SortFunc(certs, func(a, b CertObject) int { return bytes.Compare(a.ID, b.ID) })
	if err != nil || len(certs) != 2 || !certs[0].Cert.Equal(cert) || !bytes.Equal(certs[0].ID, []byte{1}) || certs[0].Label != "leader" {
		t.Fatalf("certificates: %+v %v", certs, err)
	}
	if !certs[0].KeyVisible || certs[1].KeyVisible {
		t.Fatalf("keys seen without login: leader %v, old %v; want true, false", certs[0].KeyVisible, certs[1].KeyVisible)
	}
	ref := KeyRef{Token: tok.Label, Serial: tok.Serial, ID: certs[0].ID}

	before := LoginAttempts()
	_, err = m.OpenKey(context.Background(), ref, NewSecret("0000-wrong"))
	if !errors.Is(err, ErrPINIncorrect) || fault.KindOf(err) != fault.Invalid || strings.Contains(err.Error(), "0000-wrong") {
		t.Fatalf("wrong PIN: %v (kind %v)", err, fault.KindOf(err))
	}
	if n := LoginAttempts() - before; n != 1 {
		t.Fatalf("%d logins for one wrong PIN", n)
	}
	if now, err := m.Token(tok.Slot); err != nil || !now.PINCountLow {
		t.Fatalf("after a wrong PIN the token says %+v %v; want COUNT_LOW", now, err)
	}
	if _, err := m.OpenKey(context.Background(), ref, Secret{}); !errors.Is(err, ErrPINIncorrect) || LoginAttempts()-before != 1 {
		t.Fatalf("an empty PIN reached the token or was not refused: %v", err)
	}
	missing := ref
	missing.ID = []byte{9}
	if _, err := m.OpenKey(context.Background(), missing, NewSecret(testPIN)); !errors.Is(err, ErrKeyNotFound) || fault.KindOf(err) != fault.NotFound {
		t.Fatalf("no such key: %v (kind %v)", err, fault.KindOf(err))
	}
	gone := ref
	gone.Serial = "no-such-serial"
	if _, err := m.OpenKey(context.Background(), gone, NewSecret(testPIN)); !errors.Is(err, ErrTokenNotFound) || fault.KindOf(err) != fault.Unavailable {
		t.Fatalf("no such token: %v (kind %v)", err, fault.KindOf(err))
	}

	key, err := m.OpenKey(context.Background(), ref, NewSecret(testPIN))
	if err != nil {
		t.Fatal(err)
	}
	if !key.Certificate().Equal(cert) {
		t.Fatal("the key's certificate is not the token's")
	}
	signAndVerify(t, key)
	if s := fmt.Sprint(key) + logs.String(); strings.Contains(s, testPIN) {
		t.Fatalf("the PIN is in the key's name or the log: %s", s)
	}
	// A key is open: re-initialising would log it out, so it does nothing.
	if err := m.Reinitialize(); err != nil {
		t.Fatal(err)
	}
	signAndVerify(t, key)
	key.Close()

	// A token made after the module was loaded shows after Reinitialize.
	h.Util(t, "--init-token", "--free", "--label", "second", "--pin", testPIN, "--so-pin", "so-"+testPIN)
	if err := m.Reinitialize(); err != nil {
		t.Fatal(err)
	}
	if toks, err := m.Tokens(); err != nil || len(toks) != 2 {
		t.Fatalf("after a second token was made: %+v %v", toks, err)
	}
}
