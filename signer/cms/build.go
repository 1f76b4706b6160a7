package cms

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding"
	"encoding/asn1"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/kyso-vn/kyso/internal/rsapub"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// Profile selects the signed attributes a signature carries.
type Profile int

const (
	// ProfilePAdES (ETSI EN 319 142-1): contentType, messageDigest and
	// signing-certificate-v2; no signing-time attribute (the time goes into the
	// signature dictionary's /M). Also right for RFC 3161 tokens, whose time is in
	// the TSTInfo.
	ProfilePAdES Profile = iota + 1
	// ProfileCAdES (ETSI EN 319 122-1): as PAdES plus signing-time.
	ProfileCAdES
)

func (p Profile) String() string {
	switch p {
	case ProfilePAdES:
		return "PAdES"
	case ProfileCAdES:
		return "CAdES"
	}
	return fmt.Sprintf("Profile(%d)", int(p))
}

// SignerInfoSpec describes the signature to build.
type SignerInfoSpec struct {
	Certificate *x509.Certificate   // the signer's certificate (required)
	Chain       []*x509.Certificate // issuer certificates to embed, nearest first
	Hash        crypto.Hash         // SHA-256, SHA-384 or SHA-512
	PSS         bool                // RSA-PSS instead of PKCS#1 v1.5 (RSA keys only)
	Profile     Profile
	// SigningTime is the signing-time attribute: required for CAdES, refused for
	// PAdES (the baseline forbids it).
	SigningTime time.Time
	// ContentType is the eContentType; nil means id-data.
	ContentType asn1.ObjectIdentifier
	// EncapsulatedContent, when non-nil, is carried inside the SignedData (a TSTInfo
	// in a timestamp token); the content digest must be its digest. Nil means a
	// detached signature, as PAdES and .p7s use.
	EncapsulatedContent []byte
	// ExtraSignedAttrs are added to the signed attributes (signature policy,
	// commitment type, …). They may not repeat an attribute this package manages.
	ExtraSignedAttrs []Attribute
}

// Pending is a signature between Prepare and Complete. All fields are exported and it
// implements encoding.BinaryMarshaler, so the state can be stored across a restart.
type Pending struct {
	Hash         crypto.Hash
	PSS          bool
	SignedAttrs  []byte   // DER SET OF Attribute: the bytes whose digest the key signs
	Certificates [][]byte // DER; the signer's certificate first
	ContentType  asn1.ObjectIdentifier
	Content      []byte // encapsulated content; nil when detached

	// cert is Certificates[0] parsed, kept from Prepare so that Complete does not
	// parse it again; Certificate checks that it is still that certificate.
	cert *x509.Certificate
}

var (
	_ encoding.BinaryMarshaler   = (*Pending)(nil)
	_ encoding.BinaryUnmarshaler = (*Pending)(nil)
)

