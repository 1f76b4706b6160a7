package docid

import (
	"strings"
	"time"
)

// DocumentID is the edXML (QCVN 102:2016) document identifier
// `OrganId,yyyy/MM/dd,Number/Symbol`, e.g. `000.00.00.G22,2015/09/30,7816/VPCP-TTĐT`:
// the issuing agency, the issue date in Vietnam and the number and symbol.
type DocumentID struct {
	Organ  AgencyCode
	Date   time.Time // midnight of the issue day in Vietnam
	Number NumberSymbol
}

const edxmlDate = "2006/01/02"

// NewDocumentID builds the identifier of a document issued at the instant issued; the
// date is the calendar day in Vietnam, whatever zone issued carries.
func NewDocumentID(organ AgencyCode, issued time.Time, ns NumberSymbol) DocumentID {
	y, m, d := issued.In(Vietnam).Date()
	return DocumentID{Organ: organ, Date: time.Date(y, m, d, 0, 0, 0, 0, Vietnam), Number: ns}
}

// String formats the identifier.
func (id DocumentID) String() string {
	return string(id.Organ) + "," + id.Date.In(Vietnam).Format(edxmlDate) + "," + id.Number.String()
}

// ParseDocumentID parses an edXML document identifier strictly (canonical parts only).
func ParseDocumentID(s string) (DocumentID, error) {
	bad := func(reason string) (DocumentID, error) {
		return DocumentID{}, &SyntaxError{What: "document identifier", Input: s, Reason: reason}
	}
	parts := strings.Split(s, ",")
	if len(parts) != 3 {
		return bad("want OrganId,yyyy/MM/dd,Number/Symbol")
	}
	organ, err := ParseAgencyCode(parts[0])
	if err != nil {
		return bad(err.Error())
	}
	date, err := parseDate(parts[1])
	if err != nil {
		return bad("date must be yyyy/MM/dd")
	}
	ns, err := ParseNumberSymbol(parts[2])
	if err != nil {
		return bad(err.Error())
	}
	return DocumentID{Organ: organ, Date: date, Number: ns}, nil
}

// parseDate accepts exactly yyyy/MM/dd; time.Parse alone would take a one-digit day, and
// the round trip must be exact.
func parseDate(s string) (time.Time, error) {
	d, err := time.ParseInLocation(edxmlDate, s, Vietnam)
	if err != nil {
		return time.Time{}, err
	}
	if d.Format(edxmlDate) != s || d.Year() < 1 {
		return time.Time{}, &SyntaxError{What: "date", Input: s, Reason: "not canonical"}
	}
	return d, nil
}
