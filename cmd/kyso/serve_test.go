package main

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kyso-vn/kyso/internal/testenv"
	"github.com/kyso-vn/kyso/internal/testpki"
	"github.com/kyso-vn/kyso/pkg/config"
	"github.com/kyso-vn/kyso/pkg/pki"
	"github.com/kyso-vn/kyso/pkg/pki/pkitest"
	"github.com/kyso-vn/kyso/pkg/store"
	"github.com/kyso-vn/kyso/pkg/wire"
	"github.com/kyso-vn/kyso/signer/verify"
)

// lockedBuffer collects output written by the server's goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// runningServer is `kyso serve` running in this process on a loopback port.
type runningServer struct {
	base           string
	stdout, stderr *lockedBuffer
	stop           func() error
}

// noConfig, as startServe's configPath, starts kyso serve with no --config at all.
const noConfig = "(no --config)"

// startServe runs serve with the file at configPath ("" for an empty file: the
// defaults) and env, and waits until it listens.
func startServe(t *testing.T, configPath string, env map[string]string) *runningServer {
	t.Helper()
	return startServeWith(t, configPath, env, nil)
}

// startServeWith is startServe with revocation URLs mapped by rewrite.
func startServeWith(t *testing.T, configPath string, env map[string]string, rewrite func(string) string) *runningServer {
	t.Helper()
	env["KYSO_LISTEN"] = "127.0.0.1:0"
	switch configPath {
	case "":
		// With no configuration at all kyso serve refuses (TestServeNoConfiguration);
		// an empty file is a configuration of defaults.
		configPath = filepath.Join(t.TempDir(), "empty.yaml")
		if err := os.WriteFile(configPath, nil, 0o600); err != nil {
			t.Fatal(err)
		}
	case noConfig:
		configPath = ""
	}
	rs := &runningServer{stdout: &lockedBuffer{}, stderr: &lockedBuffer{}}
	addr := make(chan net.Addr, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- serve(ctx, serveParams{
			configPath:    configPath,
			env:           func(k string) (string, bool) { v, ok := env[k]; return v, ok },
			stdout:        rs.stdout,
			stderr:        rs.stderr,
			ready:         func(a net.Addr) { addr <- a },
			revocationURL: rewrite,
		})
	}()
	select {
	case a := <-addr:
		rs.base = "http://" + a.String()
	case err := <-done:
		cancel()
		t.Fatalf("serve ended before listening: %v\n%s", err, rs.stderr)
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatal("serve did not listen within 30 s")
	}
	var once sync.Once
	var stopErr error
	rs.stop = func() error {
		once.Do(func() {
			cancel()
			stopErr = <-done
		})
		return stopErr
	}
	t.Cleanup(func() {
		if err := rs.stop(); err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return rs
}

func (rs *runningServer) call(t *testing.T, method, path, key, ctype string, body io.Reader) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, rs.base+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

var adminKeyLine = regexp.MustCompile(`(?m)^Admin API key \(shown once, store it now\): (kyso_[A-Za-z0-9_-]{43})$`)

// TestServeDefaults: with an empty configuration the server starts on defaults, keeps its
// data under ./kyso-data, prints an admin key once, stores only its hash, and the key
// still works after a restart.
func TestServeDefaults(t *testing.T) {
	t.Chdir(t.TempDir()) // ./kyso-data lands here
	rs := startServe(t, "", map[string]string{})
	m := adminKeyLine.FindStringSubmatch(rs.stdout.String())
	if m == nil {
		t.Fatalf("no admin key on stdout: %q", rs.stdout)
	}
	key := m[1]
	if _, err := os.Stat(filepath.Join("kyso-data", "kyso.db")); err != nil {
		t.Errorf("no SQLite store under ./kyso-data: %v", err)
	}
	resp, body := rs.call(t, "GET", "/readyz", key, "", nil) // an admin's key: checks by name
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"store":"ok"`) {
		t.Errorf("readyz: %d %s", resp.StatusCode, body)
	}
	if resp, body := rs.call(t, "GET", "/v1/keys", key, "", nil); resp.StatusCode != 200 || string(body) != `{"keys":[]}` {
		t.Errorf("keys as admin: %d %s", resp.StatusCode, body)
	}
	if err := rs.stop(); err != nil {
		t.Fatal(err)
	}

	rs2 := startServe(t, "", map[string]string{})
	if out := rs2.stdout.String(); out != "" {
		t.Errorf("second start printed %q; the key is shown once", out)
	}
	if resp, _ := rs2.call(t, "GET", "/v1/keys", key, "", nil); resp.StatusCode != 200 {
		t.Errorf("the admin key stopped working after a restart: %d", resp.StatusCode)
	}
	if err := rs2.stop(); err != nil {
		t.Fatal(err)
	}

	// Only the hash is stored.
	st, err := store.Open(context.Background(), store.Config{DSN: filepath.Join("kyso-data", "kyso.db"), BlobDir: filepath.Join("kyso-data", "blobs")})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var clients []store.Client
	if err := st.DB().Find(&clients).Error; err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(key))
	if len(clients) != 1 || clients[0].KeyHash != hex.EncodeToString(sum[:]) || clients[0].Principal != "admin" {
		t.Fatalf("clients = %+v", clients)
	}
	raw, err := os.ReadFile(filepath.Join("kyso-data", "kyso.db"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, []byte(key)) {
		t.Error("the API key itself is in the database file")
	}
	for name, logs := range map[string]string{"first": rs.stderr.String(), "second": rs2.stderr.String()} {
		if strings.Contains(logs, key) {
			t.Errorf("%s run logged the API key", name)
		}
		if !strings.Contains(logs, `"msg":"listening"`) {
			t.Errorf("%s run: no JSON log (format auto on a non-terminal)", name)
		}
	}
}

func TestServeConfigErrors(t *testing.T) {
	cases := []struct {
		name, yaml string
		env        map[string]string
		want       string
	}{
		{"bad yaml key", "server:\n  max_uplod: 1\n", nil, "max_uplod"},
		{"bad value", "server:\n  max_upload: 0\n", nil, "config: server.max_upload: must be > 0"},
		{"bad env", "", map[string]string{"KYSO_DB_DRIVER": "oracle"}, "config: store.driver"},
		{"missing anchors_dir", "trust:\n  anchors_dir: /nonexistent/kyso-anchors\n", nil, "config: trust anchors: pki: trust store: stat /nonexistent/kyso-anchors"},
		{"anchor file without certificate", "trust:\n  anchors: [/dev/null]\n", nil, "config: trust anchors: pki"},
		{"module not allowed", "keys:\n  - name: k\n    uri: 'pkcs11:token=t?module-path=/tmp/x.so&pin-source=/tmp/pin'\n", nil, "config: keys[0].uri: module-path"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "kyso.yaml")
			if err := os.WriteFile(path, []byte(c.yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			env := c.env
			if env == nil {
				env = map[string]string{}
			}
			err := serve(context.Background(), serveParams{
				configPath: path,
				env:        func(k string) (string, bool) { v, ok := env[k]; return v, ok },
				stdout:     io.Discard, stderr: io.Discard,
			})
			var ee *exitError
			if !errors.As(err, &ee) || ee.code != 2 || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want exit 2 mentioning %q", err, c.want)
			}
		})
	}
}

// TestServeLoadAnchors pins which trust configurations serve accepts: an anchors_dir
// that exists but is empty is no anchor rather than an error (a volume mounted before
// it is filled), while a missing one, or a file without a certificate, stops serve
// (TestServeConfigErrors). Links in the directory are followed, as Kubernetes mounts
// ConfigMaps.
func TestServeLoadAnchors(t *testing.T) {
	p := testpki.Committed(t)
	root := p.Path(testpki.FileRootCA)
	empty := t.TempDir()
	mixed := t.TempDir()
	if err := os.WriteFile(filepath.Join(mixed, "README.txt"), []byte("not a certificate"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(root, filepath.Join(mixed, "root.pem")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(mixed, "chain.crt"), mustRead(t, p.Path(testpki.FileChain)), 0o644); err != nil {
		t.Fatal(err)
	}
	dangling := t.TempDir()
	if err := os.Symlink(filepath.Join(dangling, "gone.pem"), filepath.Join(dangling, "root.pem")); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		trust   config.Trust
		anchors int // -1: an error
	}{
		{"no trust configured", config.Trust{}, 0},
		{"empty anchors_dir", config.Trust{AnchorsDir: empty}, 0},
		{"file and empty anchors_dir", config.Trust{Anchors: []string{root}, AnchorsDir: empty}, 1},
		{"linked root, chain file, other files ignored, duplicates folded", config.Trust{AnchorsDir: mixed}, 2},
		{"missing anchors_dir", config.Trust{AnchorsDir: filepath.Join(empty, "absent")}, -1},
		{"dangling link in anchors_dir", config.Trust{AnchorsDir: dangling}, -1},
		{"file without certificate", config.Trust{Anchors: []string{os.DevNull}}, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := loadAnchors(tt.trust)
			if tt.anchors < 0 {
				if err == nil {
					t.Fatalf("loaded %d anchors, want an error", len(got))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != tt.anchors {
				t.Fatalf("%d anchors, want %d", len(got), tt.anchors)
			}
			if tt.anchors > 0 && !slices.ContainsFunc(got, p.Root.Cert.Equal) {
				t.Error("the root is not among the anchors")
			}
		})
	}

	// The whole server starts on an empty anchors_dir: the demo key stays off (trust is
	// configured) and requests are served.
	t.Chdir(t.TempDir())
	rs := startServe(t, "", map[string]string{"KYSO_TRUST_ANCHORS_DIR": empty})
	if resp, body := rs.call(t, "GET", "/readyz", "", "", nil); resp.StatusCode != 200 {
		t.Errorf("readyz with an empty anchors_dir: %d %s", resp.StatusCode, body)
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// serveTestPDF is a one-page PDF with a correct cross-reference table.
func serveTestPDF(text string) []byte { return testenv.OnePagePDF(text) }

// TestServeSignsWithSoftHSM runs the server on a SoftHSM2 token holding the test PKI's
// organisation key, with SQLite and with PostgreSQL, creates a clerk and a leader
// through the API, signs a PDF as the clerk, judges the result with poppler's pdfsig
// and qpdf, and follows grants given through the API.
func TestServeSignsWithSoftHSM(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) { testServeSigns(t, backend) })
	}
}

func testServeSigns(t *testing.T, backend string) {
	pdfsig := testenv.Tool(t, "pdfsig", "poppler-utils")
	qpdf := testenv.Tool(t, "qpdf", "qpdf")
	const pin = "Kyso-Test-PIN-93418"
	h := testenv.NewSoftHSM(t, "kyso-serve", pin)
	pki := testenv.TestPKIDir()
	keyPEM, err := os.ReadFile(filepath.Join(pki, "org.key"))
	if err != nil {
		t.Fatal(err)
	}
	h.ImportKey(t, keyPEM, "org", "01")
	dir := t.TempDir()
	pinFile := filepath.Join(dir, "pin")
	if err := os.WriteFile(pinFile, []byte(pin+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	uri := strings.Replace(h.URI("org", "01"), "pin-value="+pin, "pin-source="+pinFile, 1)
	storeYAML := fmt.Sprintf("store:\n  data_dir: %q\n", filepath.Join(dir, "data"))
	if backend == "postgres" {
		storeYAML += fmt.Sprintf("  driver: postgres\n  dsn: %q\n  blobs_in_db: true\n", testenv.StartPostgres(t))
	}
	cfgPath := filepath.Join(dir, "kyso.yaml")
	cfgYAML := fmt.Sprintf(`
server:
  max_upload: 2MiB
%s
pkcs11:
  allowed_modules: [%q]
keys:
  - name: org
    uri: %q
    certificate: %q
    chain: [%q]
    owner: UBND tỉnh Ninh Thuận
    allowed: ["role:clerk"]
revocation:
  offline: true
log:
  format: json
  level: debug
csc:
  enabled: true
  secret_file: %q
`, storeYAML, h.Module, uri, filepath.Join(pki, "org.pem"), filepath.Join(pki, "chain.pem"), filepath.Join(dir, "csc-secret"))
	if err := os.WriteFile(filepath.Join(dir, "csc-secret"), []byte(strings.Repeat("s3cr3t-", 8)), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfgPath, []byte(cfgYAML), 0o600); err != nil {
		t.Fatal(err)
	}
	rs := startServe(t, cfgPath, map[string]string{})
	admin := adminKeyLine.FindStringSubmatch(rs.stdout.String())[1]
	_, err = os.Stat(filepath.Join(dir, "data", "kyso.db"))
	if usesSQLite := err == nil; usesSQLite != (backend == "sqlite") {
		t.Fatalf("backend %s, yet kyso.db exists: %v", backend, usesSQLite)
	}

	newClient := func(name, role string) string {
		resp, body := rs.call(t, "POST", "/v1/clients", admin, "application/json", strings.NewReader(`{"name":"`+name+`","role":"`+role+`","agencies":["000.00.00.H43"]}`))
		if resp.StatusCode != 201 {
			t.Fatalf("create %s: %d %s", role, resp.StatusCode, body)
		}
		var c struct {
			APIKey string `json:"api_key"`
		}
		if err := json.Unmarshal(body, &c); err != nil {
			t.Fatal(err)
		}
		return c.APIKey
	}
	clerk, leader := newClient("van-thu", "clerk"), newClient("chu-tich", "leader")

	if resp, body := rs.call(t, "GET", "/readyz", admin, "", nil); resp.StatusCode != 200 || !strings.Contains(string(body), `"key:org":"ok"`) {
		t.Fatalf("readyz: %d %s", resp.StatusCode, body)
	}
	if resp, body := rs.call(t, "GET", "/v1/keys", clerk, "", nil); resp.StatusCode != 200 ||
		!strings.Contains(string(body), `"name":"org"`) || !strings.Contains(string(body), "Ninh Thuận") {
		t.Fatalf("keys as clerk: %d %s", resp.StatusCode, body)
	}
	if resp, body := rs.call(t, "GET", "/v1/keys", leader, "", nil); string(body) != `{"keys":[]}` {
		t.Fatalf("keys as leader (not granted): %d %s", resp.StatusCode, body)
	}

	doc := serveTestPDF("Quyet dinh so 05/QD-UBND")
	cases := []struct {
		name, key, query string
		body             []byte
		status           int
		problem          string
	}{
		{"leader not granted", leader, "key=org", doc, 403, "key-not-granted"},
		{"not a pdf", clerk, "key=org", []byte("hello, world"), 422, "invalid-document"},
		{"broken pdf", clerk, "key=org", doc[:len(doc)/2], 422, "invalid-document"},
		{"B-T without a TSA", clerk, "key=org&level=B-T", doc, 400, "invalid-request"},
		{"too large", clerk, "key=org", append(bytes.Clone(doc), make([]byte, 2<<20)...), 413, "upload-too-large"},
		{"signed", clerk, "key=org&reason=Ph%C3%AA%20duy%E1%BB%87t&location=Phan%20Rang", doc, 200, ""},
	}
	var signed []byte
	for _, c := range cases {
		resp, body := rs.call(t, "POST", "/v1/sign?"+c.query, c.key, "application/pdf", bytes.NewReader(c.body))
		if resp.StatusCode != c.status {
			t.Fatalf("%s: %d %s", c.name, resp.StatusCode, body)
		}
		if c.problem != "" && !strings.Contains(string(body), `"type":"https://kyso.vn/problems/`+c.problem+`"`) {
			t.Errorf("%s: %s", c.name, body)
		}
		if c.status == 200 {
			signed = body
		}
	}
	if !bytes.HasPrefix(signed, doc) {
		t.Fatal("the signed PDF does not keep the original bytes as its first revision")
	}
	out := filepath.Join(dir, "signed.pdf")
	if err := os.WriteFile(out, signed, 0o600); err != nil {
		t.Fatal(err)
	}
	sig, err := exec.Command(pdfsig, "-nocert", out).CombinedOutput()
	if err != nil {
		t.Fatalf("pdfsig: %v\n%s", err, sig)
	}
	for _, want := range []string{"Signature is Valid", "ETSI.CAdES.detached", "Ninh Thuận", "Total document signed"} {
		if !strings.Contains(string(sig), want) {
			t.Errorf("pdfsig output lacks %q:\n%s", want, sig)
		}
	}
	if chk, err := exec.Command(qpdf, "--check", out).CombinedOutput(); err != nil {
		t.Errorf("qpdf --check: %v\n%s", err, chk)
	}
	// This server trusts no anchor, so the intact signature has no chain to trust.
	resp, body := rs.call(t, "POST", "/v1/verify", "", "application/pdf", bytes.NewReader(signed))
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"integrity":"intact"`) ||
		!strings.Contains(string(body), `"sub_indication":"NO_CERTIFICATE_CHAIN_FOUND"`) {
		t.Errorf("verify: %d %s", resp.StatusCode, body)
	}

	testServeDocuments(t, rs, clerk, signed)
	testServeCSC(t, rs, clerk, leader, filepath.Join(pki, "org.pem"))

	// Grants given through the API live in the store, next to the configuration's.
	grants := []struct {
		method, path string
		status       int
		leaderSigns  int
	}{
		{"PUT", "/v1/keys/org/grants/chu-tich", 204, 200},
		{"DELETE", "/v1/keys/org/grants/chu-tich", 204, 403},
		{"DELETE", "/v1/keys/org/grants/role:clerk", 404, 403}, // written in the file
	}
	for _, g := range grants {
		if resp, body := rs.call(t, g.method, g.path, admin, "", nil); resp.StatusCode != g.status {
			t.Fatalf("%s %s: %d %s", g.method, g.path, resp.StatusCode, body)
		}
		if resp, body := rs.call(t, "POST", "/v1/sign?key=org", leader, "application/pdf", bytes.NewReader(doc)); resp.StatusCode != g.leaderSigns {
			t.Fatalf("after %s %s the leader signs: %d %s", g.method, g.path, resp.StatusCode, body)
		}
	}
	if resp, body := rs.call(t, "GET", "/v1/stats", leader, "", nil); resp.StatusCode != 200 || !strings.Contains(string(body), `"from":"`) || !strings.Contains(string(body), `"signatures":{`) {
		t.Errorf("stats: %d %s", resp.StatusCode, body)
	}
	if resp, body := rs.call(t, "GET", "/v1/certificates", clerk, "", nil); resp.StatusCode != 200 || !strings.HasPrefix(string(body), `{"certificates":[`) {
		t.Errorf("certificates: %d %s", resp.StatusCode, body)
	}

	_, metrics := rs.call(t, "GET", "/metrics", "", "", nil)
	// Without metrics.key_names the public /metrics labels keys by position.
	if !strings.Contains(string(metrics), `kyso_signatures_total{key="key-1"} 2`) || strings.Contains(string(metrics), `key="org"`) {
		t.Error("the signatures are not counted, or the key is named")
	}
	if err := rs.stop(); err != nil {
		t.Fatal(err)
	}
	logs := rs.stderr.String()
	for name, secret := range map[string]string{"PIN": pin, "admin key": admin, "clerk key": clerk, "document text": "Quyet dinh so", "CSC secret": "s3cr3t-s3cr3t"} {
		if strings.Contains(logs, secret) {
			t.Errorf("the log holds the %s", name)
		}
	}
}

// TestServeSIGTERM runs kyso serve as a real process (this test binary, re-executed)
// and stops it with SIGTERM: it must shut down cleanly and exit 0. Finishing requests
// in flight is proven in package api (TestGracefulShutdownFinishesInFlight).
func TestServeSIGTERM(t *testing.T) {
	if os.Getenv("KYSO_SERVE_CHILD") == "1" {
		os.Args = []string{"kyso", "serve", "--demo"} // with no configuration at all it would refuse
		main()
		os.Exit(0)
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestServeSIGTERM$")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "KYSO_SERVE_CHILD=1", "KYSO_LISTEN=127.0.0.1:0", "KYSO_LOG_FORMAT=json")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	addr := make(chan string, 1)
	var logs lockedBuffer
	go func() {
		dec := json.NewDecoder(io.TeeReader(stderr, &logs))
		for {
			var line map[string]any
			if err := dec.Decode(&line); err != nil {
				return
			}
			if line["msg"] == "listening" {
				addr <- line["address"].(string)
			}
		}
	}()
	var base string
	select {
	case a := <-addr:
		base = "http://" + a
	case <-time.After(60 * time.Second):
		t.Fatalf("the child did not listen:\n%s", logs.String())
	}
	if resp, err := http.Get(base + "/healthz"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("healthz: %v", err)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("kyso serve after SIGTERM: %v\n%s", err, logs.String())
	}
	if !strings.Contains(logs.String(), `"msg":"stopped"`) {
		t.Errorf("no clean stop logged:\n%s", logs.String())
	}
}

// TestServeDemoKeyFromCheckout: `make run` starts kyso serve in the repository with no
// configuration; the test PKI's organisation key is then offered as a demo key that
// the printed admin key can sign with at once (the README's curl session).
func TestServeDemoKeyFromCheckout(t *testing.T) {
	pdfsig := testenv.Tool(t, "pdfsig", "poppler-utils")
	t.Chdir(testenv.ModuleRoot())
	rs := startServe(t, noConfig, map[string]string{"KYSO_DATA_DIR": t.TempDir()})
	admin := adminKeyLine.FindStringSubmatch(rs.stdout.String())[1]
	resp, body := rs.call(t, "GET", "/v1/keys", admin, "", nil)
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"name":"demo-org","owner":"DEMO`) || !strings.Contains(string(body), `"demo":true`) {
		t.Fatalf("keys: %d %s", resp.StatusCode, body)
	}
	if !strings.Contains(rs.stderr.String(), "DEMO signing key") {
		t.Error("the demo key is not announced as such in the log")
	}
	resp, signed := rs.call(t, "POST", "/v1/sign?key=demo-org", admin, "application/pdf", bytes.NewReader(serveTestPDF("demo")))
	if resp.StatusCode != 200 {
		t.Fatalf("sign: %d %s", resp.StatusCode, signed)
	}
	out := filepath.Join(t.TempDir(), "demo.pdf")
	if err := os.WriteFile(out, signed, 0o600); err != nil {
		t.Fatal(err)
	}
	if sig, err := exec.Command(pdfsig, "-nocert", out).CombinedOutput(); err != nil || !strings.Contains(string(sig), "Signature is Valid") {
		t.Fatalf("pdfsig: %v\n%s", err, sig)
	}
	// Anyone may verify, without a key.
	resp, body = rs.call(t, "POST", "/v1/verify?filename=demo.pdf", "", "application/pdf", bytes.NewReader(signed))
	var rep struct {
		Version    int
		File       string
		Indication string
		Signatures []struct {
			Indication    string
			SubIndication string `json:"sub_indication"`
			Integrity     string
			Signer        struct{ Subject string }
			Chain         []struct{ Subject string }
			Revocation    *struct{ Status, Source string }
		}
	}
	if err := json.Unmarshal(body, &rep); err != nil || resp.StatusCode != 200 {
		t.Fatalf("verify: %d %s", resp.StatusCode, body)
	}
	if rep.Version != 1 || rep.File != "demo.pdf" || len(rep.Signatures) != 1 {
		t.Fatalf("report %s", body)
	}
	// The chain reaches the demo anchor. The test PKI's OCSP and CRL addresses are
	// fixed loopback ports: with no responder behind them the honest verdict is
	// INDETERMINATE/TRY_LATER; when another test happens to run one there, the
	// revocation answer must be "good" to pass.
	sig := rep.Signatures[0]
	noResponder := sig.Indication == "INDETERMINATE" && sig.SubIndication == "TRY_LATER"
	answered := sig.Indication == "TOTAL_PASSED" && sig.Revocation != nil && sig.Revocation.Status == "good"
	if sig.Integrity != "intact" || len(sig.Chain) != 3 || !strings.Contains(sig.Chain[2].Subject, "Kyso TEST Root CA") ||
		!strings.Contains(sig.Signer.Subject, "Ninh Thuận") || !(noResponder || answered) {
		t.Errorf("report %s", body)
	}
	req, _ := http.NewRequest("POST", rs.base+"/v1/verify?lang=en", bytes.NewReader(signed))
	req.Header.Set("Content-Type", "application/pdf")
	req.Header.Set("Accept", "text/html")
	if resp, err := http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	} else {
		page, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") || !strings.Contains(string(page), "Ninh Thuận") {
			t.Errorf("HTML report: %q %.200s", resp.Header.Get("Content-Type"), page)
		}
	}
	resp, body = rs.call(t, "POST", "/v1/verify", "", "application/pdf", bytes.NewReader(serveTestPDF("unsigned")))
	if resp.StatusCode != 422 || !strings.Contains(string(body), "no signature") {
		t.Errorf("unsigned: %d %s", resp.StatusCode, body)
	}
}

