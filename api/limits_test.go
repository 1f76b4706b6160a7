package api

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kyso-vn/kyso/pkg/config"
)

func TestClientAddr(t *testing.T) {
	ps, err := parseProxies([]string{"10.0.0.5", "192.168.0.0/16", "fd00::/8"})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, peer string
		xff        []string
		want       string
	}{
		{"no proxy: the peer", "203.0.113.9:5000", nil, "203.0.113.9"},
		{"untrusted peer: its header is not read", "203.0.113.9:5000", []string{"1.2.3.4"}, "203.0.113.9"},
		{"trusted peer, no header", "10.0.0.5:5000", nil, "10.0.0.5"},
		{"trusted peer appended the client", "10.0.0.5:5000", []string{"198.51.100.7"}, "198.51.100.7"},
		{"the client's own entries are left of the one appended", "10.0.0.5:5000", []string{"1.1.1.1, 2.2.2.2, 198.51.100.7"}, "198.51.100.7"},
		{"a chain of trusted proxies", "10.0.0.5:5000", []string{"1.1.1.1, 198.51.100.7, 192.168.4.4"}, "198.51.100.7"},
		{"header lines join in order", "10.0.0.5:5000", []string{"1.1.1.1", "198.51.100.7"}, "198.51.100.7"},
		{"garbage stops at the last known hop", "10.0.0.5:5000", []string{"198.51.100.7, unknown"}, "10.0.0.5"},
		{"garbage behind a trusted hop", "10.0.0.5:5000", []string{"junk, 192.168.1.1"}, "192.168.1.1"},
		{"IPv4-mapped peer", "[::ffff:10.0.0.5]:5000", []string{"198.51.100.7"}, "198.51.100.7"},
		{"IPv6 client through an IPv6 proxy", "[fd00::1]:5000", []string{"2001:db8:1:2::99"}, "2001:db8:1:2::99"},
		{"all trusted: the leftmost", "10.0.0.5:5000", []string{"192.168.1.1, 192.168.1.2"}, "192.168.1.1"},
	}
	for _, c := range cases {
		if got := ps.clientAddr(c.peer, c.xff); got.String() != c.want {
			t.Errorf("%s: %s", c.name, got)
		}
	}
	keys := map[string]string{
		"198.51.100.7":         "198.51.100.7",
		"2001:db8:1:2::99":     "2001:db8:1:2::/64",
		"2001:db8:1:2:ffff::1": "2001:db8:1:2::/64",
		"2001:db8:1:3::1":      "2001:db8:1:3::/64",
	}
	for in, want := range keys {
		if got := limitKey(netip.MustParseAddr(in)); got != want {
			t.Errorf("limitKey(%s) = %s, want %s", in, got, want)
		}
	}
}

