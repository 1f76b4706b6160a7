package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kyso-vn/kyso/pkg/docid"
	"github.com/kyso-vn/kyso/pkg/fault"
	"gorm.io/gorm"
)

// ClientSpec is what a new API client is made with besides its key.
type ClientSpec struct {
	Name      string
	Principal string // its role
	// Agencies it acts for (agency identifier codes); Clearance the highest
	// confidentiality it may read.
	Agencies  []string
	Clearance Confidentiality
	// Certificates are the DER certificates bound to the client: a leader approves
	// only with one of these.
	Certificates [][]byte
}

// ConfidentialityRank orders the levels: unclassified 0, confidential 1, secret 2,
// top secret 3; -1 for an unknown one.
func ConfidentialityRank(c Confidentiality) int {
	switch c {
	case Unclassified:
		return 0
	case Confidential:
		return 1
	case Secret:
		return 2
	case TopSecret:
		return 3
	}
	return -1
}

// LevelsUpTo lists the confidentiality levels a clearance admits.
func LevelsUpTo(clearance Confidentiality) []Confidentiality {
	all := []Confidentiality{Unclassified, Confidential, Secret, TopSecret}
	n := ConfidentialityRank(clearance)
	if n < 0 {
		return all[:1]
	}
	return all[:n+1]
}

// AgencyList reads a client's agencies column.
func (c *Client) AgencyList() []string {
	if c.Agencies == "" {
		return nil
	}
	return strings.Split(c.Agencies, ",")
}

// CertificateFingerprint is the hex SHA-256 of a certificate's DER, the form bindings
// and the certificates table use.
func CertificateFingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:])
}

// CreateClientWith records an API client by the hash of its key, with its agencies,
// clearance and bound certificates. A name already taken (by any client, revoked or
// not) is a Conflict: grants name clients by id, and people read names.
func (s *Store) CreateClientWith(ctx context.Context, spec ClientSpec, keyHash [32]byte, actor string) (*Client, error) {
	if spec.Name == "" || spec.Principal == "" {
		return nil, fault.Errorf(fault.Invalid, "a client needs a name and a principal")
	}
	if ConfidentialityRank(spec.Clearance) < 0 {
		return nil, fault.Errorf(fault.Invalid, "clearance %q is not one of confidential, secret, top_secret (or empty)", spec.Clearance)
	}
	agencies := slices.Clone(spec.Agencies)
	slices.Sort(agencies)
	agencies = slices.Compact(agencies)
	for _, a := range agencies {
		if _, err := docid.ParseAgencyCode(a); err != nil {
			return nil, fault.Errorf(fault.Invalid, "agency %q: %v", a, err)
		}
	}
	c := Client{Name: spec.Name, Principal: spec.Principal, KeyHash: hex.EncodeToString(keyHash[:]),
		Agencies: strings.Join(agencies, ","), Clearance: spec.Clearance, CreatedAt: s.now()}
	err := s.write(ctx, func(tx *gorm.DB) error {
		var taken int64
		if err := tx.Model(&Client{}).Where("name = ?", c.Name).Count(&taken).Error; err != nil {
			return fmt.Errorf("store: create client: %w", err)
		}
		if taken > 0 {
			return fault.Errorf(fault.Conflict, "a client named %q exists already; client names are unique", c.Name)
		}
		if err := tx.Create(&c).Error; err != nil {
			if isUniqueViolation(err) {
				return fault.Errorf(fault.Conflict, "a client named %q exists already, or the API key is in use", c.Name)
			}
			return fmt.Errorf("store: create client: %w", err)
		}
		var fps []string
		for _, der := range spec.Certificates {
			fp := CertificateFingerprint(der)
			if err := tx.Exec("INSERT INTO client_certificates (client_id, fingerprint, created_at) VALUES (?, ?, ?)", c.ID, fp, c.CreatedAt).Error; err != nil {
				if isUniqueViolation(err) {
					continue
				}
				return fmt.Errorf("store: bind certificate: %w", err)
			}
			fps = append(fps, fp)
		}
		_, err := s.appendAudit(tx, Event{Actor: actor, Action: ActionClient, Detail: map[string]any{"created": c.ID, "name": c.Name,
			"principal": c.Principal, "agencies": agencies, "clearance": string(c.Clearance), "certificates": fps}})
		return err
	})
	if err != nil {
		return nil, err
	}
	return &c, nil
}