// testServeDocuments stores the signed PDF as a draft, finds it, downloads it
// byte-identical, and receives an incoming document into the register.
func testServeDocuments(t *testing.T, rs *runningServer, clerk string, signed []byte) {
	t.Helper()
	const org = "000.00.00.H43"
	resp, body := rs.call(t, "POST", "/v1/documents?agency="+org+"&type=Q%C4%90&symbol=Q%C4%90-UBND&filename=qd05.pdf&summary=V%E1%BB%81%20vi%E1%BB%87c%20ph%C3%AA%20duy%E1%BB%87t%20k%E1%BA%BF%20ho%E1%BA%A1ch",
		clerk, "application/pdf", bytes.NewReader(signed))
	if resp.StatusCode != 201 {
		t.Fatalf("store draft: %d %s", resp.StatusCode, body)
	}
	var draft struct {
		ID            int64
		Status        string
		ContentSHA256 string `json:"content_sha256"`
		Versions      []struct{ Size int64 }
	}
	if err := json.Unmarshal(body, &draft); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(signed)
	if draft.Status != "draft" || draft.ContentSHA256 != hex.EncodeToString(sum[:]) || len(draft.Versions) != 1 || draft.Versions[0].Size != int64(len(signed)) {
		t.Fatalf("draft %s", body)
	}
	if loc := resp.Header.Get("Location"); loc != fmt.Sprintf("/v1/documents/%d", draft.ID) {
		t.Errorf("Location %q", loc)
	}
	resp, body = rs.call(t, "GET", "/v1/documents?text=ph%C3%AA%20duy%E1%BB%87t&agency="+org, clerk, "", nil)
	if resp.StatusCode != 200 || !strings.Contains(string(body), fmt.Sprintf(`"id":%d,`, draft.ID)) {
		t.Errorf("search: %d %s", resp.StatusCode, body)
	}
	resp, body = rs.call(t, "GET", fmt.Sprintf("/v1/documents/%d/content", draft.ID), clerk, "", nil)
	if resp.StatusCode != 200 || !bytes.Equal(body, signed) || resp.Header.Get("ETag") != `"`+draft.ContentSHA256+`"` ||
		!strings.Contains(resp.Header.Get("Content-Disposition"), "qd05.pdf") {
		t.Errorf("download: %d, %d bytes, ETag %q", resp.StatusCode, len(body), resp.Header.Get("ETag"))
	}

	incoming := "/v1/documents/receive?accept_indeterminate=true&agency=000.00.00.G22&holder=" + org + "&identifier=000.00.00.G22,2025/09/30,7816/VPCP-TT%C4%90%C4%90T&type=CV"
	resp, body = rs.call(t, "POST", incoming, clerk, "application/pdf", bytes.NewReader(serveTestPDF("incoming")))
	if resp.StatusCode != 201 || !strings.Contains(string(body), `"register_number":1`) || !strings.Contains(string(body), `"status":"received"`) ||
		!strings.Contains(string(body), `"verification":{"indication":"NOT_SIGNED","signatures":[]}`) {
		t.Fatalf("receive: %d %s", resp.StatusCode, body)
	}
	cases := []struct {
		name, method, path string
		status             int
		problem, detail    string
	}{
		{"same identifier again", "POST", incoming, 409, "conflict", "already registered by " + org + ": document"},
		{"bad agency code", "POST", "/v1/documents?agency=ubnd%20t%E1%BB%89nh", 400, "invalid-request", "agency"},
		{"no agency", "POST", "/v1/documents", 400, "invalid-request", "agency"},
		{"receive without holder", "POST", "/v1/documents/receive?agency=000.00.00.G22", 400, "invalid-request", "holder"},
		{"unknown search option", "GET", "/v1/documents?q=x", 400, "invalid-request", "Unknown option"},
		{"no such document", "GET", "/v1/documents/999999", 404, "not-found", ""},
		{"not an id", "GET", "/v1/documents/abc/content", 404, "not-found", ""},
		{"no such version", "GET", fmt.Sprintf("/v1/documents/%d/content?version=9", draft.ID), 404, "not-found", ""},
	}
	for _, c := range cases {
		var body io.Reader
		if c.method == "POST" {
			body = bytes.NewReader(serveTestPDF("x"))
		}
		resp, got := rs.call(t, c.method, c.path, clerk, "application/pdf", body)
		if resp.StatusCode != c.status || !strings.Contains(string(got), `"type":"https://kyso.vn/problems/`+c.problem+`"`) || !strings.Contains(string(got), c.detail) {
			t.Errorf("%s: %d %s", c.name, resp.StatusCode, got)
		}
	}
}

