package cms_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"io"
	"math/big"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/digitorus/timestamp"
)

// Keys are cached per test binary: RSA-4096 generation takes seconds on a shared
// machine, and no test depends on a key being fresh.
var (
	keyMu    sync.Mutex
	keyCache = map[string]crypto.Signer{}
)

func testKey(t testing.TB, kind string) crypto.Signer {
	t.Helper()
	keyMu.Lock()
	defer keyMu.Unlock()
	if k, ok := keyCache[kind]; ok {
		return k
	}
	var k crypto.Signer
	var err error
	switch kind {
	case "RSA-1024":
		k, err = rsa.GenerateKey(rand.Reader, 1024)
	case "RSA-2048":
		k, err = rsa.GenerateKey(rand.Reader, 2048)
	case "RSA-3072":
		k, err = rsa.GenerateKey(rand.Reader, 3072)
	case "RSA-4096":
		k, err = rsa.GenerateKey(rand.Reader, 4096)
	case "P-224":
		k, err = ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	case "P-256":
		k, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "P-384":
		k, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case "P-521":
		k, err = ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	default:
		t.Fatalf("unknown key kind %q", kind)
	}
	if err != nil {
		t.Fatal(err)
	}
	keyCache[kind] = k
	return k
}

// testPKI is a throw-away root → intermediate → leaf hierarchy.
type testPKI struct {
	root, inter, leaf *x509.Certificate
	rootKey, interKey crypto.Signer
	leafKey           crypto.Signer
}

var serial atomic.Int64

func mintCert(t testing.TB, tmpl *x509.Certificate, pub crypto.PublicKey, parent *x509.Certificate, parentKey crypto.Signer) *x509.Certificate {
	t.Helper()
	tmpl.SerialNumber = big.NewInt(1000 + serial.Add(1))
	if tmpl.NotBefore.IsZero() {
		tmpl.NotBefore = time.Now().Add(-time.Hour)
		tmpl.NotAfter = time.Now().Add(365 * 24 * time.Hour)
	}
	if parent == nil {
		parent = tmpl
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func newPKI(t testing.TB, leafKind string) *testPKI {
	t.Helper()
	p := &testPKI{rootKey: testKey(t, "P-384"), interKey: testKey(t, "P-256"), leafKey: testKey(t, leafKind)}
	p.root = mintCert(t, &x509.Certificate{
		Subject:               pkix.Name{CommonName: "Kyso Test Root CA", Organization: []string{"Kyso test"}, Country: []string{"VN"}},
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}, p.rootKey.Public(), nil, p.rootKey)
	p.inter = mintCert(t, &x509.Certificate{
		Subject:               pkix.Name{CommonName: "Kyso Test Sub CA", Organization: []string{"Kyso test"}, Country: []string{"VN"}},
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}, p.interKey.Public(), p.root, p.rootKey)
	ski := make([]byte, 20)
	rand.Read(ski)
	p.leaf = mintCert(t, &x509.Certificate{
		Subject:  pkix.Name{CommonName: "Nguyễn Văn A", Organization: []string{"Ủy ban nhân dân tỉnh Ninh Thuận"}, Country: []string{"VN"}},
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment,
		// A subject key identifier lets openssl name the signer by it (-keyid).
		SubjectKeyId: ski,
	}, p.leafKey.Public(), p.inter, p.interKey)
	return p
}

// testTSA is an RFC 3161 authority built on github.com/digitorus/timestamp, an
// implementation independent of ours, so parsing its tokens is a real cross-check.
type testTSA struct {
	cert  *x509.Certificate
	chain []*x509.Certificate
	key   crypto.Signer
	calls atomic.Int32
	// tamper, when set, changes the imprint the TSA stamps (a misbehaving TSA).
	tamper bool
}

func newTSA(t testing.TB, p *testPKI, kind string) *testTSA {
	t.Helper()
	key := testKey(t, kind)
	cert := mintCert(t, &x509.Certificate{
		Subject:     pkix.Name{CommonName: "Kyso Test TSA", Organization: []string{"Kyso test"}, Country: []string{"VN"}},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageTimeStamping},
	}, key.Public(), p.inter, p.interKey)
	return &testTSA{cert: cert, chain: []*x509.Certificate{p.inter}, key: key}
}

func (a *testTSA) Timestamp(ctx context.Context, digest []byte, hash crypto.Hash) ([]byte, error) {
	a.calls.Add(1)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	msg := append([]byte(nil), digest...)
	if a.tamper {
		msg[0] ^= 1
	}
	ts := timestamp.Timestamp{
		HashAlgorithm:     hash,
		HashedMessage:     msg,
		Time:              time.Now().Truncate(time.Millisecond),
		Accuracy:          time.Second,
		Policy:            asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 99999, 1},
		Nonce:             big.NewInt(424242),
		AddTSACertificate: true,
		Certificates:      a.chain,
	}
	resp, err := ts.CreateResponseWithOpts(a.cert, a.key, crypto.SHA256)
	if err != nil {
		return nil, err
	}
	parsed, err := timestamp.ParseResponse(resp)
	if err != nil {
		return nil, err
	}
	return parsed.RawToken, nil
}

func (a *testTSA) certBytes() int {
	n := len(a.cert.Raw)
	for _, c := range a.chain {
		n += len(c.Raw)
	}
	return n
}

// countingSigner counts how often the key is asked, as a token or a phone would.
type countingSigner struct {
	crypto.Signer
	calls    atomic.Int32
	ctxCalls atomic.Int32
	corrupt  bool // return a wrong signature, as a broken remote signer might
}

func (c *countingSigner) Sign(r io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	c.calls.Add(1)
	sig, err := c.Signer.Sign(r, digest, opts)
	if err == nil && c.corrupt {
		sig[len(sig)/2] ^= 0x40
	}
	return sig, err
}

// contextCountingSigner adds SignContext, as hsm.Key has.
type contextCountingSigner struct{ *countingSigner }

func (c contextCountingSigner) SignContext(ctx context.Context, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	c.ctxCalls.Add(1)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return c.countingSigner.Signer.Sign(rand.Reader, digest, opts)
}
