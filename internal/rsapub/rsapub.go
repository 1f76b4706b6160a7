// Package rsapub verifies RSA PKCS#1 v1.5 signatures with the public key, faster than
// crypto/rsa for the keys Kyso meets on its hot paths.
//
// Why it exists: crypto/rsa converts the modulus into its Montgomery form on every
// call (it computes R² mod N afresh), which makes one RSA-3072 verification cost
// about 200 µs on the benchmark machine; math/big's exponentiation with the short
// public exponent costs about 60 µs. The signing pipeline checks every signature a
// token returns before embedding it (a token that returns a faulty RSA-CRT signature
// would otherwise publish a value that factors its own key), and the verifier checks
// every signature it reads, so this is paid once per document on both paths.
//
// The check is RFC 8017 §8.2.2's encode-and-compare: the expected encoded message is
// built from the digest and compared with s^e mod N, so nothing of the recovered block
// is parsed. Public-key operations need no constant time. Keys outside the fast path
// (under 2048 or over 16384 bits, an unusual exponent, a hash without a DigestInfo
// prefix here) go to crypto/rsa, so the policy for them (crypto/rsa refuses keys under
// 1024 bits) stays Go's. It imports only the standard library.
package rsapub

import (
	"bytes"
	"crypto"
	"crypto/rsa"
	"math/big"
)

// ErrVerification is returned for a signature that does not verify.
var ErrVerification = rsa.ErrVerification

// digestInfoPrefix is the DER DigestInfo header before the digest (RFC 8017 §9.2,
// note 1).
var digestInfoPrefix = map[crypto.Hash][]byte{
	crypto.SHA1:   {0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a, 0x05, 0x00, 0x04, 0x14},
	crypto.SHA224: {0x30, 0x2d, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x04, 0x05, 0x00, 0x04, 0x1c},
	crypto.SHA256: {0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20},
	crypto.SHA384: {0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02, 0x05, 0x00, 0x04, 0x30},
	crypto.SHA512: {0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03, 0x05, 0x00, 0x04, 0x40},
}

// VerifyPKCS1v15 reports whether sig is a valid RSASSA-PKCS1-v1_5 signature of digest
// (already hashed with hash) under pub: nil, or ErrVerification, or crypto/rsa's
// error for a key it refuses. Same contract as rsa.VerifyPKCS1v15.
func VerifyPKCS1v15(pub *rsa.PublicKey, hash crypto.Hash, digest, sig []byte) error {
	prefix, ok := digestInfoPrefix[hash]
	if !ok || !fastKey(pub) {
		return rsa.VerifyPKCS1v15(pub, hash, digest, sig)
	}
	k := (pub.N.BitLen() + 7) / 8
	if len(digest) != hash.Size() || len(sig) != k {
		return ErrVerification
	}
	// EM = 0x00 || 0x01 || PS (0xff, at least 8) || 0x00 || DigestInfo.
	tLen := len(prefix) + len(digest)
	if k < tLen+11 {
		return ErrVerification
	}
	s := new(big.Int).SetBytes(sig)
	if s.Cmp(pub.N) >= 0 {
		return ErrVerification
	}
	m := s.Exp(s, big.NewInt(int64(pub.E)), pub.N)
	em := m.FillBytes(make([]byte, k))
	want := make([]byte, k)
	want[1] = 0x01
	for i := 2; i < k-tLen-1; i++ {
		want[i] = 0xff
	}
	copy(want[k-tLen:], prefix)
	copy(want[k-len(digest):], digest)
	if !bytes.Equal(em, want) {
		return ErrVerification
	}
	return nil
}

// fastKey is a key this package verifies itself: the sizes in use for signing, an odd
// modulus, and an odd public exponent in crypto/rsa's accepted range.
func fastKey(pub *rsa.PublicKey) bool {
	if pub == nil || pub.N == nil || pub.N.Sign() <= 0 {
		return false
	}
	bits := pub.N.BitLen()
	return bits >= 2048 && bits <= 16384 && pub.N.Bit(0) == 1 &&
		pub.E >= 3 && pub.E&1 == 1 && pub.E <= 1<<31-1
}
