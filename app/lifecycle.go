package app

import (
	"context"
	"strings"
	"time"

	"github.com/kyso-vn/kyso/pkg/fault"
	"github.com/kyso-vn/kyso/pkg/store"
)

// The later life of a document (Decree 30/2020), as its agency's people decide it:
//
//   - Return to draft ("trả lại dự thảo"): the leader or the clerk of the document's
//     agency sends an approved document back, with a reason. The approval no longer
//     counts: the draft's current version becomes again the content the leader
//     approved over (the signed version stays in the history), so issuing needs a new
//     approval, of that draft or of a later version of it. Only approved documents
//     return (Kyso has no other "waiting to be issued" state; a prepared issue
//     signature over the approved version can no longer complete, as its base is gone).
//   - Recall ("thu hồi") of an issued document, with the reason and the reference of
//     the recalling decision; replacement ("thay thế") by a later issued document of
//     the same agency, linked both ways. The issued document stays issued, numbered and
//     stored: the register, the document's record and the public lookup show it
//     recalled or replaced.
//
// Each is the leader's or the clerk's of the issuing agency (not a system's, not an
// admin's: people of the agency decide its documents), audited with who and why.

// LifecycleRequest is a return to draft, a recall or a replacement.
type LifecycleRequest struct {
	Reason string `json:"reason"`
	// Decision references the decision that recalls or replaces (recall, replace).
	Decision string `json:"decision,omitempty"`
	// ReplacedBy is the id of the issued document that replaces this one (replace).
	ReplacedBy int64 `json:"replaced_by,omitempty"`
	// Actor names the person in the audit trail (default AuditActor of the caller).
	Actor string `json:"-"`
}

// WithdrawalRecord says that an issued document was recalled or replaced.
type WithdrawalRecord struct {
	Kind     string `json:"kind"` // recalled, replaced
	Reason   string `json:"reason"`
	Decision string `json:"decision,omitempty"`
	// ReplacedBy and ReplacedByIdentifier name the replacing document.
	ReplacedBy           int64     `json:"replaced_by,omitempty"`
	ReplacedByIdentifier string    `json:"replaced_by_identifier,omitempty"`
	ReplacedByNumber     string    `json:"replaced_by_number,omitempty"`
	At                   time.Time `json:"at"`
}

// maxReasonBytes bounds a reason or a decision reference (they are shown on the public
// lookup page and kept in the audit trail).
const maxReasonBytes = 2000

// mayDecide refuses p deciding the later life of document d: only a leader or a clerk
// acting for its issuing agency, with a reason.
func mayDecide(p Principal, d *store.Document, what string, req LifecycleRequest) error {
	if p.Role != RoleLeader && p.Role != RoleClerk {
		return fault.Errorf(fault.Forbidden, "%s is for a leader or a clerk of the issuing agency; you are %s", what, describeRole(p.Role))
	}
	if !actsFor(p, d.AgencyCode) {
		return fault.Errorf(fault.Forbidden, "you do not act for agency %s", d.AgencyCode)
	}
	if strings.TrimSpace(req.Reason) == "" {
		return fault.Errorf(fault.Invalid, "%s needs a reason", what)
	}
	if len(req.Reason) > maxReasonBytes || len(req.Decision) > maxReasonBytes {
		return fault.Errorf(fault.Invalid, "a reason or a decision is at most %d bytes", maxReasonBytes)
	}
	return nil
}

func (r LifecycleRequest) actor(p Principal) string {
	if r.Actor != "" {
		return r.Actor
	}
	return AuditActor(p)
}

// ReturnToDraft sends approved document id back to draft (see the top of this file).
func (s *Service) ReturnToDraft(ctx context.Context, p Principal, id int64, req LifecycleRequest) (DocumentRecord, error) {
	d, err := s.readDocument(ctx, p, id, "")
	if err != nil {
		return DocumentRecord{}, err
	}
	if err := mayDecide(p, d, "returning a document to draft", req); err != nil {
		return DocumentRecord{}, err
	}
	if d.Status != store.StatusApproved {
		return DocumentRecord{}, fault.Errorf(fault.Conflict, "document %d is %s; only an approved document is returned to draft (an issued one is recalled or replaced)", d.ID, d.Status)
	}
	if _, err := s.Store.ReturnToDraft(ctx, id, req.Reason, req.actor(p)); err != nil {
		return DocumentRecord{}, err
	}
	return s.record(ctx, id)
}

// Recall recalls issued document id.
func (s *Service) Recall(ctx context.Context, p Principal, id int64, req LifecycleRequest) (DocumentRecord, error) {
	d, err := s.readDocument(ctx, p, id, "")
	if err != nil {
		return DocumentRecord{}, err
	}
	if err := mayDecide(p, d, "recalling a document", req); err != nil {
		return DocumentRecord{}, err
	}
	if _, err := s.Store.Recall(ctx, id, req.Reason, req.Decision, req.actor(p)); err != nil {
		return DocumentRecord{}, err
	}
	return s.record(ctx, id)
}

// Replace records that issued document id is replaced by issued document
// req.ReplacedBy, which p must see too.
func (s *Service) Replace(ctx context.Context, p Principal, id int64, req LifecycleRequest) (DocumentRecord, error) {
	if req.ReplacedBy == 0 {
		return DocumentRecord{}, fault.New(fault.Invalid, "name the issued document that replaces it (replaced_by)")
	}
	d, err := s.readDocument(ctx, p, id, "")
	if err != nil {
		return DocumentRecord{}, err
	}
	if err := mayDecide(p, d, "replacing a document", req); err != nil {
		return DocumentRecord{}, err
	}
	if _, err := s.readDocument(ctx, p, req.ReplacedBy, ""); err != nil {
		return DocumentRecord{}, err
	}
	if _, err := s.Store.Replace(ctx, id, req.ReplacedBy, req.Reason, req.Decision, req.actor(p)); err != nil {
		return DocumentRecord{}, err
	}
	return s.record(ctx, id)
}

// withLifecycle adds to records what became of them later: recalled or replaced, and
// the documents each replaced.
func (s *Service) withLifecycle(ctx context.Context, recs []DocumentRecord) error {
	ids := make([]int64, 0, len(recs))
	for _, r := range recs {
		if r.Status == string(store.StatusIssued) {
			ids = append(ids, r.ID)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	ws, err := s.Store.Withdrawals(ctx, ids...)
	if err != nil {
		return err
	}
	for i := range recs {
		if w, ok := ws[recs[i].ID]; ok {
			wr, err := s.withdrawalRecord(ctx, w)
			if err != nil {
				return err
			}
			recs[i].Withdrawn = &wr
		}
	}
	if len(recs) == 1 && recs[0].Status == string(store.StatusIssued) {
		if recs[0].Replaces, err = s.Store.Replaces(ctx, recs[0].ID); err != nil {
			return err
		}
	}
	return nil
}

func (s *Service) withdrawalRecord(ctx context.Context, w store.Withdrawal) (WithdrawalRecord, error) {
	wr := WithdrawalRecord{Kind: w.Kind, Reason: w.Reason, Decision: w.Decision, At: w.At.UTC()}
	if w.ReplacedBy != nil {
		wr.ReplacedBy = *w.ReplacedBy
		nd, err := s.Store.GetDocument(ctx, *w.ReplacedBy)
		if err != nil {
			return wr, err
		}
		if nd.Identifier != nil {
			wr.ReplacedByIdentifier = *nd.Identifier
		}
		wr.ReplacedByNumber = nd.NumberSymbol().String()
	}
	return wr, nil
}
