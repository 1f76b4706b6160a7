package store

import (
	"context"
	"fmt"
	"time"

	"github.com/kyso-vn/kyso/pkg/fault"
	"gorm.io/gorm"
)

// CertCategory is how the province's report counts certificates: the organisations'
// and the personal ones by where the key lives.
type CertCategory string

const (
	CatOrganisation     CertCategory = "organisation"
	CatPersonalUSBToken CertCategory = "personal_usb_token"
	CatPersonalSIMPKI   CertCategory = "personal_sim_pki"
	CatPersonalRemote   CertCategory = "personal_remote"
	CatPersonalHSM      CertCategory = "personal_hsm"
)

// CertCategories lists the categories in report order.
var CertCategories = []CertCategory{CatOrganisation, CatPersonalUSBToken, CatPersonalSIMPKI, CatPersonalRemote, CatPersonalHSM}

// Category is the report's category of a certificate of kind and form.
func Category(kind CertKind, form CertForm) CertCategory {
	if kind == CertOrganisation {
		return CatOrganisation
	}
	switch form {
	case FormSIMPKI:
		return CatPersonalSIMPKI
	case FormRemote:
		return CatPersonalRemote
	case FormHSM:
		return CatPersonalHSM
	}
	return CatPersonalUSBToken
}

// CertCount is the certificates of one category: valid at some time in the period,
// and of those, used to sign in it.
type CertCount struct {
	InForce int64
	Used    int64
}

// DocCount is the documents of one direction in a period, by type and by status;
// each sums to Total.
type DocCount struct {
	Total    int64
	ByType   map[string]int64 // "" for documents without a type
	ByStatus map[Status]int64
}

// Stats is what the province's report counts for a period [From, To).
type Stats struct {
	From, To time.Time
	// Incoming are the documents received in the period (by received_at); Outgoing
	// those whose latest milestone fell in it: issued_at once issued, else created_at,
	// so each outgoing document is counted once, in its current status.
	Incoming, Outgoing DocCount
	// PrevIncoming and PrevOutgoing are the totals of the period before (the year
	// before for a calendar year, else the same number of days before).
	PrevIncoming, PrevOutgoing int64
	Signed                     int64 // documents with a signed version stored in the period
	// Signatures counted by kind and by key kind; each sums to Signatures.
	Signatures             int64
	SignaturesByKind       map[SignatureKind]int64
	SignaturesByKey        map[KeyKind]int64
	Certificates           CertCount // the sum of CertificatesByCategory
	CertificatesByCategory map[CertCategory]CertCount
}

// Change returns the change from the period before as a difference and a percentage
// (the percentage is 0 when there was nothing the period before).
func Change(now, prev int64) (diff int64, pct float64) {
	diff = now - prev
	if prev != 0 {
		pct = float64(diff) * 100 / float64(prev)
	}
	return diff, pct
}

// PreviousPeriod is the period before [from, to): the year before a calendar year
// (or a whole number of months), else the same length of time before.
func PreviousPeriod(from, to time.Time) (time.Time, time.Time) {
	for months := 1; months <= 12*100; months++ {
		if next := from.AddDate(0, months, 0); !next.Before(to) {
			if next.Equal(to) && from.Day() == 1 {
				return from.AddDate(0, -months, 0), from
			}
			break
		}
	}
	return from.Add(-to.Sub(from)), from
}

