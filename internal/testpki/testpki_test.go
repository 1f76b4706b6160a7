package testpki_test

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/asn1"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kyso-vn/kyso/internal/testenv"
	"github.com/kyso-vn/kyso/internal/testpki"
)

func loadCommitted(t *testing.T) *testpki.TestPKI {
	t.Helper()
	p, err := testpki.Load(testenv.TestPKIDir())
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func hasExt(c *x509.Certificate, oid asn1.ObjectIdentifier) (present, critical bool) {
	for _, e := range c.Extensions {
		if e.Id.Equal(oid) {
			return true, e.Critical
		}
	}
	return false, false
}

func TestCommittedPKI(t *testing.T) {
	p := loadCommitted(t)
	now := time.Now()
	opts := x509.VerifyOptions{
		Roots:         p.Roots(),
		Intermediates: x509.NewCertPool(),
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	}
	opts.Intermediates.AddCert(p.Sub.Cert)
	ekuOID := asn1.ObjectIdentifier{2, 5, 29, 37}
	tests := []struct {
		name  string
		cert  *testpki.Cert
		check func(t *testing.T, c *x509.Certificate)
	}{
		{"root", p.Root, func(t *testing.T, c *x509.Certificate) {
			if !c.IsCA || !strings.Contains(c.Subject.CommonName, "NOT FOR PRODUCTION") || c.CheckSignatureFrom(c) != nil {
				t.Errorf("root: CA=%v name=%q, want a self-signed CA saying NOT FOR PRODUCTION", c.IsCA, c.Subject.CommonName)
			}
		}},
		{"sub", p.Sub, func(t *testing.T, c *x509.Certificate) {
			if !c.IsCA || c.MaxPathLen != 0 || !c.MaxPathLenZero || !slices.Equal(c.CRLDistributionPoints, []string{testpki.RootCRLURL}) {
				t.Errorf("sub CA: CA=%v pathlen=%d CDP=%v", c.IsCA, c.MaxPathLen, c.CRLDistributionPoints)
			}
		}},
		{"leader", p.Leader, personal(testpki.LeaderName)},
		{"clerk", p.Clerk, personal(testpki.ClerkName)},
		{"personal-ec", p.PersonalEC, func(t *testing.T, c *x509.Certificate) {
			personal(testpki.PersonalECName)(t, c)
			if c.PublicKeyAlgorithm != x509.ECDSA {
				t.Errorf("key algorithm %v, want ECDSA", c.PublicKeyAlgorithm)
			}
		}},
		{"org", p.Org, func(t *testing.T, c *x509.Certificate) {
			var code string
			for _, n := range c.Subject.Names {
				if n.Type.Equal(testpki.OIDOrganizationIdentifier) {
					code, _ = n.Value.(string)
				}
			}
			if code != testpki.OrgCode || !slices.Equal(c.Subject.Organization, []string{testpki.OrgName}) {
				t.Errorf("org subject %q code %q, want %q and %q", c.Subject.Organization, code, testpki.OrgName, testpki.OrgCode)
			}
		}},
		{"sim", p.SIM, func(t *testing.T, c *x509.Certificate) {
			if !slices.ContainsFunc(c.PolicyIdentifiers, testpki.PolicySIM.Equal) {
				t.Errorf("SIM policies %v, want %v", c.PolicyIdentifiers, testpki.PolicySIM)
			}
		}},
		{"expired", p.Expired, func(t *testing.T, c *x509.Certificate) {
			if _, err := c.Verify(opts); err == nil {
				t.Error("expired certificate verifies today")
			}
			at := opts
			at.CurrentTime = time.Date(2023, 6, 1, 0, 0, 0, 0, time.UTC)
			if _, err := c.Verify(at); err != nil {
				t.Errorf("expired certificate does not verify while it was valid: %v", err)
			}
		}},
		{"revoked", p.Revoked, personal("")},
		{"ocsp", p.OCSP, func(t *testing.T, c *x509.Certificate) {
			if present, _ := hasExt(c, testpki.OIDOCSPNoCheck); !present || !slices.Equal(c.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageOCSPSigning}) {
				t.Errorf("OCSP responder: nocheck=%v EKU=%v", present, c.ExtKeyUsage)
			}
		}},
		{"tsa", p.TSA, func(t *testing.T, c *x509.Certificate) {
			if _, critical := hasExt(c, ekuOID); !critical || !slices.Equal(c.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageTimeStamping}) {
				t.Errorf("TSA: EKU %v critical=%v, want timeStamping, critical", c.ExtKeyUsage, critical)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.check(t, tt.cert.Cert)
			if tt.cert != p.Expired {
				if _, err := tt.cert.Cert.Verify(opts); err != nil {
					t.Errorf("does not chain to the test root: %v", err)
				}
				if tt.cert != p.Root && tt.cert != p.Sub && tt.cert.Cert.NotAfter.Before(time.Date(2045, 1, 1, 0, 0, 0, 0, time.UTC)) {
					t.Errorf("ends %v; leaves must last to 2045 so tests do not rot", tt.cert.Cert.NotAfter)
				}
			}
			if tt.cert.Cert.NotAfter.Before(now) != (tt.cert == p.Expired) {
				t.Errorf("NotAfter %v: only the expired certificate may be expired", tt.cert.Cert.NotAfter)
			}
		})
	}
}

