package pki_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/kyso-vn/kyso/internal/testenv"
	"github.com/kyso-vn/kyso/internal/testpki"
	"github.com/kyso-vn/kyso/pkg/pki"
)

// AIAFetcher reads DER and certs-only CMS (p7c, made by openssl crl2pkcs7), returns
// only the certificates that issued the one asked about, keeps what it downloaded, and
// asks no ldap: URL.
func TestAIAFetcher(t *testing.T) {
	openssl := testenv.Tool(t, "openssl", "openssl")
	p := testpki.Committed(t)
	p7c := filepath.Join(t.TempDir(), "chain.p7c")
	if out, err := exec.Command(openssl, "crl2pkcs7", "-nocrl", "-certfile", p.Path("chain.pem"), "-outform", "DER", "-out", p7c).CombinedOutput(); err != nil {
		t.Fatalf("openssl crl2pkcs7: %v\n%s", err, out)
	}
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		switch r.URL.Path {
		case "/sub.cer":
			w.Write(p.Sub.Cert.Raw)
		case "/chain.p7c":
			http.ServeFile(w, r, p7c)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	f := &pki.AIAFetcher{AllowPrivate: true}
	for _, path := range []string{"/sub.cer", "/chain.p7c"} {
		leaf := *p.Clerk.Cert
		leaf.IssuingCertificateURL = []string{"ldap://ldap.example.vn/cn=sub", srv.URL + path}
		before := hits.Load()
		for range 2 {
			got, err := f.FetchIssuers(context.Background(), &leaf)
			if err != nil || len(got) != 1 || !got[0].Equal(p.Sub.Cert) {
				t.Fatalf("%s: %d certificates, %v", path, len(got), err)
			}
		}
		if n := hits.Load() - before; n != 1 {
			t.Errorf("%s: %d requests for two questions, want 1 (cached)", path, n)
		}
	}
	// the root is at that URL too, but did not issue the clerk's certificate
	root := *p.Sub.Cert
	root.IssuingCertificateURL = []string{srv.URL + "/sub.cer"}
	if got, _ := f.FetchIssuers(context.Background(), &root); len(got) != 0 {
		t.Errorf("a certificate that is not the issuer was returned")
	}
	// by default a document cannot make the verifier ask a loopback address
	leaf := *p.Clerk.Cert
	leaf.IssuingCertificateURL = []string{srv.URL + "/sub.cer?again"}
	before := hits.Load()
	if got, err := (&pki.AIAFetcher{}).FetchIssuers(context.Background(), &leaf); len(got) != 0 || err == nil || hits.Load() != before {
		t.Errorf("the default fetcher reached %s: %d certificates, %v", srv.URL, len(got), err)
	}
}
