package vntrust_test

import (
	"crypto/x509"
	"errors"
	"testing"
	"time"

	"github.com/kyso-vn/kyso/pkg/pki"
	"github.com/kyso-vn/kyso/pkg/pki/vntrust"
)

func entry(t *testing.T, fp string) *x509.Certificate {
	t.Helper()
	e, ok := vntrust.Find(fp)
	if !ok {
		t.Fatalf("%s is not in the list", fp)
	}
	return e.Certificate
}

// Ban Cơ yếu's G1 CAs and NEAC's MIC-era CAs are signed with SHA-1, which crypto/x509
// refuses: the builder finds their chains only for a verifier that judges algorithms
// itself (LegacySHA1), and judges their validity at the time asked like any chain.
func TestLegacySHA1Chains(t *testing.T) {
	anchors, err := vntrust.Anchors()
	if err != nil {
		t.Fatal(err)
	}
	store := pki.NewTrustStore(anchors...)
	for _, tc := range []struct {
		name, leaf, root string
		at               time.Time
	}{
		{"G1: Co quan chung thuc so Chinh phu", "75e969c0", "f7bc8905", time.Date(2018, 6, 1, 0, 0, 0, 0, time.UTC)},
		{"MIC: VNPT Certification Authority", "068927b4", "ca918d63", time.Date(2015, 1, 1, 0, 0, 0, 0, time.UTC)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			leaf := entry(t, tc.leaf)
			if !pki.SHA1Signed(leaf) {
				t.Fatalf("%s is not SHA-1 signed", tc.name)
			}
			if _, err := store.BuildChain(leaf, nil, tc.at, pki.ChainOptions{}); err == nil {
				t.Fatal("a SHA-1 chain was built without LegacySHA1")
			}
			if is := pki.Issuers(leaf, anchors); len(is) != 1 || !is[0].Equal(entry(t, tc.root)) {
				t.Errorf("Issuers: %d", len(is))
			}
			chains, err := store.BuildChain(leaf, nil, tc.at, pki.ChainOptions{LegacySHA1: true})
			if err != nil || len(chains) != 1 || len(chains[0]) != 2 || !chains[0][1].Equal(entry(t, tc.root)) {
				t.Fatalf("chains %v, err %v", chains, err)
			}
			// out of its validity: no chain, or with the fallback the chain and ErrExpired
			late := leaf.NotAfter.Add(24 * time.Hour)
			if _, err := store.BuildChain(leaf, nil, late, pki.ChainOptions{LegacySHA1: true}); err == nil {
				t.Error("a chain was valid after the certificate expired")
			}
			chains, err = store.BuildChain(leaf, nil, late, pki.ChainOptions{LegacySHA1: true, ValidityFallback: true})
			if len(chains) != 1 || !errors.Is(err, pki.ErrExpired) {
				t.Errorf("fallback: chains %d, err %v", len(chains), err)
			}
		})
	}
	// a SHA-1 link never makes a certificate its own anchor's equal: a certificate of
	// another PKI is not chained to these roots
	g2sub := entry(t, "d8cab7a4")
	if _, err := pki.NewTrustStore(entry(t, "f7bc8905")).BuildChain(g2sub, nil, time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), pki.ChainOptions{LegacySHA1: true}); err == nil {
		t.Error("the G2 state-bodies CA chained to the G1 root")
	}
}
