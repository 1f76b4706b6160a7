// Package hsmtest is the conformance suite every key provider of package hsm passes:
// signatures verify with the key's public key for each algorithm the key supports,
// signing is safe from many goroutines, and a cancelled context stops a signature.
//
// Test-only: imported by _test.go files. It must never import cmd/, api/ or signer/.
package hsmtest

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/kyso-vn/kyso/hsm"
)

// Algorithm is one signature scheme a key may support.
type Algorithm struct {
	Name string
	Opts crypto.SignerOpts
}

// AlgorithmsFor lists the schemes Kyso signs with for the key's type: PKCS#1 v1.5
// with SHA-256/384/512 and PSS for RSA, ECDSA with SHA-256/384 for EC.
func AlgorithmsFor(pub crypto.PublicKey) []Algorithm {
	switch pub.(type) {
	case *rsa.PublicKey:
		return []Algorithm{
			{"PKCS1v15-SHA256", crypto.SHA256},
			{"PKCS1v15-SHA384", crypto.SHA384},
			{"PKCS1v15-SHA512", crypto.SHA512},
			{"PSS-SHA256-EqualsHash", &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: crypto.SHA256}},
			{"PSS-SHA384-Auto", &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthAuto, Hash: crypto.SHA384}},
			{"PSS-SHA512-Salt20", &rsa.PSSOptions{SaltLength: 20, Hash: crypto.SHA512}},
		}
	case *ecdsa.PublicKey:
		return []Algorithm{{"ECDSA-SHA256", crypto.SHA256}, {"ECDSA-SHA384", crypto.SHA384}}
	}
	return nil
}

// Verify checks sig over digest with pub, for any Algorithm's options. A PSS
// signature made with PSSSaltLengthAuto must have a salt as long as the hash: every
// provider signs so (PKCS#11 needs a number, and it is what verifiers expect).
func Verify(pub crypto.PublicKey, digest, sig []byte, opts crypto.SignerOpts) error {
	switch pub := pub.(type) {
	case *rsa.PublicKey:
		if pss, ok := opts.(*rsa.PSSOptions); ok {
			salt := pss.SaltLength
			if salt == rsa.PSSSaltLengthAuto {
				salt = rsa.PSSSaltLengthEqualsHash
			}
			return rsa.VerifyPSS(pub, opts.HashFunc(), digest, sig, &rsa.PSSOptions{SaltLength: salt, Hash: pss.Hash})
		}
		return rsa.VerifyPKCS1v15(pub, opts.HashFunc(), digest, sig)
	case *ecdsa.PublicKey:
		if !ecdsa.VerifyASN1(pub, digest, sig) {
			return errors.New("hsmtest: ECDSA signature does not verify")
		}
		return nil
	}
	return fmt.Errorf("hsmtest: public key type %T", pub)
}

// Digest hashes a fresh random message with h.
func Digest(t testing.TB, h crypto.Hash) []byte {
	t.Helper()
	msg := make([]byte, 64)
	_, _ = rand.Read(msg) // never fails (crypto/rand, Go 1.24+)
	w := h.New()
	w.Write(msg)
	return w.Sum(nil)
}

// RunConformance runs the suite on keys from open, which is called once per subtest
// and must arrange for the key to be released (t.Cleanup).
func RunConformance(t *testing.T, open func(t *testing.T) hsm.Key) {
	t.Run("SignVerify", func(t *testing.T) {
		k := open(t)
		algs := AlgorithmsFor(k.Public())
		if len(algs) == 0 {
			t.Fatalf("public key type %T is neither RSA nor ECDSA", k.Public())
		}
		for _, a := range algs {
			t.Run(a.Name, func(t *testing.T) {
				d := Digest(t, a.Opts.HashFunc())
				sig, err := k.SignContext(context.Background(), d, a.Opts)
				if err != nil {
					t.Fatal(err)
				}
				if err := Verify(k.Public(), d, sig, a.Opts); err != nil {
					t.Fatal(err)
				}
				d[0] ^= 1
				if Verify(k.Public(), d, sig, a.Opts) == nil {
					t.Fatal("signature verifies over a changed digest")
				}
			})
		}
	})
	t.Run("CryptoSigner", func(t *testing.T) {
		k := open(t)
		d := Digest(t, crypto.SHA256)
		sig, err := k.Sign(rand.Reader, d, crypto.SHA256)
		if err != nil {
			t.Fatal(err)
		}
		if err := Verify(k.Public(), d, sig, crypto.SHA256); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("Certificate", func(t *testing.T) {
		k := open(t)
		if c := k.Certificate(); c != nil {
			if !c.PublicKey.(interface{ Equal(crypto.PublicKey) bool }).Equal(k.Public()) {
				t.Fatal("certificate's public key is not the key's")
			}
			issuer := c
			for _, ca := range k.Chain() {
				if err := issuer.CheckSignatureFrom(ca); err != nil {
					t.Fatalf("chain out of order at %q: %v", ca.Subject, err)
				}
				issuer = ca
			}
		} else if len(k.Chain()) > 0 {
			t.Fatal("a chain without a certificate")
		}
	})
	t.Run("RefusesBadInput", func(t *testing.T) {
		k := open(t)
		bad := []struct {
			name   string
			digest []byte
			opts   crypto.SignerOpts
		}{
			{"short digest", make([]byte, 31), crypto.SHA256},
			{"no hash", make([]byte, 32), crypto.Hash(0)},
			{"MD5", make([]byte, 16), crypto.MD5},
		}
		if _, ok := k.Public().(*ecdsa.PublicKey); ok {
			bad = append(bad, struct {
				name   string
				digest []byte
				opts   crypto.SignerOpts
			}{"PSS on EC", make([]byte, 32), &rsa.PSSOptions{Hash: crypto.SHA256}})
		}
		for _, b := range bad {
			if _, err := k.SignContext(context.Background(), b.digest, b.opts); err == nil {
				t.Errorf("%s: signed", b.name)
			}
		}
	})
	t.Run("Concurrent", func(t *testing.T) {
		k := open(t)
		n, errs := SignConcurrently(t, k, 16, 25)
		if errs != 0 || n != 16*25 {
			t.Fatalf("%d signatures verified, %d errors", n, errs)
		}
	})
	t.Run("Cancelled", func(t *testing.T) {
		k := open(t)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		start := time.Now()
		_, err := k.SignContext(ctx, Digest(t, crypto.SHA256), crypto.SHA256)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
		if d := time.Since(start); d > time.Second {
			t.Fatalf("cancelled signature took %v", d)
		}
	})
}

// SignConcurrently signs from goroutines goroutines, each signing perGoroutine random
// digests with SHA-256, verifies every signature and returns how many verified and how
// many failed (the first few failures are logged).
func SignConcurrently(t testing.TB, k hsm.Key, goroutines, perGoroutine int) (verified, failed int) {
	t.Helper()
	var mu sync.Mutex
	var wg sync.WaitGroup
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < perGoroutine; i++ {
				d := Digest(t, crypto.SHA256)
				sig, err := k.SignContext(context.Background(), d, crypto.SHA256)
				if err == nil {
					err = Verify(k.Public(), d, sig, crypto.SHA256)
				}
				mu.Lock()
				if err != nil {
					failed++
					if failed <= 5 {
						t.Errorf("goroutine %d signature %d: %v", g, i, err)
					}
				} else {
					verified++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return verified, failed
}