// publicVerify posts a verification as the public, with extra headers (a name given
// twice makes two header lines).
func (ts *testServer) publicVerify(hdr ...string) *http.Response {
	ts.t.Helper()
	req, _ := http.NewRequest("POST", ts.base+"/v1/verify", strings.NewReader(tinyPDF))
	req.Header.Set("Content-Type", "application/pdf")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Add(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		ts.t.Fatal(err)
	}
	ts.t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// TestRateLimitThroughTrustedProxy: behind a trusted proxy (the test client is at
// 127.0.0.1, listed as one), a client that rotates the X-Forwarded-For it sends, or
// its IPv6 address within one /64, stays in one bucket.
func TestRateLimitThroughTrustedProxy(t *testing.T) {
	ts := startServer(t, func(c *config.Config, o *Options) {
		c.RateLimit.PublicVerifyPerMinute = 3
		c.Server.TrustedProxies = []string{"127.0.0.1"}
	})
	statuses := func(xff func(i int) string, more ...string) []int {
		var out []int
		for i := range 6 {
			r := ts.publicVerify(append([]string{"X-Forwarded-For", xff(i)}, more...)...)
			out = append(out, r.StatusCode)
		}
		return out
	}
	want := "[200 200 200 429 429 429]"
	// The proxy appends the client it saw (198.51.100.7) to what the client sent.
	if got := fmt.Sprint(statuses(func(i int) string { return fmt.Sprintf("203.0.113.%d, 198.51.100.7", i) })); got != want {
		t.Errorf("rotating the client's own X-Forwarded-For: %s, want %s", got, want)
	}
	// A proxy that adds its own header line instead of extending the client's.
	if got := fmt.Sprint(statuses(func(i int) string { return fmt.Sprintf("203.0.113.%d", i) }, "X-Forwarded-For", "198.51.100.8")); got != want {
		t.Errorf("rotating the client's own X-Forwarded-For line: %s, want %s", got, want)
	}
	if got := fmt.Sprint(statuses(func(i int) string { return fmt.Sprintf("2001:db8:5:6::%x", i+1) })); got != want {
		t.Errorf("rotating within one IPv6 /64: %s, want %s", got, want)
	}
	if r := ts.publicVerify("X-Forwarded-For", "2001:db8:5:7::1"); r.StatusCode != 200 {
		t.Errorf("another /64 shares the bucket: %d", r.StatusCode)
	}
	if !strings.Contains(ts.logs.String(), `"client":"198.51.100.7"`) {
		t.Error("the access log does not name the client behind the proxy")
	}
}

// TestPublicConcurrencyPerAddress: an address may run rate_limit.public_verify_concurrent
// verifications at once; the next is a 429 with Retry-After, API clients are not
// counted per address, and the slot is freed when a verification ends.
func TestPublicConcurrencyPerAddress(t *testing.T) {
	v := &pdfVerifier{entered: make(chan struct{}, 8), release: make(chan struct{})}
	ts := startServer(t, func(c *config.Config, o *Options) {
		c.RateLimit.PublicVerifyConcurrent = 2
		c.Server.MaxHeavy = 8
		c.Server.HeavyQueueWait = 300 * time.Millisecond
		o.Verifier = v
	})
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest("POST", ts.base+"/v1/verify", strings.NewReader(tinyPDF))
			req.Header.Set("Content-Type", "application/pdf")
			if r, err := http.DefaultClient.Do(req); err == nil {
				io.Copy(io.Discard, r.Body)
				r.Body.Close()
			}
		}()
	}
	<-v.entered
	<-v.entered
	start := time.Now()
	r := ts.publicVerify()
	if r.StatusCode != 429 || r.Header.Get("Retry-After") == "" || time.Since(start) < 250*time.Millisecond {
		t.Fatalf("third at once: %d Retry-After %q after %s", r.StatusCode, r.Header.Get("Retry-After"), time.Since(start))
	}
	if p := problemOf(t, r); !strings.Contains(p.Detail, "public_verify_concurrent") {
		t.Errorf("problem %+v does not name the limit", p)
	}
	done := make(chan int, 1)
	go func() {
		req, _ := http.NewRequest("POST", ts.base+"/v1/verify", strings.NewReader(tinyPDF))
		req.Header.Set("Content-Type", "application/pdf")
		req.Header.Set("Authorization", "Bearer "+ts.keyFor[RoleSystem])
		r, err := http.DefaultClient.Do(req)
		if err != nil {
			done <- 0
			return
		}
		r.Body.Close()
		done <- r.StatusCode
	}()
	<-v.entered // the API client got in beside the public's two
	close(v.release)
	if s := <-done; s != 200 {
		t.Errorf("API client: %d", s)
	}
	wg.Wait()
	if r := ts.publicVerify(); r.StatusCode != 200 {
		t.Errorf("after the two ended: %d", r.StatusCode)
	}
	// One that waits its turn is served when a slot frees within the queue wait.
	v2 := &pdfVerifier{entered: make(chan struct{}, 8), release: make(chan struct{})}
	ts2 := startServer(t, func(c *config.Config, o *Options) {
		c.RateLimit.PublicVerifyConcurrent = 1
		c.Server.HeavyQueueWait = 5 * time.Second
		o.Verifier = v2
	})
	first := make(chan int, 1)
	go func() {
		req, _ := http.NewRequest("POST", ts2.base+"/v1/verify", strings.NewReader(tinyPDF))
		req.Header.Set("Content-Type", "application/pdf")
		if r, err := http.DefaultClient.Do(req); err == nil {
			r.Body.Close()
			first <- r.StatusCode
		} else {
			first <- 0
		}
	}()
	<-v2.entered
	go func() { time.Sleep(200 * time.Millisecond); v2.release <- struct{}{} }()
	go func() { <-v2.entered; v2.release <- struct{}{} }()
	if r := ts2.publicVerify(); r.StatusCode != 200 {
		t.Errorf("the queued one: %d", r.StatusCode)
	}
	if s := <-first; s != 200 {
		t.Errorf("the first: %d", s)
	}
}

