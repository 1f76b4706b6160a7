package store

import (
	"context"
	"time"

	"github.com/kyso-vn/kyso/pkg/docid"
	"github.com/kyso-vn/kyso/pkg/fault"
	"gorm.io/gorm"
)

// Numbering at issue. The number is written into the PDF the organisation signs, so it
// is known before the signature — but it is taken only when the signature is stored:
// PlanNumber reads the number a document would take, IssueNumbered takes it in the
// transaction that stores the issued version, and refuses (nothing stored, no number
// used) when another document took it meanwhile. A signature prepared and never
// completed, or refused, uses up no number, and a number is never given twice.

// CodeNumberTaken refines the Conflict of an issue whose planned number another
// document took meanwhile: planning again and signing again succeeds.
const CodeNumberTaken = "number-taken"

// PlanNumber is document id, approved and outgoing, as it would stand if issued at at:
// with the next number of its agency's outgoing register for the numbering year of at,
// at as its issue time and its edXML identifier. Nothing is written. A document given
// a number before (AssignNumber) keeps it.
func (s *Store) PlanNumber(ctx context.Context, id int64, at time.Time) (*Document, error) {
	d, err := s.GetDocument(ctx, id)
	if err != nil {
		return nil, err
	}
	if d.Direction != Outgoing || d.Status != StatusApproved {
		return nil, fault.Errorf(fault.Conflict, "document %d is %s %s; only an approved outgoing document is numbered", d.ID, d.Direction, d.Status)
	}
	if d.RegNumber != nil {
		return d, nil
	}
	if d.Symbol == "" {
		return nil, fault.Errorf(fault.Invalid, "document %d has no symbol", d.ID)
	}
	year := NumberingYear(at)
	var last int
	err = s.db.WithContext(ctx).Raw(`SELECT COALESCE(MAX(c.last_number), 0) FROM registers r JOIN register_counters c ON c.register_id = r.id
		WHERE r.agency_code = ? AND r.kind = ? AND r.series = '' AND c.year = ?`, d.AgencyCode, Outgoing, year).Scan(&last).Error
	if err != nil {
		return nil, err
	}
	plan(d, last+1, year, at)
	return d, nil
}

// plan fills d with number n of year, issued at at.
func plan(d *Document, n, year int, at time.Time) {
	issued := dbTime(at)
	ns := docid.NumberSymbol{Number: n, Year: d.LegalYear, Symbol: d.Symbol}
	ident := docid.NewDocumentID(docid.AgencyCode(d.AgencyCode), at, ns).String()
	d.Number, d.Year, d.RegNumber, d.IssuedAt, d.Identifier = n, &year, &n, &issued, &ident
}

// IssueNumbered stores the organisation-signed revision of an approved document and
// marks it issued, taking in the same transaction the number planned (PlanNumber): a
// Conflict, with nothing stored, when the register has moved on since.
func (s *Store) IssueNumbered(ctx context.Context, documentID int64, in VersionInput, planned *Document) (*Version, error) {
	return s.addVersion(ctx, documentID, in, ActionIssue, func(tx *gorm.DB, d *Document) error {
		if d.Status != StatusApproved || d.Direction != Outgoing {
			return fault.Errorf(fault.Conflict, "document %d is %s; only an approved document is issued", d.ID, d.Status)
		}
		if d.RegNumber != nil { // numbered before, by AssignNumber
			if planned != nil && (planned.RegNumber == nil || *planned.RegNumber != *d.RegNumber) {
				return fault.Errorf(fault.Conflict, "document %d was numbered %d since this issue was prepared; prepare it again", d.ID, *d.RegNumber)
			}
			d.Status = StatusIssued
			return nil
		}
		if planned == nil || planned.RegNumber == nil || planned.IssuedAt == nil {
			return fault.Errorf(fault.Conflict, "document %d must be numbered before it is issued", d.ID)
		}
		reg, err := s.registerTx(tx, docid.AgencyCode(d.AgencyCode), Outgoing, "")
		if err != nil {
			return err
		}
		year := NumberingYear(*planned.IssuedAt)
		n, err := nextNumberTx(tx, reg.ID, year)
		if err != nil {
			return err
		}
		if n != *planned.RegNumber {
			return fault.WithCode(fault.Errorf(fault.Conflict, "number %d was taken by another document since this issue was prepared; prepare it again", *planned.RegNumber), CodeNumberTaken)
		}
		plan(d, n, year, *planned.IssuedAt)
		d.RegisterID = &reg.ID
		d.Status = StatusIssued
		return nil
	})
}
