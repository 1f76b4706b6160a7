package store

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kyso-vn/kyso/pkg/docid"
)

// TestCheckFindsRowTampering: each change an intruder makes to document and version
// rows with plain SQL, behind the store's back, is found by Check on both databases
// (before rows were chained, every one of these passed). Each case starts from a
// clean, checked store holding an issued document and a second draft.
func TestCheckFindsRowTampering(t *testing.T) {
	tests := []struct {
		name   string
		tamper func(s *Store, issued, draft *Document) string // raw SQL
		kind   string
	}{
		{"status changed", func(_ *Store, d, _ *Document) string {
			return "UPDATE documents SET status = 'draft' WHERE id = " + i64(d.ID)
		}, "row_changed"},
		{"number changed", func(_ *Store, d, _ *Document) string {
			return "UPDATE documents SET number = 7, reg_number = 7 WHERE id = " + i64(d.ID)
		}, "row_changed"},
		{"identifier changed", func(_ *Store, d, _ *Document) string {
			return "UPDATE documents SET identifier = '000.00.00.H43,2021/03/05,07/UBND-VP' WHERE id = " + i64(d.ID)
		}, "row_changed"},
		{"confidentiality lowered", func(_ *Store, d, _ *Document) string {
			return "UPDATE documents SET confidentiality = '' WHERE id = " + i64(d.ID)
		}, "row_changed"},
		{"version pointed at another document's blob", func(_ *Store, d, other *Document) string {
			return "UPDATE document_versions SET content_sha256 = '" + other.ContentSHA256 + "' WHERE document_id = " + i64(d.ID) + " AND seq = 3"
		}, "row_changed"},
		{"current content pointed at another blob", func(_ *Store, d, other *Document) string {
			return "UPDATE documents SET content_sha256 = '" + other.ContentSHA256 + "' WHERE id = " + i64(d.ID)
		}, "row_changed"},
		{"document row inserted", func(_ *Store, d, _ *Document) string {
			return "INSERT INTO documents (direction, status, agency_code, holder_code, created_at, updated_at) VALUES ('outgoing', 'issued', '000.00.00.H43', '000.00.00.H43', '2021-03-05 00:00:00', '2021-03-05 00:00:00')"
		}, "row_unsealed"},
		{"document row deleted", func(_ *Store, _, other *Document) string {
			return "DELETE FROM documents WHERE id = " + i64(other.ID)
		}, "row_missing"},
	}
	eachBackend(t, false, func(t *testing.T, cfg Config) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				c := cfg
				if c.Driver == DriverSQLite {
					c = backends[0].cfg(t)
				} else {
					c.DSN = freshPostgres(t)
				}
				s := openStore(t, c, newClock(t0))
				ctx := context.Background()
				issued, draft := issuedAndDraft(t, s)
				if rep, err := s.Check(ctx); err != nil || !rep.OK() {
					t.Fatalf("clean store: %v %v", rep.Problems, err)
				}
				if tt.name == "document row deleted" {
					// versions first, as the foreign key asks
					if err := s.DB().Exec("DELETE FROM document_versions WHERE document_id = ?", draft.ID).Error; err != nil {
						t.Fatal(err)
					}
				}
				if err := s.DB().Exec(tt.tamper(s, issued, draft)).Error; err != nil {
					t.Fatal(err)
				}
				rep, err := s.Check(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if rep.OK() || !hasProblem(rep, tt.kind) {
					t.Fatalf("after tampering: %v, want a %s", rep.Problems, tt.kind)
				}
				t.Logf("found: %v", rep.Problems)
			})
		}
	})
}

