package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
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

// CertificateFromX509 fills the row for a certificate in use.
func CertificateFromX509(c *x509.Certificate, kind CertKind, form CertForm) Certificate {
	sum := sha256.Sum256(c.Raw)
	return Certificate{
		Fingerprint: hex.EncodeToString(sum[:]),
		Subject:     c.Subject.String(),
		Issuer:      c.Issuer.String(),
		Serial:      c.SerialNumber.Text(16),
		Kind:        kind,
		Form:        form,
		NotBefore:   c.NotBefore,
		NotAfter:    c.NotAfter,
	}
}

// AddCertificate records a certificate in use; adding the same certificate again
// returns the stored row.
func (s *Store) AddCertificate(ctx context.Context, c Certificate) (*Certificate, error) {
	if c.Kind != CertOrganisation && c.Kind != CertPersonal {
		return nil, fmt.Errorf("%w: store: certificate kind %q", ErrInvalid, c.Kind)
	}
	if c.Form != FormUSBToken && c.Form != FormSIMPKI && c.Form != FormHSM {
		return nil, fmt.Errorf("%w: store: certificate form %q", ErrInvalid, c.Form)
	}
	if !isHexSHA256(c.Fingerprint) {
		return nil, fmt.Errorf("%w: store: certificate fingerprint must be a sha256 hex", ErrInvalid)
	}
	c.ID = 0
	c.NotBefore, c.NotAfter, c.CreatedAt = dbTime(c.NotBefore), dbTime(c.NotAfter), s.now()
	err := s.write(ctx, func(tx *gorm.DB) error {
		if err := tx.Exec(`INSERT INTO certificates (fingerprint, subject, issuer, serial, kind, form, agency_code, owner, not_before, not_after, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (fingerprint) DO NOTHING`,
			c.Fingerprint, c.Subject, c.Issuer, c.Serial, c.Kind, c.Form, c.AgencyCode, c.Owner, c.NotBefore, c.NotAfter, c.CreatedAt).Error; err != nil {
			return fmt.Errorf("store: add certificate: %w", err)
		}
		return tx.Where("fingerprint = ?", c.Fingerprint).Take(&c).Error
	})
	if err != nil {
		return nil, err
	}
	return &c, nil
}

// Certificates lists certificates in use.
func (s *Store) Certificates(ctx context.Context) ([]Certificate, error) {
	var cs []Certificate
	if err := s.db.WithContext(ctx).Order("id").Find(&cs).Error; err != nil {
		return nil, fmt.Errorf("store: certificates: %w", err)
	}
	return cs, nil
}

// CreateKey records a signing key by URI. A URI carrying a PIN is refused: PINs come
// from pin-source files or the user, and are never stored.
func (s *Store) CreateKey(ctx context.Context, k SigningKey, actor string) (*SigningKey, error) {
	if k.URI == "" {
		return nil, fmt.Errorf("%w: store: key URI is required", ErrInvalid)
	}
	if strings.Contains(strings.ToLower(k.URI), "pin-value") {
		return nil, fmt.Errorf("%w: store: key URI must not carry a PIN (use pin-source)", ErrInvalid)
	}
	k.ID, k.CreatedAt, k.DisabledAt = 0, s.now(), nil
	err := s.write(ctx, func(tx *gorm.DB) error {
		if err := tx.Create(&k).Error; err != nil {
			if isUniqueViolation(err) {
				return fmt.Errorf("%w: store: key %s already exists", ErrConflict, k.URI)
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
		return fmt.Errorf("%w: store: principal is required", ErrInvalid)
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
			return fmt.Errorf("%w: grant of key %d to %s", ErrNotFound, keyID, principal)
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

// CreateClient records an API client by the hash of its key.
func (s *Store) CreateClient(ctx context.Context, name, principal string, keyHash [32]byte, actor string) (*Client, error) {
	if name == "" || principal == "" {
		return nil, fmt.Errorf("%w: store: a client needs a name and a principal", ErrInvalid)
	}
	c := Client{Name: name, Principal: principal, KeyHash: hex.EncodeToString(keyHash[:]), CreatedAt: s.now()}
	err := s.write(ctx, func(tx *gorm.DB) error {
		if err := tx.Create(&c).Error; err != nil {
			if isUniqueViolation(err) {
				return fmt.Errorf("%w: store: API key already in use", ErrConflict)
			}
			return fmt.Errorf("store: create client: %w", err)
		}
		_, err := s.appendAudit(tx, Event{Actor: actor, Action: ActionClient, Detail: map[string]any{"created": c.ID, "principal": principal}})
		return err
	})
	if err != nil {
		return nil, err
	}
	return &c, nil
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
			return fmt.Errorf("%w: active client %d", ErrNotFound, id)
		}
		_, err := s.appendAudit(tx, Event{Actor: actor, Action: ActionClient, Detail: map[string]any{"revoked": id}})
		return err
	})
}

// PutPending stores a new pending two-phase signature.
func (s *Store) PutPending(ctx context.Context, p PendingSignature) error {
	if p.ID == "" || len(p.ID) > 64 || p.Status == "" || p.ExpiresAt.IsZero() {
		return fmt.Errorf("%w: store: a pending signature needs an id (≤64), a status and an expiry", ErrInvalid)
	}
	now := s.now()
	p.CreatedAt, p.UpdatedAt, p.ExpiresAt = now, now, dbTime(p.ExpiresAt)
	if p.State == nil {
		p.State = []byte{}
	}
	return s.write(ctx, func(tx *gorm.DB) error {
		if err := tx.Create(&p).Error; err != nil {
			if isUniqueViolation(err) {
				return fmt.Errorf("%w: store: pending signature %s exists", ErrConflict, p.ID)
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
		return nil, fmt.Errorf("%w: pending signature %s", ErrExpired, id)
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
		return fmt.Errorf("%w: store: pending signature %s is not %s (or has expired)", ErrConflict, id, from)
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
