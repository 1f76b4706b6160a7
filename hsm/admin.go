//go:build cgo

package hsm

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"fmt"
	"math/big"
	"sort"

	"github.com/miekg/pkcs11"
)

// GenerateKey makes a key pair on the token uri names, labelled with the URI's object
// and given its id (8 random bytes when the URI has none), and opens it. The private
// key is sensitive and not extractable. A key with the same label or id is refused, as
// it would make the URI ambiguous.
func GenerateKey(ctx context.Context, uri string, spec KeySpec, opts Options) (*PKCS11Key, error) {
	u, err := ParsePKCS11URI(uri)
	if err != nil {
		return nil, err
	}
	if u.Object == "" {
		return nil, fmt.Errorf("%w: key generation needs object=LABEL", ErrBadURI)
	}
	if u.ID == nil {
		u.ID = make([]byte, 8)
		_, _ = rand.Read(u.ID)
	}
	pubT, privT, mech, err := keyTemplates(spec, u.Object, u.ID)
	if err != nil {
		return nil, err
	}
	tok, err := openToken(ctx, u, opts)
	if err != nil {
		return nil, err
	}
	defer tok.close()
	m := tok.mod
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.RLock()
	err = func() error {
		s, err := writeSession(tok, u, pkcs11.CKO_PRIVATE_KEY, "a private key")
		if err != nil {
			return err
		}
		defer func() { _ = m.ctx.CloseSession(s) }()
		if _, _, err := m.ctx.GenerateKeyPair(s, []*pkcs11.Mechanism{mech}, pubT, privT); err != nil {
			return fmt.Errorf("hsm: pkcs11: generating a %s key on token %q: %w", spec.Type, tok.label, err)
		}
		return nil
	}()
	m.mu.RUnlock()
	if err != nil {
		return nil, err
	}
	u.Type = ""
	return openPKCS11(ctx, u, opts)
}

// writeSession opens a read-write session on tok for writing an object of class with
// u's label and id — the signing pool opens none: write-protected tokens refuse them —
// after checking that no object of that class (what names it in the refusal) carries
// the label or the id already, which would make the URI ambiguous. The caller holds
// the module's lock for reading and closes the session.
func writeSession(tok *p11Token, u *PKCS11URI, class uint, what string) (pkcs11.SessionHandle, error) {
	m := tok.mod
	tok.mu.Lock()
	slot := tok.slot
	tok.mu.Unlock()
	s, err := m.ctx.OpenSession(slot, pkcs11.CKF_SERIAL_SESSION|pkcs11.CKF_RW_SESSION)
	if err != nil {
		return 0, fmt.Errorf("hsm: pkcs11: opening a read-write session on token %q: %w", tok.label, err)
	}
	for _, dup := range []struct {
		label string
		id    []byte
	}{{u.Object, nil}, {"", u.ID}} {
		hs, err := findAll(m.ctx, s, class, dup.label, dup.id, 1)
		if err != nil {
			err = fmt.Errorf("hsm: pkcs11: searching token %q: %w", tok.label, err)
		} else if len(hs) > 0 {
			err = fmt.Errorf("hsm: pkcs11: token %q already has %s with %s", tok.label, what, describe(dup.label, dup.id))
		}
		if err != nil {
			_ = m.ctx.CloseSession(s)
			return 0, err
		}
	}
	return s, nil
}

