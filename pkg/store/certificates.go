package store

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"fmt"

	"github.com/kyso-vn/kyso/pkg/fault"
	"gorm.io/gorm"
)

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
	if err := c.check(); err != nil {
		return nil, err
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

func (c *Certificate) check() error {
	if c.Kind != CertOrganisation && c.Kind != CertPersonal {
		return fault.Errorf(fault.Invalid, "unknown certificate kind %q", c.Kind)
	}
	switch c.Form {
	case FormUSBToken, FormSIMPKI, FormHSM, FormRemote:
	default:
		return fault.Errorf(fault.Invalid, "unknown certificate form %q", c.Form)
	}
	if !isHexSHA256(c.Fingerprint) {
		return fault.Errorf(fault.Invalid, "certificate fingerprint must be a sha256 hex")
	}
	return nil
}

// Certificates lists certificates in use.
func (s *Store) Certificates(ctx context.Context) ([]Certificate, error) {
	var cs []Certificate
	if err := s.db.WithContext(ctx).Order("id").Find(&cs).Error; err != nil {
		return nil, fmt.Errorf("store: certificates: %w", err)
	}
	return cs, nil
}
