package remotetest

import (
	"context"
	"os"
	"testing"

	"github.com/kyso-vn/kyso/hsm"
	"github.com/kyso-vn/kyso/internal/testenv"
	"github.com/kyso-vn/kyso/internal/testpki"
)

// SIMPIN is the user PIN of the token SIMHolder makes.
const SIMPIN = "4711-sim"

// SIMHolder puts the test PKI's SIM key and certificate on a new SoftHSM2 token (the
// holder's SIM card) and opens the key, closed when the test ends. The token is
// returned for tests that put more keys on it.
func SIMHolder(t testing.TB, p *testpki.TestPKI) (hsm.Key, *testenv.SoftHSM) {
	t.Helper()
	h := testenv.NewSoftHSM(t, "sim", SIMPIN)
	keyPEM, err := os.ReadFile(p.Path("sim.key"))
	if err != nil {
		t.Fatal(err)
	}
	h.ImportKey(t, keyPEM, "sim", "01")
	h.ImportCert(t, p.SIM.Cert.Raw, "sim", "01")
	k, err := hsm.OpenPKCS11(context.Background(), h.URI("sim", "01"), hsm.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k.Close() })
	return k, h
}