// PeriodStats counts documents, signatures and certificates of [from, to) over what v
// admits: the documents it sees, the signatures on them, and the certificates of its
// agencies (all when v is nil or v.All).
func (s *Store) PeriodStats(ctx context.Context, from, to time.Time, v *Visibility) (*Stats, error) {
	if from.IsZero() || to.IsZero() || !from.Before(to) {
		return nil, fault.Errorf(fault.Invalid, "the period's start must be before its end")
	}
	if from.Year() < 1 || to.Year() > 9999 {
		return nil, fault.Errorf(fault.Invalid, "the period is out of range")
	}
	db := s.db.WithContext(ctx)
	st := &Stats{From: from, To: to,
		Incoming:               DocCount{ByType: map[string]int64{}, ByStatus: map[Status]int64{}},
		Outgoing:               DocCount{ByType: map[string]int64{}, ByStatus: map[Status]int64{}},
		SignaturesByKind:       map[SignatureKind]int64{},
		SignaturesByKey:        map[KeyKind]int64{},
		CertificatesByCategory: map[CertCategory]CertCount{},
	}
	f, t := dbTime(from), dbTime(to)
	docsIn := func(dir Direction, f, t time.Time) *gorm.DB {
		at := "COALESCE(issued_at, created_at)"
		if dir == Incoming {
			at = "COALESCE(received_at, created_at)"
		}
		return v.apply(db.Model(&Document{})).Where("direction = ? AND "+at+" >= ? AND "+at+" < ?", dir, f, t)
	}
	pf, pt := PreviousPeriod(from, to)
	docs := func() *gorm.DB { return v.apply(db.Model(&Document{})).Select("id") }
	uses := func() *gorm.DB {
		q := db.Model(&signatureUseRow{}).Where("at >= ? AND at < ?", f, t)
		if v != nil && !(v.All && ConfidentialityRank(v.Clearance) >= ConfidentialityRank(TopSecret)) {
			q = q.Where("document_id IN (?)", docs())
		}
		return q
	}
	for _, step := range []func() error{
		func() error { return docsIn(Incoming, dbTime(pf), dbTime(pt)).Count(&st.PrevIncoming).Error },
		func() error { return docsIn(Outgoing, dbTime(pf), dbTime(pt)).Count(&st.PrevOutgoing).Error },
		func() error { return countDocs(docsIn(Incoming, f, t), &st.Incoming) },
		func() error { return countDocs(docsIn(Outgoing, f, t), &st.Outgoing) },
		func() error {
			return db.Model(&Version{}).Where("signature_count > 0 AND created_at >= ? AND created_at < ? AND document_id IN (?)",
				f, t, docs()).Distinct("document_id").Count(&st.Signed).Error
		},
		func() error {
			var rows []struct {
				Kind    SignatureKind
				KeyKind KeyKind
				N       int64
			}
			if err := uses().Select("kind, key_kind, COUNT(*) AS n").Group("kind, key_kind").Scan(&rows).Error; err != nil {
				return err
			}
			for _, r := range rows {
				st.SignaturesByKind[r.Kind] += r.N
				st.SignaturesByKey[r.KeyKind] += r.N
				st.Signatures += r.N
			}
			return nil
		},
		func() error { return s.countCertificates(db, st, f, t, v, uses) },
	} {
		if err := step(); err != nil {
			return nil, fmt.Errorf("store: stats: %w", err)
		}
	}
	return st, nil
}

func countDocs(q *gorm.DB, dst *DocCount) error {
	var rows []struct {
		DocType string
		Status  Status
		N       int64
	}
	if err := q.Select("doc_type, status, COUNT(*) AS n").Group("doc_type, status").Scan(&rows).Error; err != nil {
		return err
	}
	for _, r := range rows {
		dst.ByType[r.DocType] += r.N
		dst.ByStatus[r.Status] += r.N
		dst.Total += r.N
	}
	return nil
}

// countCertificates counts the certificates valid at some time in [f, t) (and not
// revoked before it), by category, and which of them signed in the period.
func (s *Store) countCertificates(db *gorm.DB, st *Stats, f, t time.Time, v *Visibility, uses func() *gorm.DB) error {
	var rows []struct {
		Kind CertKind
		Form CertForm
		Used bool
		N    int64
	}
	used := uses().Select("cert_fingerprint").Where("cert_fingerprint <> ''")
	cq := db.Table("certificates").
		Select("kind, form, fingerprint IN (?) AS used, COUNT(*) AS n", used).
		Where("not_before < ? AND not_after >= ? AND (revoked_at IS NULL OR revoked_at >= ?)", t, f, f)
	if v != nil && !v.All {
		if len(v.Agencies) == 0 {
			cq = cq.Where("1 = 0")
		} else {
			cq = cq.Where("agency_code IN ?", v.Agencies)
		}
	}
	if err := cq.Group("kind, form, used").Scan(&rows).Error; err != nil {
		return err
	}
	for _, r := range rows {
		c := Category(r.Kind, r.Form)
		n := st.CertificatesByCategory[c]
		n.InForce += r.N
		st.Certificates.InForce += r.N
		if r.Used {
			n.Used += r.N
			st.Certificates.Used += r.N
		}
		st.CertificatesByCategory[c] = n
	}
	return nil
}
