package testpki

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/crypto/pkcs12"

	"github.com/kyso-vn/kyso/internal/certfile"
)

// The revocation endpoints written into the committed certificates. No test listens
// there: a test in this process starts the responders on free ports and points its
// clients at them by rewriting these URLs (pki.Checker.RewriteURL, see
// pkitest.Services); a test whose server runs in another process gets a copy of the
// PKI minted with the URLs of its own responders (TestPKI.MintAt, see
// pkitest.ServeRevocation).
const (
	// OCSPPort and CRLPort are the ports of these URLs, for a demo that serves them.
	OCSPPort   = 18961
	CRLPort    = 18962
	OCSPURL    = "http://127.0.0.1:18961/ocsp"
	SubCRLURL  = "http://127.0.0.1:18962/sub-ca.crl"
	RootCRLURL = "http://127.0.0.1:18962/root-ca.crl"
)

// URLs are the revocation endpoints a minted PKI's certificates name: OCSP in the
// leaves' Authority Information Access, SubCRL in the leaves' CRL distribution
// points, RootCRL in the sub CA's.
type URLs struct {
	OCSP, SubCRL, RootCRL string
}

// CommittedURLs are the URLs of the committed certificates.
var CommittedURLs = URLs{OCSP: OCSPURL, SubCRL: SubCRLURL, RootCRL: RootCRLURL}

// OrgP12Password is the demo password of certs-testdata/org.p12. Public on purpose.
const OrgP12Password = "kyso-demo"

// Fixed dates of the committed PKI, so that regenerating it gives the same validity and
// tests that depend on them do not rot.
var (
	CANotBefore   = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	RootNotAfter  = time.Date(2049, 12, 31, 0, 0, 0, 0, time.UTC)
	SubNotAfter   = time.Date(2047, 12, 31, 0, 0, 0, 0, time.UTC)
	LeafNotBefore = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	LeafNotAfter  = time.Date(2045, 12, 31, 0, 0, 0, 0, time.UTC)
	// The expired certificate was valid through 2022 and 2023 only.
	ExpiredNotBefore = time.Date(2022, 1, 1, 0, 0, 0, 0, time.UTC)
	ExpiredNotAfter  = time.Date(2023, 12, 31, 0, 0, 0, 0, time.UTC)
	// RevokedAt is when revoked.pem was revoked (reason keyCompromise).
	RevokedAt      = time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	CRLThisUpdate  = time.Date(2025, 6, 2, 0, 0, 0, 0, time.UTC)
	CRLNextUpdate  = time.Date(2045, 12, 31, 0, 0, 0, 0, time.UTC)
	RevokedReason  = 1 // keyCompromise
	OrgName        = "Ủy ban nhân dân tỉnh Ninh Thuận"
	OrgCode        = "000.00.00.H43"
	LeaderName     = "Nguyễn Văn A"
	ClerkName      = "Trần Thị B"
	PersonalECName = "Lê Văn C"
	SIMName        = "Phạm Thị D"
	SIMPhone       = "+84912345678"
)

// Files of certs-testdata/. Certificates are PEM, keys PKCS#8 PEM, CRLs DER.
const (
	FileRootCA  = "root-ca.pem"
	FileSubCA   = "sub-ca.pem"
	FileChain   = "chain.pem"
	FileSubCRL  = "sub-ca.crl"
	FileRootCRL = "root-ca.crl"
	FileIndex   = "index.txt"
	FileOrgP12  = "org.p12"
)

// TestPKI is the committed test PKI of certs-testdata/, typed.
type TestPKI struct {
	Dir        string
	Root, Sub  *Cert
	Leader     *Cert // personal, RSA 2048
	Clerk      *Cert // personal, RSA 2048
	PersonalEC *Cert // personal, ECDSA P-256
	Org        *Cert // organisation, RSA 3072
	SIM        *Cert // SIM PKI personal, RSA 2048
	Expired    *Cert // personal, expired at ExpiredNotAfter
	Revoked    *Cert // personal, revoked at RevokedAt
	OCSP       *Cert // OCSP responder for the sub CA
	TSA        *Cert // timestamping unit
	SubCRL     []byte
	RootCRL    []byte
}

