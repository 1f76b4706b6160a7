// Package testpki mints test PKIs in code (root CA, sub CA, personal, organisation,
// SIM PKI, OCSP responder and TSA certificates, CRLs) and loads the committed one in
// certs-testdata/ (see Load). None of it is for production: keys are generated in the
// clear, pooled per process, and the committed private keys are public.
//
// Test-only: nothing outside _test.go files, test helpers and the gen-testpki command
// may import it. It imports only the standard library, x/crypto (PKCS#12 reads) and
// internal/testenv (where the committed PKI lives).
package testpki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"sync"
	"testing"
	"time"
)

// KeyType names the key algorithms the project signs with.
type KeyType int

// The zero KeyType means "the default": RSA 2048 for a PKI, the PKI's for a leaf.
const (
	RSA2048 KeyType = iota + 1
	RSA3072
	RSA4096
	ECDSAP256
	ECDSAP384
)

// KeyTypes lists every KeyType, for table-driven tests.
var KeyTypes = []KeyType{RSA2048, RSA3072, RSA4096, ECDSAP256, ECDSAP384}

func (k KeyType) String() string {
	switch k {
	case RSA2048:
		return "rsa2048"
	case RSA3072:
		return "rsa3072"
	case RSA4096:
		return "rsa4096"
	case ECDSAP256:
		return "p256"
	case ECDSAP384:
		return "p384"
	}
	return fmt.Sprintf("KeyType(%d)", int(k))
}

// GenerateKey makes a fresh key of type k.
func GenerateKey(k KeyType) (crypto.Signer, error) {
	switch k {
	case 0, RSA2048:
		return rsa.GenerateKey(rand.Reader, 2048)
	case RSA3072:
		return rsa.GenerateKey(rand.Reader, 3072)
	case RSA4096:
		return rsa.GenerateKey(rand.Reader, 4096)
	case ECDSAP256:
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case ECDSAP384:
		return ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	}
	return nil, fmt.Errorf("testpki: unknown key type %d", int(k))
}

// keyPool keeps keys for the life of the process: RSA generation dominates the cost of
// a throw-away PKI (a 4096-bit key takes seconds), and tests do not need fresh keys,
// only distinct keys within one PKI.
var keyPool struct {
	sync.Mutex
	keys map[KeyType][]crypto.Signer
}

// PooledKey returns the i-th key of type k of this process, generating it on first use.
// The same (k, i) gives the same key for the whole process.
func PooledKey(k KeyType, i int) (crypto.Signer, error) {
	if k == 0 {
		k = RSA2048
	}
	keyPool.Lock()
	defer keyPool.Unlock()
	if keyPool.keys == nil {
		keyPool.keys = map[KeyType][]crypto.Signer{}
	}
	for len(keyPool.keys[k]) <= i {
		key, err := GenerateKey(k)
		if err != nil {
			return nil, err
		}
		keyPool.keys[k] = append(keyPool.keys[k], key)
	}
	return keyPool.keys[k][i], nil
}

// Kind is the role of a certificate in the PKI; it decides key usage, extended key
// usage and the extensions written.
type Kind int

const (
	// Personal is a person's signing certificate (digitalSignature, nonRepudiation).
	Personal Kind = iota
	// Organisation is an agency's signing certificate (the seal, "con dấu").
	Organisation
	// SIM is a SIM PKI (mobile signature) personal certificate.
	SIM
	// OCSPResponder signs OCSP responses for its issuer (EKU OCSPSigning,
	// id-pkix-ocsp-nocheck).
	OCSPResponder
	// TSA signs RFC 3161 timestamps (EKU timeStamping, critical).
	TSA
	// IntermediateCA is a CA below the root.
	IntermediateCA
)

// Certificate policy OIDs of the test PKI, under the ISO example arc 2.999 so that they
// can never be mistaken for a real CA's policy.
var (
	PolicyPersonal     = asn1.ObjectIdentifier{2, 999, 1, 1}
	PolicyOrganisation = asn1.ObjectIdentifier{2, 999, 1, 2}
	PolicySIM          = asn1.ObjectIdentifier{2, 999, 1, 3}
)

