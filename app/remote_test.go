package app

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kyso-vn/kyso/hsm"
	"github.com/kyso-vn/kyso/hsm/remote"
	"github.com/kyso-vn/kyso/hsm/remote/remotetest"
	"github.com/kyso-vn/kyso/internal/testenv"
	"github.com/kyso-vn/kyso/internal/testpki"
	"github.com/kyso-vn/kyso/pkg/pki"
	"github.com/kyso-vn/kyso/pkg/pki/pkitest"
	"github.com/kyso-vn/kyso/pkg/store"
	"github.com/kyso-vn/kyso/signer/pades"
	"github.com/kyso-vn/kyso/signer/verify"
)

const (
	simAPID = "http://ap.test.invalid/kyso"
	simAPPW = "ap-secret"
)

// simMSSP starts the test MSSP with the test PKI's SIM key on a SoftHSM2 token; its
// phone lives in clk's time.
func simMSSP(t *testing.T, p *testpki.TestPKI, phone func(remotetest.PhoneRequest) remotetest.Answer, clk *remotetest.Clock) *remotetest.MSSP {
	t.Helper()
	k, _ := remotetest.SIMHolder(t, p)
	return remotetest.StartMSSP(t, remotetest.MSSPOptions{Holders: map[string]hsm.Key{testpki.SIMPhone: k},
		Phone: phone, APID: simAPID, APPassword: simAPPW, Clock: clk})
}

// remoteClock is the time of a remote signing test: it advances by itself when the
// completer and the test's WaitRemote both sleep on it (2), or the one goroutine
// that waits when no completer runs (1). Nothing waits on the system clock.
func remoteClock(sleepers int) *remotetest.Clock { return remotetest.NewClock(time.Time{}, sleepers) }

