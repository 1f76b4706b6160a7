package pki_test

import (
	"context"
	"crypto/x509"
	"errors"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/kyso-vn/kyso/internal/testpki"
	"github.com/kyso-vn/kyso/pkg/pki"
	"github.com/kyso-vn/kyso/pkg/pki/pkitest"
)

// rewrite points the committed PKI's fixed URLs at the test's servers.
func rewrite(ocspURL, crlURL string) func(string) string {
	return func(u string) string {
		switch u {
		case testpki.OCSPURL:
			return ocspURL
		case testpki.SubCRLURL:
			return crlURL
		}
		return u
	}
}

func TestOCSPAgainstOpenSSL(t *testing.T) {
	p := committed(t)
	responder := pkitest.StartOCSP(t)
	stranger := p.PKI().Issue(t, testpki.Spec{Kind: testpki.Personal})
	tests := []struct {
		name        string
		cert        *testpki.Cert
		wantOCSP    int
		wantStatus  pki.RevocationStatus
		wantRevoked time.Time
	}{
		{"good leader", p.Leader, ocsp.Good, pki.StatusGood, time.Time{}},
		{"good organisation", p.Org, ocsp.Good, pki.StatusGood, time.Time{}},
		{"good ECDSA", p.PersonalEC, ocsp.Good, pki.StatusGood, time.Time{}},
		{"revoked", p.Revoked, ocsp.Revoked, pki.StatusRevoked, testpki.RevokedAt},
		// Issued by the sub CA but absent from index.txt: openssl answers unknown.
		{"unknown", stranger, ocsp.Unknown, pki.StatusUnknown, time.Time{}},
	}
	client := &pki.OCSPClient{Timeout: 5 * time.Second}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := time.Now()
			resp, err := client.Query(context.Background(), responder.URL, tt.cert.Cert, p.Sub.Cert, now)
			if err != nil {
				t.Fatal(err)
			}
			if resp.Status != tt.wantOCSP || !resp.RevokedAt.Equal(tt.wantRevoked) {
				t.Errorf("status %d revoked at %v, want %d at %v", resp.Status, resp.RevokedAt, tt.wantOCSP, tt.wantRevoked)
			}
			if !resp.Certificate.Equal(p.OCSP.Cert) {
				t.Errorf("signed by %v, want the delegated responder", resp.Certificate)
			}
			checker := &pki.Checker{OCSP: client, RewriteURL: rewrite(responder.URL, "http://127.0.0.1:1/none.crl")}
			r, err := checker.Check(context.Background(), tt.cert.Cert, p.Sub.Cert)
			if tt.wantStatus == pki.StatusUnknown {
				// OCSP says unknown, and the CRL URL is dead: no answer.
				if !errors.Is(err, pki.ErrRevocationUnknown) || !errors.Is(err, pki.ErrCRLUnavailable) {
					t.Errorf("checker err = %v, want ErrRevocationUnknown after a dead CRL", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if r.Status != tt.wantStatus || r.Source != "ocsp" || len(r.OCSP) == 0 || !r.RevokedAt.Equal(tt.wantRevoked) {
				t.Errorf("checker: %+v", r)
			}
		})
	}
	t.Run("cache honours nextUpdate", func(t *testing.T) {
		now := time.Now()
		first, err := client.Query(context.Background(), responder.URL, p.Clerk.Cert, p.Sub.Cert, now)
		if err != nil {
			t.Fatal(err)
		}
		if first.NextUpdate.IsZero() {
			t.Fatal("openssl -ndays 1 gave no nextUpdate")
		}
		dead := "http://127.0.0.1:1/ocsp"
		again, err := client.Query(context.Background(), dead, p.Clerk.Cert, p.Sub.Cert, now.Add(time.Hour))
		if err != nil || again != first {
			t.Fatalf("within nextUpdate: %v, cached answer not used", err)
		}
		_, err = client.Query(context.Background(), dead, p.Clerk.Cert, p.Sub.Cert, first.NextUpdate.Add(time.Second))
		if !errors.Is(err, pki.ErrOCSPUnavailable) {
			t.Fatalf("after nextUpdate: err = %v, want the responder asked again (and unreachable)", err)
		}
	})
}

