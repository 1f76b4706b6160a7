package certfile

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	var ders [][]byte
	for i := range 2 {
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(int64(i + 1)), Subject: pkix.Name{CommonName: "certfile"},
			NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
		if err != nil {
			t.Fatal(err)
		}
		ders = append(ders, der)
	}
	block := func(typ string, b []byte) []byte { return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b}) }
	two := append(append(block("CERTIFICATE", ders[0]), block("PRIVATE KEY", []byte("skipped"))...), block("CERTIFICATE", ders[1])...)
	cases := []struct {
		name    string
		data    []byte
		n       int
		wantErr bool
	}{
		{"DER", ders[0], 1, false},
		{"PEM chain with another block between", two, 2, false},
		{"PEM without a certificate", block("PRIVATE KEY", []byte("x")), 0, false},
		{"garbage", []byte("not a certificate"), 0, true},
		{"PEM certificate that does not parse", block("CERTIFICATE", []byte("x")), 0, true},
	}
	for _, c := range cases {
		certs, err := Parse(c.data)
		if (err != nil) != c.wantErr || len(certs) != c.n {
			t.Errorf("%s: %d certificates, %v; want %d, error %v", c.name, len(certs), err, c.n, c.wantErr)
		}
	}
}
