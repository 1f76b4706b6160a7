package app

import (
	"context"
	"time"

	"github.com/kyso-vn/kyso/pkg/fault"
	"github.com/kyso-vn/kyso/pkg/store"
)

// StatsQuery is the period of a report: the days From..To (Vietnam dates, both
// included).
type StatsQuery struct {
	From, To time.Time
}

// YearPeriod is the calendar year y in Vietnam as a StatsQuery.
func YearPeriod(y int) StatsQuery {
	from := time.Date(y, 1, 1, 0, 0, 0, 0, vietnam)
	return StatsQuery{From: from, To: from.AddDate(1, 0, -1)}
}

// Stats is what the province's yearly report counts, for a period, over what the
// reader may see. Every breakdown sums to its total: the document counts by type and
// by status, the signatures by kind and by key kind, the certificates by kind.
type Stats struct {
	From     string         `json:"from"` // yyyy-MM-dd, Vietnam
	To       string         `json:"to"`   // yyyy-MM-dd, included
	Incoming DocumentCounts `json:"incoming"`
	Outgoing DocumentCounts `json:"outgoing"`
	// Signed is the number of documents with a signed version stored in the period.
	Signed       int64             `json:"signed"`
	Signatures   SignatureCounts   `json:"signatures"`
	Certificates CertificateCounts `json:"certificates"`
}

// DocumentCounts are the documents of one direction: incoming by arrival, outgoing by
// their issue (the drafts and approved ones by their creation), each once, in its
// current status. Type "" (none given) is counted as "unspecified".
type DocumentCounts struct {
	Total int64 `json:"total"`
	// Previous is the total of the period before: the year before a calendar year,
	// else as many days before.
	Previous int64            `json:"previous"`
	ByType   map[string]int64 `json:"by_type"`
	ByStatus map[string]int64 `json:"by_status"`
}

// SignatureCounts are the signatures of the period: made here (approve, issue, sign)
// and verified on receipt (receive); by key kind hsm, soft, usb_token (every key
// outside the server, which signs through prepare/complete), sim_pki, remote (CSC) and
// other (another agency's, on a received document).
type SignatureCounts struct {
	Total     int64            `json:"total"`
	ByKind    map[string]int64 `json:"by_kind"`
	ByKeyKind map[string]int64 `json:"by_key_kind"`
}

// CertificateCounts are the province's certificates valid at some time in the period
// (in_force) and those of them that signed in it (used), by kind: organisation,
// personal_usb_token, personal_sim_pki, personal_remote, personal_hsm. A certificate
// enters the list with its first signature here, or by registration.
type CertificateCounts struct {
	InForce int64                       `json:"in_force"`
	Used    int64                       `json:"used"`
	ByKind  map[string]CertificateCount `json:"by_kind"`
}

// CertificateCount is one kind's line of CertificateCounts.
type CertificateCount struct {
	InForce int64 `json:"in_force"`
	Used    int64 `json:"used"`
}

// maxStatsDays bounds a report's period (ten years and their leap days).
const maxStatsDays = 3660

// Stats reports a period's activity over what p may see.
func (s *Service) Stats(ctx context.Context, p Principal, q StatsQuery) (Stats, error) {
	if q.From.IsZero() || q.To.IsZero() {
		return Stats{}, fault.New(fault.Invalid, "statistics are for a period: give its first and last day")
	}
	from, to := day(q.From), day(q.To).AddDate(0, 0, 1)
	if !from.Before(to) {
		return Stats{}, fault.New(fault.Invalid, "the period's last day is before its first")
	}
	if to.Sub(from) > maxStatsDays*24*time.Hour {
		return Stats{}, fault.Errorf(fault.Invalid, "statistics cover at most %d days", maxStatsDays)
	}
	st, err := s.Store.PeriodStats(ctx, from, to, visibility(p))
	if err != nil {
		return Stats{}, err
	}
	out := Stats{From: from.Format(time.DateOnly), To: to.AddDate(0, 0, -1).Format(time.DateOnly),
		Incoming: documentCounts(st.Incoming, st.PrevIncoming), Outgoing: documentCounts(st.Outgoing, st.PrevOutgoing),
		Signed:     st.Signed,
		Signatures: SignatureCounts{Total: st.Signatures, ByKind: map[string]int64{}, ByKeyKind: map[string]int64{}},
		Certificates: CertificateCounts{InForce: st.Certificates.InForce, Used: st.Certificates.Used,
			ByKind: map[string]CertificateCount{}},
	}
	for _, k := range store.SignatureKinds {
		out.Signatures.ByKind[string(k)] = st.SignaturesByKind[k]
	}
	for _, k := range store.KeyKinds {
		out.Signatures.ByKeyKind[string(k)] = st.SignaturesByKey[k]
	}
	for _, c := range store.CertCategories {
		n := st.CertificatesByCategory[c]
		out.Certificates.ByKind[string(c)] = CertificateCount{InForce: n.InForce, Used: n.Used}
	}
	return out, nil
}

func documentCounts(c store.DocCount, prev int64) DocumentCounts {
	out := DocumentCounts{Total: c.Total, Previous: prev, ByType: map[string]int64{}, ByStatus: map[string]int64{}}
	for t, n := range c.ByType {
		if t == "" {
			t = "unspecified"
		}
		out.ByType[t] += n
	}
	for st, n := range c.ByStatus {
		out.ByStatus[string(st)] = n
	}
	return out
}
