package remote_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/kyso-vn/kyso/hsm"
	"github.com/kyso-vn/kyso/hsm/remote"
	"github.com/kyso-vn/kyso/hsm/remote/remotetest"
	"github.com/kyso-vn/kyso/internal/testenv"
	"github.com/kyso-vn/kyso/internal/testpki"
	"github.com/kyso-vn/kyso/pkg/pki"
	"github.com/kyso-vn/kyso/pkg/pki/pkitest"
	"github.com/kyso-vn/kyso/signer/pades"
)

const (
	apID  = "http://ap.test.invalid/kyso"
	apPWD = "ap-secret"
)

// simHolder puts the test PKI's SIM key and certificate on a SoftHSM2 token (the
// "SIM") and opens it.
func simHolder(t *testing.T) (hsm.Key, *testpki.TestPKI) {
	t.Helper()
	p, err := testpki.Load(testenv.TestPKIDir())
	if err != nil {
		t.Fatal(err)
	}
	k, _ := remotetest.SIMHolder(t, p)
	return k, p
}

// startMSSP starts the MSSP with the SIM holder and the given phone. The phone and
// the MSSP live in the returned clock's time, which advances as soon as one goroutine
// (the test's wait) sleeps on it: give it to the keys (simKey) and waits (fastOn).
func startMSSP(t *testing.T, phone func(remotetest.PhoneRequest) remotetest.Answer) (*remotetest.MSSP, *testpki.TestPKI, *remotetest.Clock) {
	t.Helper()
	sim, p := simHolder(t)
	clk := remotetest.NewClock(time.Time{}, 1)
	m := remotetest.StartMSSP(t, remotetest.MSSPOptions{
		Holders: map[string]hsm.Key{testpki.SIMPhone: sim},
		Phone:   phone, APID: apID, APPassword: apPWD, Clock: clk,
	})
	return m, p, clk
}

func after(a remotetest.Action, d time.Duration) func(remotetest.PhoneRequest) remotetest.Answer {
	return func(remotetest.PhoneRequest) remotetest.Answer { return remotetest.Answer{Action: a, After: d} }
}

// fast polls often, so the tests measure the phone, not the back-off. Its waits are on
// the system clock; fastOn(clk) waits on clk.
var fast = remote.Backoff{First: 500 * time.Millisecond, Interval: 200 * time.Millisecond, Max: 500 * time.Millisecond, Grace: time.Second}

