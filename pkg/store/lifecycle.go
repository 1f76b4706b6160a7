package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/kyso-vn/kyso/pkg/fault"
)

// The later life of a document (Decree 30/2020): an approved draft sent back to be
// drafted again ("trả lại dự thảo"), and an issued document recalled ("thu hồi") or
// replaced by a later one ("thay thế"). Nothing is deleted: returning to draft adds a
// version, and a recall or a replacement is a row of document_withdrawals next to the
// issued document, which stays issued, in its register, with its number. Each is one
// transaction with its audit event.

// Audit actions of the document's later life.
const (
	ActionReturnToDraft = "return_to_draft"
	ActionRecall        = "recall"
	ActionReplace       = "replace"
)

// Kinds of withdrawal.
const (
	WithdrawRecalled = "recalled" // thu hồi
	WithdrawReplaced = "replaced" // thay thế
)

// Withdrawal is the recall or the replacement of an issued document.
type Withdrawal struct {
	DocumentID int64 `gorm:"primaryKey;autoIncrement:false"`
	Kind       string
	Reason     string
	// Decision names the decision that recalls or replaces it, e.g. "Quyết định số
	// 12/QĐ-UBND ngày 05/03/2026".
	Decision   string
	ReplacedBy *int64
	At         time.Time
	Actor      string
}

func (Withdrawal) TableName() string { return "document_withdrawals" }