func TestOCSPResponseChecks(t *testing.T) {
	p := committed(t)
	now := time.Now()
	mint := func(t *testing.T, responder *testpki.Cert, serialOf *testpki.Cert, thisUpdate, nextUpdate time.Time) []byte {
		tmpl := ocsp.Response{Status: ocsp.Good, SerialNumber: serialOf.Cert.SerialNumber, ThisUpdate: thisUpdate, NextUpdate: nextUpdate}
		if responder != p.Sub {
			tmpl.Certificate = responder.Cert
		}
		der, err := ocsp.CreateResponse(p.Sub.Cert, responder.Cert, tmpl, responder.Key)
		if err != nil {
			t.Fatal(err)
		}
		return der
	}
	otherPKI := testpki.New(t)
	impostor := otherPKI.Issue(t, testpki.Spec{Kind: testpki.OCSPResponder})
	tests := []struct {
		name string
		raw  func(t *testing.T) []byte
		ok   bool
	}{
		{"delegated responder", func(t *testing.T) []byte { return mint(t, p.OCSP, p.Leader, now.Add(-time.Hour), now.Add(time.Hour)) }, true},
		{"issuer itself", func(t *testing.T) []byte { return mint(t, p.Sub, p.Leader, now.Add(-time.Hour), now.Add(time.Hour)) }, true},
		{"responder without OCSPSigning EKU", func(t *testing.T) []byte { return mint(t, p.TSA, p.Leader, now.Add(-time.Hour), now.Add(time.Hour)) }, false},
		{"responder of another CA", func(t *testing.T) []byte { return mint(t, impostor, p.Leader, now.Add(-time.Hour), now.Add(time.Hour)) }, false},
		{"stale", func(t *testing.T) []byte {
			return mint(t, p.OCSP, p.Leader, now.Add(-48*time.Hour), now.Add(-24*time.Hour))
		}, false},
		{"from the future", func(t *testing.T) []byte { return mint(t, p.OCSP, p.Leader, now.Add(time.Hour), now.Add(2*time.Hour)) }, false},
		{"about another certificate", func(t *testing.T) []byte { return mint(t, p.OCSP, p.Clerk, now.Add(-time.Hour), now.Add(time.Hour)) }, false},
		{"garbage", func(t *testing.T) []byte { return []byte{0x30, 0x03, 0x0a, 0x01, 0x00} }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := pki.VerifyOCSPResponse(tt.raw(t), p.Leader.Cert, p.Sub.Cert, now)
			if tt.ok != (err == nil) {
				t.Fatalf("err = %v, want ok=%v", err, tt.ok)
			}
			if err != nil && !errors.Is(err, pki.ErrOCSPInvalid) {
				t.Errorf("err = %v, want ErrOCSPInvalid", err)
			}
		})
	}
}