// TestHeavyCap: past server.max_heavy, a heavy request waits heavy_queue_wait and is
// refused with 503 busy; light routes are not held.
func TestHeavyCap(t *testing.T) {
	v := &pdfVerifier{entered: make(chan struct{}, 4), release: make(chan struct{})}
	ts := startServer(t, func(c *config.Config, o *Options) {
		c.Server.MaxHeavy = 1
		c.Server.HeavyQueueWait = 200 * time.Millisecond
		o.Verifier = v
	})
	go func() {
		req, _ := http.NewRequest("POST", ts.base+"/v1/verify", strings.NewReader(tinyPDF))
		req.Header.Set("Content-Type", "application/pdf")
		req.Header.Set("Authorization", "Bearer "+ts.keyFor[RoleSystem])
		if r, err := http.DefaultClient.Do(req); err == nil {
			r.Body.Close()
		}
	}()
	<-v.entered
	start := time.Now()
	r := ts.do("POST", "/v1/sign?key=org", ts.keyFor[RoleClerk], "application/pdf", strings.NewReader(tinyPDF))
	if r.StatusCode != 503 || r.Header.Get("Retry-After") == "" || time.Since(start) < 150*time.Millisecond {
		t.Errorf("sign while the one slot is taken: %d Retry-After %q after %s", r.StatusCode, r.Header.Get("Retry-After"), time.Since(start))
	}
	if p := problemOf(t, r); p.Type != ProblemBase+"busy" || !strings.Contains(p.Detail, "server.max_heavy") {
		t.Errorf("problem %+v", p)
	}
	if r := ts.do("GET", "/v1/keys", ts.keyFor[RoleClerk], "", nil); r.StatusCode != 200 {
		t.Errorf("a light route was held: %d", r.StatusCode)
	}
	close(v.release)
	// The slot is free again: a waiting request gets it within the queue wait.
	if r := ts.do("POST", "/v1/sign?key=org", ts.keyFor[RoleClerk], "application/pdf", strings.NewReader(tinyPDF)); r.StatusCode != 200 {
		t.Errorf("after release: %d", r.StatusCode)
	}
	if n := heavySlots(8<<30, 128<<20); n != 64 {
		t.Errorf("8 GiB / 128 MiB = %d slots", n)
	}
	if n := heavySlots(100<<20, 128<<20); n != 2 {
		t.Errorf("a tiny limit gives %d slots, want the floor of 2", n)
	}
}