// Prepare builds the signed attributes over contentDigest (the digest of the content
// under spec.Hash) and returns the state Complete needs.
func Prepare(spec SignerInfoSpec, contentDigest []byte) (*Pending, error) {
	if spec.Certificate == nil {
		return nil, errors.New("cms: no signer certificate")
	}
	if _, err := oidFromHash(spec.Hash); err != nil {
		return nil, err
	}
	if err := checkSigningKey(spec.Certificate.PublicKey, spec.PSS); err != nil {
		return nil, err
	}
	if len(contentDigest) != spec.Hash.Size() {
		return nil, fmt.Errorf("cms: content digest is %d bytes, %s needs %d", len(contentDigest), spec.Hash, spec.Hash.Size())
	}
	if spec.EncapsulatedContent != nil {
		h := spec.Hash.New()
		h.Write(spec.EncapsulatedContent)
		if !bytes.Equal(h.Sum(nil), contentDigest) {
			return nil, errors.New("cms: content digest is not the digest of the encapsulated content")
		}
	}
	ct := spec.ContentType
	if ct == nil {
		ct = OIDData
	}
	ctDER, err := encodeOID(ct)
	if err != nil {
		return nil, fmt.Errorf("cms: content type: %w", err)
	}
	md, err := encodeOctetString(contentDigest)
	if err != nil {
		return nil, fmt.Errorf("cms: message digest: %w", err)
	}
	scv2, err := signingCertificateV2(spec.Certificate, spec.Hash)
	if err != nil {
		return nil, err
	}
	attrs := []Attribute{
		{Type: OIDAttrContentType, Values: [][]byte{ctDER}},
		{Type: OIDAttrMessageDigest, Values: [][]byte{md}},
		{Type: OIDAttrSigningCertificateV2, Values: [][]byte{scv2}},
	}
	switch spec.Profile {
	case ProfilePAdES:
		if !spec.SigningTime.IsZero() {
			return nil, errors.New("cms: PAdES forbids the signing-time attribute; put the time in the signature dictionary (/M)")
		}
	case ProfileCAdES:
		if spec.SigningTime.IsZero() {
			return nil, errors.New("cms: CAdES needs a signing time")
		}
		st, err := encodeSigningTime(spec.SigningTime)
		if err != nil {
			return nil, fmt.Errorf("cms: signing time: %w", err)
		}
		attrs = append(attrs, Attribute{Type: OIDAttrSigningTime, Values: [][]byte{st}})
	default:
		return nil, fmt.Errorf("cms: unknown profile %v", spec.Profile)
	}
	for _, a := range spec.ExtraSignedAttrs {
		for _, m := range attrs {
			if a.Type.Equal(m.Type) {
				return nil, fmt.Errorf("cms: extra signed attribute %s is managed by this package", a.Type)
			}
		}
		if a.Type.Equal(OIDAttrSigningCertificate) {
			return nil, errors.New("cms: signing-certificate (v1, SHA-1) is not allowed next to v2")
		}
		attrs = append(attrs, a)
	}
	signed, err := encodeAttributes(cbasn1.SET, attrs)
	if err != nil {
		return nil, err
	}
	certs := [][]byte{spec.Certificate.Raw}
	for _, c := range spec.Chain {
		if c == nil || containsDER(certs, c.Raw) {
			continue
		}
		certs = append(certs, c.Raw)
	}
	p := &Pending{
		Hash:         spec.Hash,
		PSS:          spec.PSS,
		SignedAttrs:  signed,
		Certificates: certs,
		ContentType:  ct,
		cert:         spec.Certificate,
	}
	if spec.EncapsulatedContent != nil {
		p.Content = bytes.Clone(spec.EncapsulatedContent)
	}
	return p, nil
}

func containsDER(list [][]byte, der []byte) bool {
	for _, d := range list {
		if bytes.Equal(d, der) {
			return true
		}
	}
	return false
}

// SignedAttrsDigest is the digest the key must sign.
func (p *Pending) SignedAttrsDigest() []byte {
	if !p.Hash.Available() {
		return nil
	}
	h := p.Hash.New()
	h.Write(p.SignedAttrs)
	return h.Sum(nil)
}

// SignatureOpts is what to pass to crypto.Signer.Sign with SignedAttrsDigest: the hash
// for PKCS#1 v1.5 and ECDSA, *rsa.PSSOptions (salt length = hash length) for PSS.
func (p *Pending) SignatureOpts() crypto.SignerOpts {
	if p.PSS && p.Hash.Available() {
		return &rsa.PSSOptions{SaltLength: p.Hash.Size(), Hash: p.Hash}
	}
	return p.Hash
}

// Certificate parses the signer's certificate.
func (p *Pending) Certificate() (*x509.Certificate, error) {
	if len(p.Certificates) == 0 {
		return nil, errors.New("cms: pending signature has no certificate")
	}
	if p.cert != nil && bytes.Equal(p.cert.Raw, p.Certificates[0]) {
		return p.cert, nil
	}
	c, err := x509.ParseCertificate(p.Certificates[0])
	if err != nil {
		return nil, fmt.Errorf("cms: pending signature certificate: %w", err)
	}
	return c, nil
}

// Complete checks signature (over SignedAttrsDigest) against the certificate's key and
// returns the DER ContentInfo with the unsigned attributes added. An ECDSA signature may
// come as ASN.1 or as raw r||s (PKCS#11 and CSC services return the latter).
func (p *Pending) Complete(signature []byte, unsigned ...Attribute) ([]byte, error) {
	sig, err := p.checkSignature(signature)
	if err != nil {
		return nil, err
	}
	return p.assemble(sig, unsigned)
}

// CompleteWithTimestamp is Complete plus a signature timestamp from ts (B-T). The TSA is
// asked only after the signature has been checked. When the TSA fails the signature is
// still good: call again with another TSA, or Complete without one, and the key is
// never asked twice.
func (p *Pending) CompleteWithTimestamp(ctx context.Context, signature []byte, ts Timestamper, unsigned ...Attribute) ([]byte, error) {
	sig, err := p.checkSignature(signature)
	if err != nil {
		return nil, err
	}
	attr, err := SignatureTimestamp(ctx, ts, sig)
	if err != nil {
		return nil, err
	}
	return p.assemble(sig, append([]Attribute{attr}, unsigned...))
}