// TestServeAgencies imports a versioned agency list through the API and reads the
// entry in force at two dates across a reorganisation.
func TestServeAgencies(t *testing.T) {
	t.Chdir(t.TempDir())
	rs := startServe(t, "", map[string]string{})
	admin := adminKeyLine.FindStringSubmatch(rs.stdout.String())[1]
	csv := "code,name,parent_code,valid_from,valid_to\n" +
		"000.00.00.H43,Ủy ban nhân dân tỉnh Ninh Thuận,,2020-01-01,2025-07-01\n" +
		"000.00.00.H43,Ủy ban nhân dân tỉnh Khánh Hòa (sau sáp nhập),,2025-07-01,\n" +
		"000.01.43.H43,Văn phòng UBND tỉnh,000.00.00.H43,2020-01-01,\n"
	resp, body := rs.call(t, "POST", "/v1/agencies", admin, "text/csv", strings.NewReader(csv))
	if resp.StatusCode != 200 || string(body) != `{"imported":3}` {
		t.Fatalf("import: %d %s", resp.StatusCode, body)
	}
	cases := []struct {
		query  string
		status int
		want   string
	}{
		{"?code=000.00.00.H43&at=2025-03-05", 200, "Ninh Thuận"},
		{"?code=000.00.00.H43&at=2025-07-01", 200, "Khánh Hòa"},
		{"?code=000.01.43.H43", 200, `"parent_code":"000.00.00.H43"`},
		{"?code=000.00.00.H43&at=2019-12-31", 404, "not-found"},
		{"?code=000.00.00.G22", 404, "not-found"},
		{"", 400, "code"},
		{"?code=000.00.00.H43&at=yesterday", 400, "at"},
	}
	for _, c := range cases {
		resp, body := rs.call(t, "GET", "/v1/agencies"+c.query, admin, "", nil)
		if resp.StatusCode != c.status || !strings.Contains(string(body), c.want) {
			t.Errorf("%s: %d %s", c.query, resp.StatusCode, body)
		}
	}
	bad := "code,name,parent_code,valid_from,valid_to\nnot a code,X,,2020-01-01,\n000.00.00.H01,Y,,01/01/2020,\n"
	resp, body = rs.call(t, "POST", "/v1/agencies", admin, "text/csv", strings.NewReader(bad))
	if resp.StatusCode != 400 || !strings.Contains(string(body), "line 2") || !strings.Contains(string(body), "line 3") {
		t.Errorf("bad list: %d %s", resp.StatusCode, body)
	}
	if resp, _ := rs.call(t, "POST", "/v1/agencies", admin, "application/json", strings.NewReader(`[]`)); resp.StatusCode != 415 {
		t.Errorf("JSON body: %d", resp.StatusCode)
	}
}