// ClientHasCertificate reports whether the certificate with fingerprint fp is bound to
// client id.
func (s *Store) ClientHasCertificate(ctx context.Context, id int64, fp string) (bool, error) {
	var n int64
	err := s.db.WithContext(ctx).Raw("SELECT COUNT(*) FROM client_certificates WHERE client_id = ? AND fingerprint = ?", id, fp).Scan(&n).Error
	if err != nil {
		return false, fmt.Errorf("store: client certificates: %w", err)
	}
	return n > 0, nil
}

// Visibility limits what a reader sees: documents issued or held by one of Agencies
// (All: every agency) at a confidentiality up to Clearance.
type Visibility struct {
	All       bool
	Agencies  []string
	Clearance Confidentiality
}

// apply narrows a documents query to v.
func (v *Visibility) apply(db *gorm.DB) *gorm.DB {
	if v == nil {
		return db
	}
	if !v.All {
		if len(v.Agencies) == 0 {
			return db.Where("1 = 0")
		}
		db = db.Where("(agency_code IN ? OR holder_code IN ?)", v.Agencies, v.Agencies)
	}
	return db.Where("confidentiality IN ?", LevelsUpTo(v.Clearance))
}

// Sees reports whether v admits document d.
func (v *Visibility) Sees(d *Document) bool {
	if v == nil {
		return true
	}
	if ConfidentialityRank(d.Confidentiality) > ConfidentialityRank(v.Clearance) {
		return false
	}
	return v.All || slices.Contains(v.Agencies, d.AgencyCode) || slices.Contains(v.Agencies, d.HolderCode)
}

// uniqueClientNames is migration 3's data step: clients that share a name are renamed
// "<name> #<id>" (the oldest keeps it), grants that named a client by name name it by
// id (every client of that name, as the name matched them all), names become unique,
// and every stored document's row is sealed into the audit chain (see rowDigest).
func uniqueClientNames(tx *gorm.DB) error {
	var clients []Client
	if err := tx.Order("id").Find(&clients).Error; err != nil {
		return err
	}
	byName := map[string][]int64{}
	for _, c := range clients {
		byName[c.Name] = append(byName[c.Name], c.ID)
	}
	for name, ids := range byName {
		for _, id := range ids[1:] {
			if err := tx.Exec("UPDATE api_clients SET name = ? WHERE id = ?", fmt.Sprintf("%s #%d", name, id), id).Error; err != nil {
				return err
			}
		}
		var grants []struct {
			KeyID     int64
			CreatedAt time.Time
		}
		if err := tx.Raw("SELECT key_id, created_at FROM key_grants WHERE principal = ?", name).Scan(&grants).Error; err != nil {
			return err
		}
		for _, g := range grants {
			for _, id := range ids {
				sid := strconv.FormatInt(id, 10)
				var n int64
				if err := tx.Raw("SELECT COUNT(*) FROM key_grants WHERE key_id = ? AND principal = ?", g.KeyID, sid).Scan(&n).Error; err != nil {
					return err
				}
				if n == 0 {
					if err := tx.Exec("INSERT INTO key_grants (key_id, principal, created_at) VALUES (?, ?, ?)", g.KeyID, sid, g.CreatedAt).Error; err != nil {
						return err
					}
				}
			}
		}
		if err := tx.Exec("DELETE FROM key_grants WHERE principal = ?", name).Error; err != nil {
			return err
		}
	}
	if err := tx.Exec("CREATE UNIQUE INDEX api_clients_name ON api_clients (name)").Error; err != nil {
		return err
	}
	return sealAllDocuments(tx)
}

// ClientByID reads the active client id.
func (s *Store) ClientByID(ctx context.Context, id int64) (*Client, error) {
	var c Client
	if err := s.db.WithContext(ctx).Where("id = ? AND revoked_at IS NULL", id).Take(&c).Error; err != nil {
		return nil, notFound(err, fmt.Sprintf("active client %d", id))
	}
	return &c, nil
}

// ClientByName reads the active client called name.
func (s *Store) ClientByName(ctx context.Context, name string) (*Client, error) {
	var c Client
	if err := s.db.WithContext(ctx).Where("name = ? AND revoked_at IS NULL", name).Take(&c).Error; err != nil {
		return nil, notFound(err, fmt.Sprintf("active client %q", name))
	}
	return &c, nil
}
