package hsm

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"fmt"
)

// signatureHashes are the hashes a key signs with: SHA-2 only (SHA-1 and MD5 are
// refused for every key type).
var signatureHashes = map[crypto.Hash]bool{crypto.SHA224: true, crypto.SHA256: true, crypto.SHA384: true, crypto.SHA512: true}

// checkSignOpts refuses a digest and options the key cannot or must not sign, before
// any provider touches the key, so every provider refuses alike.
func checkSignOpts(pub crypto.PublicKey, digest []byte, opts crypto.SignerOpts) (crypto.Hash, error) {
	if opts == nil {
		return 0, fmt.Errorf("%w: no hash given", ErrUnsupported)
	}
	h := opts.HashFunc()
	if !signatureHashes[h] {
		return 0, fmt.Errorf("%w: hash %v (SHA-224, SHA-256, SHA-384 or SHA-512 only)", ErrUnsupported, h)
	}
	if len(digest) != h.Size() {
		return 0, fmt.Errorf("%w: digest is %d bytes, %v needs %d", ErrUnsupported, len(digest), h, h.Size())
	}
	pss, isPSS := opts.(*rsa.PSSOptions)
	switch pub := pub.(type) {
	case *rsa.PublicKey:
		if isPSS {
			if _, err := pssSaltLength(pss, pub, h); err != nil {
				return 0, err
			}
		}
	case *ecdsa.PublicKey:
		if isPSS {
			return 0, fmt.Errorf("%w: RSA-PSS options for an EC key", ErrUnsupported)
		}
	default:
		return 0, fmt.Errorf("%w: key type %T", ErrUnsupported, pub)
	}
	return h, nil
}

// pssSaltLength follows crypto/rsa: EqualsHash and Auto both mean the hash length
// here, because PKCS#11 needs a number and the hash length is what verifiers expect.
func pssSaltLength(o *rsa.PSSOptions, pub *rsa.PublicKey, h crypto.Hash) (int, error) {
	switch {
	case o.SaltLength == rsa.PSSSaltLengthEqualsHash || o.SaltLength == rsa.PSSSaltLengthAuto:
		return h.Size(), nil
	case o.SaltLength > 0 && o.SaltLength <= (pub.N.BitLen()-1+7)/8-h.Size()-2:
		return o.SaltLength, nil
	}
	return 0, fmt.Errorf("%w: PSS salt length %d", ErrUnsupported, o.SaltLength)
}

type equalKey interface{ Equal(crypto.PublicKey) bool }

func publicKeysEqual(a, b crypto.PublicKey) bool {
	ea, ok := a.(equalKey)
	return ok && ea.Equal(b)
}

// buildChain follows issuers through pool by signature, stopping at a self-signed
// certificate or a missing issuer.
func buildChain(leaf *x509.Certificate, pool []*x509.Certificate) []*x509.Certificate {
	var chain []*x509.Certificate
	cur := leaf
	for len(chain) < 8 && !selfSigned(cur) {
		var next *x509.Certificate
		for _, c := range pool {
			if !c.Equal(cur) && cur.CheckSignatureFrom(c) == nil {
				next = c
				break
			}
		}
		if next == nil {
			break
		}
		chain = append(chain, next)
		cur = next
	}
	return chain
}

func selfSigned(c *x509.Certificate) bool {
	return c.CheckSignatureFrom(c) == nil
}
