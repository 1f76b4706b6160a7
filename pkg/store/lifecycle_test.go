package store

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/kyso-vn/kyso/pkg/docid"
)

// TestLifecycle: on every backend, an approved document returns to draft as a new
// version holding the content approved over (the signed one kept), only once
// approved; issued documents are recalled or replaced once, by an issued document of
// their agency, the link reads both ways, and docs check stays clean.
func TestLifecycle(t *testing.T) {
	eachBackend(t, false, func(t *testing.T, cfg Config) {
		ctx := context.Background()
		s := openStore(t, cfg, newClock(t0))
		issued := func(body string) *Document {
			d, err := s.CreateDocument(ctx, NewDocument{Direction: Outgoing, AgencyCode: "000.00.00.H43", Number: docid.NumberSymbol{Symbol: "UBND-VP"},
				Content: strings.NewReader(body), Actor: "drafter"})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.ReturnToDraft(ctx, d.ID, "x", "clerk"); !errors.Is(err, ErrConflict) {
				t.Errorf("returning a draft: %v", err)
			}
			if _, err := s.Approve(ctx, d.ID, VersionInput{Content: strings.NewReader(body + " signed"), SignatureCount: 1, Actor: "leader"}); err != nil {
				t.Fatal(err)
			}
			if _, err := s.ReturnToDraft(ctx, d.ID, "  ", "clerk"); !errors.Is(err, ErrInvalid) {
				t.Errorf("no reason: %v", err)
			}
			back, err := s.ReturnToDraft(ctx, d.ID, "Sửa lại", "clerk")
			if err != nil || back.Status != StatusDraft || back.CurrentVersion != 3 || back.ContentSHA256 != sha(body) {
				t.Fatalf("returned: %+v %v", back, err)
			}
			if _, err := s.Approve(ctx, d.ID, VersionInput{Content: strings.NewReader(body + " signed again"), SignatureCount: 1, Actor: "leader"}); err != nil {
				t.Fatal(err)
			}
			if _, err := s.AssignNumber(ctx, d.ID, t0, "clerk"); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Issue(ctx, d.ID, VersionInput{Content: strings.NewReader(body + " issued"), SignatureCount: 2, Actor: "clerk"}); err != nil {
				t.Fatal(err)
			}
			vs, _ := s.Versions(ctx, d.ID)
			if len(vs) != 5 || vs[1].SHA256 != sha(body+" signed") {
				t.Errorf("versions: %+v", vs)
			}
			d, _ = s.GetDocument(ctx, d.ID)
			return d
		}
		a, b := issued("a"), issued("b")
		if _, err := s.ReturnToDraft(ctx, a.ID, "x", "clerk"); !errors.Is(err, ErrConflict) {
			t.Errorf("returning an issued document: %v", err)
		}
		if _, err := s.Replace(ctx, a.ID, a.ID, "x", "", "clerk"); !errors.Is(err, ErrInvalid) {
			t.Errorf("replaced by itself: %v", err)
		}
		w, err := s.Replace(ctx, a.ID, b.ID, "Thay đổi", "Văn bản số 02/UBND-VP", "clerk")
		if err != nil || w.Kind != WithdrawReplaced || *w.ReplacedBy != b.ID {
			t.Fatalf("replace: %+v %v", w, err)
		}
		if _, err := s.Recall(ctx, a.ID, "x", "", "clerk"); !errors.Is(err, ErrConflict) {
			t.Errorf("recalling a replaced document: %v", err)
		}
		if _, err := s.Recall(ctx, b.ID, "Sai thẩm quyền", "QĐ 12", "leader"); err != nil {
			t.Fatal(err)
		}
		ws, err := s.Withdrawals(ctx, a.ID, b.ID)
		if err != nil || ws[a.ID].Kind != WithdrawReplaced || ws[b.ID].Kind != WithdrawRecalled || ws[b.ID].Decision != "QĐ 12" {
			t.Errorf("withdrawals: %+v %v", ws, err)
		}
		if r, err := s.Replaces(ctx, b.ID); err != nil || len(r) != 1 || r[0] != a.ID {
			t.Errorf("replaces: %v %v", r, err)
		}
		if d, _ := s.GetDocument(ctx, a.ID); d.Status != StatusIssued {
			t.Errorf("a replaced document is %s", d.Status)
		}
		rep, err := s.Check(ctx)
		if err != nil || !rep.OK() {
			t.Fatalf("check: %+v %v", rep, err)
		}
	})
}
