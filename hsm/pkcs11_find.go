//go:build cgo

package hsm

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"

	"github.com/miekg/pkcs11"

	"github.com/kyso-vn/kyso/pkg/fault"
)

// load finds the private key, its public key, certificate and chain; the caller holds
// session s of epoch.
func (k *PKCS11Key) load(s pkcs11.SessionHandle, epoch uint64) error {
	ctx := k.tok.mod.ctx
	h, err := findOne(ctx, s, pkcs11.CKO_PRIVATE_KEY, k.uri.Object, k.uri.ID)
	if err != nil {
		return fmt.Errorf("hsm: pkcs11: token %q: %w", k.tok.label, err)
	}
	attrs, err := ctx.GetAttributeValue(s, h, []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, nil),
		pkcs11.NewAttribute(pkcs11.CKA_ID, nil),
		pkcs11.NewAttribute(pkcs11.CKA_LABEL, nil),
	})
	if err != nil {
		return fmt.Errorf("hsm: pkcs11: reading key attributes: %w", err)
	}
	keyType, id, label := ulong(attrs[0].Value), attrs[1].Value, string(attrs[2].Value)
	// Tokens that do not know CKA_ALWAYS_AUTHENTICATE refuse to read it; that means false.
	alwaysAuth := false
	if a, err := ctx.GetAttributeValue(s, h, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_ALWAYS_AUTHENTICATE, nil)}); err == nil {
		alwaysAuth = len(a[0].Value) == 1 && a[0].Value[0] != 0
	}
	pub, err := publicKeyOf(ctx, s, h, keyType, id, label)
	if err != nil {
		return fmt.Errorf("hsm: pkcs11: token %q key %q: %w", k.tok.label, label, err)
	}
	if k.pub != nil {
		if !publicKeysEqual(k.pub, pub) {
			return fmt.Errorf("hsm: pkcs11: token %q key %q is not the key opened before (its public key changed)", k.tok.label, label)
		}
	} else {
		cert, chain, err := certificatesOf(ctx, s, id, label)
		if err != nil {
			return fmt.Errorf("hsm: pkcs11: token %q key %q: %w", k.tok.label, label, err)
		}
		if cert != nil && !publicKeysEqual(cert.PublicKey, pub) {
			return fmt.Errorf("hsm: pkcs11: token %q key %q does not match its certificate %q", k.tok.label, label, cert.Subject)
		}
		// Set once, before the key is shared; later loads only check.
		k.pub, k.cert, k.chain, k.alwaysAuth = pub, cert, chain, alwaysAuth
	}
	k.mu.Lock()
	k.handle, k.handleEpoch, k.handleGen = h, epoch, k.tok.mod.gen
	k.mu.Unlock()
	return nil
}

// findOne finds the single object of class matching label and id (either may be
// empty); more than one is an error, as signing with a guess is worse than refusing.
func findOne(ctx *pkcs11.Ctx, s pkcs11.SessionHandle, class uint, label string, id []byte) (pkcs11.ObjectHandle, error) {
	hs, err := findAll(ctx, s, class, label, id, 2)
	if err != nil {
		return 0, err
	}
	what := describe(label, id)
	switch len(hs) {
	case 0:
		return 0, withKind(fault.NotFound, fmt.Errorf("%w %s", ErrKeyNotFound, what))
	case 1:
		return hs[0], nil
	}
	return 0, fmt.Errorf("hsm: pkcs11: several objects match %s; name one by object and id", what)
}

func describe(label string, id []byte) string {
	switch {
	case label != "" && id != nil:
		return fmt.Sprintf("object=%q id=%x", label, id)
	case label != "":
		return fmt.Sprintf("object=%q", label)
	case id != nil:
		return fmt.Sprintf("id=%x", id)
	}
	return "(no object or id given)"
}

func findAll(ctx *pkcs11.Ctx, s pkcs11.SessionHandle, class uint, label string, id []byte, max int) ([]pkcs11.ObjectHandle, error) {
	tmpl := []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_CLASS, class)}
	if label != "" {
		tmpl = append(tmpl, pkcs11.NewAttribute(pkcs11.CKA_LABEL, label))
	}
	if id != nil {
		tmpl = append(tmpl, pkcs11.NewAttribute(pkcs11.CKA_ID, id))
	}
	return find(ctx, s, tmpl, max)
}

func find(ctx *pkcs11.Ctx, s pkcs11.SessionHandle, tmpl []*pkcs11.Attribute, max int) ([]pkcs11.ObjectHandle, error) {
	if err := ctx.FindObjectsInit(s, tmpl); err != nil {
		return nil, err
	}
	var out []pkcs11.ObjectHandle
	for {
		hs, _, err := ctx.FindObjects(s, 64)
		if err != nil {
			_ = ctx.FindObjectsFinal(s)
			return nil, err
		}
		out = append(out, hs...)
		if len(hs) == 0 || (max > 0 && len(out) >= max) {
			break
		}
	}
	if err := ctx.FindObjectsFinal(s); err != nil {
		return nil, err
	}
	return out, nil
}

var (
	oidP256 = asn1.ObjectIdentifier{1, 2, 840, 10045, 3, 1, 7}
	oidP384 = asn1.ObjectIdentifier{1, 3, 132, 0, 34}
	oidP521 = asn1.ObjectIdentifier{1, 3, 132, 0, 35}
)