// TestCheckFindsTruncationAgainstExportedHead: the last audit events deleted and the
// head row moved back is a chain consistent in itself — Check alone passes — but a head
// exported before finds it, on both databases.
func TestCheckFindsTruncationAgainstExportedHead(t *testing.T) {
	eachBackend(t, false, func(t *testing.T, cfg Config) {
		s := openStore(t, cfg, newClock(t0))
		ctx := context.Background()
		issuedAndDraft(t, s)
		head, err := s.Head(ctx)
		if err != nil || head.LastID < 4 {
			t.Fatalf("head %+v %v", head, err)
		}
		keep := head.LastID - 2
		var keptHash string
		if err := s.DB().Raw("SELECT hash FROM audit_events WHERE id = ?", keep).Scan(&keptHash).Error; err != nil {
			t.Fatal(err)
		}
		for _, q := range []string{"DELETE FROM audit_events WHERE id > " + i64(keep),
			"UPDATE audit_head SET last_id = " + i64(keep) + ", last_hash = '" + keptHash + "' WHERE id = 1"} {
			if err := s.DB().Exec(q).Error; err != nil {
				t.Fatal(err)
			}
		}
		rep, err := s.Check(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range rep.Problems {
			if strings.HasPrefix(p.Kind, "audit_") {
				t.Fatalf("the cut chain is consistent in itself, yet Check says %v", p)
			}
		}
		if err := s.CheckAgainst(ctx, rep, head); err != nil {
			t.Fatal(err)
		}
		if !hasProblem(rep, "audit_truncated") {
			t.Fatalf("against the exported head: %v, want audit_truncated", rep.Problems)
		}
		// A head from the untouched chain matches it.
		clean := &CheckReport{}
		now, _ := s.Head(ctx)
		if err := s.CheckAgainst(ctx, clean, now); err != nil || !clean.OK() {
			t.Fatalf("the current head: %v %v", clean.Problems, err)
		}
	})
}

// TestOnlyDraftsTakeVersions: AddVersion refuses approved and issued documents; Extend
// adds validation data over any status but names its base.
func TestOnlyDraftsTakeVersions(t *testing.T) {
	eachBackend(t, false, func(t *testing.T, cfg Config) {
		s := openStore(t, cfg, newClock(t0))
		ctx := context.Background()
		issued, draft := issuedAndDraft(t, s)
		if _, err := s.AddVersion(ctx, issued.ID, VersionInput{Content: strings.NewReader("replaced text"), Actor: "clerk"}); !errors.Is(err, ErrConflict) {
			t.Errorf("a new version of an issued document: %v, want ErrConflict", err)
		}
		if _, err := s.AddVersion(ctx, draft.ID, VersionInput{Content: strings.NewReader("draft v2"), Actor: "clerk"}); err != nil {
			t.Errorf("a new version of a draft: %v", err)
		}
		if _, err := s.Extend(ctx, issued.ID, VersionInput{Content: strings.NewReader("issued + dss"), Actor: "kyso extend"}); err == nil {
			t.Error("an extension without its base was stored")
		}
		if _, err := s.Extend(ctx, issued.ID, VersionInput{Content: strings.NewReader("issued + dss"), Actor: "kyso extend", Base: issued.ContentSHA256}); err != nil {
			t.Errorf("extend: %v", err)
		}
		if rep, err := s.Check(ctx); err != nil || !rep.OK() {
			t.Errorf("after the workflow's own steps: %v %v", rep.Problems, err)
		}
	})
}

// issuedAndDraft stores a secret document issued through the workflow and a draft.
func issuedAndDraft(t *testing.T, s *Store) (*Document, *Document) {
	t.Helper()
	ctx := context.Background()
	d, err := s.CreateDocument(ctx, NewDocument{Direction: Outgoing, Summary: "Về việc mật", AgencyCode: "000.00.00.H43",
		Number: docid.NumberSymbol{Symbol: "UBND-VP"}, Confidentiality: Secret, Content: strings.NewReader("secret draft"), Actor: "drafter"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Approve(ctx, d.ID, VersionInput{Content: strings.NewReader("secret approved"), SignatureCount: 1, Actor: "leader", Base: d.ContentSHA256}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AssignNumber(ctx, d.ID, t0.Add(time.Hour), "clerk"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Issue(ctx, d.ID, VersionInput{Content: strings.NewReader("secret issued"), SignatureCount: 2, Actor: "clerk", Base: sha("secret approved")}); err != nil {
		t.Fatal(err)
	}
	other, err := s.CreateDocument(ctx, NewDocument{Direction: Outgoing, Summary: "Dự thảo khác", AgencyCode: "000.00.00.H43",
		Content: strings.NewReader("another draft"), Actor: "drafter"})
	if err != nil {
		t.Fatal(err)
	}
	issued, err := s.GetDocument(ctx, d.ID)
	if err != nil {
		t.Fatal(err)
	}
	return issued, other
}

func hasProblem(r *CheckReport, kind string) bool {
	for _, p := range r.Problems {
		if p.Kind == kind {
			return true
		}
	}
	return false
}

func i64(n int64) string { return strconv.FormatInt(n, 10) }
