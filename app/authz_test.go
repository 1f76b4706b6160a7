package app

import (
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/kyso-vn/kyso/hsm"
	"github.com/kyso-vn/kyso/internal/testpki"
	"github.com/kyso-vn/kyso/pkg/docid"
	"github.com/kyso-vn/kyso/pkg/fault"
	"github.com/kyso-vn/kyso/pkg/store"
)

// TestReadsFollowAgenciesAndClearance: documents, statistics and registers are what
// the caller's agencies and clearance admit; an unseen document is the same NotFound
// as a missing one; a client without agencies sees nothing; an admin sees all, and
// its reads are audited.
func TestReadsFollowAgenciesAndClearance(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, store.Config{DSN: filepath.Join(t.TempDir(), "k.db"), BlobDir: filepath.Join(t.TempDir(), "b")})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	svc := &Service{Store: st}
	recv := func(holder string, c store.Confidentiality) int64 {
		d, err := st.CreateDocument(ctx, store.NewDocument{Direction: store.Incoming, AgencyCode: "000.00.00.G01",
			HolderCode: docid.AgencyCode(holder), Summary: "đến " + holder + string(c), Confidentiality: c,
			Content: strings.NewReader(holder + string(c)), Actor: "x"})
		if err != nil {
			t.Fatal(err)
		}
		return d.ID
	}
	a, aSecret, b := recv(agency, store.Unclassified), recv(agency, store.Secret), recv("000.00.00.G22", store.Unclassified)
	pA := testClientOf(t, svc, "a", RoleClerk, []string{agency}, "")
	pAsecret := testClientOf(t, svc, "a-mat", RoleClerk, []string{agency}, "secret")
	pB := testClientOf(t, svc, "b", RoleClerk, []string{"000.00.00.G22"}, "top_secret")
	admin := testClientOf(t, svc, "root", RoleAdmin, nil, "")
	none := Principal{ID: "99", Name: "made before agencies", Role: RoleSystem}

	_, missing := svc.GetDocument(ctx, pA, 12345)
	for _, c := range []struct {
		name     string
		p        Principal
		sees     []int64
		incoming int64
	}{
		{"agency A", pA, []int64{a}, 1},
		{"agency A, cleared for secret", pAsecret, []int64{aSecret, a}, 2},
		{"agency B", pB, []int64{b}, 1},
		{"no agency", none, nil, 0},
		{"admin", admin, []int64{b, aSecret, a}, 3},
	} {
		docs, err := svc.SearchDocuments(ctx, c.p, DocumentQuery{})
		if err != nil {
			t.Fatal(err)
		}
		var got []int64
		for _, d := range docs {
			got = append(got, d.ID)
		}
		if len(got) != len(c.sees) || (len(got) > 0 && got[0] != c.sees[0]) {
			t.Errorf("%s searches %v, want %v", c.name, got, c.sees)
		}
		for _, id := range []int64{a, aSecret, b} {
			_, err := svc.GetDocument(ctx, c.p, id)
			seen := err == nil
			want := false
			for _, s := range c.sees {
				want = want || s == id
			}
			if seen != want {
				t.Errorf("%s reads %d: %v, want seen=%v", c.name, id, err, want)
			}
			if !seen && (fault.KindOf(err) != fault.NotFound || strings.Replace(fault.DetailOf(err), "document "+strconv.FormatInt(id, 10), "document N", 1) != strings.Replace(fault.DetailOf(missing), "12345", "N", 1)) {
				t.Errorf("%s reads %d: %q, unlike a missing document's %q", c.name, id, fault.DetailOf(err), fault.DetailOf(missing))
			}
		}
		stats, err := svc.Stats(ctx, c.p, YearPeriod(store.NumberingYear(svc.now())))
		if err != nil || stats.Incoming.Total != c.incoming {
			t.Errorf("%s counts %d incoming (%v), want %d", c.name, stats.Incoming.Total, err, c.incoming)
		}
		regs, err := svc.Registers(ctx, c.p, "", 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range regs {
			if !actsFor(c.p, r.AgencyCode) {
				t.Errorf("%s lists agency %s's register", c.name, r.AgencyCode)
			}
		}
	}
	evs, _ := st.AuditEvents(ctx, aSecret, 0)
	read := false
	for _, e := range evs {
		read = read || (e.Action == ActionRead && e.Actor == AuditActor(admin))
	}
	if !read {
		t.Error("the admin's read of the secret document is not audited")
	}
}

// TestServerKeyUseAudited: a server key signs only after the use is in the audit trail,
// naming the caller, the key, the digest and the surface — through SignPDF's callers
// and through Key (CSC signHash), where the caller is bound when the key is handed out.
func TestServerKeyUseAudited(t *testing.T) {
	ctx := context.Background()
	p := testpki.Committed(t)
	st, err := store.Open(ctx, store.Config{DSN: filepath.Join(t.TempDir(), "k.db"), BlobDir: filepath.Join(t.TempDir(), "b")})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	org, err := hsm.NewSoftwareDemoKey(p.Org.Key, append([]*x509.Certificate{p.Org.Cert}, p.Org.Chain...)...)
	if err != nil {
		t.Fatal(err)
	}
	svc := &Service{Store: st, Keys: map[string]*ServerKey{"org": {Name: "org", Key: org, URI: "pkcs11:token=org"}}}
	clerk := testClient(t, svc, "van-thu", RoleClerk)
	clerk.Surface = SurfaceCSC
	k, err := svc.Key(WithCaller(ctx, clerk), "org")
	if err != nil {
		t.Fatal(err)
	}
	digest := sha256.Sum256([]byte("một văn bản"))
	if _, err := k.SignContext(context.Background(), digest[:], crypto.SHA256); err != nil {
		t.Fatal(err)
	}
	evs, err := st.AuditEvents(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	last := evs[len(evs)-1]
	var d map[string]string
	_ = json.Unmarshal([]byte(last.Detail), &d)
	if last.Action != ActionKeyUse || last.Actor != AuditActor(clerk) || last.KeyURI != "pkcs11:token=org" ||
		d["surface"] != SurfaceCSC || d["client_id"] != clerk.ID || d["digest"] != hexOf(digest) || d["key"] != "org" {
		t.Errorf("key use audited as %+v", last)
	}
}
