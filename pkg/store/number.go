package store

import (
	"context"
	"fmt"
	"time"

	"github.com/kyso-vn/kyso/pkg/docid"
	"github.com/kyso-vn/kyso/pkg/fault"
	"gorm.io/gorm"
)

// NumberingYear is the calendar year in Vietnam that at falls in: numbers restart from
// 01 on 1 January Vietnam time (Decree 30 Art. 15.1), which is 31 December 17:00 UTC.
func NumberingYear(at time.Time) int { return at.In(docid.Vietnam).Year() }

// Register returns the register of an agency for a kind and series, creating it on
// first use. Series is "" for the main register; separate series (secret documents, an
// advisory council using the agency's seal) have their own name.
func (s *Store) Register(ctx context.Context, agency docid.AgencyCode, kind Direction, series string) (*Register, error) {
	if kind != Outgoing && kind != Incoming {
		return nil, fault.Errorf(fault.Invalid, "unknown register kind %q", kind)
	}
	if _, err := docid.ParseAgencyCode(string(agency)); err != nil {
		return nil, fault.Errorf(fault.Invalid, "%v", err)
	}
	var reg *Register
	err := s.write(ctx, func(tx *gorm.DB) error {
		var err error
		reg, err = s.registerTx(tx, agency, kind, series)
		return err
	})
	return reg, err
}

func (s *Store) registerTx(tx *gorm.DB, agency docid.AgencyCode, kind Direction, series string) (*Register, error) {
	// Insert-if-absent then read: concurrent first uses from two replicas both succeed
	// and see the same row.
	err := tx.Exec(`INSERT INTO registers (agency_code, kind, series, name, created_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (agency_code, kind, series) DO NOTHING`, string(agency), kind, series, "", s.now()).Error
	if err != nil {
		return nil, fmt.Errorf("store: create register: %w", err)
	}
	var reg Register
	if err := tx.Where("agency_code = ? AND kind = ? AND series = ?", string(agency), kind, series).Take(&reg).Error; err != nil {
		return nil, notFound(err, "register")
	}
	return &reg, nil
}

// NextNumber takes the next number of a register for the numbering year of at, in its
// own transaction: 1 for the first document of the year, then 2, 3, … with no gap and
// no repeat, across goroutines, processes and replicas. A number taken here is
// committed even if the caller then fails; use AssignNumber to number a document so that
// the number and the document commit together.
func (s *Store) NextNumber(ctx context.Context, registerID int64, at time.Time) (int, error) {
	var n int
	err := s.write(ctx, func(tx *gorm.DB) error {
		var err error
		n, err = nextNumberTx(tx, registerID, NumberingYear(at))
		return err
	})
	return n, err
}

// NextNumberIn is NextNumber on an agency's main register of a kind.
func (s *Store) NextNumberIn(ctx context.Context, agency docid.AgencyCode, kind Direction, at time.Time) (int, error) {
	reg, err := s.Register(ctx, agency, kind, "")
	if err != nil {
		return 0, err
	}
	return s.NextNumber(ctx, reg.ID, at)
}

// nextNumberTx increments the register-year counter row with one upsert. On PostgreSQL
// the row lock it takes is held until commit, so concurrent transactions queue on it and
// each reads the value the previous one committed; on SQLite the transaction already
// holds the database's single write lock.
func nextNumberTx(tx *gorm.DB, registerID int64, year int) (int, error) {
	var n int
	res := tx.Raw(`INSERT INTO register_counters (register_id, year, last_number) VALUES (?, ?, 1)
		ON CONFLICT (register_id, year) DO UPDATE SET last_number = register_counters.last_number + 1
		RETURNING last_number`, registerID, year).Scan(&n)
	if res.Error != nil {
		return 0, fmt.Errorf("store: next number: %w", res.Error)
	}
	if n < 1 {
		return 0, fmt.Errorf("store: next number: counter returned %d", n)
	}
	return n, nil
}

