package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/kyso-vn/kyso/pkg/fault"
	"gorm.io/gorm"
)

// Event is what a caller records in the audit trail; the store adds the id, the time
// and the chain hashes.
type Event struct {
	Actor        string // principal: user, API client, "cli"
	Action       string // Action* constants
	DocumentID   int64  // 0 when the event is not about one document
	DocumentHash string // sha256 hex of the content concerned
	KeyURI       string // the key used, without PIN
	Detail       any    // anything JSON-encodable; stored canonically
}

// Audit appends one event in its own transaction. Events about a document change are
// appended by the store itself, in the same transaction as the change.
func (s *Store) Audit(ctx context.Context, ev Event) (*AuditEvent, error) {
	var out *AuditEvent
	err := s.write(ctx, func(tx *gorm.DB) error {
		var err error
		out, err = s.appendAudit(tx, ev)
		return err
	})
	return out, err
}

// appendAudit takes the next id from the audit_head row: the UPDATE locks that row
// until the transaction ends, so appends from every process and replica form one
// sequence with no gap and no fork.
func (s *Store) appendAudit(tx *gorm.DB, ev Event) (*AuditEvent, error) {
	return appendAuditAt(tx, s.now(), ev)
}

// appendAuditAt is appendAudit at a given time, for migrations, which have no store.
func appendAuditAt(tx *gorm.DB, at time.Time, ev Event) (*AuditEvent, error) {
	if ev.Actor == "" || ev.Action == "" {
		return nil, fault.Errorf(fault.Invalid, "audit event needs an actor and an action")
	}
	detail, err := canonicalJSON(ev.Detail)
	if err != nil {
		return nil, fault.Errorf(fault.Invalid, "audit detail: %v", err)
	}
	var head struct {
		LastID   int64
		LastHash string
	}
	if err := tx.Raw("UPDATE audit_head SET last_id = last_id + 1 WHERE id = 1 RETURNING last_id, last_hash").Scan(&head).Error; err != nil {
		return nil, fmt.Errorf("store: audit head: %w", err)
	}
	if head.LastID == 0 {
		return nil, fmt.Errorf("store: audit head row is missing")
	}
	e := &AuditEvent{
		ID:           head.LastID,
		At:           at,
		Actor:        ev.Actor,
		Action:       ev.Action,
		DocumentHash: ev.DocumentHash,
		KeyURI:       ev.KeyURI,
		Detail:       detail,
		PrevHash:     head.LastHash,
	}
	if ev.DocumentID != 0 {
		id := ev.DocumentID
		e.DocumentID = &id
	}
	e.Hash = eventHash(e)
	if err := tx.Create(e).Error; err != nil {
		return nil, fmt.Errorf("store: append audit event: %w", err)
	}
	if err := tx.Exec("UPDATE audit_head SET last_hash = ? WHERE id = 1", e.Hash).Error; err != nil {
		return nil, fmt.Errorf("store: audit head: %w", err)
	}
	return e, nil
}

// canonicalJSON re-encodes v with sorted object keys and numbers kept as written, so
// the same detail always hashes the same.
func canonicalJSON(v any) (string, error) {
	if v == nil {
		return "{}", nil
	}
	var raw []byte
	switch x := v.(type) {
	case json.RawMessage:
		raw = x
	case string:
		raw = []byte(x)
	default:
		b, err := json.Marshal(v)
		if err != nil {
			return "", err
		}
		raw = b
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var generic any
	if err := dec.Decode(&generic); err != nil {
		return "", err
	}
	if dec.More() {
		return "", fmt.Errorf("trailing data after JSON value")
	}
	b, err := json.Marshal(generic)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// eventHash is sha256(previous hash || encoding of this event), the encoding being each
// field length-prefixed in a fixed order, so no two events encode alike.
func eventHash(e *AuditEvent) string {
	prev, _ := hex.DecodeString(e.PrevHash)
	h := sha256.New()
	h.Write(prev)
	var buf []byte
	put := func(s string) {
		buf = binary.AppendUvarint(buf, uint64(len(s)))
		buf = append(buf, s...)
	}
	put("kyso-audit-v1")
	put(strconv.FormatInt(e.ID, 10))
	put(e.At.UTC().Format(time.RFC3339Nano))
	put(e.Actor)
	put(e.Action)
	if e.DocumentID != nil {
		put(strconv.FormatInt(*e.DocumentID, 10))
	} else {
		put("")
	}
	put(e.DocumentHash)
	put(e.KeyURI)
	put(e.Detail)
	h.Write(buf)
	return hex.EncodeToString(h.Sum(nil))
}

// AuditEvents lists events about one document (0: all), oldest first.
func (s *Store) AuditEvents(ctx context.Context, documentID int64, limit int) ([]AuditEvent, error) {
	q := s.db.WithContext(ctx).Order("id")
	if documentID != 0 {
		q = q.Where("document_id = ?", documentID)
	}
	if limit > 0 {
		q = q.Limit(limit)
	}
	var out []AuditEvent
	if err := q.Find(&out).Error; err != nil {
		return nil, fmt.Errorf("store: audit events: %w", err)
	}
	return out, nil
}
