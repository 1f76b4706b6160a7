package pkitest

import (
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/kyso-vn/kyso/internal/testpki"
)

// ServeAtCertificateURLs runs the test PKI's OCSP responder (real openssl) and CRLs at
// the addresses its certificates name (testpki.OCSPPort and testpki.CRLPort on
// 127.0.0.1), for a server process that cannot be pointed elsewhere. Tests in other
// packages (go test runs packages at once) and other test runs on the machine may
// want the same ports: a lock file serialises them all for as long as the test runs,
// and the ports are waited for, up to 3 minutes, before the test fails saying so.
func ServeAtCertificateURLs(t testing.TB, p *testpki.TestPKI) {
	t.Helper()
	lockPortsFor(t)
	var crl net.Listener
	deadline := time.Now().Add(3 * time.Minute)
	for {
		ocsp, err := net.Listen("tcp", addr(testpki.OCSPPort))
		if err == nil {
			ocsp.Close()
			if crl, err = net.Listen("tcp", addr(testpki.CRLPort)); err == nil {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the test PKI's addresses %s and %s stay taken: %v", addr(testpki.OCSPPort), addr(testpki.CRLPort), err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	StartOCSP(t, OCSPOptions{Dir: p.Dir, Port: testpki.OCSPPort})
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/sub-ca.crl":
			_, _ = w.Write(p.SubCRL)
		case "/root-ca.crl":
			_, _ = w.Write(p.RootCRL)
		default:
			http.NotFound(w, r)
		}
	})}
	go func() { _ = srv.Serve(crl) }()
	t.Cleanup(func() { srv.Close() })
}

func addr(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }

// lockPortsFor takes the machine-wide lock on the test PKI's fixed ports until the
// test ends (released last, after the servers have stopped).
func lockPortsFor(t testing.TB) {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(os.TempDir(), "kyso-testpki-ports.lock"), os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(3 * time.Minute)
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			f.Close()
			t.Fatalf("another test holds the test PKI's ports for over 3 minutes: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Cleanup(func() { f.Close() }) // closing releases the lock
}