// realBound is the test's context with a real-time bound: a wait that sleeps on the
// system clock instead of the test's Clock never sees the phone answer (it lives in
// the Clock's time) and fails here in seconds rather than at the go test timeout.
func realBound(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func fastOn(clk remote.Clock) remote.Backoff {
	b := fast
	b.Clock = clk
	return b
}

// simKey is the SIM holder's key through c, waiting on clk (nil: the system clock).
func simKey(c remote.Provider, p *testpki.TestPKI, clk remote.Clock) *remote.Key {
	return &remote.Key{Provider: c, Holder: testpki.SIMPhone, Cert: p.SIM.Cert, Issuer: p.SIM.Chain, DisplayText: "Ký Quyết định số 05/QĐ-UBND", Backoff: fastOn(clk)}
}

// TestMSSEndToEndPAdES: a PDF prepared for the SIM holder, the phone confirms after
// 2 s, the signature completes at B-T with the test TSA, and poppler accepts it. Once
// synchronously through hsm.Key with a bare PKCS#1 answer; once on the server's
// two-phase path, with a CMS answer: submit, store the prepared state and the ticket
// (JSON), and complete from them with a new client, as after a restart.
func TestMSSEndToEndPAdES(t *testing.T) {
	pdfsig := testenv.Tool(t, "pdfsig", "poppler-utils")
	in, err := os.ReadFile(filepath.Join(testenv.CorpusDir(t), "plain/lo-writer-trivial.pdf"))
	if err != nil {
		t.Fatal(err)
	}
	m, p, clk := startMSSP(t, after(remotetest.Confirm, 2*time.Second))
	tsa := pkitest.StartTSA(t, p.TSA.Cert, p.TSA.Key, p.TSA.Chain)
	opts := pades.Options{Level: pades.LevelBT, Certificate: p.SIM.Cert, Chain: p.SIM.Chain,
		Timestamper: &pki.TSAClient{URLs: []string{tsa.URL}}, Reason: "SIM PKI"}
	text := "Ký Quyết định số 05/QĐ-UBND"

	synchronous := func(t *testing.T, prep *pades.Prepared) []byte {
		sig, err := simKey(m.NewClient(remote.MSSFormatPKCS1), p, clk).SignContext(realBound(t), prep.SignedAttrsDigest(), prep.SignatureOpts())
		if err != nil {
			t.Fatal(err)
		}
		return sig
	}
	twoPhase := func(t *testing.T, prep *pades.Prepared) []byte {
		ctx := realBound(t)
		r, err := remote.NewRequest("pending-42", testpki.SIMPhone, [][]byte{prep.SignedAttrsDigest()}, prep.SignatureOpts(), text)
		if err != nil {
			t.Fatal(err)
		}
		tk, err := m.NewClient(remote.MSSFormatPKCS7).Submit(ctx, r)
		if err != nil {
			t.Fatal(err)
		}
		state, err := json.Marshal(struct {
			Prepared *pades.Prepared
			Ticket   remote.Ticket
		}{prep, tk})
		if err != nil {
			t.Fatal(err)
		}
		// The process that submitted is gone; another reads the stored state.
		var stored struct {
			Prepared pades.Prepared
			Ticket   remote.Ticket
		}
		if err := json.Unmarshal(state, &stored); err != nil {
			t.Fatal(err)
		}
		*prep = stored.Prepared
		res, err := remote.Wait(ctx, m.NewClient(remote.MSSFormatPKCS7), stored.Ticket, fastOn(clk))
		if err != nil {
			t.Fatal(err)
		}
		if res.CMS == nil {
			t.Fatal("the MSSP answered no CMS in the PKCS7 format")
		}
		sigs, err := remote.Signatures(res, stored.Ticket.Request, p.SIM.Cert.PublicKey)
		if err != nil {
			t.Fatal(err)
		}
		return sigs[0]
	}
	for _, c := range []struct {
		name string
		sign func(*testing.T, *pades.Prepared) []byte
	}{{"synchronous PKCS1", synchronous}, {"two-phase PKCS7", twoPhase}} {
		t.Run(c.name, func(t *testing.T) {
			ctx := realBound(t)
			prep, err := pades.Prepare(ctx, bytes.NewReader(in), int64(len(in)), nil, opts)
			if err != nil {
				t.Fatal(err)
			}
			start := clk.Now()
			sig := c.sign(t, prep)
			// In the clock's time, exactly: the polls of fast at 0.5, 0.7, 1.1, 1.6 and
			// 2.1 s; the phone confirmed after 2 s.
			waited := clk.Since(start)
			if waited != 2100*time.Millisecond {
				t.Errorf("signature took %v, want 2.1 s (the phone confirmed after 2 s)", waited)
			}
			tail, err := prep.Complete(ctx, bytes.NewReader(in), sig, opts)
			if err != nil {
				t.Fatal(err)
			}
			out := filepath.Join(t.TempDir(), "signed.pdf")
			if err := os.WriteFile(out, append(append([]byte(nil), in...), tail...), 0o600); err != nil {
				t.Fatal(err)
			}
			res, _ := exec.Command(pdfsig, "-nocert", out).CombinedOutput()
			if !strings.Contains(string(res), "Signature is Valid.") || !strings.Contains(string(res), "Total document signed") || !strings.Contains(string(res), testpki.SIMName) {
				t.Fatalf("pdfsig -nocert:\n%s", res)
			}
			t.Logf("phone answered, signature back after %v", waited.Round(time.Millisecond))
		})
	}
	if n := tsa.Requests(); n != 2 {
		t.Errorf("the TSA stamped %d signatures, want 2 (B-T)", n)
	}
	shown := m.Shown()
	if len(shown) != 2 || shown[0].DisplayText != text || shown[1].DisplayText != text || shown[0].MSISDN != testpki.SIMPhone {
		t.Errorf("phone showed %+v", shown)
	}
}

// TestMSSHolderOutcomes: each way a holder or the MSSP can end a request maps to the
// error a caller branches on, with the MSSP's code in the message.
func TestMSSHolderOutcomes(t *testing.T) {
	phone := func(r remotetest.PhoneRequest) remotetest.Answer {
		switch {
		case strings.HasPrefix(r.DisplayText, "refuse"):
			return remotetest.Answer{Action: remotetest.Refuse, After: time.Second}
		case strings.HasPrefix(r.DisplayText, "ignore"):
			return remotetest.Answer{Action: remotetest.Ignore}
		}
		return remotetest.Answer{Action: remotetest.Confirm}
	}
	m, p, clk := startMSSP(t, phone)
	cases := []struct {
		name, text, holder string
		timeout            time.Duration
		badPassword        bool
		want               error
		wantText           string
		minTime, maxTime   time.Duration
	}{
		// Times are the clock's, exact: the polls of fast come at 0.5, 0.7, 1.1, 1.6,
		// 2.1, 2.6, 3.1 s…; a refusal or a rejection is never waited for again.
		{name: "refused", text: "refuse", want: remote.ErrRefused, wantText: "401", minTime: 1100 * time.Millisecond, maxTime: 1100 * time.Millisecond},
		{name: "never answers", text: "ignore", timeout: 3 * time.Second, want: remote.ErrTimeout, wantText: "208", minTime: 3100 * time.Millisecond, maxTime: 3100 * time.Millisecond},
		{name: "unknown phone", text: "x", holder: "+84900000000", want: remote.ErrUnknownHolder, wantText: "105"},
		{name: "not a phone number", text: "x", holder: "abc", want: remote.ErrUnknownHolder},
		{name: "wrong AP password", text: "x", badPassword: true, want: remote.ErrProviderRejected, wantText: "104"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			client := m.NewClient("")
			if c.badPassword {
				client.APPassword = hsm.NewSecret("wrong")
			}
			k := simKey(client, p, clk)
			k.DisplayText, k.Timeout = c.text, c.timeout
			if c.holder != "" {
				k.Holder = c.holder
			}
			d := sha256.Sum256([]byte(c.name))
			start := clk.Now()
			_, err := k.SignContext(realBound(t), d[:], crypto.SHA256)
			took := clk.Since(start)
			if !errors.Is(err, c.want) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
			if !strings.Contains(err.Error(), c.wantText) || strings.Contains(err.Error(), apPWD) {
				t.Errorf("error %q does not say %q (or shows the AP password)", err, c.wantText)
			}
			if took < c.minTime || took > c.maxTime {
				t.Errorf("ended after %v, want %v..%v", took, c.minTime, c.maxTime)
			}
			t.Logf("%v after %v", err, took.Round(time.Millisecond))
		})
	}
}