func TestCRL(t *testing.T) {
	p := committed(t)
	now := time.Now()
	srv := pkitest.StartCRLServer(t, p.SubCRL)
	fetcher := &pki.CRLFetcher{Timeout: 5 * time.Second}
	crl, err := fetcher.Fetch(context.Background(), srv.URL, p.Sub.Cert, now)
	if err != nil {
		t.Fatal(err)
	}
	if e := crl.Lookup(p.Revoked.Cert.SerialNumber); e == nil || !e.RevocationTime.Equal(testpki.RevokedAt) || e.ReasonCode != testpki.RevokedReason {
		t.Errorf("revoked lookup: %+v", e)
	}
	if e := crl.Lookup(p.Leader.Cert.SerialNumber); e != nil {
		t.Errorf("leader listed as revoked: %+v", e)
	}
	if _, err := fetcher.Fetch(context.Background(), srv.URL, p.Sub.Cert, now); err != nil || srv.Downloads() != 1 {
		t.Errorf("second fetch: err %v, %d downloads; want the cached CRL", err, srv.Downloads())
	}

	staleDER, err := testpki.IssueCRL(p.Sub, 2, now.Add(-48*time.Hour), now.Add(-24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	other := testpki.New(t)
	foreignDER, err := other.CRL(nil, 1, now.Add(-time.Hour), now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	// Same name as the real sub CA, another key: only the signature tells them apart.
	forger := testpki.New(t, testpki.Options{SubName: p.Sub.Cert.Subject.CommonName})
	forgedDER, err := forger.CRL(nil, 3, now.Add(-time.Hour), now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if string(forger.Sub.Cert.RawSubject) != string(p.Sub.Cert.RawSubject) {
		t.Fatal("forger's sub CA name differs from the real one; the test would prove nothing")
	}
	tests := []struct {
		name string
		der  []byte
		want error
	}{
		{"stale", staleDER, pki.ErrCRLInvalid},
		{"another CA's", foreignDER, pki.ErrCRLInvalid},
		{"forged with another key", forgedDER, pki.ErrCRLInvalid},
		{"garbage", []byte("not a CRL"), pki.ErrCRLInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := fetcher.Fetch(context.Background(), pkitest.ServeCRL(t, tt.der), p.Sub.Cert, now)
			if !errors.Is(err, tt.want) {
				t.Errorf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestCheckerCRLFallbackAndOffline(t *testing.T) {
	p := committed(t)
	crlURL := pkitest.ServeCRL(t, p.SubCRL)
	deadOCSP := "http://127.0.0.1:1/ocsp"
	online := &pki.Checker{RewriteURL: rewrite(deadOCSP, crlURL)}
	tests := []struct {
		name    string
		checker *pki.Checker
		cert    *testpki.Cert
		want    pki.RevocationStatus
		source  string
		wantErr []error
	}{
		{"OCSP down, CRL says revoked", online, p.Revoked, pki.StatusRevoked, "crl", nil},
		{"OCSP down, CRL says good", online, p.Leader, pki.StatusGood, "crl", nil},
		{"offline with the CRL at hand", &pki.Checker{Offline: true, CRLs: [][]byte{p.RootCRL, p.SubCRL}}, p.Revoked, pki.StatusRevoked, "crl", nil},
		{"offline with nothing at hand", &pki.Checker{Offline: true, RewriteURL: rewrite(deadOCSP, crlURL)}, p.Leader, 0, "",
			[]error{pki.ErrRevocationUnknown, pki.ErrOffline}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := tt.checker.Check(context.Background(), tt.cert.Cert, p.Sub.Cert)
			for _, want := range tt.wantErr {
				if !errors.Is(err, want) {
					t.Errorf("err = %v, want %v", err, want)
				}
			}
			if tt.wantErr != nil {
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if r.Status != tt.want || r.Source != tt.source || len(r.CRL) == 0 {
				t.Errorf("result %v from %q, want %v from %q", r.Status, r.Source, tt.want, tt.source)
			}
		})
	}
	t.Run("only http(s) URLs are fetched", func(t *testing.T) {
		c := &pki.Checker{RewriteURL: func(string) string { return "file:///etc/passwd" }}
		_, err := c.Check(context.Background(), p.Leader.Cert, p.Sub.Cert)
		if !errors.Is(err, pki.ErrRevocationUnknown) || !strings.Contains(err.Error(), "not an http(s) URL") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("sub CA through the root's CRL", func(t *testing.T) {
		rootCRL := pkitest.ServeCRL(t, p.RootCRL)
		c := &pki.Checker{RewriteURL: func(u string) string {
			if u == testpki.RootCRLURL {
				return rootCRL
			}
			return u
		}}
		r, err := c.Check(context.Background(), p.Sub.Cert, p.Root.Cert)
		if err != nil || r.Status != pki.StatusGood || r.Source != "crl" {
			t.Fatalf("%+v, %v", r, err)
		}
	})
	t.Run("offline with an OCSP response at hand", func(t *testing.T) {
		responder := pkitest.StartOCSP(t)
		resp, err := (&pki.OCSPClient{}).Query(context.Background(), responder.URL, p.Revoked.Cert, p.Sub.Cert, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		c := &pki.Checker{Offline: true, OCSPResponses: [][]byte{resp.Raw}}
		r, err := c.Check(context.Background(), p.Revoked.Cert, p.Sub.Cert)
		if err != nil || r.Status != pki.StatusRevoked || r.Source != "ocsp" {
			t.Fatalf("%+v, %v", r, err)
		}
		// The same response says nothing about another certificate.
		if _, err := c.Check(context.Background(), p.Leader.Cert, p.Sub.Cert); !errors.Is(err, pki.ErrOffline) {
			t.Errorf("leader: err = %v, want ErrOffline", err)
		}
	})
}

// TestCheckerConcurrent shares one Checker (and its OCSP cache) between goroutines
// asking the real responder; run with -race.
func TestCheckerConcurrent(t *testing.T) {
	p := committed(t)
	responder := pkitest.StartOCSP(t)
	c := &pki.Checker{RewriteURL: rewrite(responder.URL, "http://127.0.0.1:1/none.crl")}
	certs := []*testpki.Cert{p.Leader, p.Clerk, p.Org, p.Revoked}
	errs := make(chan error, 16)
	for g := 0; g < 16; g++ {
		go func() {
			for i := 0; i < 10; i++ {
				cert := certs[(g+i)%len(certs)]
				r, err := c.Check(context.Background(), cert.Cert, p.Sub.Cert)
				if err == nil && (r.Status == pki.StatusRevoked) != (cert == p.Revoked) {
					err = errors.New("wrong status for " + cert.Cert.Subject.CommonName)
				}
				if err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for g := 0; g < 16; g++ {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

// TestOCSPCustomIndex revokes the leader in a copy of index.txt: the responder answers
// from the index it was given, and the committed one stays untouched.
func TestOCSPCustomIndex(t *testing.T) {
	p := committed(t)
	serial := testpki.SerialHex(p.Leader.Cert.SerialNumber)
	var index []string
	for _, line := range strings.Split(string(testpki.IndexTxt(p)), "\n") {
		if f := strings.Split(line, "\t"); len(f) == 6 && f[3] == serial {
			f[0], f[2] = "R", "260101000000Z,superseded"
			line = strings.Join(f, "\t")
		}
		index = append(index, line)
	}
	responder := pkitest.StartOCSP(t, pkitest.OCSPOptions{Index: []byte(strings.Join(index, "\n")), NextUpdateDays: -1})
	resp, err := (&pki.OCSPClient{}).Query(context.Background(), responder.URL, p.Leader.Cert, p.Sub.Cert, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	want := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if resp.Status != ocsp.Revoked || !resp.RevokedAt.Equal(want) || resp.RevocationReason != ocsp.Superseded || !resp.NextUpdate.IsZero() {
		t.Errorf("status %d at %v reason %d nextUpdate %v; want revoked at %v, superseded, no nextUpdate",
			resp.Status, resp.RevokedAt, resp.RevocationReason, resp.NextUpdate, want)
	}
}

// TestServices checks the whole chain of the committed PKI through the services a
// PAdES B-LT test starts: every certificate, its issuer's status, and the evidence.
func TestServices(t *testing.T) {
	p := committed(t)
	s := pkitest.StartServices(t, p)
	c := &pki.Checker{RewriteURL: s.RewriteURL}
	tests := []struct {
		name         string
		cert, issuer *testpki.Cert
		want         pki.RevocationStatus
		source       string
	}{
		{"TSA", p.TSA, p.Sub, pki.StatusGood, "ocsp"},
		{"leader", p.Leader, p.Sub, pki.StatusGood, "ocsp"},
		{"revoked", p.Revoked, p.Sub, pki.StatusRevoked, "ocsp"},
		{"sub CA", p.Sub, p.Root, pki.StatusGood, "crl"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := c.Check(context.Background(), tt.cert.Cert, tt.issuer.Cert)
			if err != nil {
				t.Fatal(err)
			}
			if r.Status != tt.want || r.Source != tt.source || len(r.OCSP)+len(r.CRL) == 0 {
				t.Errorf("%v from %q, want %v from %q with evidence", r.Status, r.Source, tt.want, tt.source)
			}
		})
	}
	if s.RootCRL.Downloads() != 1 || s.SubCRL.Downloads() != 0 {
		t.Errorf("CRL downloads: root %d, sub %d; want 1 and 0 (OCSP answered for the sub CA's leaves)",
			s.RootCRL.Downloads(), s.SubCRL.Downloads())
	}
}

// TestCollector gathers B-LT validation data for the leader's chain through the test
// services: OCSP for the leaf (its AIA), CRLs for the leaf and the sub CA.
func TestCollector(t *testing.T) {
	p := committed(t)
	s := pkitest.StartServices(t, p)
	c := &pki.Collector{OCSP: &pki.OCSPClient{}, CRLs: &pki.CRLFetcher{}, MapURL: s.RewriteURL}
	ocsps, crls, err := c.ValidationData(context.Background(), p.Leader.ChainWithLeaf())
	if err != nil {
		t.Fatal(err)
	}
	if len(ocsps) != 1 || len(crls) != 2 {
		t.Fatalf("%d OCSP responses, %d CRLs; want 1 (leaf) and 2 (leaf's and sub CA's)", len(ocsps), len(crls))
	}
	if _, err := pki.VerifyOCSPResponse(ocsps[0], p.Leader.Cert, p.Sub.Cert, time.Now()); err != nil {
		t.Error(err)
	}
	if _, err := pki.ParseCRL(crls[1], p.Root.Cert); err != nil {
		t.Error(err)
	}
	if _, _, err := c.ValidationData(context.Background(), []*x509.Certificate{p.Leader.Cert}); err == nil {
		t.Error("a chain without the issuer gave validation data")
	}
}

// TestServeRevocation: the copy of the test PKI minted for this test names its own
// responders, so a checker that rewrites nothing (as a server in another process)
// finds the leader good by OCSP, the revoked one revoked, the sub CA good by the
// root's CRL, each from the URL its certificate names.
func TestServeRevocation(t *testing.T) {
	p := pkitest.ServeRevocation(t)
	c := &pki.Checker{}
	tests := []struct {
		name         string
		cert, issuer *testpki.Cert
		want         pki.RevocationStatus
		source, url  string
	}{
		{"leader", p.Leader, p.Sub, pki.StatusGood, "ocsp", p.Leader.Cert.OCSPServer[0]},
		{"revoked", p.Revoked, p.Sub, pki.StatusRevoked, "ocsp", p.Revoked.Cert.OCSPServer[0]},
		{"sub CA", p.Sub, p.Root, pki.StatusGood, "crl", p.Sub.Cert.CRLDistributionPoints[0]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if strings.Contains(tt.url, "1896") {
				t.Fatalf("%s names the committed fixed port: %s", tt.name, tt.url)
			}
			r, err := c.Check(context.Background(), tt.cert.Cert, tt.issuer.Cert)
			if err != nil {
				t.Fatal(err)
			}
			if r.Status != tt.want || r.Source != tt.source || r.URL != tt.url {
				t.Errorf("%v from %s %s, want %v from %s %s", r.Status, r.Source, r.URL, tt.want, tt.source, tt.url)
			}
		})
	}
}