// Well-known OIDs written into the certificates.
var (
	OIDOrganizationIdentifier = asn1.ObjectIdentifier{2, 5, 4, 97}
	OIDUID                    = asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 1}
	OIDOCSPNoCheck            = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 1, 5}
	oidExtKeyUsage            = asn1.ObjectIdentifier{2, 5, 29, 37}
	oidEKUTimeStamping        = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 8}
)

// Cert is a certificate with its private key.
type Cert struct {
	Cert *x509.Certificate
	Key  crypto.Signer
	// Chain is the issuer certificates, nearest first, up to and including the root.
	Chain []*x509.Certificate
}

// ChainWithLeaf is the leaf followed by Chain.
func (c *Cert) ChainWithLeaf() []*x509.Certificate {
	return append([]*x509.Certificate{c.Cert}, c.Chain...)
}

// Options shape a PKI minted by New or NewPKI. The zero value is a sensible default.
type Options struct {
	// KeyType of the CAs and of leaves whose Spec leaves KeyType zero (zero: RSA2048).
	KeyType KeyType
	// NotBefore and NotAfter bound every certificate unless a Spec says otherwise
	// (default: an hour ago to ten years from now).
	NotBefore, NotAfter time.Time
	// SubNotAfter ends the sub CA (default NotAfter): real sub CAs end before their root.
	SubNotAfter time.Time
	// RootName and SubName are the CAs' common names.
	RootName, SubName string
	// OCSPURL goes into leaves' Authority Information Access; CRLURL into leaves' CRL
	// distribution points; RootCRLURL into the sub CA's. Empty leaves them out.
	OCSPURL, CRLURL, RootCRLURL string
	// FreshKeys generates new keys instead of taking them from the process pool.
	FreshKeys bool
	// RootKey and SubKey, when set, are used instead of generated keys.
	RootKey, SubKey crypto.Signer
}

// PKI is a root CA and a sub CA that issues leaves.
type PKI struct {
	Root *Cert
	Sub  *Cert
	opts Options

	mu      sync.Mutex
	nextKey map[KeyType]int
}

// Spec describes a leaf to issue.
type Spec struct {
	Kind    Kind
	Subject pkix.Name
	// KeyType of a generated key (zero: the PKI's). Key, when set, is used instead.
	KeyType KeyType
	Key     crypto.Signer
	// NotBefore and NotAfter default to the PKI's.
	NotBefore, NotAfter time.Time
	// Issuer defaults to the PKI's sub CA.
	Issuer *Cert
	// NoRevocationURLs leaves out AIA OCSP and CRL distribution points.
	NoRevocationURLs bool
	// SerialNumber defaults to a random 128-bit number.
	SerialNumber *big.Int
}