// TestMSSProviderDown: a refused connection never carried the request and is tried
// again (3 times); an MSSP failing after it read the request is never asked again
// (the phone may be ringing); failed status queries are retried until the answer.
func TestMSSProviderDown(t *testing.T) {
	m, p, clk := startMSSP(t, after(remotetest.Confirm, time.Second))

	t.Run("connection refused", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		var dials atomic.Int64
		client := m.NewClient("")
		client.URL = "https://" + addr + "/soap/services/MSS_SignaturePort"
		tr := client.HTTPClient.Transport.(*http.Transport)
		tr.DialContext = func(ctx context.Context, network, a string) (net.Conn, error) {
			dials.Add(1)
			return (&net.Dialer{}).DialContext(ctx, network, a)
		}
		d := sha256.Sum256([]byte("down"))
		start := clk.Now()
		_, err = simKey(client, p, clk).SignContext(realBound(t), d[:], crypto.SHA256)
		if !errors.Is(err, remote.ErrUnreachable) || !remote.SafeToResubmit(err) {
			t.Fatalf("err = %v, want ErrUnreachable, safe to resubmit", err)
		}
		if n := dials.Load(); n != 3 {
			t.Errorf("%d connection attempts, want 3", n)
		}
		if took := clk.Since(start); took != 3*time.Second {
			t.Errorf("the attempts took %v, want 3 s (1 s, then 2 s apart)", took)
		}
	})

	tlsCases := []struct {
		name     string
		breakTLS func(*tls.Config)
	}{
		{"client certificate missing", func(c *tls.Config) { c.Certificates = nil }},
		{"MSSP certificate not trusted", func(c *tls.Config) { c.RootCAs = x509.NewCertPool() }},
	}
	for _, c := range tlsCases {
		t.Run(c.name, func(t *testing.T) {
			client := m.NewClient("")
			c.breakTLS(client.HTTPClient.Transport.(*http.Transport).TLSClientConfig)
			before := m.Submissions()
			d := sha256.Sum256([]byte(c.name))
			_, err := simKey(client, p, clk).SignContext(realBound(t), d[:], crypto.SHA256)
			if !errors.Is(err, remote.ErrProviderRejected) || remote.SafeToResubmit(err) {
				t.Fatalf("err = %v, want ErrProviderRejected, not retried", err)
			}
			if m.Submissions() != before {
				t.Errorf("the MSSP read the request")
			}
		})
	}

	t.Run("fails after reading", func(t *testing.T) {
		m.FailSignatures(true)
		defer m.FailSignatures(false)
		before := m.Submissions()
		d := sha256.Sum256([]byte("503"))
		_, err := simKey(m.NewClient(""), p, clk).SignContext(realBound(t), d[:], crypto.SHA256)
		if !errors.Is(err, remote.ErrUnreachable) || remote.SafeToResubmit(err) {
			t.Fatalf("err = %v, want ErrUnreachable, not safe to resubmit", err)
		}
		if n := m.Submissions() - before; n != 1 {
			t.Errorf("MSSP received %d submissions, want exactly 1", n)
		}
	})

	t.Run("status queries fail for a while", func(t *testing.T) {
		m.FailStatusQueries(3)
		before := m.StatusQueries()
		d := sha256.Sum256([]byte("flaky"))
		if _, err := simKey(m.NewClient(""), p, clk).SignContext(realBound(t), d[:], crypto.SHA256); err != nil {
			t.Fatal(err)
		}
		if n := m.StatusQueries() - before; n < 4 {
			t.Errorf("%d status queries, want at least 4 (3 failed)", n)
		}
	})
}

