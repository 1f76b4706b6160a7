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