func TestServeLogger(t *testing.T) {
	cases := []struct {
		format, level string
		wantPrefix    string
		debugShown    bool
	}{
		{"json", "info", `{"time":`, false},
		{"text", "debug", "time=", true},
		{"auto", "warn", `{"time":`, false}, // not a terminal: JSON for the collector
	}
	for _, c := range cases {
		var b bytes.Buffer
		log := newServeLogger(&b, config.Log{Format: c.format, Level: c.level})
		log.Debug("debug line")
		log.Warn("warn line", "key", "org")
		if !strings.HasPrefix(b.String(), c.wantPrefix) || strings.Contains(b.String(), "debug line") != c.debugShown || !strings.Contains(b.String(), "warn line") {
			t.Errorf("%s/%s: %q", c.format, c.level, b.String())
		}
	}
}

// testServeCSC signs a hash through the mounted CSC API v2 with the clerk's API key and
// checks the signature with the organisation certificate; the leader, not granted the
// key, is offered no credential.
func testServeCSC(t *testing.T, rs *runningServer, clerk, leader, certFile string) {
	t.Helper()
	csc := func(key, method, body string) map[string]any {
		resp, out := rs.call(t, "POST", "/csc/v2/"+method, key, "application/json", strings.NewReader(body))
		var m map[string]any
		if err := json.Unmarshal(out, &m); err != nil || resp.StatusCode != 200 {
			t.Fatalf("csc %s: %d %s", method, resp.StatusCode, out)
		}
		return m
	}
	if ids := fmt.Sprint(csc(clerk, "credentials/list", `{}`)["credentialIDs"]); ids != "[org]" {
		t.Errorf("clerk's credentials: %s", ids)
	}
	if ids := fmt.Sprint(csc(leader, "credentials/list", `{}`)["credentialIDs"]); ids != "[]" {
		t.Errorf("leader's credentials: %s", ids)
	}
	digest := sha256.Sum256([]byte("văn bản số 05"))
	b64 := base64.StdEncoding.EncodeToString(digest[:])
	sad := csc(clerk, "credentials/authorize", `{"credentialID":"org","numSignatures":1,"hashes":["`+b64+`"],"hashAlgorithmOID":"2.16.840.1.101.3.4.2.1"}`)["SAD"]
	sigs := csc(clerk, "signatures/signHash", fmt.Sprintf(`{"credentialID":"org","SAD":%q,"hashes":[%q],"hashAlgorithmOID":"2.16.840.1.101.3.4.2.1","signAlgo":"1.2.840.113549.1.1.1"}`, sad, b64))["signatures"].([]any)
	sig, err := base64.StdEncoding.DecodeString(sigs[0].(string))
	if err != nil {
		t.Fatal(err)
	}
	pemBytes, err := os.ReadFile(certFile)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(pemBytes)
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if err := rsa.VerifyPKCS1v15(cert.PublicKey.(*rsa.PublicKey), crypto.SHA256, digest[:], sig); err != nil {
		t.Errorf("the CSC signature does not verify with the organisation certificate: %v", err)
	}
}

