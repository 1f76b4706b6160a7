package pkitest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/kyso-vn/kyso/internal/testenv"
	"github.com/kyso-vn/kyso/internal/testpki"
)

// OCSPResponder is a running `openssl ocsp` responder.
type OCSPResponder struct {
	// URL is where to POST requests, e.g. http://127.0.0.1:PORT/ocsp.
	URL  string
	Port int
}

// OCSPOptions shape the responder.
type OCSPOptions struct {
	// Dir holds index.txt, ocsp.pem, ocsp.key and sub-ca.pem (default certs-testdata).
	Dir string
	// Index, when set, replaces Dir's index.txt (an OpenSSL CA database).
	Index []byte
	// NextUpdateDays is written as nextUpdate (-ndays; default 1; negative leaves
	// nextUpdate out).
	NextUpdateDays int
	// Port to listen on (default: a free one).
	Port int
}

// StartOCSP runs the real OpenSSL responder,
//
//	openssl ocsp -index index.txt -port PORT -rsigner ocsp.pem -rkey ocsp.key -CA sub-ca.pem -ndays N
//
// over a copy of the index in a temp dir, waits until it answers, and kills it on
// cleanup. A missing openssl fails the test naming the Debian package.
//
// OpenSSL 3.0's -port takes a number only and listens on every interface.
func StartOCSP(t testing.TB, opts ...OCSPOptions) *OCSPResponder {
	t.Helper()
	openssl := testenv.Tool(t, "openssl", "openssl")
	var o OCSPOptions
	if len(opts) > 0 {
		o = opts[0]
	}
	if o.Dir == "" {
		o.Dir = testenv.TestPKIDir()
	}
	if o.NextUpdateDays == 0 {
		o.NextUpdateDays = 1
	}
	tmp := t.TempDir()
	index := o.Index
	if index == nil {
		var err error
		if index, err = os.ReadFile(filepath.Join(o.Dir, testpki.FileIndex)); err != nil {
			t.Fatal(err)
		}
	}
	for name, data := range map[string][]byte{"index.txt": index, "index.txt.attr": []byte("unique_subject = no\n")} {
		if err := os.WriteFile(filepath.Join(tmp, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// A free port can be taken between our probe and openssl's bind; try a few.
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		port := o.Port
		if port == 0 {
			port = freePort(t)
		}
		args := []string{"ocsp", "-index", filepath.Join(tmp, "index.txt"), "-port", strconv.Itoa(port),
			"-rsigner", filepath.Join(o.Dir, "ocsp.pem"), "-rkey", filepath.Join(o.Dir, "ocsp.key"),
			"-CA", filepath.Join(o.Dir, testpki.FileSubCA), "-ignore_err"}
		if o.NextUpdateDays > 0 {
			args = append(args, "-ndays", strconv.Itoa(o.NextUpdateDays))
		}
		cmd := exec.Command(openssl, args...)
		var logs bytes.Buffer
		cmd.Stdout, cmd.Stderr = &logs, &logs
		if err := cmd.Start(); err != nil {
			t.Fatalf("start openssl ocsp: %v", err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		stop := func() {
			_ = cmd.Process.Kill()
			<-exited
		}
		if err := waitAnswering(port, o.Dir, exited); err != nil {
			stop()
			lastErr = fmt.Errorf("%w; output: %s", err, logs.String())
			continue
		}
		t.Cleanup(stop)
		return &OCSPResponder{URL: fmt.Sprintf("http://127.0.0.1:%d/ocsp", port), Port: port}
	}
	t.Fatalf("openssl ocsp did not start: %v", lastErr)
	return nil
}

func freePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// waitAnswering posts a real OCSP request (about the responder's own certificate)
// until one is answered, for up to 10 s, or until the process exits. A bare TCP probe
// will not do: OpenSSL 3.0's responder hangs for good on a connection that closes
// without a request.
func waitAnswering(port int, dir string, exited <-chan error) error {
	subs, err := testpki.ReadCertificates(filepath.Join(dir, testpki.FileSubCA))
	if err != nil {
		return err
	}
	own, err := testpki.ReadCertificates(filepath.Join(dir, "ocsp.pem"))
	if err != nil {
		return err
	}
	req, err := ocsp.CreateRequest(own[0], subs[0], nil)
	if err != nil {
		return err
	}
	url := fmt.Sprintf("http://127.0.0.1:%d/ocsp", port)
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(req))
		if err != nil {
			cancel()
			return err
		}
		hreq.Header.Set("Content-Type", "application/ocsp-request")
		resp, err := http.DefaultClient.Do(hreq)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		cancel()
		if err == nil && resp.StatusCode == http.StatusOK {
			return nil
		}
		select {
		case err := <-exited:
			return fmt.Errorf("openssl ocsp exited: %v", err)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("openssl ocsp not answering on %d after 10s", port)
		}
	}
}

// CRLServer serves CRLs over HTTP on loopback and counts downloads.
type CRLServer struct {
	URL       string
	downloads atomic.Int64
}

// Downloads is how many times the CRL was fetched.
func (s *CRLServer) Downloads() int { return int(s.downloads.Load()) }

// ServeCRL serves crlDER on 127.0.0.1 and returns its URL.
func ServeCRL(t testing.TB, crlDER []byte) string {
	t.Helper()
	return StartCRLServer(t, crlDER).URL
}

// StartCRLServer is ServeCRL returning the server, for tests that count downloads.
func StartCRLServer(t testing.TB, crlDER []byte) *CRLServer {
	t.Helper()
	s := &CRLServer{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.downloads.Add(1)
		w.Header().Set("Content-Type", "application/pkix-crl")
		_, _ = w.Write(crlDER)
	}))
	t.Cleanup(srv.Close)
	s.URL = srv.URL + "/sub-ca.crl"
	return s
}
