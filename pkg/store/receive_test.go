package store

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// TestReceiveOnce: an agency registers the same content, or the same identifier,
// once; the refusal names the first registration. A returned document takes no
// number and blocks nothing: the corrected copy, or the same one accepted knowingly,
// is registered after it. Another agency receives the same file on its own.
func TestReceiveOnce(t *testing.T) {
	eachBackend(t, false, func(t *testing.T, cfg Config) {
		ctx := context.Background()
		s := openStore(t, cfg, newClock(t0))
		in := func(status Status, holder, content, identifier string) (*Document, error) {
			return s.CreateDocument(ctx, NewDocument{Direction: Incoming, Status: status, AgencyCode: "000.00.00.G22", HolderCode: "000.00.00.H43",
				Identifier: identifier, Content: strings.NewReader(content), Actor: "văn thư",
				Verdict: Verdict{Indication: "TOTAL_FAILED", SubIndication: "HASH_FAILURE", Reason: "changed"}})
		}
		const id = "000.00.00.G22,2021/03/01,15/VPCP-TTĐT"
		r, err := in(StatusReturned, "000.00.00.H43", "tampered", id)
		if err != nil || r.RegNumber != nil || r.Status != StatusReturned || r.Verdict != "TOTAL_FAILED" || r.VerdictReason != "changed" {
			t.Fatalf("returned: %+v %v", r, err)
		}
		if evs, _ := s.AuditEvents(ctx, r.ID, 0); len(evs) != 1 || evs[0].Action != ActionReturn || !strings.Contains(evs[0].Detail, "TOTAL_FAILED/HASH_FAILURE") {
			t.Errorf("audit of the return: %+v", evs)
		}
		d, err := in(StatusReceived, "000.00.00.H43", "tampered", id)
		if err != nil || d.RegNumber == nil || *d.RegNumber != 1 {
			t.Fatalf("registered after its return: %+v %v", d, err)
		}
		for name, c := range map[string][2]string{"same content": {"tampered", ""}, "same identifier": {"other", id}} {
			_, err := in(StatusReceived, "000.00.00.H43", c[0], c[1])
			if !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), "document 2,") || !strings.Contains(err.Error(), "arrival number 1/2021") {
				t.Errorf("%s again: %v", name, err)
			}
		}
		other, err := s.CreateDocument(ctx, NewDocument{Direction: Incoming, AgencyCode: "000.00.00.G22", HolderCode: "000.00.00.H41",
			Identifier: id, Content: strings.NewReader("tampered"), Actor: "văn thư"})
		if err != nil || other.RegNumber == nil {
			t.Errorf("another agency: %+v %v", other, err)
		}
		// the same new file at once from several replicas: one registration, the
		// others told which
		errs := make(chan error, 4)
		for range 4 {
			go func() {
				_, err := in(StatusReceived, "000.00.00.H43", "sent four times", "")
				errs <- err
			}()
		}
		ok := 0
		for range 4 {
			switch err := <-errs; {
			case err == nil:
				ok++
			case !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), "already registered by 000.00.00.H43: document"):
				t.Errorf("concurrent copy: %v", err)
			}
		}
		if ok != 1 {
			t.Errorf("%d registrations of one file, want 1", ok)
		}
		if rep, err := s.Check(ctx); err != nil || !rep.OK() {
			t.Errorf("check: %v %v", rep.Problems, err)
		}
	})
}

// TestMigration4: a store of schema 3 that registered one file twice (before
// receiving checked it) upgrades: the first registration keeps the receipt hash, the
// copy none, and every document's verdict comes from its current version's summary.
func TestMigration4(t *testing.T) {
	eachBackend(t, false, func(t *testing.T, cfg Config) {
		ctx := context.Background()
		s := openStore(t, cfg, newClock(t0))
		sum, _ := json.Marshal(map[string]any{"indication": "TOTAL_PASSED", "signatures": []any{}})
		first, err := s.CreateDocument(ctx, NewDocument{Direction: Incoming, AgencyCode: "000.00.00.G22", HolderCode: "000.00.00.H43",
			Content: strings.NewReader("same file"), Signatures: sum, Actor: "văn thư"})
		if err != nil {
			t.Fatal(err)
		}
		// the copy as an older build stored it, and back to schema 3
		for _, q := range []string{
			"INSERT INTO documents (direction, status, agency_code, holder_code, current_version, content_sha256, created_at, updated_at) " +
				"SELECT direction, status, agency_code, holder_code, current_version, content_sha256, created_at, updated_at FROM documents WHERE id = " + i64(first.ID),
			"INSERT INTO document_versions (document_id, seq, content_sha256, size, signatures, created_at) " +
				"SELECT (SELECT MAX(id) FROM documents), seq, content_sha256, size, signatures, created_at FROM document_versions WHERE document_id = " + i64(first.ID),
			"DROP INDEX documents_receipt", "DROP INDEX documents_identifier",
			"ALTER TABLE documents DROP COLUMN verdict", "ALTER TABLE documents DROP COLUMN verdict_sub",
			"ALTER TABLE documents DROP COLUMN verdict_reason", "ALTER TABLE documents DROP COLUMN receipt_sha256",
			"CREATE UNIQUE INDEX documents_identifier ON documents (identifier, holder_code)",
			"DELETE FROM schema_migrations WHERE version = 4",
		} {
			if err := s.DB().Exec(q).Error; err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		s.Close()
		s = openStore(t, cfg, newClock(t0))
		var docs []Document
		if err := s.DB().Order("id").Find(&docs).Error; err != nil || len(docs) != 2 {
			t.Fatalf("%d documents, %v", len(docs), err)
		}
		if docs[0].ReceiptSHA256 == nil || docs[1].ReceiptSHA256 != nil || docs[0].Verdict != "TOTAL_PASSED" || docs[1].Verdict != "TOTAL_PASSED" {
			t.Errorf("after the upgrade: %+v / %+v", docs[0], docs[1])
		}
		_, err = s.CreateDocument(ctx, NewDocument{Direction: Incoming, AgencyCode: "000.00.00.G22", HolderCode: "000.00.00.H43",
			Content: strings.NewReader("same file"), Actor: "văn thư"})
		if !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), "document "+i64(docs[0].ID)+",") {
			t.Errorf("the file a third time: %v", err)
		}
	})
}
