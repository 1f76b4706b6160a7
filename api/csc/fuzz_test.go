package csc_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/kyso-vn/kyso/api/csc"
	"github.com/kyso-vn/kyso/hsm"
)

var _ hsm.Key = memKey{}

// memKey is an in-memory hsm.Key, so the fuzzer exercises the service, not a token.
type memKey struct {
	*ecdsa.PrivateKey
	cert *x509.Certificate
}

func (k memKey) SignContext(ctx context.Context, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return k.Sign(rand.Reader, digest, opts)
}
func (k memKey) Certificate() *x509.Certificate { return k.cert }
func (k memKey) Chain() []*x509.Certificate     { return nil }

// FuzzCSCRequests: no body sent to any method makes the service panic or fail with a
// server error; bad input is a 4xx with a CSC error.
func FuzzCSCRequests(f *testing.F) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "fuzz"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		f.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	h, err := csc.New(csc.Options{
		Keys:   tokenKeys{"k": memKey{key, cert}},
		Auth:   &apiKeys{principals: map[string]csc.Principal{keyAgencyA: {ID: "a"}}, grants: map[string][]string{"a": {"k"}}},
		Secret: bytes.Repeat([]byte("f"), 32), Approver: &phone{},
	})
	if err != nil {
		f.Fatal(err)
	}
	methods := []string{"info", "auth/login", "oauth2/token", "credentials/list", "credentials/info", "credentials/authorize", "credentials/authorizeCheck", "signatures/signHash"}
	f.Add(uint8(5), []byte(`{"credentialID":"k","numSignatures":1,"hashes":["3q2+78r+ur7erb7v3q2+78r+ur7erb7v3q2+78r+ur4="],"hashAlgorithmOID":"2.16.840.1.101.3.4.2.1"}`))
	f.Add(uint8(7), []byte(`{"credentialID":"k","SAD":"e30.AAAA","hash":["AAAA"],"signAlgo":"1.2.840.113549.1.1.10","signAlgoParams":"MAA="}`))
	f.Add(uint8(6), []byte(`{"handle":"x.y"}`))
	f.Add(uint8(2), []byte(`grant_type=client_credentials&client_secret=x`))
	f.Fuzz(func(t *testing.T, method uint8, body []byte) {
		r := httptest.NewRequest(http.MethodPost, "/"+methods[int(method)%len(methods)], bytes.NewReader(body))
		r.Header.Set("Authorization", "Bearer "+keyAgencyA)
		r.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code >= 500 {
			b, _ := io.ReadAll(w.Body)
			t.Fatalf("%s: %d %s", r.URL.Path, w.Code, b)
		}
	})
}
