package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/kyso-vn/kyso/api/csc"
	"github.com/kyso-vn/kyso/app"
	"github.com/kyso-vn/kyso/hsm"
	"github.com/kyso-vn/kyso/hsm/remote"
	"github.com/kyso-vn/kyso/hsm/remote/remotetest"
	"github.com/kyso-vn/kyso/internal/testenv"
	"github.com/kyso-vn/kyso/internal/testpki"
	"github.com/kyso-vn/kyso/pkg/pki/pkitest"
	"github.com/kyso-vn/kyso/pkg/store"
	"github.com/kyso-vn/kyso/pkg/wire"
)

const (
	remoteAPID = "http://ap.test.invalid/kyso"
	remoteAPPW = "ap-secret-7731"
	cscSecret  = "csc-client-secret-0042"
)

// phoneByText plays the SIM holder: what the phone does depends on the text shown, so
// that one MSSP serves every scenario of a test at once.
func phoneByText(pr remotetest.PhoneRequest) remotetest.Answer {
	switch {
	case strings.Contains(pr.DisplayText, "[refuse]"):
		return remotetest.Answer{Action: remotetest.Refuse, After: 300 * time.Millisecond}
	case strings.Contains(pr.DisplayText, "[never]"):
		return remotetest.Answer{Action: remotetest.Ignore}
	case strings.Contains(pr.DisplayText, "[late]"):
		return remotetest.Answer{Action: remotetest.Confirm, After: 2500 * time.Millisecond}
	}
	return remotetest.Answer{Action: remotetest.Confirm, After: 2 * time.Second}
}

// remoteEnv is a kyso serve configuration with remote signing: the test MSSP (the test
// PKI's SIM key on a SoftHSM2 token) as provider "sim", a provider "down" whose port
// refuses connections, the test PKI's root as anchor and its TSA.
type remoteEnv struct {
	pki     *testpki.TestPKI
	hsm     *testenv.SoftHSM // the one token a test process may use at a time
	mssp    *remotetest.MSSP
	dir     string
	cfgPath string
}

func newRemoteEnv(t *testing.T, mssp remotetest.MSSPOptions, extraProviders string) *remoteEnv {
	t.Helper()
	// The server checks revocation at the URLs the certificates name: this test's own.
	p := pkitest.ServeRevocation(t)
	tsa := pkitest.StartTSA(t, p.TSA.Cert, p.TSA.Key, p.TSA.Chain)
	k, h := remotetest.SIMHolder(t, p)
	mssp.Holders, mssp.APID, mssp.APPassword = map[string]hsm.Key{testpki.SIMPhone: k}, remoteAPID, remoteAPPW
	e := &remoteEnv{pki: p, hsm: h, mssp: remotetest.StartMSSP(t, mssp), dir: t.TempDir()}
	files, err := e.mssp.WriteClientFiles(e.dir)
	if err != nil {
		t.Fatal(err)
	}
	// A port that was just free and now refuses connections: the provider is down.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	downURL := "https://" + ln.Addr().String() + "/soap/services/MSS_SignaturePort"
	ln.Close()
	mss := func(name, url string) string {
		return fmt.Sprintf(`
    - name: %s
      kind: mss
      url: %q
      ap_id: %q
      ap_password_file: %q
      client_certificate_file: %q
      client_key_file: %q
      server_ca_file: %q
      mssp_id: http://mssp.test.invalid
      signature_profile: http://mobile-id.vn/digitalSignature`, name, url, files.APID, files.PasswordFile, files.CertFile, files.KeyFile, files.CAFile)
	}
	cfg := fmt.Sprintf(`
store:
  data_dir: %q
trust:
  anchors: [%q]
tsa:
  urls: [%q]
log:
  format: json
remote:
  poll_interval: 200ms
  timeout: 3s
  providers:%s%s%s
`, filepath.Join(e.dir, "data"), p.Path("root-ca.pem"), tsa.URL, mss("sim", files.URL), mss("down", downURL), extraProviders)
	e.cfgPath = filepath.Join(e.dir, "kyso.yaml")
	if err := os.WriteFile(e.cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return e
}

// serveProcess is `kyso serve` as its own OS process (this test binary re-executed as
// kyso, see TestCLIHelperProcess), so that it can be killed with SIGKILL.
type serveProcess struct {
	cmd            *exec.Cmd
	base           string
	stdout, stderr *lockedBuffer
	exited         chan struct{}
}

func startServeProcess(t *testing.T, cfgPath string) *serveProcess {
	t.Helper()
	sp := &serveProcess{stdout: &lockedBuffer{}, stderr: &lockedBuffer{}, exited: make(chan struct{})}
	sp.cmd = exec.Command(os.Args[0], "-test.run=^TestCLIHelperProcess$", "--", "serve", "--config", cfgPath)
	sp.cmd.Env = append(os.Environ(), "KYSO_CLI_HELPER=1", "KYSO_LISTEN=127.0.0.1:0")
	sp.cmd.Stdout = sp.stdout
	stderr, err := sp.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := sp.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addr := make(chan string, 1)
	go func() {
		dec := json.NewDecoder(io.TeeReader(stderr, sp.stderr))
		for {
			var line map[string]any
			if err := dec.Decode(&line); err != nil {
				_, _ = io.Copy(sp.stderr, stderr) // keep what a failing start says
				_ = sp.cmd.Wait()
				close(sp.exited)
				return
			}
			if a, ok := line["address"].(string); ok && line["msg"] == "listening" {
				addr <- a
			}
		}
	}()
	t.Cleanup(func() { sp.signal(t, syscall.SIGKILL) })
	select {
	case a := <-addr:
		sp.base = "http://" + a
	case <-sp.exited:
		t.Fatalf("kyso serve exited before listening:\n%s", sp.stderr)
	case <-time.After(30 * time.Second):
		t.Fatalf("kyso serve did not listen within 30 s:\n%s", sp.stderr)
	}
	return sp
}

// signal sends sig and waits until the process is gone.
func (sp *serveProcess) signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	select {
	case <-sp.exited:
		return
	default:
	}
	_ = sp.cmd.Process.Signal(sig)
	select {
	case <-sp.exited:
	case <-time.After(20 * time.Second):
		_ = sp.cmd.Process.Kill()
		t.Errorf("kyso serve did not end after %v", sig)
	}
}

