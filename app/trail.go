package app

import (
	"context"
	"time"
)

// AuditRecord is one line of a document's audit trail ("nhật ký"), as the office
// pages show it: when, who, what. The event's detail stays in the store: it names
// digests and key URIs a reader of the document has no need for.
type AuditRecord struct {
	At     time.Time `json:"at"`
	Actor  string    `json:"actor"`
	Action string    `json:"action"`
}

// maxTrail bounds the events one page shows of a document's trail.
const maxTrail = 500

// DocumentAudit is the audit trail of document id, oldest first, for whoever may read
// the document; for anyone else it is the same NotFound as a document that does not
// exist.
func (s *Service) DocumentAudit(ctx context.Context, p Principal, id int64) ([]AuditRecord, error) {
	if _, err := s.readDocument(ctx, p, id, "audit trail"); err != nil {
		return nil, err
	}
	evs, err := s.Store.AuditEvents(ctx, id, maxTrail)
	if err != nil {
		return nil, err
	}
	out := make([]AuditRecord, len(evs))
	for i, e := range evs {
		out[i] = AuditRecord{At: e.At.UTC(), Actor: e.Actor, Action: e.Action}
	}
	return out, nil
}
