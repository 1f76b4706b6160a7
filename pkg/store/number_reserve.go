package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/kyso-vn/kyso/pkg/docid"
	"github.com/kyso-vn/kyso/pkg/fault"
	"gorm.io/gorm"
)

// Numbering at issue: reserved at prepare, voided when abandoned.
//
// The number and the date are printed on the page in the revision the organisation
// signs ("Số: 05/UBND-VP"), so they are fixed before the signature is made — on a
// USB token through the desktop agent, on a phone, in another system — which may take
// minutes, or never come. Two designs keep a register without silent gaps:
//
//   - take the number only when the issued version is stored. Then every issue
//     prepared meanwhile in the same register prints the same number, and only the
//     first to complete can be stored: the others must be prepared and signed again
//     (a PIN again, a phone confirmation again), and a batch signed after one PIN
//     issues one document. That is what Kyso did before schema 5.
//   - reserve the number at prepare (ReserveNumber), commit it, and settle it later:
//     issued when the signed version is stored (IssueNumbered, same transaction), or
//     voided — "số bị hủy", with the reason, the time and who, audited and listed in
//     the register (RegisterNumbers) — when the request is cancelled, refused, times
//     out, fails, or expires (VoidExpiredReservations).
//
// Kyso reserves. A voided number is never given to another document: the prepared
// revision that prints it has been handed to a signer and may be signed later, and
// two signed documents must never carry one number. Decree 30/2020 lets the register
// record cancelled numbers; it does not let a number disappear. A document prepared
// again while its reservation is open (the agent crashed, the clerk retried) keeps its
// number: one number per document, however many attempts.

// Statuses of a number in register_numbers.
const (
	NumberReserved = "reserved"
	NumberIssued   = "issued"
	NumberVoided   = "voided"
	// NumberMissing is a number below the register's last that no document and no
	// record holds: a gap left before schema 5, shown rather than hidden.
	NumberMissing = "missing"
)

// Pending signature statuses that end a request without a signature. A number
// reserved for its document is voided when the request moves to one of them, in the
// same transaction, unless another live request of the document still holds it.
const (
	PendingCancelled = "cancelled"
	PendingRefused   = "refused"
	PendingTimedOut  = "timed_out"
	PendingFailed    = "failed"
)

var pendingEnded = map[string]string{
	PendingCancelled: "was cancelled",
	PendingRefused:   "was refused by the holder",
	PendingTimedOut:  "timed out",
	PendingFailed:    "failed",
}

// CodeNumberTaken refines the Conflict of an issue prepared before schema 5 whose
// planned number another document took meanwhile: preparing again succeeds.
const CodeNumberTaken = "number-taken"

// CodeNumberVoided refines the Conflict of a completion whose reserved number was
// voided first (its request expired or was cancelled): preparing again gives the
// document a new number.
const CodeNumberVoided = "number-voided"

// NumberRecord is one number taken in a register's year and what became of it.
type NumberRecord struct {
	RegisterID int64
	Year       int
	Number     int
	DocumentID int64
	Status     string
	ReservedAt time.Time
	ExpiresAt  time.Time
	SettledAt  *time.Time
	Reason     string
	Actor      string
}

func (NumberRecord) TableName() string { return "register_numbers" }

// checkSeries refuses a series name the registers table cannot hold.
func checkSeries(series string) error {
	if len(series) > 64 {
		return fault.Errorf(fault.Invalid, "register series %q is longer than 64 bytes", series)
	}
	return nil
}

