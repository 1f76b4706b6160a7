package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"

	"github.com/kyso-vn/kyso/pkg/fault"
	"gorm.io/gorm"
)

// NewAPIKey makes a random API key and the hash under which CreateClient stores it.
// Only the caller ever sees the key.
func NewAPIKey() (key string, hash [32]byte, err error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", hash, fmt.Errorf("store: api key: %w", err)
	}
	key = "kyso_" + base64.RawURLEncoding.EncodeToString(b[:])
	return key, HashAPIKey(key), nil
}

// HashAPIKey is the hash an API key is stored and looked up under.
func HashAPIKey(key string) [32]byte { return sha256.Sum256([]byte(key)) }

// CreateClient records an API client by the hash of its key, with no agency and no
// clearance (see CreateClientWith).
func (s *Store) CreateClient(ctx context.Context, name, principal string, keyHash [32]byte, actor string) (*Client, error) {
	return s.CreateClientWith(ctx, ClientSpec{Name: name, Principal: principal}, keyHash, actor)
}

// LookupClientByKeyHash finds the active client holding an API key; a revoked or
// unknown key is ErrNotFound, so the auth layer answers both alike.
func (s *Store) LookupClientByKeyHash(ctx context.Context, keyHash [32]byte) (*Client, error) {
	var c Client
	err := s.db.WithContext(ctx).Where("key_hash = ? AND revoked_at IS NULL", hex.EncodeToString(keyHash[:])).Take(&c).Error
	if err != nil {
		return nil, notFound(err, "client")
	}
	return &c, nil
}

// RevokeClient stops a client's key from working.
func (s *Store) RevokeClient(ctx context.Context, id int64, actor string) error {
	return s.write(ctx, func(tx *gorm.DB) error {
		res := tx.Exec("UPDATE api_clients SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL", s.now(), id)
		if res.Error != nil {
			return fmt.Errorf("store: revoke client: %w", res.Error)
		}
		if res.RowsAffected == 0 {
			return fault.Errorf(fault.NotFound, "no active client %d", id)
		}
		_, err := s.appendAudit(tx, Event{Actor: actor, Action: ActionClient, Detail: map[string]any{"revoked": id}})
		return err
	})
}
