package store

import (
	"context"
	"fmt"
	"time"

	"github.com/kyso-vn/kyso/pkg/fault"
	"gorm.io/gorm"
)

// PutPending stores a new pending two-phase signature.
func (s *Store) PutPending(ctx context.Context, p PendingSignature) error {
	if p.ID == "" || len(p.ID) > 64 || p.Status == "" || p.ExpiresAt.IsZero() {
		return fault.Errorf(fault.Invalid, "a pending signature needs an id (≤64), a status and an expiry")
	}
	now := s.now()
	p.CreatedAt, p.UpdatedAt, p.ExpiresAt = now, now, dbTime(p.ExpiresAt)
	if p.State == nil {
		p.State = []byte{}
	}
	return s.write(ctx, func(tx *gorm.DB) error {
		if err := tx.Create(&p).Error; err != nil {
			if isUniqueViolation(err) {
				return fault.Errorf(fault.Conflict, "pending signature %s exists", p.ID)
			}
			return fmt.Errorf("store: put pending: %w", err)
		}
		return nil
	})
}

// GetPending reads a pending signature; one past its expiry is ErrExpired.
func (s *Store) GetPending(ctx context.Context, id string) (*PendingSignature, error) {
	var p PendingSignature
	if err := s.db.WithContext(ctx).Where("id = ?", id).Take(&p).Error; err != nil {
		return nil, notFound(err, "pending signature "+id)
	}
	if !s.cfg.Now().Before(p.ExpiresAt) {
		return nil, fault.Errorf(fault.Expired, "the signature %s has expired", id)
	}
	return &p, nil
}

// UpdatePending moves a pending signature from one status to another (compare and
// set, so two replicas cannot both complete it) and replaces its state when state is
// not nil.
func (s *Store) UpdatePending(ctx context.Context, id, from, to string, state []byte) error {
	return s.write(ctx, func(tx *gorm.DB) error { return updatePending(tx, s.now(), id, from, to, state) })
}

// updatePending is UpdatePending inside the caller's transaction.
func updatePending(tx *gorm.DB, now time.Time, id, from, to string, state []byte) error {
	q := tx.Model(&PendingSignature{}).Where("id = ? AND status = ? AND expires_at > ?", id, from, now)
	upd := map[string]any{"status": to, "updated_at": now}
	if state != nil {
		upd["state"] = state
	}
	res := q.Updates(upd)
	if res.Error != nil {
		return fmt.Errorf("store: update pending: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return fault.Errorf(fault.Conflict, "pending signature %s is not %s (or has expired)", id, from)
	}
	return nil
}

// DeletePending removes a pending signature.
func (s *Store) DeletePending(ctx context.Context, id string) error {
	return s.write(ctx, func(tx *gorm.DB) error {
		return tx.Exec("DELETE FROM pending_signatures WHERE id = ?", id).Error
	})
}

// ExpirePending deletes pending signatures past their expiry and returns how many.
func (s *Store) ExpirePending(ctx context.Context) (int64, error) {
	var n int64
	err := s.write(ctx, func(tx *gorm.DB) error {
		res := tx.Exec("DELETE FROM pending_signatures WHERE expires_at <= ?", s.now())
		n = res.RowsAffected
		return res.Error
	})
	if err != nil {
		return 0, fmt.Errorf("store: expire pending: %w", err)
	}
	return n, nil
}