// ReserveNumber reserves for document id, approved and outgoing, the next number of
// its agency's outgoing register of its series for the numbering year of at, held
// until until (the prepared request's expiry), and returns the document as it will
// stand when issued at at: number, year, issue time, identifier. The reservation is
// committed and audited. A document with an open reservation of that register and
// year keeps it (its hold is extended); one numbered before (AssignNumber) keeps its
// number and reserves nothing.
func (s *Store) ReserveNumber(ctx context.Context, id int64, at, until time.Time, actor string) (*Document, error) {
	if actor == "" {
		return nil, fault.Errorf(fault.Invalid, "an actor is required")
	}
	var out Document
	err := s.write(ctx, func(tx *gorm.DB) error {
		d, reg, err := s.numberable(tx, id)
		if err != nil || reg == nil {
			out = d
			return err
		}
		year := NumberingYear(at)
		now := s.now()
		var open []NumberRecord
		if err := tx.Where("document_id = ? AND status = ?", d.ID, NumberReserved).Find(&open).Error; err != nil {
			return fmt.Errorf("store: reserve number: %w", err)
		}
		for _, r := range open {
			if r.RegisterID == reg.ID && r.Year == year {
				hold := dbTime(until)
				if hold.After(r.ExpiresAt) {
					if err := tx.Model(&NumberRecord{}).Where("register_id = ? AND year = ? AND number = ?", r.RegisterID, r.Year, r.Number).
						Update("expires_at", hold).Error; err != nil {
						return fmt.Errorf("store: reserve number: %w", err)
					}
				}
				plan(&d, r.Number, year, at)
				out = d
				return nil
			}
			if _, err := s.voidTx(tx, now, r, fmt.Sprintf("document %d was prepared again for numbering year %d", d.ID, year), actor); err != nil {
				return err
			}
		}
		n, err := nextNumberTx(tx, reg.ID, year)
		if err != nil {
			return err
		}
		if err := symbolFree(tx, &d, reg, year, n); err != nil {
			return err // rolled back: the number is not taken
		}
		rec := NumberRecord{RegisterID: reg.ID, Year: year, Number: n, DocumentID: d.ID, Status: NumberReserved,
			ReservedAt: now, ExpiresAt: dbTime(until), Actor: actor}
		if err := tx.Create(&rec).Error; err != nil {
			return fmt.Errorf("store: reserve number: %w", err)
		}
		if _, err := s.appendAudit(tx, Event{Actor: actor, Action: ActionReserve, DocumentID: d.ID, DocumentHash: d.ContentSHA256,
			Detail: map[string]any{"register": reg.ID, "series": reg.Series, "year": year, "number": n, "until": rec.ExpiresAt.UTC().Format(time.RFC3339)}}); err != nil {
			return err
		}
		plan(&d, n, year, at)
		out = d
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// CodeSymbolTaken refines the Conflict of an issue whose number and symbol another
// series of the agency already gave this year.
const CodeSymbolTaken = "symbol-taken"

// symbolFree refuses number n for d when another series of d's agency already holds
// n with d's symbol this year (issued, or reserved): number and symbol are unique in a
// year (Decree 30 Art. 15.1), and series that share a symbol would both start at 01.
// Within one series the counter keeps them apart.
func symbolFree(tx *gorm.DB, d *Document, reg *Register, year, n int) error {
	var others []string
	err := tx.Raw(`SELECT r.series FROM documents d JOIN registers r ON r.id = d.register_id
		WHERE d.agency_code = ? AND d.direction = ? AND d.year = ? AND d.reg_number = ? AND d.symbol = ? AND d.legal_year = ? AND d.register_id <> ?
		UNION ALL
		SELECT r.series FROM register_numbers n JOIN documents d ON d.id = n.document_id JOIN registers r ON r.id = n.register_id
		WHERE r.agency_code = ? AND r.kind = ? AND n.year = ? AND n.number = ? AND n.status = ? AND d.symbol = ? AND d.legal_year = ? AND n.register_id <> ?`,
		d.AgencyCode, Outgoing, year, n, d.Symbol, d.LegalYear, reg.ID,
		d.AgencyCode, Outgoing, year, n, NumberReserved, d.Symbol, d.LegalYear, reg.ID).Scan(&others).Error
	if err != nil {
		return fmt.Errorf("store: reserve number: %w", err)
	}
	if len(others) == 0 {
		return nil
	}
	other := struct{ Series string }{others[0]}
	ns := docid.NumberSymbol{Number: n, Year: d.LegalYear, Symbol: d.Symbol}
	return fault.WithCode(fault.Errorf(fault.Conflict, "%s of %d is already held in the %s series, so document %d cannot take it in the %s series: "+
		"number and symbol are unique in a year (Decree 30 Art. 15.1), and each series counts from 01 — documents of a series need a symbol of their own",
		ns, year, seriesName(other.Series), d.ID, seriesName(reg.Series)), CodeSymbolTaken)
}

func seriesName(s string) string {
	if s == "" {
		return "main"
	}
	return fmt.Sprintf("%q", s)
}

// plan fills d with number n of year, issued at at.
func plan(d *Document, n, year int, at time.Time) {
	issued := dbTime(at)
	ns := docid.NumberSymbol{Number: n, Year: d.LegalYear, Symbol: d.Symbol}
	ident := docid.NewDocumentID(docid.AgencyCode(d.AgencyCode), at, ns).String()
	d.Number, d.Year, d.RegNumber, d.IssuedAt, d.Identifier = n, &year, &n, &issued, &ident
}

// IssueNumbered stores the organisation-signed revision of an approved document and
// marks it issued with the number reserved for it (ReserveNumber; planned carries it),
// settling the reservation as issued in the same transaction. A Conflict, with nothing
// stored, when the reservation was voided meanwhile (CodeNumberVoided). Requests
// prepared before schema 5 carry a plan without a reservation: they take the next
// number here, and are refused (CodeNumberTaken) when that is not the one printed.
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
		reg, err := s.registerTx(tx, docid.AgencyCode(d.AgencyCode), Outgoing, d.Series)
		if err != nil {
			return err
		}
		year, n := NumberingYear(*planned.IssuedAt), *planned.RegNumber
		var rec NumberRecord
		err = tx.Where("register_id = ? AND year = ? AND number = ?", reg.ID, year, n).Take(&rec).Error
		switch {
		case errors.Is(err, gorm.ErrRecordNotFound): // prepared before schema 5
			taken, err := nextNumberTx(tx, reg.ID, year)
			if err != nil {
				return err
			}
			if taken != n {
				return fault.WithCode(fault.Errorf(fault.Conflict, "number %d was taken by another document since this issue was prepared; prepare it again", n), CodeNumberTaken)
			}
		case err != nil:
			return fmt.Errorf("store: issue: %w", err)
		case rec.DocumentID != d.ID:
			return fault.Errorf(fault.Conflict, "number %d of %d is not reserved for document %d; prepare it again", n, year, d.ID)
		case rec.Status == NumberVoided:
			return fault.WithCode(fault.Errorf(fault.Conflict, "number %d of %d was voided before this issue completed (%s); prepare it again for a new number", n, year, rec.Reason), CodeNumberVoided)
		case rec.Status != NumberReserved:
			return fault.Errorf(fault.Conflict, "number %d of %d is %s", n, year, rec.Status)
		default:
			res := tx.Model(&NumberRecord{}).Where("register_id = ? AND year = ? AND number = ? AND status = ?", reg.ID, year, n, NumberReserved).
				Updates(map[string]any{"status": NumberIssued, "settled_at": s.now()})
			if res.Error != nil {
				return fmt.Errorf("store: issue: %w", res.Error)
			}
			if res.RowsAffected != 1 {
				return fault.WithCode(fault.Errorf(fault.Conflict, "number %d of %d was voided before this issue completed; prepare it again", n, year), CodeNumberVoided)
			}
		}
		plan(d, n, year, *planned.IssuedAt)
		d.RegisterID = &reg.ID
		d.Status = StatusIssued
		return nil
	})
}