func keyTemplates(spec KeySpec, label string, id []byte) (pub, priv []*pkcs11.Attribute, mech *pkcs11.Mechanism, err error) {
	common := func(class uint) []*pkcs11.Attribute {
		return []*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_CLASS, class),
			pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true),
			pkcs11.NewAttribute(pkcs11.CKA_LABEL, label),
			pkcs11.NewAttribute(pkcs11.CKA_ID, id),
		}
	}
	pub = append(common(pkcs11.CKO_PUBLIC_KEY), pkcs11.NewAttribute(pkcs11.CKA_VERIFY, true), pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, false))
	priv = append(common(pkcs11.CKO_PRIVATE_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_SIGN, true),
		pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, true),
		pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, true),
		pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, false),
	)
	if spec.AlwaysAuthenticate {
		priv = append(priv, pkcs11.NewAttribute(pkcs11.CKA_ALWAYS_AUTHENTICATE, true))
	}
	switch spec.Type {
	case RSA2048, RSA3072:
		bits := 2048
		if spec.Type == RSA3072 {
			bits = 3072
		}
		pub = append(pub,
			pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_RSA),
			pkcs11.NewAttribute(pkcs11.CKA_MODULUS_BITS, bits),
			pkcs11.NewAttribute(pkcs11.CKA_PUBLIC_EXPONENT, []byte{1, 0, 1}))
		priv = append(priv, pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_RSA))
		return pub, priv, pkcs11.NewMechanism(pkcs11.CKM_RSA_PKCS_KEY_PAIR_GEN, nil), nil
	case ECP256, ECP384:
		oid := oidP256
		if spec.Type == ECP384 {
			oid = oidP384
		}
		params, err := asn1.Marshal(oid)
		if err != nil {
			return nil, nil, nil, err
		}
		pub = append(pub, pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_EC), pkcs11.NewAttribute(pkcs11.CKA_EC_PARAMS, params))
		priv = append(priv, pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_EC))
		return pub, priv, pkcs11.NewMechanism(pkcs11.CKM_EC_KEY_PAIR_GEN, nil), nil
	}
	return nil, nil, nil, fmt.Errorf("hsm: key type %q is not one of rsa2048, rsa3072, p256, p384", spec.Type)
}

// ListObjects lists the objects on the token uri names that match its object, id and
// type attributes (all when it has none). Private objects are listed only when the
// URI gives the PIN.
func ListObjects(ctx context.Context, uri string, opts Options) ([]ObjectInfo, error) {
	u, err := ParsePKCS11URI(uri)
	if err != nil {
		return nil, err
	}
	tok, err := openToken(ctx, u, opts)
	if err != nil {
		return nil, err
	}
	defer tok.close()
	s, epoch, err := tok.acquire(ctx)
	if err != nil {
		return nil, err
	}
	out, err := listObjects(tok.mod.ctx, s, u)
	tok.put(s, epoch, err)
	if err != nil {
		return nil, fmt.Errorf("hsm: pkcs11: listing token %q: %w", tok.label, err)
	}
	return out, nil
}

var classes = map[ObjectType]uint{
	TypePrivate: pkcs11.CKO_PRIVATE_KEY, TypePublic: pkcs11.CKO_PUBLIC_KEY, TypeCert: pkcs11.CKO_CERTIFICATE,
	TypeSecretKey: pkcs11.CKO_SECRET_KEY, TypeData: pkcs11.CKO_DATA,
}

func listObjects(ctx *pkcs11.Ctx, s pkcs11.SessionHandle, u *PKCS11URI) ([]ObjectInfo, error) {
	var tmpl []*pkcs11.Attribute
	if u.Type != "" {
		tmpl = append(tmpl, pkcs11.NewAttribute(pkcs11.CKA_CLASS, classes[u.Type]))
	}
	if u.Object != "" {
		tmpl = append(tmpl, pkcs11.NewAttribute(pkcs11.CKA_LABEL, u.Object))
	}
	if u.ID != nil {
		tmpl = append(tmpl, pkcs11.NewAttribute(pkcs11.CKA_ID, u.ID))
	}
	hs, err := find(ctx, s, tmpl, 0)
	if err != nil {
		return nil, err
	}
	var out []ObjectInfo
	for _, h := range hs {
		a, err := ctx.GetAttributeValue(s, h, []*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_CLASS, nil),
			pkcs11.NewAttribute(pkcs11.CKA_LABEL, nil),
			pkcs11.NewAttribute(pkcs11.CKA_ID, nil),
		})
		if err != nil {
			return nil, err
		}
		info := ObjectInfo{Label: string(a[1].Value), ID: a[2].Value}
		switch ulong(a[0].Value) {
		case pkcs11.CKO_PRIVATE_KEY:
			info.Kind, info.KeyType = KindPrivateKey, keyTypeOf(ctx, s, h)
		case pkcs11.CKO_PUBLIC_KEY:
			info.Kind, info.KeyType = KindPublicKey, keyTypeOf(ctx, s, h)
		case pkcs11.CKO_SECRET_KEY:
			info.Kind = KindSecretKey
		case pkcs11.CKO_DATA:
			info.Kind = KindData
		case pkcs11.CKO_CERTIFICATE:
			info.Kind = KindCertificate
			if c, err := readCert(ctx, s, h); err == nil {
				info.KeyType = describePublicKey(c.PublicKey)
			}
		default:
			info.Kind = KindOther
		}
		out = append(out, info)
	}
	// Tokens return objects in storage order; people read them grouped by key.
	rank := map[ObjectKind]int{KindPrivateKey: 0, KindPublicKey: 1, KindCertificate: 2}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Label != b.Label {
			return a.Label < b.Label
		}
		if c := bytes.Compare(a.ID, b.ID); c != 0 {
			return c < 0
		}
		return rank[a.Kind] < rank[b.Kind]
	})
	return out, nil
}

