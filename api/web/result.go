package web

import (
	"fmt"
	"html/template"
	"time"

	"github.com/kyso-vn/kyso/internal/vntime"
	"github.com/kyso-vn/kyso/signer/verify"
)

// result is a verification report as the page shows it: the verdict first, in plain
// words, then each signature.
type result struct {
	Class, Word, Sentence, Explain string
	File, SHA256, Validated        string
	Technical                      string
	Signatures                     []sigView
	XML, JSON                      template.URL
	Errors, Warnings               []string
}

type sigView struct {
	Index                          int
	Title                          string
	Class, Word, Sentence, Explain string
	HasSigner                      bool
	Party                          Party
	Identifiers                    []idView
	Time, TimeHow                  string
	CA, PKI                        string
	Integrity, Coverage            string
	Changes                        []changeView
	Revocation                     string
	Level, Reason, Technical       string
	Errors, Warnings               []string
}

// idView is one identifier the signer's certificate names (tax code, citizen ID…).
type idView struct{ Label, Value string }

type changeView struct {
	Revision int
	Kind     string
	Allowed  bool
	Detail   string
}

// vietnam is the zone documents show times in (Decree 30/2020).
var vietnam = vntime.Zone

func showTime(t *time.Time) string {
	if t == nil || t.IsZero() {
		return ""
	}
	return t.In(vietnam).Format("02/01/2006 15:04:05 (-07:00)")
}

// plain is the verdict word and its class for an indication: what the person reads
// first, in words and colour.
func plain(i verify.Indication, lang verify.Lang) (class, word string) {
	switch i {
	case verify.TotalPassed:
		return "ok", texts["passed"].in(lang)
	case verify.TotalFailed:
		return "bad", texts["failed"].in(lang)
	}
	return "unknown", texts["indeterminate"].in(lang)
}

// sentence is the CLI's verdict line for an indication (verify.Report.Verdict).
func sentence(i verify.Indication, s verify.SubIndication, lang verify.Lang) string {
	r := verify.Report{Indication: i, SubIndication: s}
	return r.Verdict(lang)
}

func technical(i verify.Indication, s verify.SubIndication) string {
	if s == "" {
		return string(i)
	}
	return string(i) + " / " + string(s)
}

func newResult(rep *verify.Report, lang verify.Lang) (*result, error) {
	T := func(k string) string { return texts[k].in(lang) }
	res := &result{File: rep.File, SHA256: rep.SHA256, Validated: showTime(&rep.ValidationTime),
		Sentence: rep.Verdict(lang), Technical: technical(rep.Indication, rep.SubIndication),
		Errors: rep.Errors, Warnings: rep.Warnings}
	res.Class, res.Word = plain(rep.Indication, lang)
	if rep.SubIndication != "" {
		res.Explain = subIndications[rep.SubIndication].in(lang)
	}
	for _, s := range rep.Signatures {
		v := sigView{Index: s.Index, Title: T("signature"), Sentence: sentence(s.Indication, s.SubIndication, lang),
			Technical: technical(s.Indication, s.SubIndication), Level: s.Level, Reason: s.Reason,
			Errors: s.Errors, Warnings: s.Warnings}
		if s.Type == "document-timestamp" {
			v.Title = T("doc-timestamp")
		}
		v.Class, v.Word = plain(s.Indication, lang)
		if s.SubIndication != "" {
			v.Explain = subIndications[s.SubIndication].in(lang)
		}
		if e := s.Explanation; e != nil && s.Indication != verify.TotalPassed {
			v.Explain = text{e.VI, e.EN}.in(lang) // the verifier's own, more specific reason
		}
		if s.Signer != nil {
			v.HasSigner = true
			v.Party = parseParty(s.Signer.Subject)
			v.CA = caName(s.Signer.Issuer)
			for _, id := range s.Signer.Identifiers { // decoded by pkg/pki, with their labels
				v.Identifiers = append(v.Identifiers, idView{text{id.LabelVI, id.LabelEN}.in(lang), id.Value})
			}
		}
		// the chain runs leaf first, to the anchor: its last certificate is the PKI
		switch n := len(s.Chain); {
		case s.SubIndication == verify.NoCertificateChainFound:
			v.PKI = T("no-pki")
		case s.PKI != "":
			v.PKI = s.PKI
		case n > 0:
			v.PKI = caName(s.Chain[n-1].Subject)
		default: // the signature failed before its chain was looked at
			v.PKI = T("not-checked")
		}
		v.Time = showTime(s.SigningTime)
		v.TimeHow = timeSources[s.TimeSource].in(lang)
		if s.SigningTime == nil && s.ClaimedSigningTime != nil {
			v.Time, v.TimeHow = showTime(s.ClaimedSigningTime), timeSources["claimed"].in(lang)
		}
		if v.Time == "" {
			v.Time, v.TimeHow = T("unknown"), ""
		}
		if v.Level == "none" {
			v.Level = T("no-level")
		}
		if s.Timestamp != nil && s.Timestamp.TSA != nil && s.TimeSource == "timestamp" {
			v.TimeHow += " — " + caName(s.Timestamp.TSA.Subject)
		}
		v.Integrity = integrities[s.Integrity].in(lang)
		if v.Integrity == "" {
			v.Integrity = s.Integrity
		}
		v.Coverage = T("partial")
		if s.CoversWholeDocument {
			v.Coverage = T("whole")
		}
		v.Coverage += fmt.Sprintf(" (%s %d/%d)", T("revision"), s.Revision, max(rep.Revisions, s.Revision))
		for _, m := range s.Modifications {
			v.Changes = append(v.Changes, changeView{Revision: m.Revision, Kind: kinds[m.Kind].in(lang), Allowed: m.Allowed, Detail: m.Detail})
		}
		if r := s.Revocation; r != nil {
			v.Revocation = revocations[r.Status].in(lang)
			if v.Revocation == "" {
				v.Revocation = r.Status
			}
			if src := revocationSources[r.Source].in(lang); src != "" {
				v.Revocation += " — " + src
			}
			if r.RevokedAt != nil {
				v.Revocation += " — " + showTime(r.RevokedAt)
			}
		} else {
			v.Revocation = T("not-checked")
		}
		res.Signatures = append(res.Signatures, v)
	}
	x, err := writeETSI(rep)
	if err != nil {
		return nil, err
	}
	j, err := rep.JSON()
	if err != nil {
		return nil, err
	}
	res.XML, res.JSON = dataURL("application/xml", x), dataURL("application/json", j)
	return res, nil
}

// caName is a CA's or TSA's common name, else its whole subject.
func caName(dn string) string {
	p := parseParty(dn)
	return p.Name
}

var funcs = template.FuncMap{
	"T": func(lang verify.Lang, k string) string { return texts[k].in(lang) },
	"other": func(lang verify.Lang) string {
		if lang == verify.English {
			return "vi"
		}
		return "en"
	},
	"date": func(t *time.Time) string {
		if t == nil {
			return ""
		}
		return t.In(vietnam).Format("02/01/2006")
	},
}
