package app

import (
	"context"
	"crypto/x509"
	"strconv"
	"testing"

	"github.com/kyso-vn/kyso/pkg/store"
)

// testClient is the client called name (made with role, the agency of the tests and
// the certificates bound to it, the first time it is asked for).
func testClient(t *testing.T, svc *Service, name string, role Role, certs ...*x509.Certificate) Principal {
	t.Helper()
	return testClientOf(t, svc, name, role, []string{agency}, "", certs...)
}

func testClientOf(t *testing.T, svc *Service, name string, role Role, agencies []string, clearance string, certs ...*x509.Certificate) Principal {
	t.Helper()
	ctx := context.Background()
	if c, err := svc.Store.ClientByName(ctx, name); err == nil {
		p, err := svc.ClientByID(ctx, strconv.FormatInt(c.ID, 10))
		if err != nil {
			t.Fatal(err)
		}
		p.Surface = SurfaceAPI
		return p
	}
	_, hash, err := store.NewAPIKey()
	if err != nil {
		t.Fatal(err)
	}
	p, err := svc.RegisterClient(ctx, Principal{Name: "test"}, NewClient{Name: name, Role: role, Agencies: agencies, Clearance: clearance, Certificates: certs}, hexOf(hash))
	if err != nil {
		t.Fatal(err)
	}
	p.Surface = SurfaceAPI
	return p
}

func hexOf(b [32]byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 64)
	for i, c := range b {
		out[2*i], out[2*i+1] = digits[c>>4], digits[c&15]
	}
	return string(out)
}