// remoteService is a Service over a SQLite file at db whose remote provider "sim" is
// the MSSP, with a short holder time and fast polls, all in clk's time (the store's,
// the service's and the completer's).
func remoteService(t *testing.T, db string, p *testpki.TestPKI, prov remote.Provider, services *pkitest.Services, clk *remotetest.Clock) *Service {
	t.Helper()
	st, err := store.Open(context.Background(), store.Config{DSN: db, BlobDir: filepath.Join(filepath.Dir(db), "blobs"), Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return &Service{
		Store:       st,
		Timestamper: &pki.TSAClient{URLs: []string{services.TSA.URL}},
		Verify: verify.Options{Anchors: []*x509.Certificate{p.Root.Cert},
			Revocation: &pki.Checker{RewriteURL: services.RewriteURL}},
		TempDir: t.TempDir(),
		Now:     clk.Now,
		Remote: &Remote{Providers: map[string]remote.Provider{"sim": prov}, Timeout: 3 * time.Second,
			Backoff: remote.Backoff{First: 300 * time.Millisecond, Interval: 200 * time.Millisecond, Max: 500 * time.Millisecond, Grace: time.Second, Clock: clk},
			Scan:    100 * time.Millisecond},
	}
}

func simDraft(t *testing.T, svc *Service, p *testpki.TestPKI, level pades.Level) PrepareRequest {
	t.Helper()
	in, err := os.ReadFile(filepath.Join(testenv.CorpusDir(t), "plain/lo-writer-trivial.pdf"))
	if err != nil {
		t.Fatal(err)
	}
	return PrepareRequest{Content: bytes.NewReader(in), Filename: "draft.pdf", AgencyCode: agency, Summary: "Ký qua SIM",
		Certificate: p.SIM.Cert, Chain: p.SIM.Chain, By: testClient(t, svc, "sim-holder", RoleLeader, p.SIM.Cert), Options: SignOptions{Level: level, Reason: "SIM PKI"}}
}

// askSIM prepares one draft at level for the test PKI's SIM holder and submits it.
func askSIM(t *testing.T, svc *Service, p *testpki.TestPKI, level pades.Level) ([]*Pending, error) {
	t.Helper()
	return svc.PrepareRemote(context.Background(), RemoteRequest{Documents: []PrepareRequest{simDraft(t, svc, p, level)},
		Provider: "sim", Holder: testpki.SIMPhone, DisplayText: "Ký dự thảo"})
}

// confirmAfter is a phone that confirms after d.
func confirmAfter(d time.Duration) func(remotetest.PhoneRequest) remotetest.Answer {
	return func(remotetest.PhoneRequest) remotetest.Answer {
		return remotetest.Answer{Action: remotetest.Confirm, After: d}
	}
}

// runCompleter runs the completer until the test ends and checks that it stops.
func runCompleter(t *testing.T, svc *Service) context.CancelFunc {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = svc.RunRemote(ctx); close(done) }()
	stop := func() { cancel(); <-done }
	t.Cleanup(stop)
	return stop
}

// TestRemoteOutcomes: the phone confirms after 2 s (the completer embeds the signature
// at B-T and the document verifies TOTAL_PASSED), refuses, or never answers (timed out
// after the 3 s holder time); each ends with its status and a problem-like error.
func TestRemoteOutcomes(t *testing.T) {
	p := testpki.Committed(t)
	services := pkitest.StartServices(t, p)
	cases := []struct {
		name   string
		answer remotetest.Answer
		status string
		errTyp string
	}{
		{"confirm", remotetest.Answer{Action: remotetest.Confirm, After: 2 * time.Second}, statusCompleted, ""},
		{"refuse", remotetest.Answer{Action: remotetest.Refuse, After: 500 * time.Millisecond}, StatusRefused, "remote/refused"},
		{"never", remotetest.Answer{Action: remotetest.Ignore}, StatusTimedOut, "remote/timed-out"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			clk := remoteClock(2)
			m := simMSSP(t, p, func(remotetest.PhoneRequest) remotetest.Answer { return c.answer }, clk)
			svc := remoteService(t, filepath.Join(t.TempDir(), "kyso.db"), p, m.NewClient(remote.MSSFormatPKCS1), services, clk)
			runCompleter(t, svc)
			start := clk.Now()
			views, err := askSIM(t, svc, p, pades.LevelBT)
			if err != nil {
				t.Fatal(err)
			}
			if views[0].Status != StatusWaiting {
				t.Fatalf("after prepare: %s", views[0].Status)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			v, err := svc.WaitRemote(ctx, views[0].ID)
			if err != nil {
				t.Fatal(err)
			}
			took := clk.Since(start) // the clock's time
			t.Logf("%s: %s after %v", c.name, v.Status, took)
			if v.Status != c.status {
				t.Fatalf("status %s, want %s (error %+v)", v.Status, c.status, v.Error)
			}
			if c.errTyp != "" {
				if v.Error == nil || v.Error.Type != c.errTyp || v.Error.Title == "" {
					t.Fatalf("error %+v, want type %s", v.Error, c.errTyp)
				}
				if c.status == StatusTimedOut && (took < 3*time.Second || took > 4500*time.Millisecond) {
					t.Fatalf("timed out after %v, want after the 3 s holder time and before its grace and a poll are over", took)
				}
				return
			}
			if took < 2*time.Second || took > 3*time.Second {
				t.Errorf("completed after %v; the phone confirmed after 2 s", took)
			}
			if got := m.Shown(); len(got) != 1 || got[0].DisplayText != "Ký dự thảo" {
				t.Errorf("the phone showed %+v", got)
			}
			verifyStored(t, svc, v.DocumentID, "B-T")
			// The statistics count a SIM PKI signature and the holder's certificate.
			st, err := svc.Stats(ctx, Principal{}, StatsQuery{From: svc.now(), To: svc.now()})
			if err != nil || st.Signatures.ByKeyKind["sim_pki"] != 1 || st.Signatures.Total != 1 ||
				st.Certificates.ByKind["personal_sim_pki"].Used != 1 {
				t.Errorf("stats after a SIM PKI signature: %+v (%v)", st, err)
			}
		})
	}
}

func verifyStored(t *testing.T, svc *Service, docID int64, level string) {
	t.Helper()
	ctx := context.Background()
	doc, err := svc.Store.GetDocument(ctx, docID)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := svc.Store.OpenBlob(ctx, doc.ContentSHA256)
	if err != nil {
		t.Fatal(err)
	}
	content, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		t.Fatal(err)
	}
	rep, err := verify.VerifyPDF(ctx, bytes.NewReader(content), int64(len(content)), "signed.pdf", svc.Verify)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Indication != verify.TotalPassed || len(rep.Signatures) != 1 || rep.Signatures[0].Level != level {
		t.Fatalf("verify: %s: %s", rep.Indication, verdict(rep))
	}
}