// ReturnToDraft sends an approved document back to draft: its approval no longer
// counts. The content the leader approved stays as a version of the history, and the
// draft's current version becomes, as a new version, the content the approval was made
// over, so that a new approval starts from the draft and issuing needs it. Only an
// approved document returns (an issued one is recalled or replaced instead); a
// signature request still open over it is cancelled and the number an issue reserved
// is voided ("số bị hủy"), with the reason.
func (s *Store) ReturnToDraft(ctx context.Context, id int64, reason, actor string) (*Document, error) {
	reason = strings.TrimSpace(reason)
	if reason == "" || actor == "" {
		return nil, fault.Errorf(fault.Invalid, "returning a document to draft needs a reason and an actor")
	}
	var out Document
	err := s.write(ctx, func(tx *gorm.DB) error {
		var d Document
		if err := lockDocument(tx, &d, id); err != nil {
			return err
		}
		if d.Status != StatusApproved {
			return fault.Errorf(fault.Conflict, "document %d is %s; only an approved document is returned to draft", d.ID, d.Status)
		}
		approved, err := approvalVersion(tx, d.ID)
		if err != nil {
			return err
		}
		var before Version
		if err := tx.Where("document_id = ? AND seq = ?", d.ID, approved-1).Take(&before).Error; err != nil {
			return fmt.Errorf("store: document %d: the version before approval %d: %w", d.ID, approved, err)
		}
		now := s.now()
		v := Version{DocumentID: d.ID, Seq: d.CurrentVersion + 1, SHA256: before.SHA256, Size: before.Size, Filename: before.Filename,
			MediaType: before.MediaType, Signatures: before.Signatures, SignatureCount: before.SignatureCount, CreatedBy: actor, CreatedAt: now}
		if err := tx.Create(&v).Error; err != nil {
			return fmt.Errorf("store: insert version: %w", err)
		}
		d.Status, d.CurrentVersion, d.ContentSHA256, d.UpdatedAt = StatusDraft, v.Seq, v.SHA256, now
		if err := tx.Save(&d).Error; err != nil {
			return fmt.Errorf("store: update document: %w", err)
		}
		// An issue still waiting over the approved version (prepared for the clerk's
		// token) ends with it, and the number it reserved is voided, with the reason.
		var live []PendingSignature
		if err := tx.Select("id", "status").Where("document_id = ? AND status NOT IN ?", d.ID, append(endedStatuses(), "completing")).Find(&live).Error; err != nil {
			return fmt.Errorf("store: pending signatures: %w", err)
		}
		for _, p := range live {
			if err := updatePending(tx, now, p.ID, p.Status, PendingCancelled, nil); err != nil {
				return err
			}
		}
		if err := s.releaseTx(tx, now, d.ID, "", "the document was returned to draft: "+reason, actor); err != nil {
			return err
		}
		detail, err := withRow(tx, d.ID, map[string]any{"reason": reason, "version": v.Seq, "approved_version": approved, "from_version": before.Seq})
		if err != nil {
			return err
		}
		if _, err := s.appendAudit(tx, Event{Actor: actor, Action: ActionReturnToDraft, DocumentID: d.ID, DocumentHash: v.SHA256, Detail: detail}); err != nil {
			return err
		}
		out = d
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// approvalVersion is the version the last approval of document id stored, from its
// audit event.
func approvalVersion(tx *gorm.DB, id int64) (int, error) {
	var ev AuditEvent
	err := tx.Where("document_id = ? AND action = ?", id, ActionApprove).Order("id DESC").Take(&ev).Error
	if err != nil {
		return 0, fmt.Errorf("store: document %d: no approval event: %w", id, err)
	}
	var detail struct {
		Version int `json:"version"`
	}
	if err := json.Unmarshal([]byte(ev.Detail), &detail); err != nil || detail.Version < 2 {
		return 0, fmt.Errorf("store: document %d: approval event %d names no version after the draft", id, ev.ID)
	}
	return detail.Version, nil
}

// Recall records that issued document id is recalled, with the reason and the
// decision that recalls it.
func (s *Store) Recall(ctx context.Context, id int64, reason, decision, actor string) (*Withdrawal, error) {
	return s.withdraw(ctx, id, nil, reason, decision, actor)
}

// Replace records that issued document id is replaced by issued document by, of the
// same issuing agency. The link reads both ways (Withdrawal.ReplacedBy, Replaces).
func (s *Store) Replace(ctx context.Context, id, by int64, reason, decision, actor string) (*Withdrawal, error) {
	if by == id {
		return nil, fault.Errorf(fault.Invalid, "document %d cannot replace itself", id)
	}
	return s.withdraw(ctx, id, &by, reason, decision, actor)
}

func (s *Store) withdraw(ctx context.Context, id int64, by *int64, reason, decision, actor string) (*Withdrawal, error) {
	reason, decision = strings.TrimSpace(reason), strings.TrimSpace(decision)
	if reason == "" || actor == "" {
		return nil, fault.Errorf(fault.Invalid, "a recall or a replacement needs a reason and an actor")
	}
	w := Withdrawal{DocumentID: id, Kind: WithdrawRecalled, Reason: reason, Decision: decision, ReplacedBy: by, Actor: actor}
	action := ActionRecall
	if by != nil {
		w.Kind, action = WithdrawReplaced, ActionReplace
	}
	err := s.write(ctx, func(tx *gorm.DB) error {
		var d Document
		if err := lockDocument(tx, &d, id); err != nil {
			return err
		}
		if d.Direction != Outgoing || d.Status != StatusIssued {
			return fault.Errorf(fault.Conflict, "document %d is %s; only an issued document is recalled or replaced", d.ID, d.Status)
		}
		var prior Withdrawal
		switch err := tx.Take(&prior, "document_id = ?", id).Error; {
		case err == nil:
			return fault.Errorf(fault.Conflict, "document %d is already %s", id, prior.Kind)
		case !errors.Is(err, gorm.ErrRecordNotFound):
			return err
		}
		detail := map[string]any{"kind": w.Kind, "reason": reason, "decision": decision}
		if by != nil {
			var nd Document
			if err := lockDocument(tx, &nd, *by); err != nil {
				return err
			}
			if nd.Direction != Outgoing || nd.Status != StatusIssued {
				return fault.Errorf(fault.Conflict, "document %d is %s; a document is replaced only by an issued one", nd.ID, nd.Status)
			}
			if nd.AgencyCode != d.AgencyCode {
				return fault.Errorf(fault.Invalid, "document %d is of agency %s; a document is replaced by one of its own agency (%s)", nd.ID, nd.AgencyCode, d.AgencyCode)
			}
			detail["replaced_by"] = *by
			detail["replaced_by_identifier"] = deref(nd.Identifier)
		}
		w.At = dbTime(s.now())
		if err := tx.Create(&w).Error; err != nil {
			return fmt.Errorf("store: record %s: %w", w.Kind, err)
		}
		if _, err := s.appendAudit(tx, Event{Actor: actor, Action: action, DocumentID: d.ID, DocumentHash: d.ContentSHA256, Detail: detail}); err != nil {
			return err
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &w, nil
}

// Withdrawals are the recalls and replacements of the documents ids, by document.
func (s *Store) Withdrawals(ctx context.Context, ids ...int64) (map[int64]Withdrawal, error) {
	out := map[int64]Withdrawal{}
	if len(ids) == 0 {
		return out, nil
	}
	var rows []Withdrawal
	if err := s.db.WithContext(ctx).Where("document_id IN ?", ids).Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("store: withdrawals: %w", err)
	}
	for _, w := range rows {
		out[w.DocumentID] = w
	}
	return out, nil
}

// Replaces lists the documents that document id replaced.
func (s *Store) Replaces(ctx context.Context, id int64) ([]int64, error) {
	var ids []int64
	if err := s.db.WithContext(ctx).Model(&Withdrawal{}).Where("replaced_by = ?", id).Order("document_id").Pluck("document_id", &ids).Error; err != nil {
		return nil, fmt.Errorf("store: replaced documents: %w", err)
	}
	return ids, nil
}