// New mints a throw-away PKI for a test, failing the test on error.
func New(t testing.TB, opts ...Options) *PKI {
	t.Helper()
	var o Options
	if len(opts) > 0 {
		o = opts[0]
	}
	p, err := NewPKI(o)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// NewPKI mints a root CA and a sub CA.
func NewPKI(o Options) (*PKI, error) {
	if o.NotBefore.IsZero() {
		o.NotBefore = time.Now().Add(-time.Hour).Truncate(time.Second)
	}
	if o.NotAfter.IsZero() {
		o.NotAfter = o.NotBefore.AddDate(10, 0, 0)
	}
	if o.SubNotAfter.IsZero() {
		o.SubNotAfter = o.NotAfter
	}
	if o.RootName == "" {
		o.RootName = "Kyso TEST Root CA — NOT FOR PRODUCTION"
	}
	if o.SubName == "" {
		o.SubName = "Kyso TEST Sub CA — NOT FOR PRODUCTION"
	}
	p := &PKI{opts: o, nextKey: map[KeyType]int{}}
	rootKey := o.RootKey
	var err error
	if rootKey == nil {
		if rootKey, err = p.key(o.KeyType); err != nil {
			return nil, err
		}
	}
	rootTmpl := &x509.Certificate{
		Subject:               caName(o.RootName),
		NotBefore:             o.NotBefore,
		NotAfter:              o.NotAfter,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	root, err := create(rootTmpl, rootKey, nil)
	if err != nil {
		return nil, err
	}
	p.Root = root
	subKey := o.SubKey
	if subKey == nil {
		if subKey, err = p.key(o.KeyType); err != nil {
			return nil, err
		}
	}
	subTmpl := &x509.Certificate{
		Subject:               caName(o.SubName),
		NotBefore:             o.NotBefore,
		NotAfter:              o.SubNotAfter,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	if o.RootCRLURL != "" {
		subTmpl.CRLDistributionPoints = []string{o.RootCRLURL}
	}
	sub, err := create(subTmpl, subKey, root)
	if err != nil {
		return nil, err
	}
	p.Sub = sub
	return p, nil
}

func caName(cn string) pkix.Name {
	return pkix.Name{Country: []string{"VN"}, Organization: []string{"Kyso TEST PKI — NOT FOR PRODUCTION"}, CommonName: cn}
}

func (p *PKI) key(k KeyType) (crypto.Signer, error) {
	if k == 0 {
		k = RSA2048
	}
	if p.opts.FreshKeys {
		return GenerateKey(k)
	}
	p.mu.Lock()
	i := p.nextKey[k]
	p.nextKey[k] = i + 1
	p.mu.Unlock()
	return PooledKey(k, i)
}

// Issue mints a leaf, failing the test on error.
func (p *PKI) Issue(t testing.TB, s Spec) *Cert {
	t.Helper()
	c, err := p.IssueLeaf(s)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// IssueLeaf mints a leaf (or an intermediate CA) described by s.
func (p *PKI) IssueLeaf(s Spec) (*Cert, error) {
	issuer := s.Issuer
	if issuer == nil {
		issuer = p.Sub
	}
	key := s.Key
	if key == nil {
		kt := s.KeyType
		if kt == 0 {
			kt = p.opts.KeyType
		}
		var err error
		if key, err = p.key(kt); err != nil {
			return nil, err
		}
	}
	tmpl := &x509.Certificate{
		SerialNumber: s.SerialNumber,
		Subject:      s.Subject,
		NotBefore:    s.NotBefore,
		NotAfter:     s.NotAfter,
	}
	if tmpl.NotBefore.IsZero() {
		tmpl.NotBefore = p.opts.NotBefore
	}
	if tmpl.NotAfter.IsZero() {
		tmpl.NotAfter = p.opts.NotAfter
	}
	if tmpl.Subject.CommonName == "" {
		tmpl.Subject.CommonName = fmt.Sprintf("Kyso TEST leaf %d", s.Kind)
	}
	revocationURLs := !s.NoRevocationURLs
	switch s.Kind {
	case Personal, SIM, Organisation:
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment
		policy, err := x509.OIDFromASN1OID(map[Kind]asn1.ObjectIdentifier{
			Personal: PolicyPersonal, SIM: PolicySIM, Organisation: PolicyOrganisation}[s.Kind])
		if err != nil {
			return nil, err
		}
		tmpl.Policies = []x509.OID{policy}
	case OCSPResponder:
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageOCSPSigning}
		// RFC 6960 4.2.2.2.1: a responder certificate with nocheck is trusted for its
		// lifetime; a responder pointing at itself for its own status would loop.
		tmpl.ExtraExtensions = []pkix.Extension{{Id: OIDOCSPNoCheck, Value: asn1.NullBytes}}
		revocationURLs = false
	case TSA:
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature
		// RFC 3161 2.3 requires the EKU to be critical; crypto/x509 writes it
		// non-critical, so the extension is written by hand.
		eku, err := asn1.Marshal([]asn1.ObjectIdentifier{oidEKUTimeStamping})
		if err != nil {
			return nil, err
		}
		tmpl.ExtraExtensions = []pkix.Extension{{Id: oidExtKeyUsage, Critical: true, Value: eku}}
	case IntermediateCA:
		tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign
		tmpl.BasicConstraintsValid = true
		tmpl.IsCA = true
		tmpl.MaxPathLenZero = true
		revocationURLs = false
	default:
		return nil, fmt.Errorf("testpki: unknown kind %d", int(s.Kind))
	}
	if revocationURLs {
		if p.opts.OCSPURL != "" {
			tmpl.OCSPServer = []string{p.opts.OCSPURL}
		}
		if p.opts.CRLURL != "" {
			tmpl.CRLDistributionPoints = []string{p.opts.CRLURL}
		}
	}
	return create(tmpl, key, issuer)
}

// SelfSigned mints a self-signed CA certificate named subject, with its own fresh key:
// an impostor root for chain-building tests.
func SelfSigned(subject pkix.Name, k KeyType, notBefore, notAfter time.Time) (*Cert, error) {
	key, err := GenerateKey(k)
	if err != nil {
		return nil, err
	}
	return create(&x509.Certificate{
		Subject:               subject,
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}, key, nil)
}

// create signs tmpl with issuer's key (self-signed when issuer is nil).
func create(tmpl *x509.Certificate, key crypto.Signer, issuer *Cert) (*Cert, error) {
	if tmpl.SerialNumber == nil {
		serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
		if err != nil {
			return nil, err
		}
		// Keep the serial at 16 bytes with a non-zero top byte so index.txt and
		// OpenSSL print it the same way every time.
		tmpl.SerialNumber = serial.SetBit(serial, 126, 1)
	}
	ski, err := subjectKeyID(key.Public())
	if err != nil {
		return nil, err
	}
	tmpl.SubjectKeyId = ski
	parent, signer := tmpl, key
	var chain []*x509.Certificate
	if issuer != nil {
		parent, signer = issuer.Cert, issuer.Key
		chain = append([]*x509.Certificate{issuer.Cert}, issuer.Chain...)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), signer)
	if err != nil {
		return nil, fmt.Errorf("testpki: create %q: %w", tmpl.Subject.CommonName, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("testpki: parse %q: %w", tmpl.Subject.CommonName, err)
	}
	return &Cert{Cert: cert, Key: key, Chain: chain}, nil
}

// subjectKeyID is RFC 5280 4.2.1.2 method (1), so that the same key gives the same
// identifier whichever code made the certificate.
func subjectKeyID(pub crypto.PublicKey) ([]byte, error) {
	spki, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, err
	}
	var info struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}
	if _, err := asn1.Unmarshal(spki, &info); err != nil {
		return nil, err
	}
	sum := sha1.Sum(info.PublicKey.Bytes)
	return sum[:], nil
}

// Revoked is an entry of a CRL.
type Revoked struct {
	Serial *big.Int
	Time   time.Time
	// Reason is an RFC 5280 CRLReason code (1 keyCompromise, ...); 0 leaves it out.
	Reason int
}

// CRL issues a DER CRL signed by issuer (the sub CA when nil).
func (p *PKI) CRL(issuer *Cert, number int64, thisUpdate, nextUpdate time.Time, revoked ...Revoked) ([]byte, error) {
	if issuer == nil {
		issuer = p.Sub
	}
	return IssueCRL(issuer, number, thisUpdate, nextUpdate, revoked...)
}

// IssueCRL makes a DER CRL signed by issuer.
func IssueCRL(issuer *Cert, number int64, thisUpdate, nextUpdate time.Time, revoked ...Revoked) ([]byte, error) {
	if issuer == nil || issuer.Key == nil {
		return nil, errors.New("testpki: a CRL needs an issuer with its key")
	}
	tmpl := &x509.RevocationList{
		Number:     big.NewInt(number),
		ThisUpdate: thisUpdate,
		NextUpdate: nextUpdate,
	}
	for _, r := range revoked {
		tmpl.RevokedCertificateEntries = append(tmpl.RevokedCertificateEntries, x509.RevocationListEntry{
			SerialNumber:   r.Serial,
			RevocationTime: r.Time,
			ReasonCode:     r.Reason,
		})
	}
	der, err := x509.CreateRevocationList(rand.Reader, tmpl, issuer.Cert, issuer.Key)
	if err != nil {
		return nil, fmt.Errorf("testpki: create CRL: %w", err)
	}
	return der, nil
}