func (sp *serveProcess) runningServer() *runningServer {
	return &runningServer{base: sp.base, stdout: sp.stdout, stderr: sp.stderr}
}

// remoteClients makes the leader (who signs) and the clerk (who reads documents)
// with the admin key the first start printed.
func remoteClients(t *testing.T, rs *runningServer, p *testpki.TestPKI) map[string]string {
	t.Helper()
	var admin string
	for deadline := time.Now().Add(5 * time.Second); ; {
		if m := adminKeyLine.FindStringSubmatch(rs.stdout.String()); m != nil {
			admin = m[1]
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no admin key printed: %q", rs.stdout)
		}
		time.Sleep(20 * time.Millisecond)
	}
	keys := map[string]string{}
	// Agency H43's leader, to whom the SIM and token certificates of the test PKI are
	// bound (a leader approves only with its own), and its clerk.
	bound, _ := json.Marshal([]string{certPEM(p.SIM.Cert), certPEM(p.Leader.Cert)})
	for name, role := range map[string]string{"chu-tich": "leader", "van-thu": "clerk"} {
		extra := `,"agencies":["000.00.00.H43"]`
		if role == "leader" {
			extra += `,"certificates":` + string(bound)
		}
		resp, body := rs.call(t, "POST", "/v1/clients", admin, "application/json", strings.NewReader(`{"name":"`+name+`","role":"`+role+`"`+extra+`}`))
		c := decodeInto[struct {
			APIKey string `json:"api_key"`
		}](t, "client "+name, resp, body, 201)
		keys[role] = c.APIKey
	}
	return keys
}

// remotePending is a Pending of a remote holder as the API shows it.
type remotePending = wire.Pending

// prepareRemote posts a new draft for a remote holder.
func prepareRemote(t *testing.T, rs *runningServer, key string, certs []*x509.Certificate, provider, holder, display string, extra ...[2]any) (*http.Response, []byte) {
	t.Helper()
	fields := [][2]any{{"file", serveTestPDF(display)}, {"agency", "000.00.00.H43"}, {"symbol", "UBND-VP"},
		{"summary", "Ký từ xa"}, {"type", "CV"}, {"level", "B-T"}, {"certificate", certPEM(certs...)},
		{"provider", provider}, {"holder", holder}, {"display_text", display}}
	ct, body := multipartBody(t, append(fields, extra...))
	return rs.call(t, "POST", "/v1/signatures", key, ct, body)
}