// TestMinUploadRate: a body trickling in below server.min_upload_rate is cut within
// the window with a 408 and the connection closed; a steady one is not.
func TestMinUploadRate(t *testing.T) {
	ts := startServer(t, func(c *config.Config, o *Options) {
		c.Server.MinUploadRate = 100
		c.Server.MinUploadWindow = time.Second
	})
	conn, err := net.Dial("tcp", strings.TrimPrefix(ts.base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /v1/verify HTTP/1.1\r\nHost: x\r\nContent-Type: application/pdf\r\nContent-Length: 100000\r\n\r\n%%PDF-")
	start := time.Now()
	stop := make(chan struct{})
	defer close(stop)
	go func() { // one byte every 300 ms: 3 bytes a second
		for {
			select {
			case <-stop:
				return
			case <-time.After(300 * time.Millisecond):
				if _, err := conn.Write([]byte(" ")); err != nil {
					return
				}
			}
		}
	}()
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no response: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	took := time.Since(start)
	if resp.StatusCode != http.StatusRequestTimeout || !strings.Contains(string(body), "min_upload_rate") || took > 2500*time.Millisecond {
		t.Fatalf("slow body: %d after %s: %s", resp.StatusCode, took, body)
	}
	if !resp.Close && resp.Header.Get("Connection") != "close" {
		t.Error("the connection is not closed")
	}
	// A body at a steady 2 KiB/s passes.
	pr, pw := io.Pipe()
	go func() {
		pw.Write([]byte("%PDF-"))
		for range 6 {
			time.Sleep(250 * time.Millisecond)
			pw.Write([]byte(strings.Repeat(" ", 512)))
		}
		pw.Close()
	}()
	if r := ts.do("POST", "/v1/verify", ts.keyFor[RoleSystem], "application/pdf", pr); r.StatusCode != 200 {
		t.Errorf("a steady upload: %d %s", r.StatusCode, readAll(t, r))
	}
}

// TestMaxConnections: past server.max_connections a new connection is not served
// until one closes.
func TestMaxConnections(t *testing.T) {
	ts := startServer(t, func(c *config.Config, o *Options) { c.Server.MaxConnections = 2 })
	addr := strings.TrimPrefix(ts.base, "http://")
	var held []net.Conn
	for range 2 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		held = append(held, c)
	}
	time.Sleep(100 * time.Millisecond)  // let the server accept both
	third, err := net.Dial("tcp", addr) // the kernel's backlog takes it
	if err != nil {
		t.Fatal(err)
	}
	defer third.Close()
	fmt.Fprint(third, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
	third.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
	if _, err := http.ReadResponse(bufio.NewReader(third), nil); err == nil {
		t.Fatal("a third connection was served beside two with max_connections 2")
	}
	held[0].Close()
	third.SetReadDeadline(time.Now().Add(5 * time.Second))
	fourth, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer fourth.Close()
	// The third connection's request was waiting in its socket; now it is served.
	held[1].Close()
	fmt.Fprint(fourth, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
	fourth.SetReadDeadline(time.Now().Add(5 * time.Second))
	if r, err := http.ReadResponse(bufio.NewReader(fourth), nil); err != nil || r.StatusCode != 200 {
		t.Fatalf("after two closed: %v", err)
	}
}

// TestReadyzCaches: /readyz hammered anonymously runs each key's check once per
// server.ready_interval, names no key, and an admin gets the names. /metrics hides
// key names unless told, and keeps itself behind metrics.token_file's token.
func TestReadyzCaches(t *testing.T) {
	var calls atomic.Int64
	now := time.Date(2026, 3, 5, 7, 30, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	tokenFile := filepath.Join(t.TempDir(), "metrics-token")
	os.WriteFile(tokenFile, []byte("s3cret-metrics-token-0123456789\n"), 0o600)
	ts := startServer(t, func(c *config.Config, o *Options) {
		c.Server.ReadyInterval = time.Minute
		c.Metrics.KeyNames = false
		o.Clock = clock
		o.Checks = append(o.Checks, Check{Name: "key:org-hsm-ubnd", Key: "org", Readiness: checkFunc(func(context.Context) error {
			calls.Add(1)
			time.Sleep(20 * time.Millisecond) // a real probe signature takes a while
			return nil
		})})
	})
	var wg sync.WaitGroup
	var leaked atomic.Bool
	for range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := http.Get(ts.base + "/readyz")
			if err != nil {
				return
			}
			b, _ := io.ReadAll(r.Body)
			r.Body.Close()
			if r.StatusCode != 200 || strings.Contains(string(b), "org") || strings.Contains(string(b), "store") {
				leaked.Store(true)
			}
		}()
	}
	wg.Wait()
	if n := calls.Load(); n != 1 {
		t.Errorf("100 probes ran the key check %d times, want 1", n)
	}
	if leaked.Load() {
		t.Error("an anonymous /readyz named a check or failed")
	}
	r := ts.do("GET", "/readyz", ts.keyFor[RoleAdmin], "", nil)
	if b := string(readAll(t, r)); r.StatusCode != 200 || !strings.Contains(b, `"key:org-hsm-ubnd":"ok"`) {
		t.Errorf("admin: %d %s", r.StatusCode, b)
	}
	if r := ts.do("GET", "/readyz", ts.keyFor[RoleClerk], "", nil); strings.Contains(string(readAll(t, r)), "org") {
		t.Error("a clerk got the key names")
	}
	if r := ts.do("GET", "/readyz", "kyso_wrong", "", nil); r.StatusCode != 200 || strings.Contains(string(readAll(t, r)), "org") {
		t.Errorf("a wrong key: %d", r.StatusCode)
	}
	mu.Lock()
	now = now.Add(61 * time.Second)
	mu.Unlock()
	ts.do("GET", "/readyz", "", "", nil)
	if n := calls.Load(); n != 2 {
		t.Errorf("after the interval: %d checks, want 2", n)
	}
	m := string(readAll(t, ts.do("GET", "/metrics", "", "", nil)))
	if strings.Contains(m, `key="org"`) || !strings.Contains(m, `kyso_signatures_total{key="key-1"} 0`) ||
		!strings.Contains(m, "kyso_key_readiness_checks_total 2") {
		t.Errorf("metrics without key_names:\n%s", grepLines(m, "kyso_"))
	}

	ts2 := startServer(t, func(c *config.Config, o *Options) { c.Metrics.KeyNames = false; c.Metrics.TokenFile = tokenFile })
	if r := ts2.do("GET", "/metrics", "", "", nil); r.StatusCode != 401 {
		t.Errorf("metrics without the token: %d", r.StatusCode)
	}
	if r := ts2.do("GET", "/metrics", "", "", nil, "Authorization", "Bearer wrong-token-wrong-token"); r.StatusCode != 401 {
		t.Errorf("metrics with a wrong token: %d", r.StatusCode)
	}
	r = ts2.do("GET", "/metrics", "", "", nil, "Authorization", "Bearer s3cret-metrics-token-0123456789")
	if m := string(readAll(t, r)); r.StatusCode != 200 || !strings.Contains(m, `kyso_signatures_total{key="org"} 0`) {
		t.Errorf("metrics with the token: %d %s", r.StatusCode, grepLines(m, "kyso_signatures"))
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// writeTLSPair writes a self-signed certificate for 127.0.0.1 with serial and its key.
func writeTLSPair(t *testing.T, certFile, keyFile string, serial int64) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: fmt.Sprintf("kyso test %d", serial)},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalECPrivateKey(key)
	// Written beside and renamed, as a certificate manager does.
	for _, f := range []struct {
		path, typ string
		der       []byte
	}{{keyFile, "EC PRIVATE KEY", kder}, {certFile, "CERTIFICATE", der}} {
		tmp := f.path + ".new"
		if err := os.WriteFile(tmp, pem.EncodeToMemory(&pem.Block{Type: f.typ, Bytes: f.der}), 0o600); err != nil {
			t.Fatal(err)
		}
		mod := time.Now().Add(time.Duration(serial) * time.Second) // a new mtime even within the clock's tick
		os.Chtimes(tmp, mod, mod)
		if err := os.Rename(tmp, f.path); err != nil {
			t.Fatal(err)
		}
	}
}

// TestTLSReload: with server.tls the server speaks HTTPS only, and a replaced
// certificate pair is served from the next handshake on, without a restart.
func TestTLSReload(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	writeTLSPair(t, certFile, keyFile, 1)
	ts := startServer(t, func(c *config.Config, o *Options) {
		c.Server.TLS = config.TLS{CertFile: certFile, KeyFile: keyFile}
	})
	addr := strings.TrimPrefix(ts.base, "http://")
	serial := func() int64 {
		t.Helper()
		client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, DisableKeepAlives: true}}
		r, err := client.Get("https://" + addr + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		defer r.Body.Close()
		if r.StatusCode != 200 {
			t.Fatalf("healthz over TLS: %d", r.StatusCode)
		}
		return r.TLS.PeerCertificates[0].SerialNumber.Int64()
	}
	if s := serial(); s != 1 {
		t.Fatalf("serial %d, want 1", s)
	}
	if r, err := http.Get(ts.base + "/healthz"); err == nil {
		r.Body.Close()
		if r.StatusCode == 200 {
			t.Error("plain HTTP is served beside TLS")
		}
	}
	writeTLSPair(t, certFile, keyFile, 2)
	if s := serial(); s != 2 {
		t.Errorf("after replacing the files: serial %d, want 2", s)
	}
	// A broken replacement keeps the last good pair in service.
	os.WriteFile(certFile, []byte("not a certificate"), 0o600)
	if s := serial(); s != 2 {
		t.Errorf("after a broken replacement: serial %d, want 2", s)
	}
	// A pair that does not load at start is a configuration error.
	cfg := config.Default()
	cfg.Server.TLS = config.TLS{CertFile: certFile, KeyFile: keyFile}
	if _, err := New(Options{Config: &cfg}); err == nil || !strings.Contains(err.Error(), "server.tls") {
		t.Errorf("a broken pair at start: %v", err)
	}
}

// TestMaxConnectionsPerAddress: one address may hold server.max_connections_per_address
// connections; the next is answered 429 and closed, another address is not affected,
// and a trusted proxy is exempt.
func TestMaxConnectionsPerAddress(t *testing.T) {
	for _, trusted := range []bool{false, true} {
		ts := startServer(t, func(c *config.Config, o *Options) {
			c.Server.MaxConnectionsPerAddress = 2
			if trusted {
				c.Server.TrustedProxies = []string{"127.0.0.1"}
			}
		})
		addr := strings.TrimPrefix(ts.base, "http://")
		for range 2 {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
		}
		third, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer third.Close()
		fmt.Fprint(third, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
		third.SetReadDeadline(time.Now().Add(5 * time.Second))
		r, err := http.ReadResponse(bufio.NewReader(third), nil)
		if err != nil {
			t.Fatalf("trusted %v: third connection: %v", trusted, err)
		}
		r.Body.Close()
		if want := map[bool]int{false: 429, true: 200}[trusted]; r.StatusCode != want {
			t.Errorf("trusted %v: third connection got %d, want %d", trusted, r.StatusCode, want)
		}
		other := &http.Client{Transport: &http.Transport{DialContext: (&net.Dialer{
			LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")},
		}).DialContext}}
		if r, err := other.Get(ts.base + "/healthz"); err != nil || r.StatusCode != 200 {
			t.Errorf("another address: %v", err)
		} else {
			r.Body.Close()
		}
		other.CloseIdleConnections()
	}
}
