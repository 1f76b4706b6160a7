package store

import (
	"context"
	"fmt"
)

// ListPendingByStatus returns the unexpired pending signatures in status, oldest first,
// so that a worker (the remote signing completer) finds what this or another process
// left, including after a restart.
func (s *Store) ListPendingByStatus(ctx context.Context, status string) ([]PendingSignature, error) {
	var rows []PendingSignature
	if err := s.db.WithContext(ctx).Where("status = ? AND expires_at > ?", status, s.now()).
		Order("created_at, id").Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("store: list pending %s: %w", status, err)
	}
	return rows, nil
}