// Path is the path of a file of the test PKI.
func (p *TestPKI) Path(name string) string { return filepath.Join(p.Dir, name) }

// Roots is a pool holding only the test root.
func (p *TestPKI) Roots() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(p.Root.Cert)
	return pool
}

// Leaves maps each leaf's file stem to it, for table-driven tests.
func (p *TestPKI) Leaves() map[string]*Cert {
	return map[string]*Cert{
		"leader": p.Leader, "clerk": p.Clerk, "personal-ec": p.PersonalEC, "org": p.Org,
		"sim": p.SIM, "expired": p.Expired, "revoked": p.Revoked, "ocsp": p.OCSP, "tsa": p.TSA,
	}
}

// leafSpec is one leaf of the committed PKI.
type leafSpec struct {
	stem string
	spec Spec
	set  func(*TestPKI, *Cert)
}

func personName(cn, id string) pkix.Name {
	return pkix.Name{
		Country:    []string{"VN"},
		Province:   []string{"Ninh Thuận"},
		CommonName: cn,
		// Vietnamese CAs carry the citizen identity number as UID "CCCD:..." (and the
		// tax code as "MST:...").
		ExtraNames: []pkix.AttributeTypeAndValue{{Type: OIDUID, Value: "CCCD:" + id}},
	}
}

func leafSpecs() []leafSpec {
	org := pkix.Name{
		Country:      []string{"VN"},
		Province:     []string{"Ninh Thuận"},
		Organization: []string{OrgName},
		CommonName:   OrgName,
		// The agency identifier code (Decision 20/2020/QD-TTg) goes in
		// organizationIdentifier (2.5.4.97, ETSI EN 319 412-1), the attribute made for
		// an organisation's registered identifier.
		ExtraNames: []pkix.AttributeTypeAndValue{{Type: OIDOrganizationIdentifier, Value: OrgCode}},
	}
	sim := personName(SIMName, "001090000004")
	sim.ExtraNames = append(sim.ExtraNames, pkix.AttributeTypeAndValue{Type: asn1OIDTelephone, Value: SIMPhone})
	return []leafSpec{
		{"leader", Spec{Kind: Personal, Subject: personName(LeaderName, "001080000001"), KeyType: RSA2048},
			func(p *TestPKI, c *Cert) { p.Leader = c }},
		{"clerk", Spec{Kind: Personal, Subject: personName(ClerkName, "001090000002"), KeyType: RSA2048},
			func(p *TestPKI, c *Cert) { p.Clerk = c }},
		{"personal-ec", Spec{Kind: Personal, Subject: personName(PersonalECName, "001090000003"), KeyType: ECDSAP256},
			func(p *TestPKI, c *Cert) { p.PersonalEC = c }},
		{"org", Spec{Kind: Organisation, Subject: org, KeyType: RSA3072},
			func(p *TestPKI, c *Cert) { p.Org = c }},
		{"sim", Spec{Kind: SIM, Subject: sim, KeyType: RSA2048},
			func(p *TestPKI, c *Cert) { p.SIM = c }},
		{"expired", Spec{Kind: Personal, Subject: personName("Kyso TEST expired — Hoàng Văn E", "001090000005"),
			NotBefore: ExpiredNotBefore, NotAfter: ExpiredNotAfter, KeyType: RSA2048},
			func(p *TestPKI, c *Cert) { p.Expired = c }},
		{"revoked", Spec{Kind: Personal, Subject: personName("Kyso TEST revoked — Vũ Thị F", "001090000006"), KeyType: RSA2048},
			func(p *TestPKI, c *Cert) { p.Revoked = c }},
		{"ocsp", Spec{Kind: OCSPResponder, Subject: caName("Kyso TEST OCSP Responder — NOT FOR PRODUCTION"), KeyType: RSA2048},
			func(p *TestPKI, c *Cert) { p.OCSP = c }},
		{"tsa", Spec{Kind: TSA, Subject: caName("Kyso TEST TSA — NOT FOR PRODUCTION"), KeyType: RSA2048},
			func(p *TestPKI, c *Cert) { p.TSA = c }},
	}
}