// publicKeyOf reads an RSA key's public half from the private key object (RSA
// private keys carry modulus and exponent), and an EC key's from its public key object
// or, failing that, its certificate, found by CKA_ID, else by label.
func publicKeyOf(ctx *pkcs11.Ctx, s pkcs11.SessionHandle, priv pkcs11.ObjectHandle, keyType uint, id []byte, label string) (crypto.PublicKey, error) {
	switch keyType {
	case pkcs11.CKK_RSA:
		a, err := ctx.GetAttributeValue(s, priv, []*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_MODULUS, nil),
			pkcs11.NewAttribute(pkcs11.CKA_PUBLIC_EXPONENT, nil),
		})
		if err != nil {
			return nil, fmt.Errorf("reading the RSA modulus: %w", err)
		}
		e := new(big.Int).SetBytes(a[1].Value)
		if !e.IsInt64() || e.Int64() > 1<<31-1 || e.Int64() < 3 {
			return nil, errors.New("RSA public exponent out of range")
		}
		return &rsa.PublicKey{N: new(big.Int).SetBytes(a[0].Value), E: int(e.Int64())}, nil
	case pkcs11.CKK_EC:
		pubs, err := findPair(ctx, s, pkcs11.CKO_PUBLIC_KEY, id, label)
		if err != nil {
			return nil, err
		}
		if len(pubs) > 0 {
			a, err := ctx.GetAttributeValue(s, pubs[0], []*pkcs11.Attribute{
				pkcs11.NewAttribute(pkcs11.CKA_EC_PARAMS, nil),
				pkcs11.NewAttribute(pkcs11.CKA_EC_POINT, nil),
			})
			if err != nil {
				return nil, fmt.Errorf("reading the EC point: %w", err)
			}
			return ecPublicKey(a[0].Value, a[1].Value)
		}
		certs, err := findPair(ctx, s, pkcs11.CKO_CERTIFICATE, id, label)
		if err != nil {
			return nil, err
		}
		if len(certs) > 0 {
			c, err := readCert(ctx, s, certs[0])
			if err != nil {
				return nil, err
			}
			if pub, ok := c.PublicKey.(*ecdsa.PublicKey); ok {
				return pub, nil
			}
		}
		return nil, errors.New("EC key has neither a public key object nor a certificate with its id")
	}
	return nil, fmt.Errorf("key type 0x%x is not RSA or EC", keyType)
}

// findPair finds the objects of class that belong with a private key: by its id when
// it has one, else by its label.
func findPair(ctx *pkcs11.Ctx, s pkcs11.SessionHandle, class uint, id []byte, label string) ([]pkcs11.ObjectHandle, error) {
	if len(id) > 0 {
		return findAll(ctx, s, class, "", id, 2)
	}
	return findAll(ctx, s, class, label, nil, 2)
}

func ecPublicKey(params, point []byte) (*ecdsa.PublicKey, error) {
	var oid asn1.ObjectIdentifier
	if rest, err := asn1.Unmarshal(params, &oid); err != nil || len(rest) > 0 {
		return nil, errors.New("EC parameters are not a named curve")
	}
	var curve = map[string]func([]byte) (*ecdsa.PublicKey, error){
		oidP256.String(): func(p []byte) (*ecdsa.PublicKey, error) { return ecdsa.ParseUncompressedPublicKey(p256(), p) },
		oidP384.String(): func(p []byte) (*ecdsa.PublicKey, error) { return ecdsa.ParseUncompressedPublicKey(p384(), p) },
		oidP521.String(): func(p []byte) (*ecdsa.PublicKey, error) { return ecdsa.ParseUncompressedPublicKey(p521(), p) },
	}[oid.String()]
	if curve == nil {
		return nil, fmt.Errorf("EC curve %s is not P-256, P-384 or P-521", oid)
	}
	// PKCS#11 wraps the point in an OCTET STRING; some tokens give it bare.
	var raw []byte
	if rest, err := asn1.Unmarshal(point, &raw); err == nil && len(rest) == 0 {
		point = raw
	}
	pub, err := curve(point)
	if err != nil {
		return nil, fmt.Errorf("EC point: %w", err)
	}
	return pub, nil
}

func readCert(ctx *pkcs11.Ctx, s pkcs11.SessionHandle, h pkcs11.ObjectHandle) (*x509.Certificate, error) {
	a, err := ctx.GetAttributeValue(s, h, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_VALUE, nil)})
	if err != nil {
		return nil, fmt.Errorf("reading a certificate: %w", err)
	}
	c, err := x509.ParseCertificate(a[0].Value)
	if err != nil {
		return nil, fmt.Errorf("parsing a certificate on the token: %w", err)
	}
	return c, nil
}

// certificatesOf returns the key's certificate (by id, else label) and the issuers the
// token holds for it, nearest first.
func certificatesOf(ctx *pkcs11.Ctx, s pkcs11.SessionHandle, id []byte, label string) (*x509.Certificate, []*x509.Certificate, error) {
	hs, err := findPair(ctx, s, pkcs11.CKO_CERTIFICATE, id, label)
	if err != nil {
		return nil, nil, err
	}
	if len(hs) == 0 {
		return nil, nil, nil
	}
	if len(hs) > 1 {
		return nil, nil, fmt.Errorf("several certificates match %s", describe(label, id))
	}
	cert, err := readCert(ctx, s, hs[0])
	if err != nil {
		return nil, nil, err
	}
	all, err := findAll(ctx, s, pkcs11.CKO_CERTIFICATE, "", nil, 0)
	if err != nil {
		return nil, nil, err
	}
	var pool []*x509.Certificate
	for _, h := range all {
		if c, err := readCert(ctx, s, h); err == nil {
			pool = append(pool, c)
		}
	}
	return cert, buildChain(cert, pool), nil
}

func ulong(b []byte) uint {
	switch len(b) {
	case 8:
		return uint(binary.NativeEndian.Uint64(b))
	case 4:
		return uint(binary.NativeEndian.Uint32(b))
	}
	return ^uint(0)
}