// awaitRemote reads GET /v1/signatures/{id} until the signature leaves the waiting
// states, and returns it with the time it took.
func awaitRemote(t *testing.T, rs *runningServer, key, id string, limit time.Duration) remotePending {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		resp, body := rs.call(t, "GET", "/v1/signatures/"+id, key, "", nil)
		p := decodeInto[remotePending](t, "get "+id, resp, body, 200)
		switch p.Status {
		case app.StatusWaiting, app.StatusSubmitting, "completing":
		default:
			return p
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s still %s after %v", id, p.Status, limit)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// verifyWithCLI downloads the document and runs `kyso verify` on it as its own process
// against the test root: TOTAL_PASSED at level.
func verifyWithCLI(t *testing.T, rs *runningServer, clerk string, docID int64, p *testpki.TestPKI, level string) {
	t.Helper()
	resp, pdf := rs.call(t, "GET", fmt.Sprintf("/v1/documents/%d/content", docID), clerk, "", nil)
	if resp.StatusCode != 200 {
		t.Fatalf("download %d: %d %s", docID, resp.StatusCode, pdf)
	}
	file := filepath.Join(t.TempDir(), "signed.pdf")
	if err := os.WriteFile(file, pdf, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestCLIHelperProcess$", "--", "verify", "--format", "json", "--trust", p.Path("root-ca.pem"), file)
	cmd.Env = append(os.Environ(), "KYSO_CLI_HELPER=1")
	out, err := cmd.Output()
	var rep struct {
		Indication string
		Signatures []struct {
			Indication string
			Level      string
		}
	}
	if jerr := json.Unmarshal(out, &rep); err != nil || jerr != nil {
		t.Fatalf("kyso verify: %v %v\n%s", err, jerr, out)
	}
	if rep.Indication != "TOTAL_PASSED" || len(rep.Signatures) != 1 || rep.Signatures[0].Level != level {
		t.Fatalf("kyso verify: %s", out)
	}
}

// TestServeRemoteSIM drives a kyso serve process whose provider "sim" is the test
// MSSP: the phone confirms after 2 s and the server completes on its own (kyso verify
// TOTAL_PASSED at B-T, the phone showed the display text); refuses (refused); never
// answers (timed_out after the 3 s remote.timeout); the provider is down (503
// problem naming it); and the server is SIGKILLed while the phone rings, restarted on
// the same data directory, and completes when the holder confirms later.
func TestServeRemoteSIM(t *testing.T) {
	e := newRemoteEnv(t, remotetest.MSSPOptions{Phone: phoneByText}, "")
	sp := startServeProcess(t, e.cfgPath)
	rs := sp.runningServer()
	keys := remoteClients(t, rs, e.pki)
	sim := e.pki.SIM.ChainWithLeaf()

	t.Run("outcomes", func(t *testing.T) {
		cases := []struct {
			name, text, status, errType string
			min                         time.Duration
		}{
			{"confirm", "Ký quyết định 12 [confirm]", "completed", "", 2 * time.Second},
			{"refuse", "Ký công văn 13 [refuse]", app.StatusRefused, "remote/refused", 300 * time.Millisecond},
			{"never", "Ký tờ trình 14 [never]", app.StatusTimedOut, "remote/timed-out", 3 * time.Second},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				t.Parallel()
				start := time.Now()
				resp, body := prepareRemote(t, rs, keys["leader"], sim, "sim", testpki.SIMPhone, c.text)
				p := decodeInto[remotePending](t, "prepare", resp, body, 201)
				if p.Status != app.StatusWaiting || p.Provider != "sim" || p.Holder != testpki.SIMPhone {
					t.Fatalf("after prepare: %s", body)
				}
				got := awaitRemote(t, rs, keys["leader"], p.ID, 20*time.Second)
				took := time.Since(start)
				t.Logf("%s: %s after %v", c.name, got.Status, took.Round(10*time.Millisecond))
				if got.Status != c.status || took < c.min {
					t.Fatalf("%s after %v, want %s after at least %v: %+v", got.Status, took, c.status, c.min, got.Error)
				}
				if c.errType != "" {
					if got.Error == nil || got.Error.Type != c.errType || got.Error.Title == "" {
						t.Fatalf("error %+v, want type %s with a title", got.Error, c.errType)
					}
					return
				}
				shown := false
				for _, pr := range e.mssp.Shown() {
					shown = shown || (pr.DisplayText == c.text && pr.MSISDN == testpki.SIMPhone)
				}
				if !shown {
					t.Errorf("the phone never showed %q: %+v", c.text, e.mssp.Shown())
				}
				verifyWithCLI(t, rs, keys["clerk"], got.DocumentID, e.pki, "B-T")
			})
		}
		t.Run("provider down", func(t *testing.T) {
			t.Parallel()
			start := time.Now()
			resp, body := prepareRemote(t, rs, keys["leader"], sim, "down", testpki.SIMPhone, "Ký [confirm]")
			t.Logf("provider down: %d after %v: %s", resp.StatusCode, time.Since(start).Round(10*time.Millisecond), body)
			if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Content-Type") != "application/problem+json" ||
				problemType(body) != "key-unavailable" || !strings.Contains(string(body), `\"down\"`) {
				t.Fatalf("provider down: %d %s %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
			}
		})
	})

	t.Run("SIGKILL while the phone rings", func(t *testing.T) {
		before := e.mssp.Submissions()
		resp, body := prepareRemote(t, rs, keys["leader"], sim, "sim", testpki.SIMPhone, "Ký quyết định 15 [late]")
		p := decodeInto[remotePending](t, "prepare", resp, body, 201)
		start, killed := time.Now(), sp.cmd.Process.Pid
		sp.signal(t, syscall.SIGKILL)
		if st := sp.cmd.ProcessState; st == nil || st.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
			t.Fatalf("the server was not killed: %v", st)
		}
		sp = startServeProcess(t, e.cfgPath)
		rs = sp.runningServer()
		restarted := time.Since(start)
		t.Logf("pid %d killed, pid %d listening %v later", killed, sp.cmd.Process.Pid, restarted.Round(10*time.Millisecond))
		if restarted > 2*time.Second {
			t.Fatalf("the restart took %v: the phone has answered meanwhile, so the kill proves nothing", restarted)
		}
		got := awaitRemote(t, rs, keys["leader"], p.ID, 20*time.Second)
		t.Logf("after the restart: %s %v after the kill", got.Status, time.Since(start).Round(10*time.Millisecond))
		if got.Status != "completed" || e.mssp.Submissions() != before+1 {
			t.Fatalf("after the restart: %s (%+v), %d submissions", got.Status, got.Error, e.mssp.Submissions()-before)
		}
		verifyWithCLI(t, rs, keys["clerk"], got.DocumentID, e.pki, "B-T")
	})

	// Nothing is left waiting or submitting in the store.
	sp.signal(t, syscall.SIGTERM)
	st, err := store.Open(context.Background(), store.Config{DSN: filepath.Join(e.dir, "data", "kyso.db"), BlobDir: filepath.Join(e.dir, "data", "blobs")})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, status := range []string{app.StatusWaiting, app.StatusSubmitting} {
		if rows, err := st.ListPendingByStatus(context.Background(), status); err != nil || len(rows) != 0 {
			t.Errorf("%d signatures left %s (%v)", len(rows), status, err)
		}
	}
}

// TestServeRemoteWait: with wait=true the POST blocks until the holder answers (201
// completed after the phone's 2 s). When the client cancels a waiting POST, the
// server stops waiting (it logs the client gone) and no goroutine is left behind in
// the server, which runs in this process for the check.
func TestServeRemoteWait(t *testing.T) {
	e := newRemoteEnv(t, remotetest.MSSPOptions{Phone: phoneByText, CloseConnections: true}, "")
	rs := startServe(t, e.cfgPath, map[string]string{})
	keys := remoteClients(t, rs, e.pki)
	sim := e.pki.SIM.ChainWithLeaf()
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}

	post := func(ctx context.Context, display string) (*http.Response, []byte, error) {
		fields := [][2]any{{"file", serveTestPDF(display)}, {"agency", "000.00.00.H43"}, {"level", "B-T"},
			{"certificate", certPEM(sim...)}, {"provider", "sim"}, {"holder", testpki.SIMPhone},
			{"display_text", display}, {"wait", "true"}}
		ct, body := multipartBody(t, fields)
		req, err := http.NewRequestWithContext(ctx, "POST", rs.base+"/v1/signatures", body)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+keys["leader"])
		req.Header.Set("Content-Type", ct)
		resp, err := client.Do(req)
		if err != nil {
			return nil, nil, err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return resp, b, err
	}

	start := time.Now()
	resp, body, err := post(context.Background(), "Ký [confirm]")
	if err != nil {
		t.Fatal(err)
	}
	p := decodeInto[remotePending](t, "wait=true", resp, body, 201)
	t.Logf("wait=true answered %s after %v", p.Status, time.Since(start).Round(10*time.Millisecond))
	if p.Status != "completed" || time.Since(start) < 2*time.Second {
		t.Fatalf("wait=true: %s after %v", body, time.Since(start))
	}

	ignore := goleak.IgnoreCurrent()
	ctx, cancel := context.WithCancel(context.Background())
	shown := len(e.mssp.Shown())
	go func() {
		// Cancel once the phone rings: the server is then waiting for the holder.
		for len(e.mssp.Shown()) == shown {
			time.Sleep(20 * time.Millisecond)
		}
		time.Sleep(500 * time.Millisecond)
		cancel()
	}()
	start = time.Now()
	_, _, err = post(ctx, "Ký [never]")
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("a cancelled wait=true: %v", err)
	}
	t.Logf("cancelled after %v", time.Since(start).Round(10*time.Millisecond))
	client.CloseIdleConnections()
	goleak.VerifyNone(t, ignore)
	if !strings.Contains(rs.stderr.String(), `"msg":"client went away"`) {
		t.Errorf("the server did not see the client go:\n%s", rs.stderr)
	}
}