func (p *Pending) checkSignature(signature []byte) ([]byte, error) {
	if err := p.validate(); err != nil {
		return nil, err
	}
	cert, err := p.Certificate()
	if err != nil {
		return nil, err
	}
	digest := p.SignedAttrsDigest()
	switch pub := cert.PublicKey.(type) {
	case *rsa.PublicKey:
		if p.PSS {
			err = rsa.VerifyPSS(pub, p.Hash, digest, signature, &rsa.PSSOptions{SaltLength: p.Hash.Size(), Hash: p.Hash})
		} else {
			err = rsapub.VerifyPKCS1v15(pub, p.Hash, digest, signature)
		}
		if err != nil {
			return nil, fmt.Errorf("%w: the signer's signature does not match the certificate's key (%s)", ErrSignatureInvalid, p.algorithmName(cert))
		}
		return signature, nil
	case *ecdsa.PublicKey:
		if ecdsa.VerifyASN1(pub, digest, signature) {
			return signature, nil
		}
		if der, ok := rawECDSAToASN1(pub, signature); ok && ecdsa.VerifyASN1(pub, digest, der) {
			return der, nil
		}
		return nil, fmt.Errorf("%w: the signer's signature does not match the certificate's key (%s)", ErrSignatureInvalid, p.algorithmName(cert))
	}
	return nil, unsupported(fmt.Sprintf("key %T", cert.PublicKey), "")
}

func (p *Pending) algorithmName(cert *x509.Certificate) string {
	alg, _, err := signatureAlgorithm(cert.PublicKey, p.Hash, p.PSS)
	if err != nil {
		return "?"
	}
	return alg
}

// rawECDSAToASN1 converts a fixed-width r||s signature to the ASN.1 form CMS carries.
func rawECDSAToASN1(pub *ecdsa.PublicKey, sig []byte) ([]byte, bool) {
	n := (pub.Curve.Params().BitSize + 7) / 8
	if len(sig) != 2*n {
		return nil, false
	}
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1BigInt(new(big.Int).SetBytes(sig[:n]))
		b.AddASN1BigInt(new(big.Int).SetBytes(sig[n:]))
	})
	der, err := b.Bytes()
	return der, err == nil
}

func (p *Pending) validate() error {
	if _, err := oidFromHash(p.Hash); err != nil {
		return err
	}
	s := cryptobyte.String(p.SignedAttrs)
	var set cryptobyte.String
	if !s.ReadASN1(&set, cbasn1.SET) || !s.Empty() {
		return errors.New("cms: pending signature: signed attributes are not a DER SET")
	}
	if p.ContentType == nil {
		return errors.New("cms: pending signature has no content type")
	}
	cert, err := p.Certificate()
	if err != nil {
		return err
	}
	return checkSigningKey(cert.PublicKey, p.PSS)
}

// signatureAlgorithm returns a display name and the DER AlgorithmIdentifier for the
// signatureAlgorithm field.
func signatureAlgorithm(pub crypto.PublicKey, h crypto.Hash, pss bool) (string, []byte, error) {
	hashOID, err := oidFromHash(h)
	if err != nil {
		return "", nil, err
	}
	var b cryptobyte.Builder
	var name string
	switch pub.(type) {
	case *rsa.PublicKey:
		if pss {
			name = "RSASSA-PSS with " + h.String()
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddASN1ObjectIdentifier(OIDRSASSAPSS)
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
					b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
						addAlgNull(b, hashOID)
					})
					b.AddASN1(cbasn1.Tag(1).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
						b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
							b.AddASN1ObjectIdentifier(OIDMGF1)
							addAlgNull(b, hashOID)
						})
					})
					b.AddASN1(cbasn1.Tag(2).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
						b.AddASN1Int64(int64(h.Size()))
					})
				})
			})
			break
		}
		name = h.String() + " with RSA"
		var oid asn1.ObjectIdentifier
		switch h {
		case crypto.SHA256:
			oid = OIDSHA256WithRSA
		case crypto.SHA384:
			oid = OIDSHA384WithRSA
		default:
			oid = OIDSHA512WithRSA
		}
		addAlgNull(&b, oid)
	case *ecdsa.PublicKey:
		if pss {
			return "", nil, unsupported("RSA-PSS", "the key is ECDSA")
		}
		name = "ECDSA with " + h.String()
		var oid asn1.ObjectIdentifier
		switch h {
		case crypto.SHA256:
			oid = OIDECDSAWithSHA256
		case crypto.SHA384:
			oid = OIDECDSAWithSHA384
		default:
			oid = OIDECDSAWithSHA512
		}
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { b.AddASN1ObjectIdentifier(oid) })
	default:
		return "", nil, unsupported(fmt.Sprintf("key %T", pub), "")
	}
	der, err := b.Bytes()
	return name, der, err
}