func personal(name string) func(t *testing.T, c *x509.Certificate) {
	return func(t *testing.T, c *x509.Certificate) {
		if name != "" && c.Subject.CommonName != name {
			t.Errorf("CN %q, want %q", c.Subject.CommonName, name)
		}
		want := x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment
		if c.KeyUsage != want {
			t.Errorf("key usage %b, want digitalSignature|nonRepudiation", c.KeyUsage)
		}
		if !slices.Equal(c.OCSPServer, []string{testpki.OCSPURL}) || !slices.Equal(c.CRLDistributionPoints, []string{testpki.SubCRLURL}) {
			t.Errorf("AIA %v CDP %v", c.OCSPServer, c.CRLDistributionPoints)
		}
	}
}

func TestCommittedCRLAndIndex(t *testing.T) {
	p := loadCommitted(t)
	crl, err := x509.ParseRevocationList(p.SubCRL)
	if err != nil {
		t.Fatal(err)
	}
	if err := crl.CheckSignatureFrom(p.Sub.Cert); err != nil {
		t.Fatalf("sub CA CRL signature: %v", err)
	}
	if len(crl.RevokedCertificateEntries) != 1 {
		t.Fatalf("sub CA CRL lists %d entries, want 1", len(crl.RevokedCertificateEntries))
	}
	e := crl.RevokedCertificateEntries[0]
	if e.SerialNumber.Cmp(p.Revoked.Cert.SerialNumber) != 0 || !e.RevocationTime.Equal(testpki.RevokedAt) || e.ReasonCode != testpki.RevokedReason {
		t.Errorf("CRL entry %x at %v reason %d, want %x at %v reason %d", e.SerialNumber, e.RevocationTime, e.ReasonCode,
			p.Revoked.Cert.SerialNumber, testpki.RevokedAt, testpki.RevokedReason)
	}
	index, err := os.ReadFile(p.Path(testpki.FileIndex))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(index, testpki.IndexTxt(p)) {
		t.Errorf("index.txt is stale; regenerate with go run ./internal/testpki/cmd/gen-testpki")
	}
	revokedLine := "R\t"
	for _, line := range strings.Split(string(index), "\n") {
		if strings.Contains(line, testpki.SerialHex(p.Revoked.Cert.SerialNumber)) {
			revokedLine = line
		}
	}
	if !strings.HasPrefix(revokedLine, "R\t451231000000Z\t250601000000Z,keyCompromise\t") {
		t.Errorf("revoked entry of index.txt is %q", revokedLine)
	}
}

func TestOrgP12(t *testing.T) {
	p := loadCommitted(t)
	key, cert, err := testpki.ReadOrgP12(p.Dir)
	if err != nil {
		t.Fatal(err)
	}
	if !cert.Equal(p.Org.Cert) || !p.Org.Cert.PublicKey.(interface{ Equal(crypto.PublicKey) bool }).Equal(key.Public()) {
		t.Error("org.p12 does not hold org.pem and its key")
	}
}

// TestGenerate regenerates the PKI into a temp dir and loads it back, so the generator
// cannot drift from what Load and the committed files expect.
func TestGenerate(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: fresh RSA-4096 and RSA-3072 keys take seconds; TestMintAt mints the same way with the committed keys")
	}
	testenv.Tool(t, "openssl", "openssl")
	dir := t.TempDir()
	if err := testpki.Generate(dir); err != nil {
		t.Fatal(err)
	}
	p, err := testpki.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	committed := loadCommitted(t)
	if p.Org.Cert.Subject.String() != committed.Org.Cert.Subject.String() || !p.Revoked.Cert.NotAfter.Equal(committed.Revoked.Cert.NotAfter) {
		t.Error("generator output differs in names or dates from the committed PKI; regenerate certs-testdata")
	}
	for _, name := range []string{testpki.FileChain, testpki.FileOrgP12, testpki.FileSubCRL + ".pem", testpki.FileIndex + ".attr"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Error(err)
		}
	}
}

