package store

import (
	"context"
	"fmt"

	"github.com/kyso-vn/kyso/pkg/docid"
	"github.com/kyso-vn/kyso/pkg/fault"
	"gorm.io/gorm"
)

// ActionRegister is the audit action of creating a register.
const ActionRegister = "register"

// RegisterCount is a register with the last number taken in one numbering year and
// what became of its numbers: held by a document (issued or received), voided, or
// still reserved for an issue being signed.
type RegisterCount struct {
	Register
	Year                        int
	LastNumber                  int
	Documents, Voided, Reserved int
}

// Registers lists the registers of agency ("" for every agency) by agency, kind and
// series, each with the last number taken in year (0 when none yet).
func (s *Store) Registers(ctx context.Context, agency docid.AgencyCode, year int) ([]RegisterCount, error) {
	q := s.db.WithContext(ctx).Table("registers AS r").
		Select("r.id, r.agency_code, r.kind, r.series, r.name, r.created_at, COALESCE(c.last_number, 0) AS last_number").
		Joins("LEFT JOIN register_counters AS c ON c.register_id = r.id AND c.year = ?", year).
		Order("r.agency_code, r.kind, r.series")
	if agency != "" {
		q = q.Where("r.agency_code = ?", string(agency))
	}
	var out []RegisterCount
	if err := q.Scan(&out).Error; err != nil {
		return nil, fmt.Errorf("store: list registers: %w", err)
	}
	for i := range out {
		out[i].Year = year
	}
	if len(out) == 0 {
		return out, nil
	}
	at := map[int64]*RegisterCount{}
	ids := make([]int64, len(out))
	for i := range out {
		at[out[i].ID], ids[i] = &out[i], out[i].ID
	}
	var docs []struct {
		RegisterID int64
		N          int
	}
	if err := s.db.WithContext(ctx).Table("documents").Select("register_id, COUNT(*) AS n").
		Where("register_id IN ? AND year = ? AND reg_number IS NOT NULL", ids, year).Group("register_id").Scan(&docs).Error; err != nil {
		return nil, fmt.Errorf("store: list registers: %w", err)
	}
	for _, d := range docs {
		at[d.RegisterID].Documents = d.N
	}
	var recs []struct {
		RegisterID int64
		Status     string
		N          int
	}
	if err := s.db.WithContext(ctx).Table("register_numbers").Select("register_id, status, COUNT(*) AS n").
		Where("register_id IN ? AND year = ? AND status <> ?", ids, year, NumberIssued).Group("register_id, status").Scan(&recs).Error; err != nil {
		return nil, fmt.Errorf("store: list registers: %w", err)
	}
	for _, r := range recs {
		switch r.Status {
		case NumberVoided:
			at[r.RegisterID].Voided = r.N
		case NumberReserved:
			at[r.RegisterID].Reserved = r.N
		}
	}
	return out, nil
}

// CreateRegister creates an agency's register of a kind and series with a name for
// people; one that exists already is ErrConflict. Registers also come into being on
// first use (Register); this is the administrator's explicit way, and it is audited.
func (s *Store) CreateRegister(ctx context.Context, agency docid.AgencyCode, kind Direction, series, name, actor string) (*Register, error) {
	if kind != Outgoing && kind != Incoming {
		return nil, fault.Errorf(fault.Invalid, "register kind %q (outgoing or incoming)", kind)
	}
	if _, err := docid.ParseAgencyCode(string(agency)); err != nil {
		return nil, fault.Errorf(fault.Invalid, "%v", err)
	}
	if len(series) > 64 {
		return nil, fault.Errorf(fault.Invalid, "register series longer than 64 characters")
	}
	if actor == "" {
		return nil, fault.Errorf(fault.Invalid, "an actor is required")
	}
	reg := Register{AgencyCode: string(agency), Kind: kind, Series: series, Name: name, CreatedAt: s.now()}
	err := s.write(ctx, func(tx *gorm.DB) error {
		if err := tx.Create(&reg).Error; err != nil {
			if isUniqueViolation(err) {
				return fault.Errorf(fault.Conflict, "agency %s already has the %s register %q", agency, kind, series)
			}
			return fmt.Errorf("store: create register: %w", err)
		}
		_, err := s.appendAudit(tx, Event{Actor: actor, Action: ActionRegister,
			Detail: map[string]any{"register": reg.ID, "agency": reg.AgencyCode, "kind": string(kind), "series": series}})
		return err
	})
	if err != nil {
		return nil, err
	}
	return &reg, nil
}

// GetRegister reads a register by id.
func (s *Store) GetRegister(ctx context.Context, id int64) (*Register, error) {
	var r Register
	if err := s.db.WithContext(ctx).Take(&r, id).Error; err != nil {
		return nil, notFound(err, fmt.Sprintf("register %d", id))
	}
	return &r, nil
}