// cscCredentials serves the leader's SoftHSM2 key as CSC credential "leader", and the
// same key under a certificate of another, untrusted PKI as "stranger".
type cscCredentials map[string]hsm.Key

func (c cscCredentials) Credentials(context.Context) ([]string, error) {
	return []string{"leader", "stranger"}, nil
}

func (c cscCredentials) Key(_ context.Context, id string) (hsm.Key, error) {
	if k, ok := c[id]; ok {
		return k, nil
	}
	return nil, csc.ErrUnknownCredential
}

// certifiedAs is a key presented with another certificate.
type certifiedAs struct {
	hsm.Key
	cert *testpki.Cert
}

func (k certifiedAs) Certificate() *x509.Certificate { return k.cert.Cert }
func (k certifiedAs) Chain() []*x509.Certificate     { return k.cert.Chain }

type cscClient struct{}

func (cscClient) Authenticate(_ context.Context, secret string) (csc.Principal, error) {
	if secret != cscSecret {
		return csc.Principal{}, errors.New("unknown client")
	}
	return csc.Principal{ID: "kyso", Name: "Kyso server"}, nil
}

func (cscClient) MayUseCredential(csc.Principal, string) bool { return true }

// cscPhone approves every authorization one second after it was asked, and keeps what
// it was shown.
type cscPhone struct {
	mu    sync.Mutex
	asked map[string]time.Time
	shown []string
}

