package hsm

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/crypto/pkcs12"
)

// SoftwareDemoKey is a private key held in process memory, read from a file. It is for
// demos and tests only: the key can be copied off the disk and out of memory, which is
// exactly what a token or HSM prevents. Never configure one for real signing.
type SoftwareDemoKey struct {
	signer crypto.Signer
	cert   *x509.Certificate
	chain  []*x509.Certificate
	name   string
}

var _ Key = (*SoftwareDemoKey)(nil)

// NewSoftwareDemoKey wraps an in-memory signer (RSA or ECDSA) and its certificates,
// leaf first, then issuers nearest first; certs may be empty. The leaf's public key
// must be the signer's.
func NewSoftwareDemoKey(signer crypto.Signer, certs ...*x509.Certificate) (*SoftwareDemoKey, error) {
	switch signer.Public().(type) {
	case *rsa.PublicKey, *ecdsa.PublicKey:
	default:
		return nil, fmt.Errorf("hsm: softkey: key type %T is not RSA or ECDSA", signer.Public())
	}
	k := &SoftwareDemoKey{signer: signer, name: "softkey:(in memory)"}
	if len(certs) > 0 {
		if !publicKeysEqual(signer.Public(), certs[0].PublicKey) {
			return nil, fmt.Errorf("hsm: softkey: key does not match its certificate %q", certs[0].Subject)
		}
		k.cert, k.chain = certs[0], certs[1:]
	}
	return k, nil
}

// OpenSoftwareDemoKey opens the key a softkey: URI names (see SoftKeyURI).
func OpenSoftwareDemoKey(uri string) (*SoftwareDemoKey, error) {
	u, err := ParseSoftKeyURI(uri)
	if err != nil {
		return nil, err
	}
	pin, err := resolvePIN(u.PINValue, u.PINSource)
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(u.Path)
	if err != nil {
		return nil, fmt.Errorf("hsm: softkey: %w", err)
	}
	var blocks []*pem.Block
	if isPEM(data) {
		blocks = pemBlocks(data)
	} else {
		blocks, err = pkcs12.ToPEM(data, pin.Reveal())
		if err != nil {
			return nil, fmt.Errorf("hsm: softkey: reading PKCS#12 %s (wrong password, or AES-encrypted: "+
				"this reader takes files made with openssl pkcs12 -export -legacy): %w", u.Path, err)
		}
	}
	if u.Cert != "" {
		certPEM, err := os.ReadFile(u.Cert)
		if err != nil {
			return nil, fmt.Errorf("hsm: softkey: %w", err)
		}
		blocks = append(blocks, pemBlocks(certPEM)...)
	}
	var signer crypto.Signer
	var certs []*x509.Certificate
	for _, b := range blocks {
		switch {
		case b.Type == "CERTIFICATE":
			c, err := x509.ParseCertificate(b.Bytes)
			if err != nil {
				return nil, fmt.Errorf("hsm: softkey: %w", err)
			}
			certs = append(certs, c)
		case strings.HasSuffix(b.Type, "PRIVATE KEY"):
			if signer != nil {
				return nil, errors.New("hsm: softkey: more than one private key in the files")
			}
			if signer, err = parsePrivateKey(b); err != nil {
				return nil, err
			}
		}
	}
	if signer == nil {
		return nil, fmt.Errorf("hsm: softkey: no unencrypted private key in %s", u.Path)
	}
	if len(certs) > 0 {
		if certs = leafFirst(signer.Public(), certs); certs == nil {
			return nil, fmt.Errorf("hsm: softkey: none of the certificates given is the key's")
		}
	}
	k, err := NewSoftwareDemoKey(signer, certs...)
	if err != nil {
		return nil, err
	}
	k.name = u.String()
	return k, nil
}

func isPEM(data []byte) bool {
	b, _ := pem.Decode(data)
	return b != nil
}

func pemBlocks(data []byte) []*pem.Block {
	var out []*pem.Block
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return out
		}
		out = append(out, b)
	}
}

func parsePrivateKey(b *pem.Block) (crypto.Signer, error) {
	if b.Type == "ENCRYPTED PRIVATE KEY" || b.Headers["Proc-Type"] != "" {
		return nil, errors.New("hsm: softkey: encrypted PEM keys are not read; use PKCS#12 for a password-protected demo key")
	}
	var key any
	var err error
	if key, err = x509.ParsePKCS8PrivateKey(b.Bytes); err != nil {
		if key, err = x509.ParsePKCS1PrivateKey(b.Bytes); err != nil {
			if key, err = x509.ParseECPrivateKey(b.Bytes); err != nil {
				return nil, errors.New("hsm: softkey: private key is not PKCS#8, PKCS#1 or SEC 1")
			}
		}
	}
	switch key := key.(type) {
	case *rsa.PrivateKey:
		return key, nil
	case *ecdsa.PrivateKey:
		return key, nil
	case ed25519.PrivateKey:
		return nil, errors.New("hsm: softkey: Ed25519 keys are not used for document signatures here")
	}
	return nil, fmt.Errorf("hsm: softkey: key type %T not supported", key)
}

// leafFirst moves the key's certificate to the front and orders the rest as a chain
// from it; files list certificates in any order.
func leafFirst(pub crypto.PublicKey, certs []*x509.Certificate) []*x509.Certificate {
	for i, c := range certs {
		if publicKeysEqual(pub, c.PublicKey) {
			rest := append(append([]*x509.Certificate{}, certs[:i]...), certs[i+1:]...)
			return append([]*x509.Certificate{c}, buildChain(c, rest)...)
		}
	}
	return nil
}

// Public returns the public key.
func (k *SoftwareDemoKey) Public() crypto.PublicKey { return k.signer.Public() }

// Certificate returns the key's certificate, or nil.
func (k *SoftwareDemoKey) Certificate() *x509.Certificate { return k.cert }

// Chain returns the issuer certificates, nearest first.
func (k *SoftwareDemoKey) Chain() []*x509.Certificate { return k.chain }

// String names the key without its password.
func (k *SoftwareDemoKey) String() string { return k.name }

// Sign signs with crypto/rand, whatever rand is given.
func (k *SoftwareDemoKey) Sign(_ io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	return k.SignContext(context.Background(), digest, opts)
}

// SignContext checks the options as the PKCS#11 key does, so a demo behaves like a
// token, and signs unless ctx has ended.
func (k *SoftwareDemoKey) SignContext(ctx context.Context, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if _, err := checkSignOpts(k.signer.Public(), digest, opts); err != nil {
		return nil, err
	}
	if pss, ok := opts.(*rsa.PSSOptions); ok && pss.SaltLength == rsa.PSSSaltLengthAuto {
		// Same salt as the token: the hash length.
		opts = &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: pss.Hash}
	}
	sig, err := k.signer.Sign(rand.Reader, digest, opts)
	if err != nil {
		return nil, fmt.Errorf("hsm: softkey: %w", err)
	}
	return sig, nil
}

// Close does nothing; it lets callers close every Key alike.
func (k *SoftwareDemoKey) Close() error { return nil }