// flowEnv is a kyso serve with the organisation's key on a SoftHSM2 token, the test
// PKI's root as trust anchor, and its TSA, OCSP responder and CRLs running on
// loopback, on SQLite or PostgreSQL.
type flowEnv struct {
	pki      *testpki.TestPKI
	services *pkitest.Services
	cfgPath  string
	rs       *runningServer
	admin    string
	keys     map[string]string // API key per client name
	verify   verify.Options
}

func newFlowEnv(t *testing.T, backend string) *flowEnv {
	t.Helper()
	p, err := testpki.Load(testenv.TestPKIDir())
	if err != nil {
		t.Fatal(err)
	}
	services := pkitest.StartServices(t, p)
	const pin = "Kyso-Flow-PIN-5521"
	h := testenv.NewSoftHSM(t, "kyso-flow", pin)
	keyPEM, err := os.ReadFile(p.Path("org.key"))
	if err != nil {
		t.Fatal(err)
	}
	h.ImportKey(t, keyPEM, "org", "01")
	dir := t.TempDir()
	pinFile := filepath.Join(dir, "pin")
	if err := os.WriteFile(pinFile, []byte(pin), 0o600); err != nil {
		t.Fatal(err)
	}
	uri := strings.Replace(h.URI("org", "01"), "pin-value="+pin, "pin-source="+pinFile, 1)
	storeYAML := fmt.Sprintf("store:\n  data_dir: %q\n", filepath.Join(dir, "data"))
	if backend == "postgres" {
		storeYAML += fmt.Sprintf("  driver: postgres\n  dsn: %q\n", testenv.StartPostgres(t))
	}
	cfg := fmt.Sprintf(`
server:
  max_upload: 1MiB
%s
pkcs11:
  allowed_modules: [%q]
keys:
  - name: org
    uri: %q
    certificate: %q
    chain: [%q]
    owner: UBND tỉnh Ninh Thuận
    allowed: ["role:clerk"]
trust:
  anchors: [%q]
tsa:
  urls: [%q]
log:
  format: json
`, storeYAML, h.Module, uri, p.Path("org.pem"), p.Path("chain.pem"), p.Path("root-ca.pem"), services.TSA.URL)
	e := &flowEnv{pki: p, services: services, cfgPath: filepath.Join(dir, "kyso.yaml"), keys: map[string]string{},
		verify: verify.Options{Anchors: []*x509.Certificate{p.Root.Cert}, Revocation: &pki.Checker{RewriteURL: services.RewriteURL}}}
	if err := os.WriteFile(e.cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	e.start(t, nil)
	e.admin = adminKeyLine.FindStringSubmatch(e.rs.stdout.String())[1]
	// The clients of agency H43 (the clerk also keeps G22's incoming register); the
	// leader's certificate is bound to the leader, who approves only with it.
	leaderPEM, _ := json.Marshal(certPEM(p.Leader.Cert))
	for name, c := range map[string]struct{ role, extra string }{
		"van-thu":  {"clerk", `,"agencies":["000.00.00.H43","000.00.00.G22"]`},
		"chu-tich": {"leader", `,"agencies":["000.00.00.H43"],"certificates":[` + string(leaderPEM) + `]`},
		"qlvb":     {"system", `,"agencies":["000.00.00.H43"]`},
		"quan-tri": {"admin", ``},
	} {
		role := c.role
		resp, body := e.rs.call(t, "POST", "/v1/clients", e.admin, "application/json", strings.NewReader(`{"name":"`+name+`","role":"`+role+`"`+c.extra+`}`))
		var c struct {
			APIKey string `json:"api_key"`
		}
		if err := json.Unmarshal(body, &c); err != nil || resp.StatusCode != 201 {
			t.Fatalf("client %s: %d %s", name, resp.StatusCode, body)
		}
		e.keys[role] = c.APIKey
	}
	return e
}

// start (re)starts the server on the same configuration and store.
func (e *flowEnv) start(t *testing.T, env map[string]string) {
	t.Helper()
	if env == nil {
		env = map[string]string{}
	}
	e.rs = startServeWith(t, e.cfgPath, env, e.services.RewriteURL)
}

func (e *flowEnv) restart(t *testing.T, env map[string]string) {
	t.Helper()
	if err := e.rs.stop(); err != nil {
		t.Fatal(err)
	}
	e.start(t, env)
}

// multipartBody builds a multipart/form-data body; a value of type []byte is a file part.
func multipartBody(t *testing.T, fields [][2]any) (string, *bytes.Buffer) {
	t.Helper()
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	for _, f := range fields {
		name := f[0].(string)
		switch v := f[1].(type) {
		case []byte:
			fw, err := w.CreateFormFile(name, name+".bin")
			if err != nil {
				t.Fatal(err)
			}
			fw.Write(v)
		case string:
			if err := w.WriteField(name, v); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return w.FormDataContentType(), &b
}

func certPEM(certs ...*x509.Certificate) string {
	var b strings.Builder
	for _, c := range certs {
		pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	return b.String()
}

// pendingJSON is a prepared signature as the API shows it: the wire contract.
type pendingJSON = wire.Pending

type docJSON struct {
	ID           int64  `json:"id"`
	Status       string `json:"status"`
	Number       int    `json:"number"`
	Symbol       string `json:"symbol"`
	Identifier   string `json:"identifier"`
	Version      int    `json:"current_version"`
	Verification *struct {
		Indication string `json:"indication"`
	} `json:"verification"`
}

func decodeInto[T any](t *testing.T, what string, resp *http.Response, body []byte, status int) T {
	t.Helper()
	var v T
	if resp.StatusCode != status {
		t.Fatalf("%s: %d, want %d: %s", what, resp.StatusCode, status, body)
	}
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("%s: %v: %s", what, err, body)
	}
	return v
}

// prepare asks for a signature over a new draft (content) or a stored document (id).
func (e *flowEnv) prepare(t *testing.T, key string, signer *testpki.Cert, content []byte, id int64, extra ...[2]any) (*http.Response, []byte) {
	t.Helper()
	fields := [][2]any{{"certificate", certPEM(signer.ChainWithLeaf()...)}}
	if content != nil {
		fields = append(fields, [2]any{"file", content}, [2]any{"agency", "000.00.00.H43"}, [2]any{"symbol", "UBND-VP"},
			[2]any{"summary", "Về việc thử nghiệm ký số"}, [2]any{"type", "CV"})
	} else {
		fields = append(fields, [2]any{"document_id", fmt.Sprint(id)})
	}
	ct, body := multipartBody(t, append(fields, extra...))
	return e.rs.call(t, "POST", "/v1/signatures", key, ct, body)
}

// signOutside signs a prepared digest with the key, as the desktop agent does.
func signOutside(t *testing.T, key crypto.Signer, p pendingJSON) string {
	t.Helper()
	opts, err := wire.SignerOpts(p.Algorithm)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := key.Sign(rand.Reader, p.Digest, opts)
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(sig)
}

func (e *flowEnv) complete(t *testing.T, key, id, sigB64 string) (*http.Response, []byte) {
	t.Helper()
	return e.rs.call(t, "POST", "/v1/signatures/"+id+"/complete", key, "application/json", strings.NewReader(`{"signature":"`+sigB64+`"}`))
}

func (e *flowEnv) download(t *testing.T, id int64) []byte {
	t.Helper()
	resp, body := e.rs.call(t, "GET", fmt.Sprintf("/v1/documents/%d/content", id), e.keys["clerk"], "", nil)
	if resp.StatusCode != 200 {
		t.Fatalf("download %d: %d %s", id, resp.StatusCode, body)
	}
	return body
}

func (e *flowEnv) verifyPDF(t *testing.T, name string, b []byte) *verify.Report {
	t.Helper()
	rep, err := verify.VerifyPDF(context.Background(), bytes.NewReader(b), int64(len(b)), name, e.verify)
	if err != nil {
		t.Fatalf("verify %s: %v", name, err)
	}
	return rep
}

func (e *flowEnv) documentCount(t *testing.T) int {
	t.Helper()
	resp, body := e.rs.call(t, "GET", "/v1/documents?limit=1000", e.admin, "", nil)
	var l struct{ Documents []json.RawMessage }
	if err := json.Unmarshal(body, &l); err != nil || resp.StatusCode != 200 {
		t.Fatalf("list: %d %s", resp.StatusCode, body)
	}
	return len(l.Documents)
}

func problemType(body []byte) string {
	var p struct{ Type, Detail string }
	_ = json.Unmarshal(body, &p)
	return strings.TrimPrefix(p.Type, "https://kyso.vn/problems/")
}

// TestServeIssueFlow is the Decree 30 workflow over HTTP, on SQLite and PostgreSQL: a
// draft is uploaded with the leader's prepare, the leader's key (outside the server,
// as on a USB token) signs the digest, the server is restarted, the leader completes,
// the clerk issues with the seal on the server's SoftHSM2 key; the downloaded PDF
// verifies TOTAL_PASSED against the test root with live OCSP and CRLs, and the
// document is found by its identifier. A replay is 409, a signature by another key
// 422, an expired handle 410.
func TestServeIssueFlow(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) { testServeIssueFlow(t, backend) })
	}
}

