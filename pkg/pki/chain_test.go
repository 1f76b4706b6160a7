package pki_test

import (
	"crypto/x509"
	"errors"
	"testing"
	"time"

	"github.com/kyso-vn/kyso/internal/testpki"
	"github.com/kyso-vn/kyso/pkg/pki"
)

// TestBuildChainValidityFallback: the verifier's time semantics are an option of the
// one builder. With ValidityFallback, a chain that exists only at another time comes
// back with the error for the time asked; without it, never.
func TestBuildChainValidityFallback(t *testing.T) {
	p := committed(t)
	store := pki.NewTrustStore(p.Root.Cert)
	now := time.Now()
	during2023 := time.Date(2023, 6, 1, 0, 0, 0, 0, time.UTC)
	inter := []*x509.Certificate{p.Sub.Cert}
	fallback := pki.ChainOptions{ValidityFallback: true}

	tests := []struct {
		name          string
		leaf          *x509.Certificate
		intermediates []*x509.Certificate
		at            time.Time
		opts          pki.ChainOptions
		wantErr       error
		wantChain     bool
	}{
		{"valid, fallback not needed", p.Leader.Cert, inter, now, fallback, nil, true},
		{"expired, fallback finds the chain", p.Expired.Cert, inter, now, fallback, pki.ErrExpired, true},
		{"expired, no fallback", p.Expired.Cert, inter, now, pki.ChainOptions{}, pki.ErrExpired, false},
		{"not yet valid, fallback finds the chain", p.Leader.Cert, inter, during2023, fallback, pki.ErrNotYetValid, true},
		{"no intermediate, nothing to fall back to", p.Expired.Cert, nil, now, fallback, pki.ErrExpired, false},
		{"no intermediate, valid leaf", p.Leader.Cert, nil, now, fallback, pki.ErrNoChain, false},
		{"the leaf among the intermediates is ignored", p.Leader.Cert, []*x509.Certificate{p.Leader.Cert, p.Sub.Cert}, now, pki.ChainOptions{}, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			chains, err := store.BuildChain(tt.leaf, tt.intermediates, tt.at, tt.opts)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if got := len(chains) > 0; got != tt.wantChain {
				t.Fatalf("%d chains; want a chain: %v", len(chains), tt.wantChain)
			}
			if tt.wantChain && (len(chains[0]) != 3 || !chains[0][0].Equal(tt.leaf) || !store.IsAnchor(chains[0][2])) {
				t.Errorf("chain of %d does not run leaf, sub CA, root", len(chains[0]))
			}
			if err != nil {
				var inv x509.CertificateInvalidError
				var unknown x509.UnknownAuthorityError
				if cause := pki.ChainCause(err); !errors.As(cause, &inv) && !errors.As(cause, &unknown) {
					t.Errorf("ChainCause = %T %v, want crypto/x509's error", cause, cause)
				}
			}
		})
	}
}

// TestIssuerPath: the anchorless ordering links by issuer name and signature, so a
// certificate wearing the issuer's name with another key is passed over.
func TestIssuerPath(t *testing.T) {
	p := committed(t)
	impostorRoot, err := testpki.SelfSigned(p.Root.Cert.Subject, testpki.ECDSAP256, testpki.CANotBefore, testpki.RootNotAfter)
	if err != nil {
		t.Fatal(err)
	}
	impostor := testpki.New(t, testpki.Options{RootKey: impostorRoot.Key, RootName: p.Root.Cert.Subject.CommonName,
		SubName: p.Sub.Cert.Subject.CommonName, KeyType: testpki.ECDSAP256})
	pool := []*x509.Certificate{impostor.Sub.Cert, p.Leader.Cert, p.Root.Cert, p.Org.Cert, p.Sub.Cert}

	names := func(path []*x509.Certificate) []string {
		var out []string
		for _, c := range path {
			out = append(out, c.Subject.CommonName)
		}
		return out
	}
	check := func(t *testing.T, got, want []*x509.Certificate) {
		t.Helper()
		if len(got) != len(want) {
			t.Fatalf("path %q, want %q", names(got), names(want))
		}
		for i := range got {
			if !got[i].Equal(want[i]) {
				t.Fatalf("path %q, want %q (certificate %d differs)", names(got), names(want), i)
			}
		}
	}
	t.Run("leaf to root, impostor passed over", func(t *testing.T) {
		check(t, pki.IssuerPath(p.Leader.Cert, pool), []*x509.Certificate{p.Leader.Cert, p.Sub.Cert, p.Root.Cert})
	})
	t.Run("stops at a missing issuer", func(t *testing.T) {
		check(t, pki.IssuerPath(p.Leader.Cert, []*x509.Certificate{p.Root.Cert}), []*x509.Certificate{p.Leader.Cert})
	})
	t.Run("a self-issued certificate is the end", func(t *testing.T) {
		check(t, pki.IssuerPath(p.Root.Cert, pool), []*x509.Certificate{p.Root.Cert})
	})
	t.Run("issuers", func(t *testing.T) {
		check(t, pki.Issuers(p.Leader.Cert, pool), []*x509.Certificate{p.Sub.Cert})
		check(t, pki.Issuers(impostor.Sub.Cert, pool), nil)
		check(t, pki.Issuers(p.Root.Cert, pool), []*x509.Certificate{p.Root.Cert}) // self-signed
	})
	t.Run("end-entity paths in pool order", func(t *testing.T) {
		paths := pki.EndEntityPaths(pool)
		if len(paths) != 2 {
			t.Fatalf("%d paths, want 2 (leader, organisation)", len(paths))
		}
		check(t, paths[0], []*x509.Certificate{p.Leader.Cert, p.Sub.Cert, p.Root.Cert})
		check(t, paths[1], []*x509.Certificate{p.Org.Cert, p.Sub.Cert, p.Root.Cert})
	})
}
