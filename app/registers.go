package app

import (
	"context"

	"github.com/kyso-vn/kyso/pkg/docid"
	"github.com/kyso-vn/kyso/pkg/store"
)

// Registers lists the registers ("sổ đăng ký") of agency ("" for all) with the last
// number taken in year; year 0 is this numbering year (Vietnam time).
func (s *Service) Registers(ctx context.Context, agency string, year int) ([]store.RegisterCount, error) {
	if year == 0 {
		year = store.NumberingYear(s.now())
	}
	regs, err := s.Store.Registers(ctx, docid.AgencyCode(agency), year)
	return regs, err
}

// CreateRegister creates an agency's outgoing or incoming register.
func (s *Service) CreateRegister(ctx context.Context, agency string, kind store.Direction, series, name, actor string) (*store.RegisterCount, error) {
	r, err := s.Store.CreateRegister(ctx, docid.AgencyCode(agency), kind, series, name, actor)
	if err != nil {
		return nil, err
	}
	return &store.RegisterCount{Register: *r, Year: store.NumberingYear(s.now())}, nil
}