var asn1OIDTelephone = []int{2, 5, 4, 20}

// Generate mints the committed test PKI into dir: fresh keys, fixed names, dates and
// URLs. It runs openssl for org.p12 (the standard library writes no PKCS#12).
func Generate(dir string) error {
	rootKey, err := GenerateKey(RSA4096)
	if err != nil {
		return err
	}
	subKey, err := GenerateKey(RSA3072)
	if err != nil {
		return err
	}
	_, err = generate(dir, rootKey, subKey, nil, CommittedURLs)
	return err
}

// MintAt writes into dir a copy of p — the same keys, names and dates, new
// certificates, CRLs and OCSP index — whose certificates name the revocation
// endpoints u, and returns it. Made from p's keys it takes a few milliseconds of
// signing (and one openssl run for org.p12), so a test mints its own with the
// addresses its responders got.
func (p *TestPKI) MintAt(dir string, u URLs) (*TestPKI, error) {
	keys := map[string]crypto.Signer{}
	for stem, c := range p.Leaves() {
		keys[stem] = c.Key
	}
	return generate(dir, p.Root.Key, p.Sub.Key, keys, u)
}

// generate writes the test PKI into dir with the given CA keys, the leaf keys by file
// stem (a missing one is generated) and the URLs.
func generate(dir string, rootKey, subKey crypto.Signer, leafKeys map[string]crypto.Signer, u URLs) (*TestPKI, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	pki, err := NewPKI(Options{
		FreshKeys:   true,
		RootKey:     rootKey,
		SubKey:      subKey,
		NotBefore:   CANotBefore,
		NotAfter:    RootNotAfter,
		SubNotAfter: SubNotAfter,
		RootName:    "Kyso TEST Root CA — NOT FOR PRODUCTION",
		SubName:     "Kyso TEST Government CA — NOT FOR PRODUCTION",
		OCSPURL:     u.OCSP,
		CRLURL:      u.SubCRL,
		RootCRLURL:  u.RootCRL,
	})
	if err != nil {
		return nil, err
	}
	out := &TestPKI{Dir: dir, Root: pki.Root, Sub: pki.Sub}
	for _, l := range leafSpecs() {
		s := l.spec
		if s.NotBefore.IsZero() {
			s.NotBefore, s.NotAfter = LeafNotBefore, LeafNotAfter
		}
		s.Key = leafKeys[l.stem]
		c, err := pki.IssueLeaf(s)
		if err != nil {
			return nil, err
		}
		l.set(out, c)
		if err := writeCertKey(dir, l.stem, c); err != nil {
			return nil, err
		}
	}
	if err := writeCertKey(dir, "root-ca", pki.Root); err != nil {
		return nil, err
	}
	if err := writeCertKey(dir, "sub-ca", pki.Sub); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, FileChain), pemCerts(pki.Sub.Cert, pki.Root.Cert), 0o644); err != nil {
		return nil, err
	}
	subCRL, err := pki.CRL(pki.Sub, 1, CRLThisUpdate, CRLNextUpdate,
		Revoked{Serial: out.Revoked.Cert.SerialNumber, Time: RevokedAt, Reason: RevokedReason})
	if err != nil {
		return nil, err
	}
	rootCRL, err := pki.CRL(pki.Root, 1, CRLThisUpdate, CRLNextUpdate)
	if err != nil {
		return nil, err
	}
	out.SubCRL, out.RootCRL = subCRL, rootCRL
	for name, data := range map[string][]byte{
		FileSubCRL:           subCRL,
		FileRootCRL:          rootCRL,
		FileSubCRL + ".pem":  pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: subCRL}),
		FileIndex:            IndexTxt(out),
		FileIndex + ".attr":  []byte("unique_subject = no\n"),
		FileRootCRL + ".pem": pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: rootCRL}),
	} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			return nil, err
		}
	}
	return out, writeP12(dir)
}

