package edxml

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/beevik/etree"

	"github.com/kyso-vn/kyso/pkg/docid"
)

// Status codes of the edXML status packet (QCVN 102:2016 as the VPCP samples and the
// provincial LGSPs use them; see research/vietnam.md §2.2).
const (
	StatusArrived    = "01" // Đã đến: received by the software, not yet handled by the clerk
	StatusRefused    = "02" // Từ chối tiếp nhận: returned, with the reason
	StatusAccepted   = "03" // Đã tiếp nhận: registered
	StatusAssigned   = "04" // Phân công
	StatusProcessing = "05" // Đang xử lý
	StatusDone       = "06" // Hoàn thành
)

// Staff is who handled the document at the receiving agency.
type Staff struct {
	Department, Name, Email, Mobile string
}

// Status is the status packet a receiving agency sends back about one document
// (Decree 30/2020, Art. 21.2: the sender is told the same day whether the document
// was received or returned, and why).
type Status struct {
	// ResponseFor names the document: the issuing agency, its number and symbol, the
	// promulgation date and the edXML document identifier.
	OrganID       string
	Number        docid.NumberSymbol
	PromulgatedAt time.Time
	DocumentID    string
	// From is the receiving agency that answers.
	From        Organ
	Staff       Staff
	Code        string // StatusAccepted, StatusRefused, …
	Description string // the reason, for people (Vietnamese first)
	Timestamp   time.Time
}

// BuildStatus writes the status packet.
func BuildStatus(w io.Writer, s *Status) error {
	if s.Code == "" || s.From.OrganID == "" {
		return errors.New("edxml: a status needs its code and the answering agency (From)")
	}
	doc := etree.NewDocument()
	doc.CreateProcInst("xml", `version="1.0" encoding="UTF-8"`)
	root := doc.CreateElement("edXML:edXML")
	root.CreateAttr("xmlns:edXML", Namespace)
	st := root.CreateElement("edXML:edXMLEnvelope").CreateElement("edXML:edXMLHeader").CreateElement("edXML:Status")
	rf := st.CreateElement("edXML:ResponseFor")
	text(rf, "edXML:OrganId", s.OrganID)
	text(rf, "edXML:Code", s.Number.String())
	date := ""
	if !s.PromulgatedAt.IsZero() {
		date = s.PromulgatedAt.In(docid.Vietnam).Format("2006/01/02")
	}
	text(rf, "edXML:PromulgationDate", date)
	text(rf, "edXML:DocumentId", s.DocumentID)
	organ(st.CreateElement("edXML:From"), s.From)
	si := st.CreateElement("edXML:StaffInfo")
	text(si, "edXML:Department", s.Staff.Department)
	text(si, "edXML:Staff", s.Staff.Name)
	text(si, "edXML:Email", s.Staff.Email)
	text(si, "edXML:Mobile", s.Staff.Mobile)
	text(st, "edXML:StatusCode", s.Code)
	text(st, "edXML:Description", s.Description)
	text(st, "edXML:Timestamp", s.Timestamp.In(docid.Vietnam).Format("2006/01/02 15:04:05"))
	doc.Indent(2)
	_, err := doc.WriteTo(w)
	return err
}

// ParseStatus reads a status packet.
func ParseStatus(r io.Reader) (*Status, error) {
	doc := etree.NewDocument()
	if _, err := doc.ReadFrom(io.LimitReader(r, 1<<20)); err != nil {
		return nil, fmt.Errorf("edxml: %w", err)
	}
	root := doc.Root()
	if root == nil || root.Tag != "edXML" || root.NamespaceURI() != Namespace {
		return nil, fmt.Errorf("edxml: not a QCVN 102:2016 packet (root %q)", tagOf(root))
	}
	st := find(root, "edXMLEnvelope", "edXMLHeader", "Status")
	if st == nil {
		return nil, errors.New("edxml: no Status")
	}
	s := &Status{From: readOrgan(child(st, "From")), Code: val(st, "StatusCode"), Description: val(st, "Description")}
	if rf := child(st, "ResponseFor"); rf != nil {
		s.OrganID, s.DocumentID = val(rf, "OrganId"), val(rf, "DocumentId")
		if c := val(rf, "Code"); c != "" {
			if ns, err := docid.ParseNumberSymbol(c); err == nil {
				s.Number = ns
			}
		}
		if d := val(rf, "PromulgationDate"); d != "" {
			s.PromulgatedAt, _ = time.ParseInLocation("2006/01/02", d, docid.Vietnam)
		}
	}
	if si := child(st, "StaffInfo"); si != nil {
		s.Staff = Staff{Department: val(si, "Department"), Name: val(si, "Staff"), Email: val(si, "Email"), Mobile: val(si, "Mobile")}
	}
	if ts := val(st, "Timestamp"); ts != "" {
		t, err := time.ParseInLocation("2006/01/02 15:04:05", ts, docid.Vietnam)
		if err != nil {
			return nil, fmt.Errorf("edxml: Timestamp %q: %w", ts, err)
		}
		s.Timestamp = t
	}
	return s, nil
}
