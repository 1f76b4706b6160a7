package api

import (
	"bytes"
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"testing"

	"github.com/kyso-vn/kyso/app"
	"github.com/kyso-vn/kyso/internal/testenv"
	"github.com/kyso-vn/kyso/internal/testpki"
	"github.com/kyso-vn/kyso/pkg/config"
	"github.com/kyso-vn/kyso/pkg/pki"
	"github.com/kyso-vn/kyso/pkg/pki/pkitest"
	"github.com/kyso-vn/kyso/signer/pades"
)

// signPDF signs in with key and certificate (chain nearest first), B-B.
func signPDF(t *testing.T, in []byte, c *testpki.Cert, chain []*x509.Certificate) []byte {
	t.Helper()
	var out bytes.Buffer
	if err := pades.Sign(context.Background(), c.Key, bytes.NewReader(in), int64(len(in)), &out,
		pades.Options{Certificate: c.Cert, Chain: chain}); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// TestExtendAnswers: POST /v1/extend with the real use-case and the test PKI's
// revocation services. Kyso's signature alone: "extended". With a signature of a
// CA whose revocation services do not answer: the extended PDF still, marked
// "extended-with-warnings" and naming it. That signature alone: 503, nothing added.
// The public may not extend.
func TestExtendAnswers(t *testing.T) {
	p := testpki.Committed(t)
	svcs := pkitest.StartServices(t, p)
	ts := startServer(t, func(_ *config.Config, o *Options) {
		o.Extender = &app.Service{Validation: &pki.Collector{OCSP: &pki.OCSPClient{}, CRLs: &pki.CRLFetcher{}, MapURL: svcs.RewriteURL}}
	})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + l.Addr().String()
	l.Close()
	fp := testpki.New(t, testpki.Options{RootName: "Foreign TEST Root", SubName: "Foreign TEST Sub", OCSPURL: dead + "/ocsp", CRLURL: dead + "/crl", RootCRLURL: dead + "/root.crl"})
	foreigner := fp.Issue(t, testpki.Spec{Kind: testpki.Personal, Subject: pkix.Name{CommonName: "Người ký nơi khác"}})

	plain := testenv.OnePagePDF("Cong van")
	kysoOnly := signPDF(t, plain, p.Org, p.Org.Chain)
	foreign := signPDF(t, plain, foreigner, foreigner.Chain)
	both := signPDF(t, foreign, p.Org, p.Org.Chain)

	post := func(key string, doc []byte) (*http.Response, []byte) {
		resp := ts.do("POST", "/v1/extend?level=B-LT", key, "application/pdf", bytes.NewReader(doc))
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, b
	}
	resp, body := post(ts.keyFor[RoleClerk], kysoOnly)
	if resp.StatusCode != 200 || resp.Header.Get("Kyso-Extend-Status") != "extended" || resp.Header.Get("Kyso-Unvalidated") != "" ||
		!bytes.HasPrefix(body, kysoOnly) || !bytes.Contains(body[len(kysoOnly):], []byte("/DSS")) {
		t.Fatalf("Kyso's signature alone: %d %v\n%s", resp.StatusCode, resp.Header, body)
	}

	resp, body = post(ts.keyFor[RoleSystem], both)
	if resp.StatusCode != 200 || resp.Header.Get("Kyso-Extend-Status") != "extended-with-warnings" || !bytes.HasPrefix(body, both) || len(body) == len(both) {
		t.Fatalf("with a foreign signature: %d %v", resp.StatusCode, resp.Header)
	}
	raw := resp.Header.Get("Kyso-Unvalidated")
	for _, r := range raw {
		if r > 0x7e {
			t.Fatalf("Kyso-Unvalidated is not ASCII: %q", raw)
		}
	}
	var un []app.UnvalidatedSignature
	if err := json.Unmarshal([]byte(raw), &un); err != nil {
		t.Fatalf("Kyso-Unvalidated %q: %v", raw, err)
	}
	if len(un) != 1 || un[0].Field != "Signature1" || un[0].Signer != "Người ký nơi khác" || un[0].Reason == "" {
		t.Errorf("unvalidated %+v, want the foreign Signature1", un)
	}

	resp, body = post(ts.keyFor[RoleClerk], foreign)
	if resp.StatusCode != http.StatusServiceUnavailable || !bytes.Contains(body, []byte("upstream-unavailable")) || !bytes.Contains(body, []byte("Signature1")) {
		t.Errorf("the foreign signature alone: %d %s", resp.StatusCode, body)
	}
	if resp, _ := post("", kysoOnly); resp.StatusCode != http.StatusUnauthorized && resp.StatusCode != http.StatusForbidden {
		t.Errorf("the public extends: %d", resp.StatusCode)
	}
}
