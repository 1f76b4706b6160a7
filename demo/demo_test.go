package demo

import (
	"crypto/x509"
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestRewriteURL maps the test PKI's revocation URLs only: any other URL, a lookalike
// included, is asked where it points.
func TestRewriteURL(t *testing.T) {
	m := RewriteURL("http://127.0.0.1:4242")
	for in, want := range map[string]string{
		SubCRLURL:                              "http://127.0.0.1:4242/sub-ca.crl",
		RootCRLURL:                             "http://127.0.0.1:4242/root-ca.crl",
		OCSPURL:                                "http://127.0.0.1:4242/ocsp",
		"http://crl.ca.gov.vn/g2.crl":          "http://crl.ca.gov.vn/g2.crl",
		"http://127.0.0.1:189620/sub-ca.crl":   "http://127.0.0.1:189620/sub-ca.crl",
		"http://evil.example/127.0.0.1:18962/": "http://evil.example/127.0.0.1:18962/",
	} {
		if got := m(in); got != want {
			t.Errorf("RewriteURL(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestHandlerServesTheCRLs: the served CRLs parse and are signed by the test PKI's
// CAs; everything else is 404.
func TestHandlerServesTheCRLs(t *testing.T) {
	srv := httptest.NewServer(Handler())
	defer srv.Close()
	for path, status := range map[string]int{"/sub-ca.crl": 200, "/root-ca.crl": 200, "/ocsp": 404, "/root-ca.key": 404} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != status {
			t.Errorf("GET %s: %d, want %d", path, resp.StatusCode, status)
		}
	}
	crl, err := x509.ParseRevocationList(CRLs()[1])
	if err != nil || crl.CheckSignatureFrom(Root()) != nil {
		t.Errorf("the root CRL does not verify against the root: %v", err)
	}
	if !Trusts([]*x509.Certificate{Root()}) || Trusts(nil) {
		t.Error("Trusts")
	}
	if _, err := File("root-ca.key"); err == nil {
		t.Error("the root CA's key is embedded")
	}
}
