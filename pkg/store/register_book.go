package store

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/kyso-vn/kyso/pkg/docid"
	"github.com/kyso-vn/kyso/pkg/fault"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// RegisterEntry is a row of a register ("sổ đăng ký"): a document, with the signatures
// summary of its current version (for the signer's name); or a number no document
// holds (Number set, Document's Year and RegNumber only): voided ("số bị hủy", with
// the reason) or reserved for an issue in progress.
type RegisterEntry struct {
	Document
	Signatures string
	Number     *NumberRecord `gorm:"-"`
}

// RegisterEntries lists the documents an agency's register of kind and series holds,
// dated in [from, to) — outgoing documents by their issue time, incoming ones by their
// arrival — and the numbers taken in the period that no document holds (voided, or
// reserved by an issue in progress), in register order (year, then number). A series other than the main one
// ("") that the agency does not keep is NotFound; the main register before its first
// document is simply empty.
func (s *Store) RegisterEntries(ctx context.Context, agency docid.AgencyCode, kind Direction, series string, from, to time.Time) ([]RegisterEntry, error) {
	if kind != Outgoing && kind != Incoming {
		return nil, fault.Errorf(fault.Invalid, "register kind %q (outgoing or incoming)", kind)
	}
	if !from.Before(to) {
		return nil, fault.Errorf(fault.Invalid, "the period's start must be before its end")
	}
	db := s.db.WithContext(ctx)
	var reg Register
	res := db.Where("agency_code = ? AND kind = ? AND series = ?", string(agency), kind, series).Limit(1).Find(&reg)
	if res.Error != nil {
		return nil, fmt.Errorf("store: register: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		if series != "" {
			return nil, fault.Errorf(fault.NotFound, "agency %s keeps no %s register %q", agency, kind, series)
		}
		return nil, nil
	}
	at := "d.issued_at"
	if kind == Incoming {
		at = "d.received_at"
	}
	var out []RegisterEntry
	err := db.Table("documents AS d").
		Select("d.*, v.signatures AS signatures").
		Joins("LEFT JOIN document_versions AS v ON v.document_id = d.id AND v.seq = d.current_version").
		Where("d.register_id = ? AND d.reg_number IS NOT NULL AND "+at+" >= ? AND "+at+" < ?", reg.ID, dbTime(from), dbTime(to)).
		Order("d.year, d.reg_number").Scan(&out).Error
	if err != nil {
		return nil, fmt.Errorf("store: register entries: %w", err)
	}
	var recs []NumberRecord
	if err := db.Where("register_id = ? AND status IN ? AND reserved_at >= ? AND reserved_at < ?",
		reg.ID, []string{NumberVoided, NumberReserved}, dbTime(from), dbTime(to)).Find(&recs).Error; err != nil {
		return nil, fmt.Errorf("store: register entries: %w", err)
	}
	if len(recs) == 0 {
		return out, nil
	}
	for i := range recs {
		r := &recs[i]
		out = append(out, RegisterEntry{Document: Document{Year: &r.Year, RegNumber: &r.Number}, Number: r})
	}
	slices.SortStableFunc(out, func(a, b RegisterEntry) int {
		return cmp.Or(cmp.Compare(*a.Year, *b.Year), cmp.Compare(*a.RegNumber, *b.RegNumber))
	})
	return out, nil
}

// PageCounts returns the page counts known for contents by hash; content is immutable,
// so a count once taken stays right.
func (s *Store) PageCounts(ctx context.Context, shas []string) (map[string]int, error) {
	out := map[string]int{}
	for len(shas) > 0 {
		chunk := shas[:min(len(shas), 500)]
		shas = shas[len(chunk):]
		var rows []struct {
			ContentSHA256 string `gorm:"column:content_sha256"`
			Pages         int
		}
		if err := s.db.WithContext(ctx).Table("page_counts").Where("content_sha256 IN ?", chunk).Scan(&rows).Error; err != nil {
			return nil, fmt.Errorf("store: page counts: %w", err)
		}
		for _, r := range rows {
			out[r.ContentSHA256] = r.Pages
		}
	}
	return out, nil
}

// SetPageCount records the page count of a content.
func (s *Store) SetPageCount(ctx context.Context, sha string, pages int) error {
	if !isHexSHA256(sha) || pages < 0 {
		return fault.Errorf(fault.Invalid, "bad page count")
	}
	row := map[string]any{"content_sha256": sha, "pages": pages}
	return s.write(ctx, func(tx *gorm.DB) error {
		if err := tx.Table("page_counts").Clauses(clause.OnConflict{DoNothing: true}).Create(row).Error; err != nil {
			return fmt.Errorf("store: page count: %w", err)
		}
		return nil
	})
}
