package verify

import (
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kyso-vn/kyso/internal/testpki"
	"github.com/kyso-vn/kyso/pkg/pki"
	"github.com/kyso-vn/kyso/signer/pades"
)

// aiaPKI is a root, two intermediates (mid under the root, sub under mid) the
// document does not carry, served by a loopback HTTP server on a free port with sub's
// CRL, and a leaf under sub; each certificate's AIA names its issuer's URL.
type aiaPKI struct {
	root, mid, sub, leaf *testpki.Cert
	fetched, midFetched  *atomic.Int32
}

func newAIAPKI(t *testing.T) aiaPKI {
	t.Helper()
	now := time.Now()
	key := func(i int) *testpki.Cert {
		k, err := testpki.PooledKey(testpki.RSA2048, i)
		if err != nil {
			t.Fatal(err)
		}
		return &testpki.Cert{Key: k}
	}
	issue := func(tmpl *x509.Certificate, subject, issuer *testpki.Cert) {
		parent, signer := tmpl, subject.Key
		if issuer != nil {
			parent, signer = issuer.Cert, issuer.Key
		}
		tmpl.SerialNumber = big.NewInt(now.UnixNano())
		tmpl.NotBefore, tmpl.NotAfter = now.Add(-time.Hour), now.Add(24*time.Hour)
		der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, subject.Key.Public(), signer)
		if err != nil {
			t.Fatal(err)
		}
		if subject.Cert, err = x509.ParseCertificate(der); err != nil {
			t.Fatal(err)
		}
	}
	var fetched, midFetched atomic.Int32
	var subDER, midDER, crlDER []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/sub.crt":
			fetched.Add(1)
			w.Write(subDER)
		case "/mid.crt":
			midFetched.Add(1)
			w.Write(midDER)
		case "/sub.crl":
			w.Write(crlDER)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	p := aiaPKI{root: key(0), mid: key(3), sub: key(1), leaf: key(2), fetched: &fetched, midFetched: &midFetched}
	issue(&x509.Certificate{Subject: pkix.Name{CommonName: "AIA TEST root — NOT FOR PRODUCTION", Country: []string{"VN"}},
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}, p.root, nil)
	issue(&x509.Certificate{Subject: pkix.Name{CommonName: "AIA TEST mid CA", Country: []string{"VN"}},
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}, p.mid, p.root)
	issue(&x509.Certificate{Subject: pkix.Name{CommonName: "AIA TEST sub CA", Country: []string{"VN"}},
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		IssuingCertificateURL: []string{srv.URL + "/mid.crt"}}, p.sub, p.mid)
	issue(&x509.Certificate{Subject: pkix.Name{CommonName: "Trần Thị B", Country: []string{"VN"},
		ExtraNames: []pkix.AttributeTypeAndValue{{Type: testpki.OIDUID, Value: "CCCD:079123456789"}}},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment,
		IssuingCertificateURL: []string{srv.URL + "/sub.crt"}, CRLDistributionPoints: []string{srv.URL + "/sub.crl"}}, p.leaf, p.sub)
	subDER, midDER = p.sub.Cert.Raw, p.mid.Cert.Raw
	var err error
	crlDER, err = x509.CreateRevocationList(rand.Reader, &x509.RevocationList{Number: big.NewInt(1),
		ThisUpdate: now.Add(-time.Minute), NextUpdate: now.Add(time.Hour)}, p.sub.Cert, p.sub.Key)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// The signer's intermediate is not in the document: it is fetched from the AIA
// caIssuers URL (once), never with --offline, and the configured chain material
// (the built-in list's role) serves without any network.
func TestMissingIntermediate(t *testing.T) {
	p := newAIAPKI(t)
	doc := sign(t, formPDF(), &testpki.Cert{Cert: p.leaf.Cert, Key: p.leaf.Key}, pades.Options{Level: pades.LevelBB})
	anchors := []*x509.Certificate{p.root.Cert}

	rep := verifyBytes(t, doc, Options{Anchors: anchors, Offline: true})
	if s := rep.Signatures[0]; s.SubIndication != NoCertificateChainFound || p.fetched.Load() != 0 {
		t.Fatalf("offline: fetched %d times:\n%s", p.fetched.Load(), describe(rep))
	}

	// the default fetcher does not dial loopback (a document must not make a server
	// ask its own network): here the server is on loopback, so it is allowed
	rep = verifyBytes(t, doc, Options{Anchors: anchors, Issuers: &pki.AIAFetcher{AllowPrivate: true}})
	s := rep.Signatures[0]
	if s.Indication != TotalPassed || len(s.Chain) != 4 || p.fetched.Load() != 1 || p.midFetched.Load() != 1 {
		t.Fatalf("online: fetched %d times:\n%s", p.fetched.Load(), describe(rep))
	}
	if !strings.Contains(strings.Join(s.Warnings, " "), "fetched from "+p.leaf.Cert.IssuingCertificateURL[0]) {
		t.Errorf("warnings %q do not say where the issuer came from", s.Warnings)
	}
	if s.Signer.Subject != "CN=Trần Thị B, UID=CCCD:079123456789, C=VN" || len(s.Signer.Identifiers) != 1 || s.Signer.Identifiers[0].Value != "079123456789" {
		t.Errorf("signer %q, identifiers %+v", s.Signer.Subject, s.Signer.Identifiers)
	}

	rep = verifyBytes(t, doc, Options{Anchors: anchors, Offline: true, Intermediates: []*x509.Certificate{p.sub.Cert, p.mid.Cert}})
	if s := rep.Signatures[0]; len(s.Chain) != 4 || s.SubIndication == NoCertificateChainFound || p.fetched.Load() != 1 {
		t.Errorf("with the intermediates configured:\n%s", describe(rep))
	}

	// the document carries sub but not mid: the walk goes up past what is present
	withSub := sign(t, formPDF(), &testpki.Cert{Cert: p.leaf.Cert, Key: p.leaf.Key, Chain: []*x509.Certificate{p.sub.Cert}}, pades.Options{Level: pades.LevelBB})
	rep = verifyBytes(t, withSub, Options{Anchors: anchors, Issuers: &pki.AIAFetcher{AllowPrivate: true}})
	if s := rep.Signatures[0]; s.Indication != TotalPassed || len(s.Chain) != 4 || p.fetched.Load() != 1 || p.midFetched.Load() != 2 {
		t.Errorf("mid missing above sub: sub fetched %d, mid %d:\n%s", p.fetched.Load(), p.midFetched.Load(), describe(rep))
	}
}