// TestMSSResumeAfterRestart: the ticket is stored as JSON while the phone rings, the
// waiting process goes away, and a new client (as after a restart) polls the stored
// ticket and gets the signature the holder confirmed meanwhile.
func TestMSSResumeAfterRestart(t *testing.T) {
	m, p, clk := startMSSP(t, after(remotetest.Confirm, 2*time.Second))
	var stored []byte
	k := simKey(m.NewClient(""), p, clk)
	k.Backoff.First = 10 * time.Second
	// The first process goes away once the ticket is stored, before its first poll.
	ctx, cancel := context.WithCancel(realBound(t))
	k.OnSubmit = func(_ context.Context, tk remote.Ticket) (err error) {
		stored, err = json.Marshal(tk)
		cancel()
		return err
	}
	d := sha256.Sum256([]byte("resume"))
	_, err := k.SignContext(ctx, d[:], crypto.SHA256)
	if !errors.Is(err, context.Canceled) || stored == nil || m.StatusQueries() != 0 {
		t.Fatalf("first process: err = %v, stored %d bytes", err, len(stored))
	}
	submissions := m.Submissions()

	var tk remote.Ticket
	if err := json.Unmarshal(stored, &tk); err != nil {
		t.Fatal(err)
	}
	fresh := m.NewClient("")
	res, err := remote.Wait(realBound(t), fresh, tk, fastOn(clk))
	if err != nil {
		t.Fatal(err)
	}
	sigs, err := remote.Signatures(res, tk.Request, p.SIM.Cert.PublicKey)
	if err != nil || len(sigs) != 1 {
		t.Fatalf("resumed signature: %v", err)
	}
	if m.Submissions() != submissions {
		t.Errorf("resuming submitted the request again")
	}
	if !bytes.Equal(tk.Request.Digests[0], d[:]) {
		t.Errorf("stored ticket lost the digest")
	}
}

