// Package docid parses, validates and formats the identifier codes that tag Vietnamese
// official documents: agency identifier codes ("mã định danh", Decision 20/2020/QĐ-TTg),
// document numbers and symbols ("số, ký hiệu", Decree 30/2020/NĐ-CP Annex I §II.3) and
// the edXML document identifier of QCVN 102:2016 (`OrganId,yyyy/MM/dd,Number/Symbol`).
// It also reads the agency list, which is versioned data (codes change when agencies are
// reorganised), from CSV.
//
// It is a leaf: it imports only the standard library, never gorm, HTTP or signing code.
package docid

import (
	"errors"
	"fmt"
	"strings"

	"github.com/kyso-vn/kyso/internal/vntime"
)

// Vietnam is the zone of every date the rules speak of (issue dates, the 1 January
// numbering reset). Vietnam has kept UTC+07:00 without daylight saving since 1975, so a
// fixed zone is exact for every document this system handles and needs no tz database.
var Vietnam = vntime.Zone

// ErrSyntax is wrapped by every parse error, so a caller can tell bad input from other
// failures with errors.Is.
var ErrSyntax = errors.New("docid: invalid syntax")

// SyntaxError says what was wrong with an input and where.
type SyntaxError struct {
	What   string // "agency code", "number and symbol", "document identifier"
	Input  string
	Reason string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("docid: invalid %s %q: %s", e.What, e.Input, e.Reason)
}

func (e *SyntaxError) Unwrap() error { return ErrSyntax }

// MaxAgencyCodeLen is the longest agency code Decision 20/2020 allows.
const MaxAgencyCodeLen = 35

// AgencyCode is a validated agency identifier code such as `000.00.00.H43`: groups of
// digits and capital letters A–Z separated by dots, at most 35 characters.
type AgencyCode string

// ParseAgencyCode validates s as an agency identifier code. It accepts every code of
// Decision 20/2020 (not only the common 13-character form), because edXML traffic carries
// longer and non-standard codes during migrations.
func ParseAgencyCode(s string) (AgencyCode, error) {
	bad := func(reason string) (AgencyCode, error) {
		return "", &SyntaxError{What: "agency code", Input: s, Reason: reason}
	}
	if s == "" {
		return bad("empty")
	}
	if len(s) > MaxAgencyCodeLen {
		return bad(fmt.Sprintf("longer than %d characters", MaxAgencyCodeLen))
	}
	for _, g := range strings.Split(s, ".") {
		if g == "" {
			return bad("empty group (leading, trailing or doubled dot)")
		}
		for i := 0; i < len(g); i++ {
			c := g[i]
			if !(c >= '0' && c <= '9' || c >= 'A' && c <= 'Z') {
				return bad("only digits, capital letters A-Z and dots are allowed")
			}
		}
	}
	return AgencyCode(s), nil
}

// MustAgencyCode is ParseAgencyCode for constants in tests and seed data; it panics on
// a bad code, so it must never see user input.
func MustAgencyCode(s string) AgencyCode {
	c, err := ParseAgencyCode(s)
	if err != nil {
		panic(err)
	}
	return c
}

func (c AgencyCode) String() string { return string(c) }

// IsStandard reports whether c has the common 13-character form `NNN.NN.NN.Xnn` used by
// QCVN 102:2016 and the OrganId field of Decree 30 Annex VI.
func (c AgencyCode) IsStandard() bool {
	s := string(c)
	if len(s) != 13 || s[3] != '.' || s[6] != '.' || s[9] != '.' {
		return false
	}
	for _, i := range []int{0, 1, 2, 4, 5, 7, 8, 11, 12} {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s[10] >= 'A' && s[10] <= 'Z'
}

// TopLevel returns the last group, the level-1 body the agency belongs to (`G22` the
// Government Office, `H43` a provincial People's Committee).
func (c AgencyCode) TopLevel() string {
	s := string(c)
	return s[strings.LastIndexByte(s, '.')+1:]
}

// TopLevelKind classifies the level-1 group by its letter.
type TopLevelKind string

const (
	KindMinistry        TopLevelKind = "ministry"         // G..: ministries and government agencies
	KindProvince        TopLevelKind = "province"         // H01–H63: provincial People's Committees
	KindProvinceCouncil TopLevelKind = "province_council" // K01–K63: provincial People's Councils
	KindOther           TopLevelKind = "other"            // Party, National Assembly, courts, …
	KindUnknown         TopLevelKind = ""                 // not a letter+digits group
)

// Kind classifies the top-level group. H and K are provincial only in the range 01–63
// that the alphabetical province list uses.
func (c AgencyCode) Kind() TopLevelKind {
	g := c.TopLevel()
	if len(g) < 2 || g[0] < 'A' || g[0] > 'Z' {
		return KindUnknown
	}
	for i := 1; i < len(g); i++ {
		if g[i] < '0' || g[i] > '9' {
			return KindUnknown
		}
	}
	n := 0
	for i := 1; i < len(g); i++ {
		n = n*10 + int(g[i]-'0')
		if n > 1000 {
			break
		}
	}
	switch g[0] {
	case 'G':
		return KindMinistry
	case 'H':
		if len(g) == 3 && n >= 1 && n <= 63 {
			return KindProvince
		}
		return KindUnknown
	case 'K':
		if len(g) == 3 && n >= 1 && n <= 63 {
			return KindProvinceCouncil
		}
		return KindUnknown
	}
	return KindOther
}