func addAlgNull(b *cryptobyte.Builder, oid asn1.ObjectIdentifier) {
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1ObjectIdentifier(oid)
		b.AddASN1NULL()
	})
}

func (p *Pending) assemble(sig []byte, unsigned []Attribute) ([]byte, error) {
	cert, err := p.Certificate()
	if err != nil {
		return nil, err
	}
	hashOID, err := oidFromHash(p.Hash)
	if err != nil {
		return nil, err
	}
	_, sigAlg, err := signatureAlgorithm(cert.PublicKey, p.Hash, p.PSS)
	if err != nil {
		return nil, err
	}
	var unsignedDER []byte
	if len(unsigned) > 0 {
		if unsignedDER, err = encodeAttributes(cbasn1.Tag(1).Constructed().ContextSpecific(), unsigned); err != nil {
			return nil, err
		}
	}
	// The SignerInfo up to its unsigned attributes; kept whole so that parsed
	// signatures can be re-assembled with new unsigned attributes (see AddUnsigned).
	var si cryptobyte.Builder
	si.AddASN1Int64(1)
	si.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddBytes(cert.RawIssuer)
		b.AddASN1BigInt(cert.SerialNumber)
	})
	si.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { b.AddASN1ObjectIdentifier(hashOID) })
	si.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
		b.AddBytes(setContents(p.SignedAttrs))
	})
	si.AddBytes(sigAlg)
	si.AddASN1OctetString(sig)
	siHead, err := si.Bytes()
	if err != nil {
		return nil, fmt.Errorf("cms: signer info: %w", err)
	}
	version := int64(1)
	if !p.ContentType.Equal(OIDData) {
		version = 3
	}
	var digestAlgs cryptobyte.Builder
	digestAlgs.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { b.AddASN1ObjectIdentifier(hashOID) })
	})
	var encap cryptobyte.Builder
	encap.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1ObjectIdentifier(p.ContentType)
		if p.Content != nil {
			b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
				b.AddASN1OctetString(p.Content)
			})
		}
	})
	var certs cryptobyte.Builder
	certs.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
		for _, c := range p.Certificates {
			b.AddBytes(c)
		}
	})
	parts := signedDataParts{version: version}
	if parts.digestAlgs, err = digestAlgs.Bytes(); err != nil {
		return nil, fmt.Errorf("cms: digest algorithms: %w", err)
	}
	if parts.encap, err = encap.Bytes(); err != nil {
		return nil, fmt.Errorf("cms: encapsulated content: %w", err)
	}
	if parts.certs, err = certs.Bytes(); err != nil {
		return nil, fmt.Errorf("cms: certificates: %w", err)
	}
	return parts.marshal([]signerInfoParts{{head: siHead, unsigned: unsignedDER}})
}

// setContents strips the SET header from a DER SET, for re-tagging as [0] IMPLICIT.
func setContents(set []byte) []byte {
	s := cryptobyte.String(set)
	var body cryptobyte.String
	if !s.ReadASN1(&body, cbasn1.SET) {
		return nil
	}
	return body
}

// signedDataParts holds the encoded pieces of a SignedData, so a parsed one can be
// written back with changed unsigned attributes and every signed byte untouched.
type signedDataParts struct {
	version    int64
	digestAlgs []byte // whole SET element
	encap      []byte // whole SEQUENCE element
	certs      []byte // whole [0] element or nil
	crls       []byte // whole [1] element or nil
}

type signerInfoParts struct {
	head     []byte // SignerInfo contents before unsignedAttrs
	unsigned []byte // whole [1] element or nil
}

func (p signedDataParts) marshal(sis []signerInfoParts) ([]byte, error) {
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1ObjectIdentifier(OIDSignedData)
		b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddASN1Int64(p.version)
				b.AddBytes(p.digestAlgs)
				b.AddBytes(p.encap)
				b.AddBytes(p.certs)
				b.AddBytes(p.crls)
				b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) {
					for _, si := range sis {
						b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
							b.AddBytes(si.head)
							b.AddBytes(si.unsigned)
						})
					}
				})
			})
		})
	})
	der, err := b.Bytes()
	if err != nil {
		return nil, fmt.Errorf("cms: encoding SignedData: %w", err)
	}
	return der, nil
}