// LastNumber is the last number taken in a register's year (0 when none).
func (s *Store) LastNumber(ctx context.Context, registerID int64, year int) (int, error) {
	var n int
	err := s.db.WithContext(ctx).Raw("SELECT COALESCE(MAX(last_number), 0) FROM register_counters WHERE register_id = ? AND year = ?", registerID, year).Scan(&n).Error
	if err != nil {
		return 0, fmt.Errorf("store: last number: %w", err)
	}
	return n, nil
}

// numberable locks document id for taking a number of its agency's outgoing register
// (of its series): it must be an approved outgoing document with a symbol. A document
// that holds a number already comes back with a nil register: it takes no other.
func (s *Store) numberable(tx *gorm.DB, id int64) (Document, *Register, error) {
	var d Document
	if err := lockDocument(tx, &d, id); err != nil {
		return d, nil, err
	}
	if d.Direction != Outgoing || d.Status != StatusApproved {
		return d, nil, fault.Errorf(fault.Conflict, "document %d is %s %s; only an approved outgoing document is numbered", d.ID, d.Direction, d.Status)
	}
	if d.RegNumber != nil {
		return d, nil, nil
	}
	if d.Symbol == "" {
		return d, nil, fault.Errorf(fault.Invalid, "document %d has no symbol", d.ID)
	}
	reg, err := s.registerTx(tx, docid.AgencyCode(d.AgencyCode), Outgoing, d.Series)
	return d, reg, err
}

// AssignNumber gives an approved document the next number of its agency's outgoing
// register for the numbering year of at, sets its issue time to at and derives its edXML
// identifier — all in one transaction, so a number is never taken without a document
// holding it (no gaps). The signing code then writes number and date into the PDF and
// calls Issue. Calling it again on a numbered document returns the document unchanged.
func (s *Store) AssignNumber(ctx context.Context, documentID int64, at time.Time, actor string) (*Document, error) {
	if actor == "" {
		return nil, fault.Errorf(fault.Invalid, "an actor is required")
	}
	var out Document
	err := s.write(ctx, func(tx *gorm.DB) error {
		d, reg, err := s.numberable(tx, documentID)
		if err != nil || reg == nil {
			out = d
			return err
		}
		year := NumberingYear(at)
		n, err := nextNumberTx(tx, reg.ID, year)
		if err != nil {
			return err
		}
		issued := dbTime(at)
		ns := docid.NumberSymbol{Number: n, Year: d.LegalYear, Symbol: d.Symbol}
		id := docid.NewDocumentID(docid.AgencyCode(d.AgencyCode), at, ns).String()
		d.RegisterID, d.Year, d.RegNumber, d.Number = &reg.ID, &year, &n, n
		d.IssuedAt, d.Identifier, d.UpdatedAt = &issued, &id, s.now()
		if err := tx.Save(&d).Error; err != nil {
			if isUniqueViolation(err) {
				return fault.Errorf(fault.Conflict, "identifier %s already stored", id)
			}
			return fmt.Errorf("store: number document: %w", err)
		}
		detail, err := withRow(tx, d.ID, map[string]any{"number": ns.String(), "identifier": id})
		if err != nil {
			return err
		}
		if _, err := s.appendAudit(tx, Event{Actor: actor, Action: ActionNumber, DocumentID: d.ID, DocumentHash: d.ContentSHA256,
			Detail: detail}); err != nil {
			return err
		}
		out = d
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// Issue stores the organisation-signed revision of a numbered document and marks it
// issued.
func (s *Store) Issue(ctx context.Context, documentID int64, in VersionInput) (*Version, error) {
	return s.addVersion(ctx, documentID, in, ActionIssue, func(tx *gorm.DB, d *Document) error {
		if d.Status != StatusApproved || d.RegNumber == nil {
			return fault.Errorf(fault.Conflict, "document %d must be approved and numbered before it is issued", d.ID)
		}
		d.Status = StatusIssued
		return nil
	})
}