// TestMSSCancelLeavesNoGoroutine: cancelling a signature that waits for a phone that
// never answers returns at once with the context's error and leaves no goroutine.
func TestMSSCancelLeavesNoGoroutine(t *testing.T) {
	m, p, clk := startMSSP(t, after(remotetest.Ignore, 0))
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	client := m.NewClient("")
	defer client.HTTPClient.CloseIdleConnections()
	k := simKey(client, p, clk)
	// The clock advances only when told: the wait sleeps until the test cancels it.
	clk.AutoAdvance(0)
	ctx, cancel := context.WithCancel(realBound(t))
	defer cancel()
	d := sha256.Sum256([]byte("cancel"))
	ended := make(chan error, 1)
	go func() {
		_, err := k.SignContext(ctx, d[:], crypto.SHA256)
		ended <- err
	}()
	// The first poll (after fast.First), then the cancel while the next one is waited for.
	if err := clk.WaitSleepers(ctx, 1); err != nil {
		t.Fatal(err)
	}
	clk.Advance(fast.First)
	for m.StatusQueries() == 0 || clk.Sleepers() == 0 {
		if err := clk.WaitSleepers(ctx, 1); err != nil {
			t.Fatal(err)
		}
		runtime.Gosched()
	}
	cancel()
	cancelled := time.Now()
	// The wait must end at the cancel, not at the next poll or the phone's timeout
	// (neither comes: the clock stands still).
	select {
	case err := <-ended:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("SignContext did not return at the cancel")
	}
	if late := time.Since(cancelled); late > time.Second {
		t.Errorf("SignContext returned %v after the cancel", late)
	}
}

// TestMSSBatchOnePerDocument: a SIM signs one digest per confirmation, so a batch of
// three is three requests, each shown with its place, with progress after each.
func TestMSSBatchOnePerDocument(t *testing.T) {
	m, p, clk := startMSSP(t, after(remotetest.Confirm, 0))
	k := simKey(m.NewClient(""), p, clk)
	k.Backoff = remote.Backoff{First: 100 * time.Millisecond, Interval: 100 * time.Millisecond, Clock: clk}
	var digests [][]byte
	for _, s := range []string{"a", "b", "c"} {
		d := sha256.Sum256([]byte(s))
		digests = append(digests, d[:])
	}
	var progress []int
	sigs, err := k.SignDigests(realBound(t), digests, crypto.SHA256, func(done, total int) {
		if total != 3 {
			t.Errorf("total = %d", total)
		}
		progress = append(progress, done)
	})
	if err != nil || len(sigs) != 3 {
		t.Fatalf("%d signatures, %v", len(sigs), err)
	}
	if len(progress) != 3 || progress[2] != 3 {
		t.Errorf("progress %v, want [1 2 3]", progress)
	}
	shown := m.Shown()
	if len(shown) != 3 || !strings.HasSuffix(shown[1].DisplayText, "(2/3)") {
		t.Errorf("phone showed %+v", shown)
	}
}

// childEnv runs TestMSSChildProcess as one of the processes of
// TestMSSResumeAcrossProcesses: "submit" or "resume".
const childEnv = "KYSO_REMOTE_CHILD"

// childStored is the line the submitting child prints once its ticket is stored.
const childStored = "ticket stored"

