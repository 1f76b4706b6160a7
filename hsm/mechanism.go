//go:build cgo

package hsm

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"fmt"
	"math/big"

	"github.com/miekg/pkcs11"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

func p256() elliptic.Curve { return elliptic.P256() }
func p384() elliptic.Curve { return elliptic.P384() }
func p521() elliptic.Curve { return elliptic.P521() }

// digestInfoPrefix is the DER DigestInfo header PKCS#1 v1.5 puts before the digest
// (RFC 8017, section 9.2, note 1). CKM_RSA_PKCS signs what it is given, so the prefix
// is ours to add; checkSignOpts refuses any hash missing here, never signing it bare.
var digestInfoPrefix = map[crypto.Hash][]byte{
	crypto.SHA224: {0x30, 0x2d, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x04, 0x05, 0x00, 0x04, 0x1c},
	crypto.SHA256: {0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20},
	crypto.SHA384: {0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02, 0x05, 0x00, 0x04, 0x30},
	crypto.SHA512: {0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03, 0x05, 0x00, 0x04, 0x40},
}

// pssHash maps each signature hash to the PKCS#11 hash and MGF1 mechanisms PSS
// parameters name.
var pssHash = map[crypto.Hash][2]uint{
	crypto.SHA224: {pkcs11.CKM_SHA224, pkcs11.CKG_MGF1_SHA224},
	crypto.SHA256: {pkcs11.CKM_SHA256, pkcs11.CKG_MGF1_SHA256},
	crypto.SHA384: {pkcs11.CKM_SHA384, pkcs11.CKG_MGF1_SHA384},
	crypto.SHA512: {pkcs11.CKM_SHA512, pkcs11.CKG_MGF1_SHA512},
}

// mechanism is one signature operation: what the token is asked to do with which
// input, and how its output becomes the Go form (ECDSA: r||s to DER).
type mechanism struct {
	p11   *pkcs11.Mechanism
	input []byte
	ecdsa bool
}

// mechanismFor checks digest and opts against the key before the token is touched.
func mechanismFor(pub crypto.PublicKey, digest []byte, opts crypto.SignerOpts) (*mechanism, error) {
	h, err := checkSignOpts(pub, digest, opts)
	if err != nil {
		return nil, err
	}
	switch pub := pub.(type) {
	case *rsa.PublicKey:
		if pss, ok := opts.(*rsa.PSSOptions); ok {
			salt, err := pssSaltLength(pss, pub, h)
			if err != nil {
				return nil, err
			}
			hm := pssHash[h]
			return &mechanism{
				p11:   pkcs11.NewMechanism(pkcs11.CKM_RSA_PKCS_PSS, pkcs11.NewPSSParams(hm[0], hm[1], uint(salt))),
				input: digest,
			}, nil
		}
		return &mechanism{
			p11:   pkcs11.NewMechanism(pkcs11.CKM_RSA_PKCS, nil),
			input: append(append([]byte{}, digestInfoPrefix[h]...), digest...),
		}, nil
	case *ecdsa.PublicKey:
		return &mechanism{p11: pkcs11.NewMechanism(pkcs11.CKM_ECDSA, nil), input: digest, ecdsa: true}, nil
	}
	return nil, fmt.Errorf("%w: key type %T", ErrUnsupported, pub)
}

// finish turns the token's output into the form crypto.Signer callers expect.
func (m *mechanism) finish(sig []byte) ([]byte, error) {
	if !m.ecdsa {
		return sig, nil
	}
	if len(sig) == 0 || len(sig)%2 != 0 {
		return nil, fmt.Errorf("hsm: pkcs11: ECDSA signature of odd length %d", len(sig))
	}
	r := new(big.Int).SetBytes(sig[:len(sig)/2])
	s := new(big.Int).SetBytes(sig[len(sig)/2:])
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1BigInt(r)
		b.AddASN1BigInt(s)
	})
	return b.Bytes()
}