// TestRemoteProviderDown: a provider that refuses connections fails the prepare with
// ErrUnreachable, and the prepared signature is ended, not left waiting.
func TestRemoteProviderDown(t *testing.T) {
	p := testpki.Committed(t)
	services := pkitest.StartServices(t, p)
	down := &remote.MSSClient{URL: "https://127.0.0.1:1/soap", APID: simAPID, APPassword: hsm.NewSecret(simAPPW)}
	clk := remoteClock(1) // the submission's own retries
	svc := remoteService(t, filepath.Join(t.TempDir(), "kyso.db"), p, down, services, clk)
	start := clk.Now()
	_, err := askSIM(t, svc, p, pades.LevelBB)
	if took := clk.Since(start); took != 1500*time.Millisecond {
		t.Errorf("3 submissions took %v, want 1.5 s (0.5 s, then 1 s apart)", took)
	}
	if !errors.Is(err, remote.ErrUnreachable) || !remote.SafeToResubmit(err) {
		t.Fatalf("prepare against a closed port: %v", err)
	}
	for _, status := range []string{StatusWaiting, StatusSubmitting} {
		if rows, err := svc.Store.ListPendingByStatus(context.Background(), status); err != nil || len(rows) != 0 {
			t.Fatalf("%d signatures left %s (%v)", len(rows), status, err)
		}
	}
}

// crashAfterSubmit is the provider as seen by a process that dies right after the
// provider accepted the request and before the ticket is stored: crash closes the
// database under the submitting process.
type crashAfterSubmit struct {
	remote.Provider
	crash func()
}

func (c crashAfterSubmit) Submit(ctx context.Context, r remote.Request) (remote.Ticket, error) {
	t, err := c.Provider.Submit(ctx, r)
	c.crash()
	return t, err
}