// keyTypeOf describes a key object: RSA with its modulus size, EC with its curve.
func keyTypeOf(ctx *pkcs11.Ctx, s pkcs11.SessionHandle, h pkcs11.ObjectHandle) string {
	a, err := ctx.GetAttributeValue(s, h, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, nil)})
	if err != nil {
		return "unknown"
	}
	switch ulong(a[0].Value) {
	case pkcs11.CKK_RSA:
		m, err := ctx.GetAttributeValue(s, h, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_MODULUS, nil)})
		if err != nil {
			return "RSA"
		}
		return describePublicKey(&rsa.PublicKey{N: bigFrom(m[0].Value)})
	case pkcs11.CKK_EC:
		p, err := ctx.GetAttributeValue(s, h, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_EC_PARAMS, nil)})
		if err != nil {
			return "EC"
		}
		var oid asn1.ObjectIdentifier
		if _, err := asn1.Unmarshal(p[0].Value, &oid); err != nil {
			return "EC"
		}
		switch {
		case oid.Equal(oidP256):
			return "EC P-256"
		case oid.Equal(oidP384):
			return "EC P-384"
		case oid.Equal(oidP521):
			return "EC P-521"
		}
		return "EC " + oid.String()
	case pkcs11.CKK_AES:
		return "AES"
	}
	return fmt.Sprintf("type 0x%x", ulong(a[0].Value))
}

func describePublicKey(pub any) string {
	switch pub := pub.(type) {
	case *rsa.PublicKey:
		return fmt.Sprintf("RSA %d", pub.N.BitLen())
	case *ecdsa.PublicKey:
		return "EC " + pub.Curve.Params().Name
	case ed25519.PublicKey:
		return "Ed25519"
	}
	return fmt.Sprintf("%T", pub)
}

func bigFrom(b []byte) *big.Int { return new(big.Int).SetBytes(b) }

// ImportCertificate writes cert to the token uri names as a public X.509 certificate
// object labelled with the URI's object and given its id, so that the key with the
// same id finds it (and keys of the certificates it issues find it as their chain).
// A certificate with the same label or id is refused, as it would make the URI
// ambiguous.
func ImportCertificate(ctx context.Context, uri string, cert *x509.Certificate, opts Options) error {
	u, err := ParsePKCS11URI(uri)
	if err != nil {
		return err
	}
	if u.Object == "" || u.ID == nil {
		return fmt.Errorf("%w: importing a certificate needs object=LABEL and id=ID", ErrBadURI)
	}
	serial, err := asn1.Marshal(cert.SerialNumber)
	if err != nil {
		return fmt.Errorf("hsm: pkcs11: certificate serial: %w", err)
	}
	tok, err := openToken(ctx, u, opts)
	if err != nil {
		return err
	}
	defer tok.close()
	m := tok.mod
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	s, err := writeSession(tok, u, pkcs11.CKO_CERTIFICATE, "a certificate")
	if err != nil {
		return err
	}
	defer func() { _ = m.ctx.CloseSession(s) }()
	tmpl := []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_CERTIFICATE),
		pkcs11.NewAttribute(pkcs11.CKA_CERTIFICATE_TYPE, pkcs11.CKC_X_509),
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true),
		pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, false),
		pkcs11.NewAttribute(pkcs11.CKA_LABEL, u.Object),
		pkcs11.NewAttribute(pkcs11.CKA_ID, u.ID),
		pkcs11.NewAttribute(pkcs11.CKA_SUBJECT, cert.RawSubject),
		pkcs11.NewAttribute(pkcs11.CKA_ISSUER, cert.RawIssuer),
		pkcs11.NewAttribute(pkcs11.CKA_SERIAL_NUMBER, serial),
		pkcs11.NewAttribute(pkcs11.CKA_VALUE, cert.Raw),
	}
	if _, err := m.ctx.CreateObject(s, tmpl); err != nil {
		return fmt.Errorf("hsm: pkcs11: writing certificate %s to token %q: %w", describe(u.Object, u.ID), tok.label, err)
	}
	return nil
}
