// Package demo is Kyso's demo: the committed test PKI (certs-testdata), the sample
// signature and seal images and a sample draft công văn, embedded in the binary so
// that `kyso serve --demo`, `kyso demo files` and `kyso demo token` work from an
// empty directory, far from a checkout. Every key here is public: nothing it signs
// may be used for real, and every surface that uses it says DEMO.
//
// The test PKI's certificates name revocation servers on 127.0.0.1:18961 (OCSP) and
// 127.0.0.1:18962 (CRLs) that nobody runs. The demo answers them from the committed
// CRLs instead: Handler serves them over HTTP (kyso serve --demo starts it on a free
// loopback port and maps the URLs there), and CRLs gives them as revocation data at
// hand (kyso verify does so only when the test PKI's root is one of its anchors). The
// CRLs are signed by the test PKI's CAs, so they say nothing about any other
// certificate, and the verifier checks their signatures like fetched ones.
//
// It imports only certs-testdata; it must never import a signing or verifying engine.
package demo

import (
	"bytes"
	"crypto/x509"
	"embed"
	"encoding/pem"
	"fmt"
	"io/fs"
	"net/http"
	"strings"
	"sync"

	certstestdata "github.com/kyso-vn/kyso/certs-testdata"
)

// Marker is what every listing of a demo key or anchor says.
const Marker = "DEMO — test PKI, not for production"

// The sample files (made by TestSampleFiles; see README.md in this directory).
const (
	SignatureImage = "chu-ky-mau.png"   // the leader's handwritten signature, blue, "MẪU / SAMPLE"
	SealImage      = "con-dau-mau.png"  // the organisation's seal, red, "MẪU / SAMPLE"
	DraftPDF       = "cong-van-mau.pdf" // a draft công văn with the number and date left blank
)

// PIN is the user PIN of the token kyso demo token makes; its SO PIN is "so-"+PIN.
// Like the keys it is public.
const PIN = "123456"

//go:embed chu-ky-mau.png con-dau-mau.png cong-van-mau.pdf
var samples embed.FS

// Identity is one of the test PKI's key holders the demo carries.
type Identity struct {
	Name  string // the file stem in certs-testdata and the token label: "leader", "clerk", "org"
	ID    string // the CKA_ID on the demo token, hex
	Role  string // who holds it
	Agent string // the subject's common name
}

// Identities are the demo's key holders: the leader who approves, the clerk (văn
// thư) and the organisation whose key issues.
var Identities = []Identity{
	{Name: "leader", ID: "01", Role: "leader (lãnh đạo)", Agent: "Nguyễn Văn A"},
	{Name: "clerk", ID: "02", Role: "clerk (văn thư)", Agent: "Trần Thị B"},
	{Name: "org", ID: "03", Role: "organisation (cơ quan, 000.00.00.H43)", Agent: "Ủy ban nhân dân tỉnh Ninh Thuận"},
}

// The test PKI's revocation URLs, as its certificates name them.
const (
	OCSPURL    = "http://127.0.0.1:18961/ocsp"
	SubCRLURL  = "http://127.0.0.1:18962/sub-ca.crl"
	RootCRLURL = "http://127.0.0.1:18962/root-ca.crl"
)

// File returns an embedded file by its name in certs-testdata (certificates, the
// three demo keys, the CRLs) or a sample's name.
func File(name string) ([]byte, error) {
	if b, err := fs.ReadFile(samples, name); err == nil {
		return b, nil
	}
	b, err := fs.ReadFile(certstestdata.FS, name)
	if err != nil {
		return nil, fmt.Errorf("demo: no embedded file %q", name)
	}
	return b, nil
}

// must reads a file the package embeds by name; a missing one is a build error of
// this package, caught by its tests.
func must(name string) []byte {
	b, err := File(name)
	if err != nil {
		panic(err)
	}
	return b
}

// Files are the names of every embedded file, the test PKI's first.
func Files() []string {
	var names []string
	for _, f := range []fs.FS{certstestdata.FS, samples} {
		entries, _ := fs.ReadDir(f, ".")
		for _, e := range entries {
			names = append(names, e.Name())
		}
	}
	return names
}

var root = sync.OnceValue(func() *x509.Certificate {
	block, _ := pem.Decode(must("root-ca.pem"))
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		panic("demo: the embedded root-ca.pem: " + err.Error())
	}
	return c
})

// Root is the test PKI's root certificate.
func Root() *x509.Certificate { return root() }

// Trusts reports whether the test PKI's root is among anchors (the same certificate,
// byte for byte).
func Trusts(anchors []*x509.Certificate) bool {
	for _, a := range anchors {
		if bytes.Equal(a.Raw, Root().Raw) {
			return true
		}
	}
	return false
}

// CRLs are the test PKI's CRLs (DER): the sub CA's, which lists the revoked test
// certificate, and the root's, empty. Both are current until 2045.
func CRLs() [][]byte { return [][]byte{must("sub-ca.crl"), must("root-ca.crl")} }

// Handler answers the test PKI's CRL paths (/sub-ca.crl, /root-ca.crl) from the
// embedded CRLs; everything else, OCSP included, is 404, so a checker moves on to
// the CRL at once.
func Handler() http.Handler {
	crls := map[string][]byte{"/sub-ca.crl": must("sub-ca.crl"), "/root-ca.crl": must("root-ca.crl")}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, ok := crls[r.URL.Path]
		if !ok || (r.Method != http.MethodGet && r.Method != http.MethodHead) {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/pkix-crl")
		_, _ = w.Write(b)
	})
}

// RewriteURL maps the test PKI's OCSP and CRL URLs to base (the address Handler
// listens on, "http://127.0.0.1:PORT") and leaves every other URL as it is.
func RewriteURL(base string) func(string) string {
	return func(u string) string {
		for _, prefix := range []string{"http://127.0.0.1:18962/", "http://127.0.0.1:18961/"} {
			if strings.HasPrefix(u, prefix) {
				return strings.TrimSuffix(base, "/") + "/" + strings.TrimPrefix(u, prefix)
			}
		}
		return u
	}
}
