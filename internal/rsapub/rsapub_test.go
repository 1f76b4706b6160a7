package rsapub

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"errors"
	"math/big"
	"sync"
	"testing"
)

var (
	keysOnce sync.Once
	keys     map[int]*rsa.PrivateKey
)

// testKeys are generated once per run: 2048 and 3072 take the fast path, 1024 does not.
func testKeys(t testing.TB) map[int]*rsa.PrivateKey {
	keysOnce.Do(func() {
		keys = map[int]*rsa.PrivateKey{}
		for _, bits := range []int{1024, 2048, 3072} {
			k, err := rsa.GenerateKey(rand.Reader, bits)
			if err != nil {
				panic(err)
			}
			keys[bits] = k
		}
	})
	return keys
}

func digestOf(h crypto.Hash, msg string) []byte {
	switch h {
	case crypto.SHA1:
		d := sha1.Sum([]byte(msg))
		return d[:]
	case crypto.SHA384:
		d := sha512.Sum384([]byte(msg))
		return d[:]
	case crypto.SHA512:
		d := sha512.Sum512([]byte(msg))
		return d[:]
	}
	d := sha256.Sum256([]byte(msg))
	return d[:]
}

func TestVerifyPKCS1v15(t *testing.T) {
	ks := testKeys(t)
	for _, bits := range []int{1024, 2048, 3072} {
		for _, h := range []crypto.Hash{crypto.SHA1, crypto.SHA256, crypto.SHA384, crypto.SHA512} {
			k := ks[bits]
			d := digestOf(h, "kyso")
			sig, err := rsa.SignPKCS1v15(rand.Reader, k, h, d)
			if err != nil {
				t.Fatal(err)
			}
			other := digestOf(h, "other")
			flipped := append([]byte(nil), sig...)
			flipped[len(flipped)/2] ^= 0x01
			beyond := new(big.Int).Add(k.N, big.NewInt(1)).FillBytes(make([]byte, len(sig)))
			sig256, _ := rsa.SignPKCS1v15(rand.Reader, k, crypto.SHA256, digestOf(crypto.SHA256, "kyso"))
			cases := []struct {
				name   string
				hash   crypto.Hash
				digest []byte
				sig    []byte
				ok     bool
			}{
				{"valid", h, d, sig, true},
				{"other digest", h, other, sig, false},
				{"flipped bit", h, d, flipped, false},
				{"short by a byte", h, d, sig[1:], false},
				{"leading zero added", h, d, append([]byte{0}, sig...), false},
				{"s not below N", h, d, beyond, false},
				{"empty", h, d, nil, false},
				{"digest of the wrong length", h, d[1:], sig, false},
				{"signed with another hash", h, d, sig256, h == crypto.SHA256},
			}
			for _, c := range cases {
				got := VerifyPKCS1v15(&k.PublicKey, c.hash, c.digest, c.sig)
				want := rsa.VerifyPKCS1v15(&k.PublicKey, c.hash, c.digest, c.sig)
				if (got == nil) != c.ok || (want == nil) != c.ok {
					t.Errorf("%d bits %v %s: got %v, crypto/rsa %v, want ok=%v", bits, h, c.name, got, want, c.ok)
				}
				if got != nil && bits >= 2048 && !errors.Is(got, ErrVerification) {
					t.Errorf("%d bits %v %s: error %v is not ErrVerification", bits, h, c.name, got)
				}
			}
		}
	}
}

// TestUnusualKeysGoToCryptoRSA: keys crypto/rsa refuses are refused the same way.
func TestUnusualKeysGoToCryptoRSA(t *testing.T) {
	k := testKeys(t)[2048]
	d := digestOf(crypto.SHA256, "kyso")
	sig, _ := rsa.SignPKCS1v15(rand.Reader, k, crypto.SHA256, d)
	for _, pub := range []*rsa.PublicKey{
		{N: k.N, E: 1},
		{N: k.N, E: 65536},
		{N: new(big.Int).Add(k.N, big.NewInt(1)), E: 65537}, // even modulus
		{N: big.NewInt(0), E: 65537},
	} {
		got := VerifyPKCS1v15(pub, crypto.SHA256, d, sig)
		want := rsa.VerifyPKCS1v15(pub, crypto.SHA256, d, sig)
		if got == nil || want == nil {
			t.Errorf("E=%d N bits %d: got %v, crypto/rsa %v; want both to refuse", pub.E, pub.N.BitLen(), got, want)
		}
	}
}

// FuzzVerifyPKCS1v15 compares the answer with crypto/rsa's for arbitrary signatures,
// including ones made to decrypt to almost-valid encodings.
func FuzzVerifyPKCS1v15(f *testing.F) {
	k := testKeys(f)[2048]
	d := digestOf(crypto.SHA256, "kyso")
	sig, _ := rsa.SignPKCS1v15(rand.Reader, k, crypto.SHA256, d)
	f.Add(sig, d, uint8(0))
	f.Add(sig[:100], d, uint8(1))
	f.Add(make([]byte, 256), d, uint8(2))
	f.Fuzz(func(t *testing.T, s, digest []byte, mode uint8) {
		if mode%2 == 1 {
			// Sign a near-miss encoding with the private key so the fuzzer reaches
			// the comparison with blocks that decrypt to structured data.
			em := make([]byte, 256)
			copy(em, s)
			m := new(big.Int).SetBytes(em)
			if m.Cmp(k.N) >= 0 {
				return
			}
			s = new(big.Int).Exp(m, k.D, k.N).FillBytes(make([]byte, 256))
		}
		got := VerifyPKCS1v15(&k.PublicKey, crypto.SHA256, digest, s)
		want := rsa.VerifyPKCS1v15(&k.PublicKey, crypto.SHA256, digest, s)
		if (got == nil) != (want == nil) {
			t.Fatalf("got %v, crypto/rsa %v", got, want)
		}
	})
}

func BenchmarkVerify3072(b *testing.B) {
	k := testKeys(b)[3072]
	d := digestOf(crypto.SHA256, "kyso")
	sig, _ := rsa.SignPKCS1v15(rand.Reader, k, crypto.SHA256, d)
	b.Run("rsapub", func(b *testing.B) {
		for b.Loop() {
			if err := VerifyPKCS1v15(&k.PublicKey, crypto.SHA256, d, sig); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("crypto-rsa", func(b *testing.B) {
		for b.Loop() {
			if err := rsa.VerifyPKCS1v15(&k.PublicKey, crypto.SHA256, d, sig); err != nil {
				b.Fatal(err)
			}
		}
	})
}