func testServeIssueFlow(t *testing.T, backend string) {
	e := newFlowEnv(t, backend)
	leader, clerk := e.keys["leader"], e.keys["clerk"]
	draft := testenv.CongVanPDF(t) // blanks for number and date: issuable

	resp, body := e.prepare(t, leader, e.pki.Leader, draft, 0, [2]any{"role", "approve"}, [2]any{"reason", "Phê duyệt"},
		[2]any{"page", "1"}, [2]any{"rect", "300,100,480,160"}, [2]any{"image", testenv.SignaturePNG()})
	p := decodeInto[pendingJSON](t, "prepare", resp, body, 201)
	if p.Status != "pending" || p.Algorithm != "RSA-PKCS1v15-SHA-256" || p.Hash != "SHA-256" || len(p.Digest) != 32 ||
		p.Role != "approve" || p.Agency != "000.00.00.H43" || !strings.Contains(p.Signer, "CN=") || p.CertSHA256 == "" ||
		p.DocumentID == 0 || !p.ExpiresAt.After(time.Now()) || resp.Header.Get("Location") != "/v1/signatures/"+p.ID {
		t.Fatalf("prepared %s", body)
	}

	// The server goes down between prepare and complete: the state is in the store.
	e.restart(t, nil)
	resp, body = e.rs.call(t, "GET", "/v1/signatures/"+p.ID, leader, "", nil)
	if got := decodeInto[pendingJSON](t, "status", resp, body, 200); got.Status != "pending" || !bytes.Equal(got.Digest, p.Digest) {
		t.Fatalf("status after restart: %s", body)
	}
	refusals := []struct {
		name, body string
		status     int
		problem    string
	}{
		{"bad base64", `{"signature":"not base64!"}`, 400, "invalid-request"},
		{"both", `{"signature":"AAAA","cms":"AAAA"}`, 400, "invalid-request"},
		{"unknown field", `{"sig":"AAAA"}`, 400, "invalid-request"},
		{"another key's signature", `{"signature":"` + signOutside(t, e.pki.Clerk.Key, p) + `"}`, 422, "invalid-document"},
	}
	for _, r := range refusals {
		resp, body := e.rs.call(t, "POST", "/v1/signatures/"+p.ID+"/complete", leader, "application/json", strings.NewReader(r.body))
		if resp.StatusCode != r.status || problemType(body) != r.problem {
			t.Errorf("%s: %d %s", r.name, resp.StatusCode, body)
		}
	}
	sig := signOutside(t, e.pki.Leader.Key, p)
	resp, body = e.complete(t, leader, p.ID, sig)
	if done := decodeInto[pendingJSON](t, "complete", resp, body, 200); done.Status != "completed" || done.Version != 2 {
		t.Fatalf("completed %s", body)
	}
	if resp, body := e.complete(t, leader, p.ID, sig); resp.StatusCode != 409 || problemType(body) != "conflict" {
		t.Errorf("replay: %d %s", resp.StatusCode, body)
	}
	approved := e.download(t, p.DocumentID)
	if rep := e.verifyPDF(t, "approved.pdf", approved); rep.Indication != verify.TotalPassed || len(rep.Signatures) != 1 {
		t.Fatalf("approved: %s %+v", rep.Indication, rep.Signatures)
	}

	// Issuing: the leader's role may not; the system client is not granted org; the
	// clerk issues with the seal over the leader's signature, at B-T.
	issueBody := `{"key":"org","seal":"` + base64.StdEncoding.EncodeToString(testenv.SealPNG()) + `","seal_size":60,"level":"B-T"}`
	path := fmt.Sprintf("/v1/documents/%d/issue", p.DocumentID)
	for who, want := range map[string]string{"leader": "forbidden", "system": "key-not-granted"} {
		if resp, body := e.rs.call(t, "POST", path, e.keys[who], "application/json", strings.NewReader(issueBody)); resp.StatusCode != 403 || problemType(body) != want {
			t.Errorf("issue as %s: %d %s", who, resp.StatusCode, body)
		}
	}
	resp, body = e.rs.call(t, "POST", path, clerk, "application/json", strings.NewReader(issueBody))
	issued := decodeInto[docJSON](t, "issue", resp, body, 200)
	if issued.Status != "issued" || issued.Number != 1 || !strings.HasPrefix(issued.Identifier, "000.00.00.H43,") || !strings.HasSuffix(issued.Identifier, "/UBND-VP") {
		t.Fatalf("issued %s", body)
	}
	if resp, body := e.rs.call(t, "POST", path, clerk, "application/json", strings.NewReader(issueBody)); resp.StatusCode != 409 {
		t.Errorf("issued twice: %d %s", resp.StatusCode, body)
	}
	content := e.download(t, issued.ID)
	rep := e.verifyPDF(t, "issued.pdf", content)
	if txt := testenv.PageText(t, content); !strings.Contains(txt, "Số: 01/UBND-VP") || !strings.Contains(txt, testenv.IssueDayMonth(time.Now())) {
		t.Errorf("pdftotext -layout of the issued page:\n%s", txt)
	}
	if rep.Indication != verify.TotalPassed || len(rep.Signatures) != 2 || !bytes.Contains(content, []byte("KysoIdentifier")) {
		t.Fatalf("issued: %s, %d signatures", rep.Indication, len(rep.Signatures))
	}
	t.Logf("issued %s: leader %s %s, organisation %s %s; TSA asked %d times", issued.Identifier,
		rep.Signatures[0].Indication, rep.Signatures[0].Level, rep.Signatures[1].Indication, rep.Signatures[1].Level, e.services.TSA.Requests())
	if e.services.TSA.Requests() == 0 || !strings.Contains(rep.Signatures[1].Level, "B-T") {
		t.Errorf("the organisation's signature is %s with %d timestamp requests, want B-T", rep.Signatures[1].Level, e.services.TSA.Requests())
	}
	for _, m := range rep.Signatures[0].Modifications {
		if !m.Allowed {
			t.Errorf("the clerk's change %q is reported as not allowed: %s", m.Kind, m.Detail)
		}
	}
	resp, body = e.rs.call(t, "GET", "/v1/documents?identifier="+url.QueryEscape(issued.Identifier), clerk, "", nil)
	var found struct{ Documents []docJSON }
	if err := json.Unmarshal(body, &found); err != nil || len(found.Documents) != 1 || found.Documents[0].ID != issued.ID {
		t.Fatalf("search by identifier: %d %s", resp.StatusCode, body)
	}
	if got := e.download(t, found.Documents[0].ID); !bytes.Equal(got, content) {
		t.Error("the downloaded issued document differs")
	}
	// Another agency receives the issued document: verified on arrival, both
	// signatures pass, and it takes that agency's first arrival number.
	resp, body = e.rs.call(t, "POST", "/v1/documents/receive?agency=000.00.00.H43&holder=000.00.00.G22&identifier="+url.QueryEscape(issued.Identifier),
		clerk, "application/pdf", bytes.NewReader(content))
	var received struct {
		RegisterNumber int `json:"register_number"`
		Verification   struct {
			Indication string
			Signatures []struct{ Indication string }
		}
	}
	if err := json.Unmarshal(body, &received); err != nil || resp.StatusCode != 201 || received.RegisterNumber != 1 ||
		received.Verification.Indication != "TOTAL_PASSED" || len(received.Verification.Signatures) != 2 {
		t.Fatalf("receive the issued document: %d %s", resp.StatusCode, body)
	}
	resp, body = e.rs.call(t, "GET", "/v1/registers", clerk, "", nil)
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"agency_code":"000.00.00.H43","kind":"outgoing","year":`+fmt.Sprint(time.Now().In(time.FixedZone("ICT", 7*3600)).Year())+`,"last_number":1`) ||
		!strings.Contains(string(body), `"agency_code":"000.00.00.G22","kind":"incoming"`) {
		t.Errorf("registers: %d %s", resp.StatusCode, body)
	}

	// The clerk may also issue with the organisation's token outside the server (the
	// desktop agent): prepare with role issue shows the number it will carry.
	resp, body = e.prepare(t, leader, e.pki.Leader, draft, 0)
	ap := decodeInto[pendingJSON](t, "prepare (second draft)", resp, body, 201)
	if resp, body := e.complete(t, leader, ap.ID, signOutside(t, e.pki.Leader.Key, ap)); resp.StatusCode != 200 {
		t.Fatalf("complete (second draft): %d %s", resp.StatusCode, body)
	}
	resp, body = e.prepare(t, clerk, e.pki.Org, nil, ap.DocumentID, [2]any{"role", "issue"}, [2]any{"image", testenv.SealPNG()},
		[2]any{"rect", "280,90,340,150"}, [2]any{"page", "1"})
	ip := decodeInto[pendingJSON](t, "prepare (issue)", resp, body, 201)
	if !strings.Contains(string(body), `"number":"02/UBND-VP"`) || ip.Role != "issue" {
		t.Fatalf("issue request: %s", body)
	}
	resp, body = e.complete(t, clerk, ip.ID, signOutside(t, e.pki.Org.Key, ip))
	decodeInto[pendingJSON](t, "complete (issue)", resp, body, 200)
	resp, body = e.rs.call(t, "GET", fmt.Sprintf("/v1/documents/%d", ap.DocumentID), clerk, "", nil)
	if d := decodeInto[docJSON](t, "issued by token", resp, body, 200); d.Status != "issued" || d.Number != 2 {
		t.Fatalf("issued by token: %s", body)
	}
	if rep := e.verifyPDF(t, "issued-by-token.pdf", e.download(t, ap.DocumentID)); rep.Indication != verify.TotalPassed || len(rep.Signatures) != 2 {
		t.Fatalf("issued by token: %s, %d signatures", rep.Indication, len(rep.Signatures))
	}

	// A revoked certificate does not approve at all (before, the draft was approved
	// and only the issue refused): prepare refuses it, and stores nothing.
	resp, body = e.prepare(t, leader, e.pki.Revoked, draft, 0)
	t.Logf("approve with a revoked certificate: %s", body)
	if resp.StatusCode != 403 || !strings.Contains(string(body), "revoked") {
		t.Errorf("approve with a revoked certificate: %d %s", resp.StatusCode, body)
	}
	// A draft nobody approved is not issued either.
	resp, body = e.prepare(t, leader, e.pki.Leader, draft, 0)
	dp := decodeInto[pendingJSON](t, "prepare (draft)", resp, body, 201)
	if resp, body := e.rs.call(t, "POST", fmt.Sprintf("/v1/documents/%d/issue", dp.DocumentID), clerk, "application/json", strings.NewReader(`{"key":"org"}`)); resp.StatusCode != 409 {
		t.Errorf("issue a draft: %d %s", resp.StatusCode, body)
	}

	// A handle past its expiry is gone: 410 on status and on completion.
	e.restart(t, map[string]string{"KYSO_PENDING_EXPIRY": "1s"})
	resp, body = e.prepare(t, leader, e.pki.Leader, nil, dp.DocumentID)
	xp := decodeInto[pendingJSON](t, "prepare (short expiry)", resp, body, 201)
	time.Sleep(time.Until(xp.ExpiresAt) + 50*time.Millisecond)
	if resp, body := e.rs.call(t, "GET", "/v1/signatures/"+xp.ID, leader, "", nil); resp.StatusCode != 410 || problemType(body) != "expired" {
		t.Errorf("expired status: %d %s", resp.StatusCode, body)
	}
	if resp, body := e.complete(t, leader, xp.ID, signOutside(t, e.pki.Leader.Key, xp)); resp.StatusCode != 410 {
		t.Errorf("expired complete: %d %s", resp.StatusCode, body)
	}
	if resp, body := e.rs.call(t, "GET", "/v1/signatures/0123456789abcdef0123456789abcdef", leader, "", nil); resp.StatusCode != 404 {
		t.Errorf("unknown handle: %d %s", resp.StatusCode, body)
	}
}

// TestServeNewEndpointsGuarded: every role against the prepare/complete, issue,
// registers and sign endpoints of a real server (allow or deny), a client denied the
// key it is not granted, bad input to prepare refused as problem+json with nothing
// stored, signing with store=true and format=cades, and the registers an admin keeps.
func TestServeNewEndpointsGuarded(t *testing.T) {
	openssl := testenv.Tool(t, "openssl", "openssl")
	e := newFlowEnv(t, "sqlite")
	pdf := serveTestPDF("Giay moi hop")
	keyFor := map[string]string{"admin": e.keys["admin"], "system": e.keys["system"], "clerk": e.keys["clerk"], "leader": e.keys["leader"], "public": ""}
	resp, body := e.prepare(t, e.keys["leader"], e.pki.Leader, pdf, 0)
	p := decodeInto[pendingJSON](t, "prepare", resp, body, 201)

	// Allowed roles get past authorization (their answers may still refuse the body);
	// the others get 403, and the public 401.
	type row struct {
		method, path, ctype string
		body                func() io.Reader
		allowed             []string
	}
	jsonBody := func(s string) func() io.Reader { return func() io.Reader { return strings.NewReader(s) } }
	matrix := []row{
		{"POST", "/v1/signatures", "multipart/form-data; boundary=x", jsonBody("--x--\r\n"), []string{"admin", "system", "clerk", "leader"}},
		{"GET", "/v1/signatures/" + p.ID, "", func() io.Reader { return nil }, []string{"admin", "system", "clerk", "leader"}},
		{"POST", "/v1/signatures/" + p.ID + "/complete", "application/json", jsonBody(`{}`), []string{"admin", "system", "clerk", "leader"}},
		{"POST", fmt.Sprintf("/v1/documents/%d/issue", p.DocumentID), "application/json", jsonBody(`{}`), []string{"admin", "system", "clerk"}},
		{"GET", "/v1/registers", "", func() io.Reader { return nil }, []string{"admin", "system", "clerk"}},
		{"POST", "/v1/registers", "application/json", jsonBody(`{}`), []string{"admin"}},
		{"POST", "/v1/sign?key=nope&format=cades", "application/octet-stream", jsonBody("x"), []string{"admin", "system", "clerk", "leader"}},
	}
	for _, r := range matrix {
		for role, key := range keyFor {
			resp, body := e.rs.call(t, r.method, r.path, key, r.ctype, r.body())
			want := slices.Contains(r.allowed, role)
			denied := (resp.StatusCode == 401 || resp.StatusCode == 403) && problemType(body) != "key-not-granted"
			if denied == want || (role == "public" && resp.StatusCode != 401) {
				t.Errorf("%s %s as %s: %d %s, want allowed=%v", r.method, r.path, role, resp.StatusCode, body, want)
			}
		}
	}
	// Keys: org is granted to role:clerk only. Issuing and signing with it are refused
	// to everyone else with key-not-granted, before any work.
	issue := fmt.Sprintf("/v1/documents/%d/issue", p.DocumentID)
	for role, key := range keyFor {
		wantSign, wantIssue := 403, 403
		switch role {
		case "clerk":
			wantSign, wantIssue = 200, 409 // the document is a draft: past the grant, refused by the workflow
		case "leader":
			wantIssue = 403 // by role, before the key
		case "public":
			wantSign, wantIssue = 401, 401
		}
		if resp, body := e.rs.call(t, "POST", "/v1/sign?key=org&format=cades", key, "application/octet-stream", strings.NewReader("x")); resp.StatusCode != wantSign {
			t.Errorf("sign with org as %s: %d %s", role, resp.StatusCode, body)
		}
		if resp, body := e.rs.call(t, "POST", issue, key, "application/json", strings.NewReader(`{"key":"org"}`)); resp.StatusCode != wantIssue {
			t.Errorf("issue with org as %s: %d %s", role, resp.StatusCode, body)
		} else if wantIssue == 403 && role != "leader" && problemType(body) != "key-not-granted" {
			t.Errorf("issue with org as %s: %s", role, body)
		}
	}

	// Bad input to prepare: each a 4xx problem, and no document stored.
	before := e.documentCount(t)
	leaderPEM := certPEM(e.pki.Leader.ChainWithLeaf()...)
	big := append(bytes.Clone(pdf), make([]byte, 1<<20)...)
	bad := []struct {
		name    string
		fields  [][2]any
		status  int
		problem string
	}{
		{"not a pdf", [][2]any{{"file", []byte("hello, world")}, {"agency", "000.00.00.H43"}, {"certificate", leaderPEM}}, 422, "invalid-document"},
		{"broken pdf", [][2]any{{"file", pdf[:len(pdf)/2]}, {"agency", "000.00.00.H43"}, {"certificate", leaderPEM}}, 422, "invalid-document"},
		{"unknown field", [][2]any{{"file", pdf}, {"agency", "000.00.00.H43"}, {"certificate", leaderPEM}, {"colour", "blue"}}, 400, "invalid-request"},
		{"oversized", [][2]any{{"file", big}, {"agency", "000.00.00.H43"}, {"certificate", leaderPEM}}, 413, "upload-too-large"},
		{"no certificate", [][2]any{{"file", pdf}, {"agency", "000.00.00.H43"}}, 400, "invalid-request"},
		{"bad certificate", [][2]any{{"file", pdf}, {"agency", "000.00.00.H43"}, {"certificate", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"}}, 400, "invalid-request"},
		{"file and id", [][2]any{{"file", pdf}, {"agency", "000.00.00.H43"}, {"document_id", "1"}, {"certificate", leaderPEM}}, 400, "invalid-request"},
		{"bad agency", [][2]any{{"file", pdf}, {"agency", "ubnd tinh"}, {"certificate", leaderPEM}}, 400, "invalid-request"},
		{"bad role", [][2]any{{"file", pdf}, {"agency", "000.00.00.H43"}, {"certificate", leaderPEM}, {"role", "king"}}, 400, "invalid-request"},
		{"bad rect", [][2]any{{"file", pdf}, {"agency", "000.00.00.H43"}, {"certificate", leaderPEM}, {"rect", "1,2,3"}}, 400, "invalid-request"},
		{"image not png", [][2]any{{"file", pdf}, {"agency", "000.00.00.H43"}, {"certificate", leaderPEM}, {"rect", "1,2,30,40"}, {"image", []byte("GIF89a")}}, 400, "invalid-request"},
		{"bad level", [][2]any{{"file", pdf}, {"agency", "000.00.00.H43"}, {"certificate", leaderPEM}, {"level", "B-X"}}, 400, "invalid-request"},
		{"no such document", [][2]any{{"document_id", "999999"}, {"certificate", leaderPEM}}, 404, "not-found"},
	}
	for _, c := range bad {
		ct, b := multipartBody(t, c.fields)
		resp, body := e.rs.call(t, "POST", "/v1/signatures", e.keys["leader"], ct, b)
		if resp.StatusCode != c.status || problemType(body) != c.problem || resp.Header.Get("Content-Type") != "application/problem+json" {
			t.Errorf("%s: %d %s", c.name, resp.StatusCode, body)
		}
	}
	if resp, body := e.rs.call(t, "POST", "/v1/signatures", e.keys["leader"], "application/pdf", bytes.NewReader(pdf)); resp.StatusCode != 400 {
		t.Errorf("raw body: %d %s", resp.StatusCode, body)
	}
	if after := e.documentCount(t); after != before {
		t.Errorf("bad input stored documents: %d before, %d after", before, after)
	}

	// format=cades: a detached .p7s of any file, judged by openssl.
	content := []byte("Biên bản họp, không phải PDF\n")
	resp, p7s := e.rs.call(t, "POST", "/v1/sign?key=org&format=cades&filename=bien-ban.txt", e.keys["clerk"], "application/octet-stream", bytes.NewReader(content))
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/pkcs7-signature" || !strings.Contains(resp.Header.Get("Content-Disposition"), "bien-ban.txt.p7s") {
		t.Fatalf("cades: %d %q %s", resp.StatusCode, resp.Header.Get("Content-Type"), p7s)
	}
	dir := t.TempDir()
	for name, b := range map[string][]byte{"c.txt": content, "c.p7s": p7s} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if out, err := exec.Command(openssl, "cms", "-verify", "-binary", "-inform", "DER", "-in", filepath.Join(dir, "c.p7s"),
		"-content", filepath.Join(dir, "c.txt"), "-CAfile", e.pki.Path("root-ca.pem"), "-purpose", "any", "-out", os.DevNull).CombinedOutput(); err != nil {
		t.Errorf("openssl cms -verify: %v\n%s", err, out)
	}

	// store=true: the system client, once granted org, keeps the signed PDF as a new
	// draft, then as its next version.
	if resp, body := e.rs.call(t, "PUT", "/v1/keys/org/grants/qlvb", e.admin, "", nil); resp.StatusCode != 204 {
		t.Fatalf("grant: %d %s", resp.StatusCode, body)
	}
	resp, body = e.rs.call(t, "POST", "/v1/sign?key=org&store=true&agency=000.00.00.H43&summary=Gi%E1%BA%A5y%20m%E1%BB%9Di&filename=gm.pdf", e.keys["system"], "application/pdf", bytes.NewReader(pdf))
	stored := decodeInto[docJSON](t, "sign store=true", resp, body, 201)
	if stored.Status != "draft" || stored.Version != 1 || resp.Header.Get("Location") != fmt.Sprintf("/v1/documents/%d", stored.ID) {
		t.Fatalf("stored %s (Location %q)", body, resp.Header.Get("Location"))
	}
	first := e.download(t, stored.ID)
	resp, body = e.rs.call(t, "POST", fmt.Sprintf("/v1/sign?key=org&store=true&document_id=%d", stored.ID), e.keys["system"], "application/pdf", bytes.NewReader(first))
	if again := decodeInto[docJSON](t, "sign store=true (version)", resp, body, 201); again.ID != stored.ID || again.Version != 2 {
		t.Fatalf("second version %s", body)
	}
	if rep := e.verifyPDF(t, "stored.pdf", e.download(t, stored.ID)); rep.Indication != verify.TotalPassed || len(rep.Signatures) != 2 {
		t.Errorf("stored: %s, %d signatures", rep.Indication, len(rep.Signatures))
	}
	for _, q := range []string{"store=true", "store=true&agency=000.00.00.H43&document_id=1", "agency=000.00.00.H43", "store=true&format=cades&agency=000.00.00.H43"} {
		if resp, body := e.rs.call(t, "POST", "/v1/sign?key=org&"+q, e.keys["system"], "application/pdf", bytes.NewReader(pdf)); resp.StatusCode != 400 {
			t.Errorf("sign ?%s: %d %s", q, resp.StatusCode, body)
		}
	}

	// Registers: an admin creates a separate series; twice is a conflict.
	reg := `{"agency":"000.00.00.H43","kind":"incoming","series":"mat","name":"Sổ văn bản mật đến"}`
	cases := []struct {
		key, body string
		status    int
	}{
		{e.admin, reg, 201},
		{e.admin, reg, 409},
		{e.keys["clerk"], reg, 403},
		{e.admin, `{"agency":"000.00.00.H43","kind":"sideways"}`, 400},
		{e.admin, `{"agency":"not a code","kind":"incoming"}`, 400},
		{e.admin, `{"agency":"000.00.00.H43","kind":"incoming","colour":"red"}`, 400},
	}
	for _, c := range cases {
		if resp, body := e.rs.call(t, "POST", "/v1/registers", c.key, "application/json", strings.NewReader(c.body)); resp.StatusCode != c.status {
			t.Errorf("create register %s: %d %s", c.body, resp.StatusCode, body)
		}
	}
	resp, body = e.rs.call(t, "GET", "/v1/registers?agency=000.00.00.H43", e.keys["system"], "", nil)
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"series":"mat","name":"Sổ văn bản mật đến"`) {
		t.Errorf("registers: %d %s", resp.StatusCode, body)
	}
	if resp, body := e.rs.call(t, "GET", "/v1/registers?year=12", e.keys["system"], "", nil); resp.StatusCode != 400 {
		t.Errorf("registers bad year: %d %s", resp.StatusCode, body)
	}
}
