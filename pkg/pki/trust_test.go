package pki_test

import (
	"crypto/x509"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/kyso-vn/kyso/internal/testpki"
	"github.com/kyso-vn/kyso/pkg/pki"
)

func TestBuildChain(t *testing.T) {
	p := committed(t)
	store := pki.NewTrustStore(p.Root.Cert)
	now := time.Now()
	during2023 := time.Date(2023, 6, 1, 0, 0, 0, 0, time.UTC)

	// An impostor hierarchy wearing the real names: a self-signed "root" with the real
	// root's subject, a "sub CA" with the real sub CA's subject, and a leaf under it.
	impostorRoot, err := testpki.SelfSigned(p.Root.Cert.Subject, testpki.ECDSAP256, testpki.CANotBefore, testpki.RootNotAfter)
	if err != nil {
		t.Fatal(err)
	}
	impostor := testpki.New(t, testpki.Options{RootKey: impostorRoot.Key, RootName: p.Root.Cert.Subject.CommonName,
		SubName: p.Sub.Cert.Subject.CommonName, KeyType: testpki.ECDSAP256})
	if string(impostor.Sub.Cert.RawSubject) != string(p.Sub.Cert.RawSubject) {
		t.Fatal("impostor sub CA does not wear the real sub CA's name; the test would prove nothing")
	}
	forgedLeader := impostor.Issue(t, testpki.Spec{Kind: testpki.Personal, Subject: p.Leader.Cert.Subject})
	otherStore := pki.NewTrustStore(testpki.New(t).Root.Cert)

	tests := []struct {
		name          string
		store         *pki.TrustStore
		leaf          *x509.Certificate
		intermediates []*x509.Certificate
		at            time.Time
		opts          pki.ChainOptions
		wantErr       error
	}{
		{"test chain", store, p.Leader.Cert, []*x509.Certificate{p.Sub.Cert}, now, pki.ChainOptions{KeyUsageAnyOf: pki.SignatureKeyUsage}, nil},
		{"document also carries the root", store, p.Org.Cert, []*x509.Certificate{p.Root.Cert, p.Sub.Cert}, now, pki.ChainOptions{}, nil},
		{"ECDSA leaf", store, p.PersonalEC.Cert, []*x509.Certificate{p.Sub.Cert}, now, pki.ChainOptions{}, nil},
		{"TSA for timestamping", store, p.TSA.Cert, []*x509.Certificate{p.Sub.Cert}, now,
			pki.ChainOptions{TimeStamping: true, ExtKeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageTimeStamping}}, nil},
		{"leaf under an impostor root carrying the real intermediate", store, forgedLeader.Cert,
			[]*x509.Certificate{impostor.Sub.Cert, impostor.Root.Cert, p.Sub.Cert, p.Root.Cert}, now, pki.ChainOptions{}, pki.ErrNoChain},
		// Control: the same certificates do form a chain when the impostor is trusted,
		// so the refusal above comes from the anchors, not from a broken chain.
		{"impostor chain to its own root", pki.NewTrustStore(impostor.Root.Cert), forgedLeader.Cert,
			[]*x509.Certificate{impostor.Sub.Cert, p.Sub.Cert}, now, pki.ChainOptions{}, nil},
		{"self-signed impostor root as the signer, real intermediate carried", store, impostorRoot.Cert,
			[]*x509.Certificate{p.Sub.Cert, p.Root.Cert}, now, pki.ChainOptions{}, pki.ErrNoChain},
		{"real chain, but its root is not configured", otherStore, p.Leader.Cert,
			[]*x509.Certificate{p.Sub.Cert, p.Root.Cert}, now, pki.ChainOptions{}, pki.ErrNoChain},
		{"intermediate missing", store, p.Leader.Cert, nil, now, pki.ChainOptions{}, pki.ErrNoChain},
		{"expired now", store, p.Expired.Cert, []*x509.Certificate{p.Sub.Cert}, now, pki.ChainOptions{}, pki.ErrExpired},
		{"expired, but valid at the signing time", store, p.Expired.Cert, []*x509.Certificate{p.Sub.Cert}, during2023, pki.ChainOptions{}, nil},
		{"not yet valid", store, p.Leader.Cert, []*x509.Certificate{p.Sub.Cert}, during2023, pki.ChainOptions{}, pki.ErrNotYetValid},
		{"CA certificate as a signer", store, p.Sub.Cert, nil, now, pki.ChainOptions{KeyUsageAnyOf: pki.SignatureKeyUsage}, pki.ErrKeyUsage},
		{"personal certificate as a TSA", store, p.Leader.Cert, []*x509.Certificate{p.Sub.Cert}, now, pki.ChainOptions{TimeStamping: true}, pki.ErrKeyUsage},
		{"TSA certificate for code signing", store, p.TSA.Cert, []*x509.Certificate{p.Sub.Cert}, now,
			pki.ChainOptions{ExtKeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning}}, pki.ErrKeyUsage},
		{"no validation time", store, p.Leader.Cert, []*x509.Certificate{p.Sub.Cert}, time.Time{}, pki.ChainOptions{}, pki.ErrNoChain},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			chains, err := tt.store.BuildChain(tt.leaf, tt.intermediates, tt.at, tt.opts)
			if tt.wantErr != nil {
				var ce *pki.ChainError
				if !errors.Is(err, tt.wantErr) || !errors.As(err, &ce) {
					t.Fatalf("err = %v, chains %d; want %v", err, len(chains), tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, chain := range chains {
				if !chain[0].Equal(tt.leaf) || !tt.store.IsAnchor(chain[len(chain)-1]) {
					t.Errorf("chain does not run from the leaf to an anchor: %d certificates", len(chain))
				}
			}
			if len(chains) != 1 || len(chains[0]) != 3 {
				t.Errorf("got %d chains, first of %d; want 1 of 3 (leaf, sub CA, root)", len(chains), len(chains[0]))
			}
		})
	}
}

func TestLoadTrustStore(t *testing.T) {
	p := committed(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "neac.der"), p.Root.Cert.Raw, 0o644); err != nil {
		t.Fatal(err)
	}
	pemRoot, err := os.ReadFile(p.Path(testpki.FileRootCA))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "neac.pem"), pemRoot, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "README.txt"), []byte("ignored"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		paths   []string
		anchors int
	}{
		{"directory, duplicates folded", []string{dir}, 1},
		{"PEM file with two certificates", []string{p.Path(testpki.FileChain)}, 2},
		{"DER file", []string{filepath.Join(dir, "neac.der")}, 1},
		{"missing path", []string{filepath.Join(dir, "absent.pem")}, -1},
		{"file without certificates", []string{filepath.Join(dir, "README.txt")}, -1},
		{"empty directory", []string{t.TempDir()}, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := pki.LoadTrustStore(tt.paths...)
			if tt.anchors < 0 {
				if err == nil {
					t.Fatalf("loaded %d anchors, want an error", len(s.Anchors()))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(s.Anchors()) != tt.anchors || !s.IsAnchor(p.Root.Cert) {
				t.Errorf("%d anchors, want %d including the root", len(s.Anchors()), tt.anchors)
			}
		})
	}
}