// TestMintAt: a copy of the committed PKI minted with other URLs keeps its keys,
// names and dates, names the new URLs, chains to its own root and
// revokes the revoked certificate in its CRL and its index.
func TestMintAt(t *testing.T) {
	p := testpki.Committed(t)
	u := testpki.URLs{OCSP: "http://127.0.0.1:1/ocsp", SubCRL: "http://127.0.0.1:1/sub-ca.crl", RootCRL: "http://127.0.0.1:1/root-ca.crl"}
	m, err := p.MintAt(t.TempDir(), u)
	if err != nil {
		t.Fatal(err)
	}
	loaded, err := testpki.Load(m.Dir)
	if err != nil {
		t.Fatalf("the minted copy does not load: %v", err)
	}
	for stem, c := range p.Leaves() {
		got := loaded.Leaves()[stem]
		if !c.Key.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(got.Cert.PublicKey) || got.Cert.Subject.String() != c.Cert.Subject.String() ||
			!got.Cert.NotAfter.Equal(c.Cert.NotAfter) {
			t.Errorf("%s: key, subject or dates differ from the committed one", stem)
		}
		if stem == "ocsp" { // a responder is not checked for revocation
			if len(got.Cert.OCSPServer)+len(got.Cert.CRLDistributionPoints) != 0 {
				t.Errorf("ocsp names revocation URLs")
			}
			continue
		}
		if len(got.Cert.OCSPServer) != 1 || got.Cert.OCSPServer[0] != u.OCSP ||
			len(got.Cert.CRLDistributionPoints) != 1 || got.Cert.CRLDistributionPoints[0] != u.SubCRL {
			t.Errorf("%s names %v and %v", stem, got.Cert.OCSPServer, got.Cert.CRLDistributionPoints)
		}
	}
	if got := loaded.Sub.Cert.CRLDistributionPoints; len(got) != 1 || got[0] != u.RootCRL {
		t.Errorf("sub CA names %v", got)
	}
	roots := x509.NewCertPool()
	roots.AddCert(loaded.Root.Cert)
	inter := x509.NewCertPool()
	inter.AddCert(loaded.Sub.Cert)
	if _, err := loaded.Leader.Cert.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: testpki.LeafNotBefore.AddDate(1, 0, 0)}); err != nil {
		t.Errorf("leader does not chain to the minted root: %v", err)
	}
	crl, err := x509.ParseRevocationList(m.SubCRL)
	if err != nil || crl.CheckSignatureFrom(loaded.Sub.Cert) != nil || len(crl.RevokedCertificateEntries) != 1 ||
		crl.RevokedCertificateEntries[0].SerialNumber.Cmp(loaded.Revoked.Cert.SerialNumber) != 0 {
		t.Errorf("sub CA CRL does not revoke the minted revoked certificate (%v)", err)
	}
	index, err := os.ReadFile(filepath.Join(m.Dir, testpki.FileIndex))
	if err != nil || !bytes.Contains(index, []byte("R\t")) || !bytes.Contains(index, []byte(testpki.SerialHex(loaded.Revoked.Cert.SerialNumber))) {
		t.Errorf("index.txt does not revoke the minted revoked certificate:\n%s", index)
	}
}

func TestNewThrowAway(t *testing.T) {
	for _, kt := range testpki.KeyTypes {
		t.Run(kt.String(), func(t *testing.T) {
			if testing.Short() && kt == testpki.RSA4096 {
				t.Skip("4096-bit key generation takes seconds; run without -short")
			}
			start := time.Now()
			p := testpki.New(t, testpki.Options{KeyType: kt})
			first := time.Since(start)
			leaf := p.Issue(t, testpki.Spec{Kind: testpki.Personal})
			tsa := p.Issue(t, testpki.Spec{Kind: testpki.TSA})
			if leaf.Key == tsa.Key || p.Root.Key == p.Sub.Key {
				t.Error("two certificates of one PKI share a key")
			}
			if _, err := leaf.Cert.Verify(x509.VerifyOptions{Roots: pool(p.Root.Cert), Intermediates: pool(p.Sub.Cert)}); err != nil {
				t.Errorf("leaf does not chain: %v", err)
			}
			start = time.Now()
			again := testpki.New(t, testpki.Options{KeyType: kt})
			second := time.Since(start)
			t.Logf("%s: first PKI %v, second (pooled keys) %v", kt, first, second)
			if again.Root.Key != p.Root.Key || again.Root.Cert.Equal(p.Root.Cert) {
				t.Error("a second PKI must reuse the pooled keys in new certificates")
			}
			fresh := testpki.New(t, testpki.Options{KeyType: testpki.ECDSAP256, FreshKeys: true})
			if fresh.Root.Key == again.Root.Key {
				t.Error("FreshKeys gave a pooled key")
			}
		})
	}
}

func pool(certs ...*x509.Certificate) *x509.CertPool {
	p := x509.NewCertPool()
	for _, c := range certs {
		p.AddCert(c)
	}
	return p
}