func (ph *cscPhone) Request(_ context.Context, _ csc.Principal, credentialID, description string, _ int) (string, error) {
	ph.mu.Lock()
	defer ph.mu.Unlock()
	id := fmt.Sprintf("approval-%d", len(ph.shown))
	ph.asked[id] = time.Now()
	ph.shown = append(ph.shown, credentialID+": "+description)
	return id, nil
}

func (ph *cscPhone) Check(_ context.Context, id string) error {
	ph.mu.Lock()
	defer ph.mu.Unlock()
	at, ok := ph.asked[id]
	switch {
	case !ok:
		return remote.ErrUnknownHolder
	case time.Since(at) < time.Second:
		return remote.ErrPending
	}
	return nil
}

func (ph *cscPhone) seen() []string {
	ph.mu.Lock()
	defer ph.mu.Unlock()
	return append([]string(nil), ph.shown...)
}

// TestServeRemoteCSC: a kyso serve process whose provider "cloud" is a CSC v2 service
// (api/csc over the leader's SoftHSM2 key, the holder approving on the phone after
// 1 s). The certificate comes from credentials/info: the leader's chains to the test
// root and completes (kyso verify TOTAL_PASSED at B-T); the stranger's does not, and
// is refused before anyone is asked, as is a request naming another certificate than
// the credential's.
func TestServeRemoteCSC(t *testing.T) {
	other := testpki.New(t, testpki.Options{RootName: "Untrusted Root CA", SubName: "Untrusted Sub CA"})
	stranger := other.Issue(t, testpki.Spec{Kind: testpki.Personal, NoRevocationURLs: true})
	phone := &cscPhone{asked: map[string]time.Time{}}
	creds := cscCredentials{} // filled below, once the token exists
	handler, err := csc.New(csc.Options{Keys: creds, Auth: cscClient{}, Approver: phone, Secret: bytes.Repeat([]byte("k"), 32)})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/csc/v2/", http.StripPrefix("/csc/v2", handler))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	secretFile := filepath.Join(t.TempDir(), "csc-secret")
	if err := os.WriteFile(secretFile, []byte(cscSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	e := newRemoteEnv(t, remotetest.MSSPOptions{Phone: phoneByText}, fmt.Sprintf(`
    - name: cloud
      kind: csc
      base_url: %q
      client_id: kyso
      client_secret_file: %q`, srv.URL+"/csc/v2", secretFile))
	p := e.pki // minted with its revocation servers' URLs
	keyPEM, err := os.ReadFile(p.Path("leader.key"))
	if err != nil {
		t.Fatal(err)
	}
	e.hsm.ImportKey(t, keyPEM, "leader", "02")
	e.hsm.ImportCert(t, p.Leader.Cert.Raw, "leader", "02")
	e.hsm.ImportCert(t, p.Leader.Chain[0].Raw, "sub-ca", "10") // credentials/info answers the chain
	leader, err := hsm.OpenPKCS11(context.Background(), e.hsm.URI("leader", "02"), hsm.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = leader.Close() })
	creds["leader"], creds["stranger"] = leader, certifiedAs{leader, stranger}
	sp := startServeProcess(t, e.cfgPath)
	rs := sp.runningServer()
	keys := remoteClients(t, rs, e.pki)

	start := time.Now()
	// No certificate in the request: the credential's own, from credentials/info.
	resp, body := prepareRemote(t, rs, keys["leader"], nil, "cloud", "leader", "Ký quyết định 16 qua CSC")
	pend := decodeInto[remotePending](t, "prepare", resp, body, 201)
	got := awaitRemote(t, rs, keys["leader"], pend.ID, 20*time.Second)
	t.Logf("csc: %s after %v", got.Status, time.Since(start).Round(10*time.Millisecond))
	if got.Status != "completed" {
		t.Fatalf("csc: %s %+v", got.Status, got.Error)
	}
	if s := phone.seen(); len(s) != 1 || s[0] != "leader: Ký quyết định 16 qua CSC" {
		t.Errorf("the phone showed %q", s)
	}
	verifyWithCLI(t, rs, keys["clerk"], got.DocumentID, p, "B-T")

	resp, body = prepareRemote(t, rs, keys["leader"], stranger.ChainWithLeaf(), "cloud", "stranger", "Ký [stranger]")
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "trust anchors") {
		t.Fatalf("untrusted credential: %d %s", resp.StatusCode, body)
	}
	// The certificate a client names must be the credential's own.
	resp, body = prepareRemote(t, rs, keys["leader"], stranger.ChainWithLeaf(), "cloud", "leader", "Ký [mismatch]")
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), `not the one of credential \"leader\"`) {
		t.Fatalf("another certificate for the leader's credential: %d %s", resp.StatusCode, body)
	}
	// A SIM provider does not tell the certificate: the request must.
	resp, body = prepareRemote(t, rs, keys["leader"], nil, "sim", testpki.SIMPhone, "Ký [no certificate]")
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "certificate is required") {
		t.Fatalf("SIM holder without a certificate: %d %s", resp.StatusCode, body)
	}
	if s := phone.seen(); len(s) != 1 {
		t.Errorf("the holder was asked for a refused request: %q", s)
	}
}