// TestRemoteInterruptedSubmission: the process dies between the provider's receipt and
// the stored ticket. The restarted process finds the row still "submitting", ends it
// as failed (remote/interrupted) once the submission time is over, and never sends
// it again: the phone rang once.
func TestRemoteInterruptedSubmission(t *testing.T) {
	p := testpki.Committed(t)
	services := pkitest.StartServices(t, p)
	clk := remoteClock(2)
	m := simMSSP(t, p, confirmAfter(200*time.Millisecond), clk)
	db := filepath.Join(t.TempDir(), "kyso.db")
	first := remoteService(t, db, p, nil, services, clk)
	first.Remote.Providers["sim"] = crashAfterSubmit{m.NewClient(remote.MSSFormatPKCS1), func() { first.Store.Close() }}
	_, err := askSIM(t, first, p, pades.LevelBB)
	if err == nil || m.Submissions() != 1 {
		t.Fatalf("prepare through a crash: %v, %d submissions", err, m.Submissions())
	}
	second := remoteService(t, db, p, m.NewClient(remote.MSSFormatPKCS1), services, clk)
	second.Remote.SubmitTimeout = time.Second
	rows, err := second.Store.ListPendingByStatus(context.Background(), StatusSubmitting)
	if err != nil || len(rows) != 1 {
		t.Fatalf("after the crash: %d submitting rows (%v), want the one", len(rows), err)
	}
	start := clk.Now()
	runCompleter(t, second)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	v, err := second.WaitRemote(ctx, rows[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	took := clk.Since(start)
	t.Logf("ended %s (%s) %v after the restart", v.Status, v.Error.Type, took)
	if took < 3*time.Second {
		t.Errorf("ended %v after the restart, before the submission's time (1 s) and 2 s were over", took)
	}
	if v.Status != StatusFailed || v.Error == nil || v.Error.Type != "remote/interrupted" ||
		!strings.Contains(v.Error.Detail, "not re-submitted") || !strings.Contains(v.Error.Detail, m.Shown()[0].APTransID) {
		t.Fatalf("interrupted request: %s %+v", v.Status, v.Error)
	}
	if err := clk.Sleep(ctx, 500*time.Millisecond); err != nil { // five more completer rounds
		t.Fatal(err)
	}
	if m.Submissions() != 1 {
		t.Fatalf("the request was sent %d times", m.Submissions())
	}
}

// TestRemoteUntrustedHolder: a holder certificate that does not chain to the trust
// anchors is refused before the phone rings.
func TestRemoteUntrustedHolder(t *testing.T) {
	p := testpki.Committed(t)
	services := pkitest.StartServices(t, p)
	clk := remoteClock(1)
	m := simMSSP(t, p, nil, clk)
	svc := remoteService(t, filepath.Join(t.TempDir(), "kyso.db"), p, m.NewClient(remote.MSSFormatPKCS1), services, clk)
	svc.Verify.Anchors = []*x509.Certificate{p.TSA.Cert} // not the SIM certificate's root
	_, err := askSIM(t, svc, p, pades.LevelBB)
	if !errors.Is(err, ErrUntrustedHolder) || m.Submissions() != 0 {
		t.Fatalf("untrusted holder: %v, %d submissions", err, m.Submissions())
	}
}

// TestRemoteResumeAfterRestart: the process that submitted stops while the phone
// waits; a new Service on the same database (a restarted kyso serve) completes the
// signature when the holder confirms.
func TestRemoteResumeAfterRestart(t *testing.T) {
	p := testpki.Committed(t)
	services := pkitest.StartServices(t, p)
	clk := remoteClock(2)
	m := simMSSP(t, p, confirmAfter(2*time.Second), clk)
	db := filepath.Join(t.TempDir(), "kyso.db")
	first := remoteService(t, db, p, m.NewClient(remote.MSSFormatPKCS7), services, clk)
	views, err := askSIM(t, first, p, pades.LevelBT)
	if err != nil {
		t.Fatal(err)
	}
	first.Store.Close() // the first process is gone before any poll
	second := remoteService(t, db, p, m.NewClient(remote.MSSFormatPKCS7), services, clk)
	runCompleter(t, second)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	v, err := second.WaitRemote(ctx, views[0].ID)
	if err != nil || v.Status != statusCompleted {
		t.Fatalf("after restart: %+v, %v", v, err)
	}
	verifyStored(t, second, v.DocumentID, "B-T")
}

// TestRemoteBatchOnePerDocument: three documents for one SIM holder; TS 102 204 signs
// one digest per request, so the phone is asked three times, one after the other,
// and the progress counts the signed ones.
func TestRemoteBatchOnePerDocument(t *testing.T) {
	p := testpki.Committed(t)
	services := pkitest.StartServices(t, p)
	clk := remoteClock(2)
	m := simMSSP(t, p, confirmAfter(300*time.Millisecond), clk)
	svc := remoteService(t, filepath.Join(t.TempDir(), "kyso.db"), p, m.NewClient(remote.MSSFormatPKCS1), services, clk)
	runCompleter(t, svc)
	var docs []PrepareRequest
	for range 3 {
		docs = append(docs, simDraft(t, svc, p, pades.LevelBB))
	}
	views, err := svc.PrepareRemote(context.Background(), RemoteRequest{Documents: docs, Provider: "sim", Holder: testpki.SIMPhone, DisplayText: "Ký 3 văn bản"})
	if err != nil {
		t.Fatal(err)
	}
	if m.Submissions() != 1 {
		t.Fatalf("%d requests sent to the phone at once, want 1", m.Submissions())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, v := range views {
		got, err := svc.WaitRemote(ctx, v.ID)
		if err != nil || got.Status != statusCompleted {
			t.Fatalf("%s: %+v, %v", v.ID, got, err)
		}
		verifyStored(t, svc, got.DocumentID, "B-B")
	}
	last, _ := svc.GetPending(ctx, Principal{}, views[2].ID)
	if last.Progress == nil || *last.Progress != (Progress{Done: 3, Total: 3}) || m.Submissions() != 3 {
		t.Fatalf("progress %+v, %d submissions", last.Progress, m.Submissions())
	}
}