// Sign builds a complete CMS over contentDigest with signer, asking it exactly once. A
// signer with SignContext(ctx, digest, opts) (hsm.Key) is called through it so that a
// slow remote approval stops when ctx ends.
func Sign(ctx context.Context, signer crypto.Signer, spec SignerInfoSpec, contentDigest []byte) ([]byte, error) {
	p, sig, err := signOnce(ctx, signer, spec, contentDigest)
	if err != nil {
		return nil, err
	}
	return p.Complete(sig)
}

// SignWithTimestamp is Sign plus a signature timestamp from ts (CAdES/PAdES B-T).
func SignWithTimestamp(ctx context.Context, signer crypto.Signer, spec SignerInfoSpec, contentDigest []byte, ts Timestamper) ([]byte, error) {
	p, sig, err := signOnce(ctx, signer, spec, contentDigest)
	if err != nil {
		return nil, err
	}
	return p.CompleteWithTimestamp(ctx, sig, ts)
}

// contextSigner is the optional ability of hsm.Key, found by type assertion so that
// this package need not import hsm.
type contextSigner interface {
	SignContext(ctx context.Context, digest []byte, opts crypto.SignerOpts) ([]byte, error)
}

func signOnce(ctx context.Context, signer crypto.Signer, spec SignerInfoSpec, contentDigest []byte) (*Pending, []byte, error) {
	if spec.Certificate == nil {
		return nil, nil, errors.New("cms: no signer certificate")
	}
	type equaler interface{ Equal(crypto.PublicKey) bool }
	pub, ok := signer.Public().(equaler)
	if !ok || !pub.Equal(spec.Certificate.PublicKey) {
		return nil, nil, errors.New("cms: the key does not belong to the signer certificate")
	}
	p, err := Prepare(spec, contentDigest)
	if err != nil {
		return nil, nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, fmt.Errorf("cms: sign: %w", err)
	}
	var sig []byte
	if cs, ok := signer.(contextSigner); ok {
		sig, err = cs.SignContext(ctx, p.SignedAttrsDigest(), p.SignatureOpts())
	} else {
		sig, err = signer.Sign(rand.Reader, p.SignedAttrsDigest(), p.SignatureOpts())
	}
	if err != nil {
		return nil, nil, fmt.Errorf("cms: sign: %w", err)
	}
	return p, sig, nil
}

// pendingWire is the serialised form; v lets a later release read old states.
type pendingWire struct {
	V            int      `json:"v"`
	Hash         uint     `json:"hash"`
	PSS          bool     `json:"pss,omitempty"`
	SignedAttrs  []byte   `json:"signed_attrs"`
	Certificates [][]byte `json:"certificates"`
	ContentType  string   `json:"content_type"`
	Content      []byte   `json:"content,omitempty"`
}

// MarshalBinary encodes the pending state (JSON; it holds no secret).
func (p *Pending) MarshalBinary() ([]byte, error) {
	return json.Marshal(pendingWire{
		V: 1, Hash: uint(p.Hash), PSS: p.PSS, SignedAttrs: p.SignedAttrs,
		Certificates: p.Certificates, ContentType: p.ContentType.String(), Content: p.Content,
	})
}

// UnmarshalBinary restores a state written by MarshalBinary and checks it is usable.
func (p *Pending) UnmarshalBinary(data []byte) error {
	var w pendingWire
	if err := json.Unmarshal(data, &w); err != nil {
		return fmt.Errorf("cms: pending signature: %w", err)
	}
	if w.V != 1 {
		return fmt.Errorf("cms: pending signature: unknown version %d", w.V)
	}
	ct, err := parseOIDString(w.ContentType)
	if err != nil {
		return fmt.Errorf("cms: pending signature: content type: %w", err)
	}
	q := Pending{
		Hash: crypto.Hash(w.Hash), PSS: w.PSS, SignedAttrs: w.SignedAttrs,
		Certificates: w.Certificates, ContentType: ct, Content: w.Content,
	}
	if err := q.validate(); err != nil {
		return err
	}
	*p = q
	return nil
}

func parseOIDString(s string) (asn1.ObjectIdentifier, error) {
	var oid asn1.ObjectIdentifier
	n, part := 0, false
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == '.' {
			if !part {
				return nil, fmt.Errorf("bad object identifier %q", s)
			}
			oid = append(oid, n)
			n, part = 0, false
			continue
		}
		c := s[i]
		if c < '0' || c > '9' || n > 1<<28 {
			return nil, fmt.Errorf("bad object identifier %q", s)
		}
		n = n*10 + int(c-'0')
		part = true
	}
	if len(oid) < 2 {
		return nil, fmt.Errorf("bad object identifier %q", s)
	}
	return oid, nil
}
