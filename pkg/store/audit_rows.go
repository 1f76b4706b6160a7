package store

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"gorm.io/gorm"
)

// Document and version rows are part of the audit chain: every event that writes a
// document (create, receive, version, approve, number, issue, delete, seal) carries in
// its detail "row", the digest of the document row and all its version rows as they
// stand after the write (rowDigest), or "deleted". The chain makes the digest
// tamper-evident, so `kyso docs check` finds a status, number, identifier, register
// place, confidentiality or version pointer changed in the database behind the store's
// back: the row no longer hashes to the digest of its last event.

// ActionSeal is the audit action that seals rows written before rows were chained.
const ActionSeal = "seal"

// rowDigestDeleted is the row digest of a deleted document.
const rowDigestDeleted = "deleted"

// rowDigestOf is the digest of a document row and its versions (by seq): each field
// length-prefixed in a fixed order, so no two rows encode alike.
func rowDigestOf(d *Document, vs []Version) string {
	var buf []byte
	put := func(s string) {
		buf = binary.AppendUvarint(buf, uint64(len(s)))
		buf = append(buf, s...)
	}
	i64 := func(n int64) { put(strconv.FormatInt(n, 10)) }
	optI := func(p *int) {
		if p == nil {
			put("-")
		} else {
			i64(int64(*p))
		}
	}
	optT := func(t *time.Time) {
		if t == nil {
			put("-")
		} else {
			put(t.UTC().Truncate(time.Microsecond).Format(time.RFC3339Nano))
		}
	}
	put("kyso-row-v1")
	i64(d.ID)
	put(string(d.Direction))
	put(string(d.Status))
	put(d.Type)
	put(d.Summary)
	put(d.AgencyCode)
	put(d.HolderCode)
	i64(int64(d.Number))
	i64(int64(d.LegalYear))
	put(d.Symbol)
	if d.Identifier == nil {
		put("-")
	} else {
		put("=" + *d.Identifier)
	}
	if d.RegisterID == nil {
		put("-")
	} else {
		i64(*d.RegisterID)
	}
	optI(d.Year)
	optI(d.RegNumber)
	optT(d.IssuedAt)
	optT(d.ReceivedAt)
	put(string(d.Urgency))
	put(string(d.Confidentiality))
	i64(int64(d.CurrentVersion))
	put(d.ContentSHA256)
	i64(int64(len(vs)))
	for _, v := range vs {
		i64(v.ID)
		i64(v.DocumentID)
		i64(int64(v.Seq))
		put(v.SHA256)
		i64(v.Size)
		i64(int64(v.SignatureCount))
	}
	// The series (schema 5) is digested only when set, so rows of the main series
	// digest as they did before it existed.
	if d.Series != "" {
		put("series")
		put(d.Series)
	}
	sum := sha256.Sum256(buf)
	return hex.EncodeToString(sum[:])
}

// rowDigest reads document id and its versions in tx and digests them.
func rowDigest(tx *gorm.DB, id int64) (string, error) {
	var d Document
	if err := tx.Take(&d, id).Error; err != nil {
		return "", fmt.Errorf("store: row digest: %w", err)
	}
	var vs []Version
	if err := tx.Where("document_id = ?", id).Order("seq").Find(&vs).Error; err != nil {
		return "", fmt.Errorf("store: row digest: %w", err)
	}
	return rowDigestOf(&d, vs), nil
}

// withRow adds the row digest of document id, as it stands in tx, to an event detail.
func withRow(tx *gorm.DB, id int64, detail map[string]any) (map[string]any, error) {
	dg, err := rowDigest(tx, id)
	if err != nil {
		return nil, err
	}
	detail["row"] = dg
	return detail, nil
}

// sealAllDocuments appends one seal event per stored document, carrying its row
// digest: rows written before migration 3 are trusted as they stand at the upgrade.
func sealAllDocuments(tx *gorm.DB) error {
	var last int64
	for {
		var ids []int64
		if err := tx.Raw("SELECT id FROM documents WHERE id > ? ORDER BY id LIMIT 1000", last).Scan(&ids).Error; err != nil {
			return err
		}
		if len(ids) == 0 {
			return nil
		}
		for _, id := range ids {
			detail, err := withRow(tx, id, map[string]any{"reason": "rows chained from schema 3 on"})
			if err != nil {
				return err
			}
			if _, err := appendAuditAt(tx, dbTime(time.Now()), Event{Actor: "kyso migration 3", Action: ActionSeal, DocumentID: id, Detail: detail}); err != nil {
				return err
			}
			last = id
		}
	}
}

