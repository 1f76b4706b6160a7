package store

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// ExpirePendingBefore deletes pending signatures that expired before t and returns how
// many. Unlike ExpirePending it leaves the recently expired, so that their holders
// are still told "expired" rather than "not found" for a while.
func (s *Store) ExpirePendingBefore(ctx context.Context, t time.Time) (int64, error) {
	var n int64
	err := s.write(ctx, func(tx *gorm.DB) error {
		res := tx.Exec("DELETE FROM pending_signatures WHERE expires_at < ?", dbTime(t))
		n = res.RowsAffected
		return res.Error
	})
	if err != nil {
		return 0, fmt.Errorf("store: expire pending: %w", err)
	}
	return n, nil
}