// VoidReservation voids the number reserved for document id, if any, with the reason:
// an issue that failed after its number was taken. It is kept when a live request of
// the document (prepared, not ended, not expired) still holds it.
func (s *Store) VoidReservation(ctx context.Context, documentID int64, reason, actor string) error {
	if actor == "" || reason == "" {
		return fault.Errorf(fault.Invalid, "voiding a number needs an actor and a reason")
	}
	return s.write(ctx, func(tx *gorm.DB) error { return s.releaseTx(tx, s.now(), documentID, "", reason, actor) })
}

// releaseTx voids the open reservation of a document unless a live request other than
// except still holds it.
func (s *Store) releaseTx(tx *gorm.DB, now time.Time, documentID int64, except, reason, actor string) error {
	var open []NumberRecord
	if err := tx.Where("document_id = ? AND status = ?", documentID, NumberReserved).Find(&open).Error; err != nil {
		return fmt.Errorf("store: void number: %w", err)
	}
	if len(open) == 0 {
		return nil
	}
	var live int64
	q := tx.Model(&PendingSignature{}).Where("document_id = ? AND expires_at > ? AND status NOT IN ?", documentID, now, endedStatuses())
	if except != "" {
		q = q.Where("id <> ?", except)
	}
	if err := q.Count(&live).Error; err != nil {
		return fmt.Errorf("store: void number: %w", err)
	}
	if live > 0 {
		return nil
	}
	for _, r := range open {
		if _, err := s.voidTx(tx, now, r, reason, actor); err != nil {
			return err
		}
	}
	return nil
}

