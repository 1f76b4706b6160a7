package store

import (
	"context"
	"fmt"
	"time"

	"github.com/kyso-vn/kyso/pkg/docid"
	"github.com/kyso-vn/kyso/pkg/fault"
	"gorm.io/gorm"
)

// Stats is what the province's yearly report counts.
type Stats struct {
	Year             int
	Incoming         int64 // registered in the year's incoming registers
	Outgoing         int64 // numbered in the year's outgoing registers
	IncomingPrevYear int64
	OutgoingPrevYear int64
	Signed           int64 // documents with a signed version stored in the year
	Signatures       int64 // signatures recorded in the audit trail in the year
	// Certificates in use at some time in the year, by kind and by form.
	CertificatesByKind map[CertKind]int64
	CertificatesByForm map[CertForm]int64
	Certificates       int64
}

// Change returns the change from the year before as a difference and a percentage
// (the percentage is 0 when there was nothing the year before).
func Change(now, prev int64) (diff int64, pct float64) {
	diff = now - prev
	if prev != 0 {
		pct = float64(diff) * 100 / float64(prev)
	}
	return diff, pct
}

// Stats counts documents, signatures and certificates of a calendar year in Vietnam.
func (s *Store) Stats(ctx context.Context, year int) (*Stats, error) {
	return s.StatsVisible(ctx, year, nil)
}

// StatsVisible is Stats over what v admits: the documents it sees, the signatures on
// them, and the certificates of its agencies (all when v is nil or v.All).
func (s *Store) StatsVisible(ctx context.Context, year int, v *Visibility) (*Stats, error) {
	if year < 1 || year > 9999 {
		return nil, fault.Errorf(fault.Invalid, "year %d is out of range", year)
	}
	db := s.db.WithContext(ctx)
	st := &Stats{Year: year, CertificatesByKind: map[CertKind]int64{}, CertificatesByForm: map[CertForm]int64{}}
	count := func(dst *int64, dir Direction, y int) error {
		return v.apply(db.Model(&Document{})).Where("direction = ? AND year = ? AND reg_number IS NOT NULL", dir, y).Count(dst).Error
	}
	docs := func() *gorm.DB { return v.apply(db.Model(&Document{})).Select("id") }
	from := time.Date(year, 1, 1, 0, 0, 0, 0, docid.Vietnam)
	to := from.AddDate(1, 0, 0)
	for _, step := range []func() error{
		func() error { return count(&st.Incoming, Incoming, year) },
		func() error { return count(&st.Outgoing, Outgoing, year) },
		func() error { return count(&st.IncomingPrevYear, Incoming, year-1) },
		func() error { return count(&st.OutgoingPrevYear, Outgoing, year-1) },
		func() error {
			return db.Model(&Version{}).Where("signature_count > 0 AND created_at >= ? AND created_at < ? AND document_id IN (?)",
				dbTime(from), dbTime(to), docs()).Distinct("document_id").Count(&st.Signed).Error
		},
		func() error {
			q := db.Model(&AuditEvent{}).Where("action IN ? AND at >= ? AND at < ?",
				[]string{ActionSign, ActionApprove, ActionIssue}, dbTime(from), dbTime(to))
			if v != nil && !(v.All && ConfidentialityRank(v.Clearance) >= ConfidentialityRank(TopSecret)) {
				q = q.Where("document_id IN (?)", docs())
			}
			return q.Count(&st.Signatures).Error
		},
	} {
		if err := step(); err != nil {
			return nil, fmt.Errorf("store: stats: %w", err)
		}
	}
	var rows []struct {
		Kind CertKind
		Form CertForm
		N    int64
	}
	cq := db.Table("certificates").Select("kind, form, COUNT(*) AS n").
		Where("not_before < ? AND not_after >= ? AND (revoked_at IS NULL OR revoked_at >= ?)", dbTime(to), dbTime(from), dbTime(from))
	if v != nil && !v.All {
		if len(v.Agencies) == 0 {
			cq = cq.Where("1 = 0")
		} else {
			cq = cq.Where("agency_code IN ?", v.Agencies)
		}
	}
	err := cq.Group("kind, form").Scan(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("store: stats: %w", err)
	}
	for _, r := range rows {
		st.CertificatesByKind[r.Kind] += r.N
		st.CertificatesByForm[r.Form] += r.N
		st.Certificates += r.N
	}
	return st, nil
}