// rowOf reads the row digest an event's detail carries, if any.
func rowOf(e *AuditEvent) (string, bool) {
	if e.DocumentID == nil || !strings.Contains(e.Detail, `"row"`) {
		return "", false
	}
	var d struct {
		Row *string `json:"row"`
	}
	if json.Unmarshal([]byte(e.Detail), &d) != nil || d.Row == nil {
		return "", false
	}
	return *d.Row, true
}

// checkRows compares every document row (and its versions) with the digest of the
// last event about it, and finds documents the chain has but the table lost.
func (s *Store) checkRows(ctx context.Context, r *CheckReport, sealed map[int64]string) error {
	seen := make(map[int64]bool, len(sealed))
	var last int64
	for {
		var docs []Document
		if err := s.db.WithContext(ctx).Where("id > ?", last).Order("id").Limit(1000).Find(&docs).Error; err != nil {
			return fmt.Errorf("store: check rows: %w", err)
		}
		if len(docs) == 0 {
			break
		}
		ids := make([]int64, len(docs))
		for i := range docs {
			ids[i] = docs[i].ID
		}
		var vs []Version
		if err := s.db.WithContext(ctx).Where("document_id IN ?", ids).Order("document_id, seq").Find(&vs).Error; err != nil {
			return fmt.Errorf("store: check rows: %w", err)
		}
		byDoc := map[int64][]Version{}
		for _, v := range vs {
			byDoc[v.DocumentID] = append(byDoc[v.DocumentID], v)
		}
		for i := range docs {
			d := &docs[i]
			seen[d.ID] = true
			want, ok := sealed[d.ID]
			ref := strconv.FormatInt(d.ID, 10)
			switch {
			case !ok:
				r.Problems = append(r.Problems, Problem{Kind: "row_unsealed", Ref: ref,
					Detail: fmt.Sprintf("document %d has no event in the audit chain; it was written behind the store's back", d.ID)})
			case want == rowDigestDeleted:
				r.Problems = append(r.Problems, Problem{Kind: "row_changed", Ref: ref,
					Detail: fmt.Sprintf("document %d was deleted, yet its row is back", d.ID)})
			case rowDigestOf(d, byDoc[d.ID]) != want:
				r.Problems = append(r.Problems, Problem{Kind: "row_changed", Ref: ref,
					Detail: fmt.Sprintf("document %d (status %s, number %d, identifier %s) or one of its versions differs from what the audit chain recorded", d.ID, d.Status, d.Number, deref(d.Identifier))})
			}
			last = d.ID
		}
	}
	for id, want := range sealed {
		if !seen[id] && want != rowDigestDeleted {
			r.Problems = append(r.Problems, Problem{Kind: "row_missing", Ref: strconv.FormatInt(id, 10),
				Detail: fmt.Sprintf("document %d is in the audit chain but its row is gone", id)})
		}
	}
	return nil
}

// AuditHead is the end of the audit chain: the last event's id and hash. Kept outside
// the database (`kyso docs check --export-head`, the server's log), it finds a chain
// cut back together with its head row.
type AuditHead struct {
	LastID   int64  `json:"last_id"`
	LastHash string `json:"last_hash"`
	At       string `json:"at,omitempty"`
}

// Head reads the audit chain's head row.
func (s *Store) Head(ctx context.Context) (AuditHead, error) {
	var h AuditHead
	if err := s.db.WithContext(ctx).Raw("SELECT last_id, last_hash FROM audit_head WHERE id = 1").Scan(&h).Error; err != nil {
		return h, fmt.Errorf("store: audit head: %w", err)
	}
	h.At = s.now().Format(time.RFC3339)
	return h, nil
}

// CheckAgainst reports a problem when the chain no longer holds the event an exported
// head named with the hash it had: the chain was cut back (or rewritten) since.
func (s *Store) CheckAgainst(ctx context.Context, r *CheckReport, h AuditHead) error {
	if h.LastID == 0 {
		return nil
	}
	var e AuditEvent
	err := s.db.WithContext(ctx).Where("id = ?", h.LastID).Limit(1).Find(&e).Error
	if err != nil {
		return fmt.Errorf("store: check head: %w", err)
	}
	switch {
	case e.ID == 0:
		r.Problems = append(r.Problems, Problem{Kind: "audit_truncated", Ref: strconv.FormatInt(h.LastID, 10),
			Detail: fmt.Sprintf("the exported head names event %d, which the chain no longer holds: events were removed", h.LastID)})
	case e.Hash != h.LastHash:
		r.Problems = append(r.Problems, Problem{Kind: "audit_rewritten", Ref: strconv.FormatInt(h.LastID, 10),
			Detail: fmt.Sprintf("event %d hashes differently from the exported head: the chain was rewritten", h.LastID)})
	}
	return nil
}
