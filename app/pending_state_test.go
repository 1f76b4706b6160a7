package app

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/kyso-vn/kyso/internal/testenv"
	"github.com/kyso-vn/kyso/signer/pades"
)

// TestPendingStateVersions: the state kept between prepare and complete carries no
// copy of the row's columns (id, status, document, expiry), and a row written in the
// earlier shape (a copy of the whole view and of document_id, no version) still reads
// the same and completes.
func TestPendingStateVersions(t *testing.T) {
	f := newFixture(t)
	in, err := os.ReadFile(filepath.Join(testenv.CorpusDir(t), "plain/lo-writer-trivial.pdf"))
	if err != nil {
		t.Fatal(err)
	}
	pend, err := f.svc.Prepare(f.ctx, PrepareRequest{Content: bytes.NewReader(in), AgencyCode: agency, Symbol: "UBND-VP",
		Certificate: f.leader.Certificate(), Chain: f.pki.Leader.Chain, Role: RoleApprove, By: f.lp})
	if err != nil {
		t.Fatal(err)
	}
	ps, err := f.svc.Store.GetPending(f.ctx, pend.ID)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(ps.State, &m); err != nil {
		t.Fatal(err)
	}
	if string(m["v"]) != "2" {
		t.Errorf("state version %s, want 2", m["v"])
	}
	for _, col := range []string{"id", "status", "document_id", "expires_at", "view", "digest"} {
		if _, ok := m[col]; ok {
			t.Errorf("the state repeats %q", col)
		}
	}

	// The same row as the earlier version wrote it.
	delete(m, "v")
	delete(m, "shown")
	m["view"], _ = json.Marshal(pend)
	m["document_id"], _ = json.Marshal(pend.DocumentID)
	legacy, _ := json.Marshal(m)
	if err := f.svc.Store.UpdatePending(f.ctx, pend.ID, statusPending, statusPending, legacy); err != nil {
		t.Fatal(err)
	}
	got, err := f.svc.GetPending(f.ctx, f.lp, pend.ID)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := json.Marshal(got)
	b, _ := json.Marshal(pend)
	if !bytes.Equal(a, b) {
		t.Errorf("legacy row reads\n%s\nwant\n%s", a, b)
	}
	sig, err := pades.SignDigest(f.ctx, f.pki.Leader.Key, pend.Digest, optsFor(t, pend))
	if err != nil {
		t.Fatal(err)
	}
	done, err := f.svc.Complete(f.ctx, pend.ID, CompleteRequest{Signature: sig, By: f.lp})
	if err != nil {
		t.Fatal(err)
	}
	if done.Status != statusCompleted || done.Version != 2 || done.DocumentID != pend.DocumentID {
		t.Errorf("completed legacy row: %+v", done)
	}
	again, err := f.svc.GetPending(f.ctx, f.lp, pend.ID)
	if err != nil || again.Version != 2 || again.Status != statusCompleted {
		t.Errorf("after completion: %+v, %v", again, err)
	}
}
