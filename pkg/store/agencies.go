package store

import (
	"context"
	"fmt"
	"time"

	"github.com/kyso-vn/kyso/pkg/docid"
	"gorm.io/gorm"
)

// ImportAgencies upserts agency list entries (one row per code and valid_from) and
// returns how many rows it wrote.
func (s *Store) ImportAgencies(ctx context.Context, list []docid.Agency, actor string) (int, error) {
	err := s.write(ctx, func(tx *gorm.DB) error {
		for _, a := range list {
			var to *time.Time
			if !a.ValidTo.IsZero() {
				t := dbTime(a.ValidTo)
				to = &t
			}
			err := tx.Exec(`INSERT INTO agencies (code, name, parent_code, valid_from, valid_to) VALUES (?, ?, ?, ?, ?)
				ON CONFLICT (code, valid_from) DO UPDATE SET name = excluded.name, parent_code = excluded.parent_code, valid_to = excluded.valid_to`,
				string(a.Code), a.Name, string(a.Parent), dbTime(a.ValidFrom), to).Error
			if err != nil {
				return fmt.Errorf("store: import agency %s: %w", a.Code, err)
			}
		}
		_, err := s.appendAudit(tx, Event{Actor: actor, Action: "agencies", Detail: map[string]any{"imported": len(list)}})
		return err
	})
	if err != nil {
		return 0, err
	}
	return len(list), nil
}

// AgencyAt returns the entry of code in force at t.
func (s *Store) AgencyAt(ctx context.Context, code docid.AgencyCode, at time.Time) (*Agency, error) {
	var a Agency
	at = dbTime(at)
	err := s.db.WithContext(ctx).Where("code = ? AND valid_from <= ? AND (valid_to IS NULL OR valid_to > ?)", string(code), at, at).
		Order("valid_from DESC").Take(&a).Error
	if err != nil {
		return nil, notFound(err, fmt.Sprintf("agency %s at %s", code, at.Format(time.DateOnly)))
	}
	return &a, nil
}
