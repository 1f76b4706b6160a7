package store

import (
	"context"
	"fmt"
	"strings"

	"github.com/kyso-vn/kyso/pkg/fault"
	"gorm.io/gorm"
)

// CreateKey records a signing key by URI. A URI carrying a PIN is refused: PINs come
// from pin-source files or the user, and are never stored.
func (s *Store) CreateKey(ctx context.Context, k SigningKey, actor string) (*SigningKey, error) {
	if k.URI == "" {
		return nil, fault.Errorf(fault.Invalid, "key URI is required")
	}
	if strings.Contains(strings.ToLower(k.URI), "pin-value") {
		return nil, fault.Errorf(fault.Invalid, "key URI must not carry a PIN (use pin-source)")
	}
	k.ID, k.CreatedAt, k.DisabledAt = 0, s.now(), nil
	err := s.write(ctx, func(tx *gorm.DB) error {
		if err := tx.Create(&k).Error; err != nil {
			if isUniqueViolation(err) {
				return fault.Errorf(fault.Conflict, "key %s already exists", k.URI)
			}
			return fmt.Errorf("store: create key: %w", err)
		}
		_, err := s.appendAudit(tx, Event{Actor: actor, Action: ActionKey, KeyURI: k.URI, Detail: map[string]any{"created": k.ID}})
		return err
	})
	if err != nil {
		return nil, err
	}
	return &k, nil
}

// Key reads a signing key by id.
func (s *Store) Key(ctx context.Context, id int64) (*SigningKey, error) {
	var k SigningKey
	if err := s.db.WithContext(ctx).Take(&k, id).Error; err != nil {
		return nil, notFound(err, fmt.Sprintf("key %d", id))
	}
	return &k, nil
}

// KeyByURI reads a signing key by its URI.
func (s *Store) KeyByURI(ctx context.Context, uri string) (*SigningKey, error) {
	var k SigningKey
	if err := s.db.WithContext(ctx).Where("uri = ?", uri).Take(&k).Error; err != nil {
		return nil, notFound(err, "key "+uri)
	}
	return &k, nil
}

// GrantKey allows principal to sign with a key (idempotent).
func (s *Store) GrantKey(ctx context.Context, keyID int64, principal, actor string) error {
	if principal == "" {
		return fault.Errorf(fault.Invalid, "principal is required")
	}
	return s.write(ctx, func(tx *gorm.DB) error {
		var k SigningKey
		if err := tx.Take(&k, keyID).Error; err != nil {
			return notFound(err, fmt.Sprintf("key %d", keyID))
		}
		if err := tx.Exec("INSERT INTO key_grants (key_id, principal, created_at) VALUES (?, ?, ?) ON CONFLICT (key_id, principal) DO NOTHING",
			keyID, principal, s.now()).Error; err != nil {
			return fmt.Errorf("store: grant key: %w", err)
		}
		_, err := s.appendAudit(tx, Event{Actor: actor, Action: ActionKey, KeyURI: k.URI, Detail: map[string]any{"grant": principal}})
		return err
	})
}

// RevokeGrant withdraws principal's use of a key.
func (s *Store) RevokeGrant(ctx context.Context, keyID int64, principal, actor string) error {
	return s.write(ctx, func(tx *gorm.DB) error {
		res := tx.Exec("DELETE FROM key_grants WHERE key_id = ? AND principal = ?", keyID, principal)
		if res.Error != nil {
			return fmt.Errorf("store: revoke grant: %w", res.Error)
		}
		if res.RowsAffected == 0 {
			return fault.Errorf(fault.NotFound, "no grant of key %d to %s", keyID, principal)
		}
		_, err := s.appendAudit(tx, Event{Actor: actor, Action: ActionKey, Detail: map[string]any{"key": keyID, "revoke": principal}})
		return err
	})
}

// KeyGrants lists the principals allowed to use a key, sorted.
func (s *Store) KeyGrants(ctx context.Context, keyID int64) ([]string, error) {
	var ps []string
	if err := s.db.WithContext(ctx).Raw("SELECT principal FROM key_grants WHERE key_id = ? ORDER BY principal", keyID).Scan(&ps).Error; err != nil {
		return nil, fmt.Errorf("store: key grants: %w", err)
	}
	return ps, nil
}