func endedStatuses() []string {
	out := []string{"completed"}
	for st := range pendingEnded {
		out = append(out, st)
	}
	return out
}

// voidTx voids one reserved number and audits it, and reports whether it did; one
// settled meanwhile (by another replica's sweep, or issued) is left as it is.
func (s *Store) voidTx(tx *gorm.DB, now time.Time, r NumberRecord, reason, actor string) (bool, error) {
	return s.voidWhere(tx, now, r, reason, actor, false)
}

// voidWhere is voidTx; expiredOnly leaves a reservation whose hold was extended since
// it was read.
func (s *Store) voidWhere(tx *gorm.DB, now time.Time, r NumberRecord, reason, actor string, expiredOnly bool) (bool, error) {
	if len(reason) > 1000 {
		reason = reason[:1000]
	}
	q := tx.Model(&NumberRecord{}).Where("register_id = ? AND year = ? AND number = ? AND status = ?", r.RegisterID, r.Year, r.Number, NumberReserved)
	if expiredOnly {
		q = q.Where("expires_at <= ?", now)
	}
	res := q.Updates(map[string]any{"status": NumberVoided, "settled_at": now, "reason": reason, "actor": actor})
	if res.Error != nil {
		return false, fmt.Errorf("store: void number: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return false, nil
	}
	_, err := s.appendAudit(tx, Event{Actor: actor, Action: ActionVoid, DocumentID: r.DocumentID,
		Detail: map[string]any{"register": r.RegisterID, "year": r.Year, "number": r.Number, "reason": reason}})
	return err == nil, err
}

// EndPending moves a pending signature from one status to one that ends it without a
// signature (PendingCancelled, PendingRefused, PendingTimedOut, PendingFailed),
// replacing its state when state is not nil, and voids in the same transaction the
// number reserved for its document, with why, unless another live request of the
// document holds it.
func (s *Store) EndPending(ctx context.Context, id, from, to string, state []byte, why, actor string) error {
	what, ok := pendingEnded[to]
	if !ok {
		return fault.Errorf(fault.Invalid, "%q does not end a signature request", to)
	}
	if actor == "" {
		actor = "kyso"
	}
	return s.write(ctx, func(tx *gorm.DB) error {
		now := s.now()
		var p PendingSignature
		if err := tx.Select("id", "document_id").Where("id = ?", id).Take(&p).Error; err != nil {
			return notFound(err, "pending signature "+id)
		}
		if err := updatePending(tx, now, id, from, to, state); err != nil {
			return err
		}
		if p.DocumentID == nil {
			return nil
		}
		reason := fmt.Sprintf("the signature request %s %s", id, what)
		if why != "" {
			reason += ": " + why
		}
		return s.releaseTx(tx, now, *p.DocumentID, id, reason, actor)
	})
}

// VoidExpiredReservations voids every reservation whose hold ended at or before now
// with no live request of its document left, at most limit (≤0: 1000) per call, and
// returns how many it voided. Replicas may sweep at once: each number is voided once.
func (s *Store) VoidExpiredReservations(ctx context.Context, limit int) (int, error) {
	if limit <= 0 {
		limit = 1000
	}
	now := s.now()
	var due []NumberRecord
	if err := s.db.WithContext(ctx).Where("status = ? AND expires_at <= ?", NumberReserved, now).
		Order("expires_at").Limit(limit).Find(&due).Error; err != nil {
		return 0, fmt.Errorf("store: expired reservations: %w", err)
	}
	n := 0
	for _, r := range due {
		err := s.write(ctx, func(tx *gorm.DB) error {
			var live int64
			if err := tx.Model(&PendingSignature{}).Where("document_id = ? AND expires_at > ? AND status NOT IN ?", r.DocumentID, now, endedStatuses()).
				Count(&live).Error; err != nil {
				return err
			}
			if live > 0 {
				return nil // held again since; its own expiry comes later
			}
			reason := fmt.Sprintf("expired: the issue prepared at %s was not completed by %s",
				r.ReservedAt.In(docid.Vietnam).Format(time.RFC3339), r.ExpiresAt.In(docid.Vietnam).Format(time.RFC3339))
			voided, err := s.voidWhere(tx, now, r, reason, "kyso", true)
			if voided {
				n++
			}
			return err
		})
		if err != nil {
			return n, fmt.Errorf("store: void expired reservation: %w", err)
		}
	}
	return n, nil
}

// RegisterLine is one number of a register's year: the document that holds it
// (issued, or received for an incoming register), or a number reserved, voided or
// missing, with the reason and time.
type RegisterLine struct {
	Number     int
	Status     string // issued, received, reserved, voided, missing
	DocumentID int64
	Identifier string
	At         *time.Time // issued or received at; reserved, voided at
	Reason     string
	Actor      string
	// Confidentiality is the document's, for the caller to hide what a reader may
	// not see.
	Confidentiality Confidentiality
}

// RegisterNumbers lists every number from 1 to the last taken in a register's year,
// each with what holds it. Numbers taken before schema 5 are read from the documents;
// a number nothing holds is NumberMissing.
func (s *Store) RegisterNumbers(ctx context.Context, registerID int64, year int) ([]RegisterLine, error) {
	db := s.db.WithContext(ctx)
	last, err := s.LastNumber(ctx, registerID, year)
	if err != nil {
		return nil, err
	}
	lines := make([]RegisterLine, last)
	for i := range lines {
		lines[i] = RegisterLine{Number: i + 1, Status: NumberMissing}
	}
	var recs []NumberRecord
	if err := db.Where("register_id = ? AND year = ?", registerID, year).Find(&recs).Error; err != nil {
		return nil, fmt.Errorf("store: register numbers: %w", err)
	}
	for _, r := range recs {
		if r.Number < 1 || r.Number > last {
			continue
		}
		l := &lines[r.Number-1]
		l.Status, l.DocumentID, l.Reason, l.Actor = r.Status, r.DocumentID, r.Reason, r.Actor
		at := r.ReservedAt
		if r.SettledAt != nil {
			at = *r.SettledAt
		}
		l.At = &at
	}
	var docs []Document
	if err := db.Where("register_id = ? AND year = ? AND reg_number IS NOT NULL", registerID, year).Find(&docs).Error; err != nil {
		return nil, fmt.Errorf("store: register numbers: %w", err)
	}
	if len(recs) > 0 {
		var confs []struct {
			ID              int64
			Confidentiality Confidentiality
		}
		if err := db.Raw(`SELECT d.id, d.confidentiality FROM documents d JOIN register_numbers r ON r.document_id = d.id
			WHERE r.register_id = ? AND r.year = ?`, registerID, year).Scan(&confs).Error; err != nil {
			return nil, fmt.Errorf("store: register numbers: %w", err)
		}
		conf := map[int64]Confidentiality{}
		for _, c := range confs {
			conf[c.ID] = c.Confidentiality
		}
		for i := range lines {
			lines[i].Confidentiality = conf[lines[i].DocumentID]
		}
	}
	for _, d := range docs {
		n := *d.RegNumber
		if n < 1 || n > last {
			continue
		}
		l := &lines[n-1]
		l.DocumentID, l.Identifier, l.Reason, l.Confidentiality = d.ID, deref(d.Identifier), "", d.Confidentiality
		switch d.Status {
		case StatusReceived:
			l.Status, l.At = "received", d.ReceivedAt
		default:
			l.Status, l.At = string(d.Status), d.IssuedAt
		}
	}
	return lines, nil
}