// IndexTxt renders an OpenSSL CA database of the sub CA's leaves, for `openssl ocsp
// -index`: V for valid (and expired: OCSP still answers for them), R with the
// revocation time and reason for the revoked one.
func IndexTxt(p *TestPKI) []byte {
	var b bytes.Buffer
	for _, c := range []*Cert{p.Leader, p.Clerk, p.PersonalEC, p.Org, p.SIM, p.Expired, p.Revoked, p.OCSP, p.TSA} {
		status, revoked := "V", ""
		if c == p.Revoked {
			status, revoked = "R", opensslTime(RevokedAt)+",keyCompromise"
		}
		fmt.Fprintf(&b, "%s\t%s\t%s\t%s\tunknown\t%s\n", status, opensslTime(c.Cert.NotAfter), revoked,
			strings.ToUpper(c.Cert.SerialNumber.Text(16)), opensslDN(c.Cert.RawSubject))
	}
	return b.Bytes()
}

func opensslTime(t time.Time) string { return t.UTC().Format("060102150405Z") }

// opensslDN is the one-line form openssl ca writes; openssl ocsp does not read it back,
// so escaping is not needed beyond '/'.
func opensslDN(rawSubject []byte) string {
	var rdns pkix.RDNSequence
	if _, err := asn1.Unmarshal(rawSubject, &rdns); err != nil {
		return "/CN=unparsable"
	}
	var b strings.Builder
	for _, atv := range rdns {
		for _, a := range atv {
			fmt.Fprintf(&b, "/%s=%v", a.Type, strings.ReplaceAll(fmt.Sprint(a.Value), "/", `\/`))
		}
	}
	return b.String()
}

func pemCerts(certs ...*x509.Certificate) []byte {
	var b bytes.Buffer
	for _, c := range certs {
		_ = pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	return b.Bytes()
}

func writeCertKey(dir, stem string, c *Cert) error {
	keyDER, err := x509.MarshalPKCS8PrivateKey(c.Key)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, stem+".pem"), pemCerts(c.Cert), 0o644); err != nil {
		return err
	}
	// 0644 on purpose: these keys are public test data, committed to git.
	return os.WriteFile(filepath.Join(dir, stem+".key"),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o644)
}

// writeP12 packs org.key and org.pem with legacy PBE-SHA1-3DES and a SHA-1 MAC, the one
// profile both openssl and golang.org/x/crypto/pkcs12 (which reads nothing newer) read.
// The chain is left out because x/crypto/pkcs12.Decode takes exactly one certificate.
func writeP12(dir string) error {
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		return fmt.Errorf("testpki: org.p12 needs openssl (Debian package openssl): %w", err)
	}
	cmd := exec.Command(openssl, "pkcs12", "-export", "-inkey", "org.key", "-in", "org.pem",
		"-name", "org", "-keypbe", "PBE-SHA1-3DES", "-certpbe", "PBE-SHA1-3DES", "-macalg", "sha1",
		"-passout", "pass:"+OrgP12Password, "-out", FileOrgP12)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("testpki: openssl pkcs12: %w: %s", err, out)
	}
	return os.Chmod(filepath.Join(dir, FileOrgP12), 0o644)
}

