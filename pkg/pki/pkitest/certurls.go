package pkitest

import (
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"testing"

	"github.com/kyso-vn/kyso/internal/testpki"
)

// ServeRevocation is the committed test PKI as a server in another process meets it:
// it starts, for this test, the test PKI's OCSP responder (real openssl) and CRLs
// behind one HTTP server on a free loopback port, mints into a temp dir a copy of the
// committed PKI (the same keys, names and dates; see testpki.TestPKI.MintAt) whose
// certificates name that server, and returns the copy. Give the server process its
// files (Dir, Path) and sign with its certificates and keys.
//
// Nothing is fixed but the paths (/ocsp, /sub-ca.crl, /root-ca.crl), so tests and
// test runs on one machine never wait for each other. Tests in this process that
// check revocation themselves need none of this: StartServices and RewriteURL.
func ServeRevocation(t testing.TB) *testpki.TestPKI {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + l.Addr().String()
	p, err := testpki.Committed(t).MintAt(t.TempDir(), testpki.URLs{
		OCSP: base + "/ocsp", SubCRL: base + "/sub-ca.crl", RootCRL: base + "/root-ca.crl"})
	if err != nil {
		l.Close()
		t.Fatal(err)
	}
	ocsp := StartOCSP(t, OCSPOptions{Dir: p.Dir})
	responder, err := url.Parse(ocsp.URL)
	if err != nil {
		l.Close()
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: responder.Scheme, Host: responder.Host})
	mux := http.NewServeMux()
	mux.Handle("/ocsp", proxy)  // POST
	mux.Handle("/ocsp/", proxy) // GET, the request in the path
	for path, der := range map[string][]byte{"/sub-ca.crl": p.SubCRL, "/root-ca.crl": p.RootCRL} {
		mux.HandleFunc(path, func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/pkix-crl")
			_, _ = w.Write(der)
		})
	}
	srv := &http.Server{Handler: mux}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { srv.Close() })
	return p
}
