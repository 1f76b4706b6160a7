package app

import (
	"context"
	"encoding/json"
	"time"

	"github.com/kyso-vn/kyso/pkg/store"
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

// verificationOf is the verdict recorded when an incoming document was received: the
// summary stored with its latest version that has one; nil when none was recorded.
func verificationOf(vs []store.Version) *Verification {
	for i := len(vs) - 1; i >= 0; i-- {
		if vs[i].Signatures == "" {
			continue
		}
		var sum sigSummary
		if err := json.Unmarshal([]byte(vs[i].Signatures), &sum); err != nil || sum.Indication == "" {
			continue
		}
		v := &Verification{Indication: sum.Indication, Signatures: []SignatureVerification{}}
		for _, sg := range sum.Signatures {
			v.Signatures = append(v.Signatures, SignatureVerification{Field: sg.Field, Signer: sg.Signer, Indication: sg.Indication, Level: sg.Level})
		}
		return v
	}
	return nil
}

// withVerdicts adds to the incoming documents among recs the verdict recorded when
// they were received, so that a list of received documents shows it.
func (s *Service) withVerdicts(ctx context.Context, recs []DocumentRecord) error {
	for i := range recs {
		if recs[i].Direction != string(store.Incoming) || recs[i].Verification != nil {
			continue
		}
		vs, err := s.Store.Versions(ctx, recs[i].ID)
		if err != nil {
			return err
		}
		recs[i].Verification = verificationOf(vs)
	}
	return nil
}