// Load reads the committed test PKI from dir (certs-testdata/) and checks that it hangs
// together: each certificate matches its key and chains to the root.
func Load(dir string) (*TestPKI, error) {
	p := &TestPKI{Dir: dir}
	var err error
	if p.Root, err = loadCertKey(dir, "root-ca", nil); err != nil {
		return nil, err
	}
	if p.Sub, err = loadCertKey(dir, "sub-ca", p.Root); err != nil {
		return nil, err
	}
	for _, l := range leafSpecs() {
		c, err := loadCertKey(dir, l.stem, p.Sub)
		if err != nil {
			return nil, err
		}
		l.set(p, c)
	}
	if p.SubCRL, err = os.ReadFile(filepath.Join(dir, FileSubCRL)); err != nil {
		return nil, fmt.Errorf("testpki: %w", err)
	}
	if p.RootCRL, err = os.ReadFile(filepath.Join(dir, FileRootCRL)); err != nil {
		return nil, fmt.Errorf("testpki: %w", err)
	}
	return p, nil
}

func loadCertKey(dir, stem string, issuer *Cert) (*Cert, error) {
	certs, err := ReadCertificates(filepath.Join(dir, stem+".pem"))
	if err != nil {
		return nil, err
	}
	if len(certs) != 1 {
		return nil, fmt.Errorf("testpki: %s.pem holds %d certificates, want 1", stem, len(certs))
	}
	key, err := ReadKey(filepath.Join(dir, stem+".key"))
	if err != nil {
		return nil, err
	}
	if !publicKeyEqual(certs[0].PublicKey, key.Public()) {
		return nil, fmt.Errorf("testpki: %s.key does not match %s.pem", stem, stem)
	}
	c := &Cert{Cert: certs[0], Key: key}
	signer := certs[0]
	if issuer != nil {
		signer = issuer.Cert
		c.Chain = append([]*x509.Certificate{issuer.Cert}, issuer.Chain...)
	}
	if err := certs[0].CheckSignatureFrom(signer); err != nil {
		return nil, fmt.Errorf("testpki: %s.pem is not signed by %s: %w", stem, signer.Subject.CommonName, err)
	}
	return c, nil
}

func publicKeyEqual(a, b crypto.PublicKey) bool {
	e, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && e.Equal(b)
}

// ReadCertificates reads every CERTIFICATE block of a PEM file, or one DER certificate.
func ReadCertificates(path string) ([]*x509.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("testpki: %w", err)
	}
	certs, err := certfile.Parse(data)
	if err != nil {
		return nil, fmt.Errorf("testpki: %s: %w", path, err)
	}
	return certs, nil
}

// ReadKey reads a PKCS#8 PEM private key.
func ReadKey(path string) (crypto.Signer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("testpki: %w", err)
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("testpki: %s: no PKCS#8 PRIVATE KEY block", path)
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("testpki: %s: %w", path, err)
	}
	s, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("testpki: %s: key of type %T cannot sign", path, key)
	}
	return s, nil
}

// ReadOrgP12 decodes org.p12 with the demo password.
func ReadOrgP12(dir string) (crypto.Signer, *x509.Certificate, error) {
	data, err := os.ReadFile(filepath.Join(dir, FileOrgP12))
	if err != nil {
		return nil, nil, fmt.Errorf("testpki: %w", err)
	}
	key, cert, err := pkcs12.Decode(data, OrgP12Password)
	if err != nil {
		return nil, nil, fmt.Errorf("testpki: org.p12: %w", err)
	}
	s, ok := key.(crypto.Signer)
	if !ok {
		return nil, nil, errors.New("testpki: org.p12: key cannot sign")
	}
	return s, cert, nil
}

// SerialHex is a serial as index.txt and openssl print it.
func SerialHex(n *big.Int) string { return strings.ToUpper(n.Text(16)) }

// PKI returns a minting PKI over the committed root and sub CA, for tests that need one
// more certificate of the test hierarchy (for instance one the OCSP responder has never
// heard of). Its leaves carry the committed OCSP and CRL URLs and last until
// LeafNotAfter.
func (p *TestPKI) PKI() *PKI {
	return &PKI{Root: p.Root, Sub: p.Sub, nextKey: map[KeyType]int{}, opts: Options{
		NotBefore: LeafNotBefore, NotAfter: LeafNotAfter,
		OCSPURL: OCSPURL, CRLURL: SubCRLURL, RootCRLURL: RootCRLURL,
	}}
}