// TestMSSResumeAcrossProcesses: one process submits, stores the ticket and is killed
// (SIGKILL) while the phone rings; a second process, started afterwards as a restarted
// server would be, resumes the stored ticket and gets the signature the holder
// confirmed in between. The MSSP sees one submission.
func TestMSSResumeAcrossProcesses(t *testing.T) {
	m, p, clk := startMSSP(t, after(remotetest.Confirm, 2*time.Second))
	dir := t.TempDir()
	if err := m.WriteClientConfig(filepath.Join(dir, "client.json")); err != nil {
		t.Fatal(err)
	}
	child := func(mode string) *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run=^TestMSSChildProcess$", "-test.count=1")
		cmd.Env = append(os.Environ(), childEnv+"="+mode, "KYSO_REMOTE_DIR="+dir)
		return cmd
	}
	first := child("submit")
	out, err := first.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var firstErr bytes.Buffer
	first.Stderr = &firstErr
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	// The child says when the ticket is stored; it then waits an hour for its poll.
	stored := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if sc.Text() == childStored {
				stored <- true
				_, _ = io.Copy(io.Discard, out)
				return
			}
		}
		stored <- false
	}()
	var ok bool
	select {
	case ok = <-stored:
	case <-time.After(30 * time.Second):
	}
	_ = first.Process.Kill()
	_ = first.Wait()
	if !ok {
		t.Fatalf("first process stored no ticket:\n%s", firstErr.String())
	}
	if m.Submissions() != 1 {
		t.Fatalf("%d submissions before the restart", m.Submissions())
	}
	// The holder confirms while no process waits.
	clk.Advance(2 * time.Second)
	ticket := filepath.Join(dir, "ticket.json")

	if out, err := child("resume").CombinedOutput(); err != nil {
		t.Fatalf("second process: %v\n%s", err, out)
	}
	var tk remote.Ticket
	b, err := os.ReadFile(ticket)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &tk); err != nil {
		t.Fatal(err)
	}
	sig, err := os.ReadFile(filepath.Join(dir, "signature.bin"))
	if err != nil {
		t.Fatal(err)
	}
	if err := rsa.VerifyPKCS1v15(p.SIM.Cert.PublicKey.(*rsa.PublicKey), crypto.SHA256, tk.Request.Digests[0], sig); err != nil {
		t.Fatalf("resumed signature: %v", err)
	}
	if m.Submissions() != 1 {
		t.Errorf("%d submissions: resuming must not ask the phone again", m.Submissions())
	}
}

// TestMSSChildProcess is a process of TestMSSResumeAcrossProcesses; alone it does
// nothing.
func TestMSSChildProcess(t *testing.T) {
	mode, dir := os.Getenv(childEnv), os.Getenv("KYSO_REMOTE_DIR")
	if mode == "" {
		t.Skip("a child process of TestMSSResumeAcrossProcesses")
	}
	client, err := remotetest.ClientFromFile(filepath.Join(dir, "client.json"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := testpki.Load(testenv.TestPKIDir())
	if err != nil {
		t.Fatal(err)
	}
	ticket := filepath.Join(dir, "ticket.json")
	switch mode {
	case "submit":
		k := simKey(client, p, nil)
		k.Backoff.First = time.Hour // killed while waiting
		k.OnSubmit = func(_ context.Context, tk remote.Ticket) error {
			b, err := json.Marshal(tk)
			if err != nil {
				return err
			}
			// Renamed into place, so the parent never reads half a ticket.
			if err := os.WriteFile(ticket+".tmp", b, 0o600); err != nil {
				return err
			}
			if err := os.Rename(ticket+".tmp", ticket); err != nil {
				return err
			}
			_, err = fmt.Println(childStored)
			return err
		}
		d := sha256.Sum256([]byte("across processes"))
		_, err := k.SignContext(context.Background(), d[:], crypto.SHA256)
		t.Fatalf("the wait ended before the process was killed: %v", err)
	case "resume":
		b, err := os.ReadFile(ticket)
		if err != nil {
			t.Fatal(err)
		}
		var tk remote.Ticket
		if err := json.Unmarshal(b, &tk); err != nil {
			t.Fatal(err)
		}
		res, err := remote.Wait(context.Background(), client, tk, fast)
		if err != nil {
			t.Fatal(err)
		}
		sigs, err := remote.Signatures(res, tk.Request, p.SIM.Cert.PublicKey)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "signature.bin"), sigs[0], 0o600); err != nil {
			t.Fatal(err)
		}
	}
}
