package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestServeTLS: with server.tls (here through KYSO_TLS_CERT_FILE and
// KYSO_TLS_KEY_FILE) `kyso serve` answers HTTPS only, says so when it starts
// listening, and serves a renewed certificate without a restart.
func TestServeTLS(t *testing.T) {
	t.Chdir(t.TempDir())
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	writePair := func(serial int64) {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "kyso.example.vn"},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		if err != nil {
			t.Fatal(err)
		}
		kder, _ := x509.MarshalPKCS8PrivateKey(key)
		mod := time.Now().Add(time.Duration(serial) * time.Second)
		for path, block := range map[string]*pem.Block{keyFile: {Type: "PRIVATE KEY", Bytes: kder}, certFile: {Type: "CERTIFICATE", Bytes: der}} {
			if err := os.WriteFile(path+".new", pem.EncodeToMemory(block), 0o600); err != nil {
				t.Fatal(err)
			}
			os.Chtimes(path+".new", mod, mod)
			if err := os.Rename(path+".new", path); err != nil {
				t.Fatal(err)
			}
		}
	}
	writePair(1)
	rs := startServe(t, "", map[string]string{"KYSO_DATA_DIR": filepath.Join(dir, "data"), "KYSO_TLS_CERT_FILE": certFile, "KYSO_TLS_KEY_FILE": keyFile})
	// The server logs its listening line as it starts serving, just after it told the
	// test its address: wait for the line rather than read stderr at once.
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(rs.stderr.String(), `"tls":true`); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Errorf("the listening line does not say TLS:\n%s", rs.stderr)
			break
		}
	}
	base := strings.Replace(rs.base, "http://", "https://", 1)
	serial := func() int64 {
		t.Helper()
		c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, DisableKeepAlives: true}}
		resp, err := c.Get(base + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.TLS == nil {
			t.Fatalf("healthz over TLS: %d", resp.StatusCode)
		}
		return resp.TLS.PeerCertificates[0].SerialNumber.Int64()
	}
	if s := serial(); s != 1 {
		t.Fatalf("serial %d", s)
	}
	writePair(2)
	if s := serial(); s != 2 {
		t.Errorf("after renewal: serial %d, want 2", s)
	}
	resp, err := http.Get(rs.base + "/healthz")
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode == 200 {
			t.Error("plain HTTP answered beside TLS")
		}
	}
}
