package app

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/kyso-vn/kyso/hsm/remote"
	"github.com/kyso-vn/kyso/internal/testenv"
	"github.com/kyso-vn/kyso/internal/testpki"
	"github.com/kyso-vn/kyso/pkg/pki/pkitest"
	"github.com/kyso-vn/kyso/signer/pades"
)

// versions is how many versions document id has.
func versions(t *testing.T, svc *Service, id int64) int {
	t.Helper()
	vs, err := svc.Store.Versions(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return len(vs)
}

// TestCompleteAfterCrash: a completion cut off by a crash leaves the pending signature
// "completing" with no version written. Inside the grace it is still taken for a
// running completion (409); after it, the same signature completes it once, and the
// document gains exactly one version.
func TestCompleteAfterCrash(t *testing.T) {
	f := newFixture(t)
	in, _ := os.ReadFile(filepath.Join(testenv.CorpusDir(t), "plain/lo-writer-trivial.pdf"))
	pend, err := f.svc.Prepare(f.ctx, PrepareRequest{Content: bytes.NewReader(in), AgencyCode: agency, Symbol: "UBND-VP",
		Certificate: f.leader.Certificate(), Chain: f.pki.Leader.Chain, Role: RoleApprove, By: f.lp})
	if err != nil {
		t.Fatal(err)
	}
	before := versions(t, f.svc, pend.DocumentID)
	// The crash: claimed, then nothing.
	if err := f.svc.Store.UpdatePending(f.ctx, pend.ID, statusPending, statusCompleting, nil); err != nil {
		t.Fatal(err)
	}
	sig, _ := pades.SignDigest(f.ctx, f.leader, pend.Digest, optsFor(t, pend))
	req := CompleteRequest{Signature: sig, By: f.lp}
	if _, err := f.svc.Complete(f.ctx, pend.ID, req); !errors.Is(err, ErrConflict) {
		t.Fatalf("completing inside the grace: %v, want ErrConflict", err)
	}
	f.svc.CompletingGrace = time.Millisecond
	time.Sleep(5 * time.Millisecond)
	done, err := f.svc.Complete(f.ctx, pend.ID, req)
	if err != nil {
		t.Fatalf("completing after the grace: %v", err)
	}
	if n := versions(t, f.svc, pend.DocumentID); n != before+1 || done.Version != n {
		t.Errorf("%d versions after completing, want %d (pending says %d)", n, before+1, done.Version)
	}
	if _, err := f.svc.Complete(f.ctx, pend.ID, req); !errors.Is(err, ErrConflict) {
		t.Errorf("completing twice: %v, want ErrConflict", err)
	}
}

// TestTwoSignaturesOverOneVersion: two signatures prepared over the same version of a
// document cannot both be stored; the second would drop the first signature's
// revision, so it is refused and the document keeps the first.
func TestTwoSignaturesOverOneVersion(t *testing.T) {
	f := newFixture(t)
	in, _ := os.ReadFile(filepath.Join(testenv.CorpusDir(t), "plain/lo-writer-trivial.pdf"))
	// Copies (the clerk, with the organisation's certificate) are signed as new
	// versions of a draft with no status change, so nothing but the base check stands
	// between the two.
	org := f.svc.Keys["org"].Key
	first, err := f.svc.Prepare(f.ctx, PrepareRequest{Content: bytes.NewReader(in), AgencyCode: agency, Symbol: "UBND-VP",
		Certificate: org.Certificate(), Chain: org.Chain(), Role: RoleCopy, By: f.cp})
	if err != nil {
		t.Fatal(err)
	}
	second, err := f.svc.Prepare(f.ctx, PrepareRequest{DocumentID: first.DocumentID,
		Certificate: org.Certificate(), Chain: org.Chain(), Role: RoleCopy, By: f.cp})
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range []*Pending{first, second} {
		sig, _ := pades.SignDigest(f.ctx, org, p.Digest, optsFor(t, p))
		_, err := f.svc.Complete(f.ctx, p.ID, CompleteRequest{Signature: sig, By: f.cp})
		if i == 0 && err != nil {
			t.Fatal(err)
		}
		if i == 1 && !errors.Is(err, ErrConflict) {
			t.Fatalf("a second signature over the first one's base: %v, want ErrConflict", err)
		}
	}
	if n := versions(t, f.svc, first.DocumentID); n != 2 {
		t.Errorf("%d versions, want the draft and the first signature", n)
	}
}

// TestRemoteCompletionAfterCrash: the holder confirmed and the completer claimed the
// signature, then the process died. After the grace the next completer polls the
// ticket again (the phone is not asked again) and completes the document once.
func TestRemoteCompletionAfterCrash(t *testing.T) {
	p := testpki.Committed(t)
	services := pkitest.StartServices(t, p)
	clk := remoteClock(2)
	m := simMSSP(t, p, confirmAfter(200*time.Millisecond), clk)
	db := filepath.Join(t.TempDir(), "kyso.db")
	svc := remoteService(t, db, p, m.NewClient(remote.MSSFormatPKCS1), services, clk)
	views, err := askSIM(t, svc, p, pades.LevelBT)
	if err != nil {
		t.Fatal(err)
	}
	before := versions(t, svc, views[0].DocumentID)
	// The crash: the completer's claim, and no completion.
	if err := svc.Store.UpdatePending(context.Background(), views[0].ID, StatusWaiting, statusCompleting, nil); err != nil {
		t.Fatal(err)
	}
	svc.CompletingGrace = 50 * time.Millisecond
	runCompleter(t, svc)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	v, err := svc.WaitRemote(ctx, views[0].ID)
	if err != nil || v.Status != statusCompleted {
		t.Fatalf("after the cut-off completion: %+v, %v", v, err)
	}
	if n := versions(t, svc, v.DocumentID); n != before+1 {
		t.Errorf("%d versions, want %d", n, before+1)
	}
	if n := m.Submissions(); n != 1 {
		t.Errorf("the phone was asked %d times", n)
	}
	verifyStored(t, svc, v.DocumentID, "B-T")
}
