// Package edxml builds and reads the edXML packets of QCVN 102:2016/BTTTT, in which
// Vietnamese agencies send documents to each other over the national document axis
// and the provincial LGSP: a header with the sending and receiving agencies, the edXML
// document identifier (OrganId,yyyy/MM/dd,Number/Symbol), the number and symbol, the
// promulgation place and date, the subject and the signer, and the signed PDF as a
// base64 attachment.
//
// The envelope's own XML signature (XMLDSig) is not made here: the PDF inside carries
// the PAdES signatures that make it an original (Decree 30/2020, Art. 5).
//
// It imports only the standard library, pkg/docid and etree.
package edxml

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/beevik/etree"

	"github.com/kyso-vn/kyso/pkg/docid"
)

// Namespace is the QCVN 102:2016 namespace.
const Namespace = "http://www.mic.gov.vn/TBT/QCVN_102_2016"

// Organ is a sending or receiving agency.
type Organ struct {
	OrganID              string
	OrganizationInCharge string
	OrganName            string
	OrganAdd             string
	Email                string
	Telephone            string
	Website              string
}

// Signer is who signed the document, as printed under it.
type Signer struct {
	Competence string // e.g. "TM. ỦY BAN NHÂN DÂN"
	Position   string // e.g. "CHỦ TỊCH"
	FullName   string
}

// Attachment is a file carried in the packet.
type Attachment struct {
	ContentID   string
	Name        string
	Description string
	ContentType string
	Data        []byte
}

// Message is one document packet.
type Message struct {
	From            Organ
	To              []Organ
	Number          docid.NumberSymbol
	PromulgatedAt   time.Time // the issue date (in Vietnam time)
	Place           string    // promulgation place, e.g. "Ninh Thuận"
	DocumentType    string    // type name, e.g. "Công văn"
	DocumentTypeNum int       // the numeric Type code (the code list is not published; 0 leaves it out)
	Subject         string    // trích yếu
	Content         string
	Signer          Signer
	Priority        int // 0 normal
	PageAmount      int
	Attachments     []Attachment
	// Trace is when this agency handled the packet (default: PromulgatedAt).
	Trace time.Time
}

// DocumentID is the message's edXML document identifier.
func (m *Message) DocumentID() (docid.DocumentID, error) {
	code, err := docid.ParseAgencyCode(m.From.OrganID)
	if err != nil {
		return docid.DocumentID{}, fmt.Errorf("edxml: From/OrganId: %w", err)
	}
	return docid.NewDocumentID(code, m.PromulgatedAt, m.Number), nil
}

// Build writes the packet.
func Build(w io.Writer, m *Message) error {
	id, err := m.DocumentID()
	if err != nil {
		return err
	}
	if len(m.To) == 0 {
		return errors.New("edxml: no receiving agency (To)")
	}
	if len(m.Attachments) == 0 {
		return errors.New("edxml: no attachment: the packet carries the signed document")
	}
	vn := m.PromulgatedAt.In(docid.Vietnam)
	doc := etree.NewDocument()
	doc.CreateProcInst("xml", `version="1.0" encoding="UTF-8"`)
	root := doc.CreateElement("edXML:edXML")
	root.CreateAttr("xmlns:edXML", Namespace)
	env := root.CreateElement("edXML:edXMLEnvelope")
	hdr := env.CreateElement("edXML:edXMLHeader")
	mh := hdr.CreateElement("edXML:MessageHeader")
	organ(mh.CreateElement("edXML:From"), m.From)
	for _, t := range m.To {
		organ(mh.CreateElement("edXML:To"), t)
	}
	text(mh, "edXML:DocumentId", id.String())
	code := mh.CreateElement("edXML:Code")
	text(code, "edXML:CodeNumber", docid.FormatNumber(m.Number.Number))
	text(code, "edXML:CodeNotation", m.Number.Symbol)
	pi := mh.CreateElement("edXML:PromulgationInfo")
	text(pi, "edXML:Place", m.Place)
	text(pi, "edXML:PromulgationDate", vn.Format("2006/01/02"))
	dt := mh.CreateElement("edXML:DocumentType")
	if m.DocumentTypeNum > 0 {
		text(dt, "edXML:Type", fmt.Sprint(m.DocumentTypeNum))
	}
	text(dt, "edXML:TypeName", m.DocumentType)
	text(mh, "edXML:Subject", m.Subject)
	text(mh, "edXML:Content", m.Content)
	si := mh.CreateElement("edXML:SignerInfo")
	text(si, "edXML:Competence", m.Signer.Competence)
	text(si, "edXML:Position", m.Signer.Position)
	text(si, "edXML:FullName", m.Signer.FullName)
	oi := mh.CreateElement("edXML:OtherInfo")
	text(oi, "edXML:Priority", fmt.Sprint(m.Priority))
	text(oi, "edXML:PageAmount", fmt.Sprint(m.PageAmount))
	trace := m.Trace
	if trace.IsZero() {
		trace = m.PromulgatedAt
	}
	th := hdr.CreateElement("edXML:TraceHeaderList").CreateElement("edXML:TraceHeader")
	text(th, "edXML:OrganId", m.From.OrganID)
	text(th, "edXML:Timestamp", trace.In(docid.Vietnam).Format("2006/01/02 15:04:05"))
	man := env.CreateElement("edXML:edXMLBody").CreateElement("edXML:edXMLManifest")
	man.CreateAttr("version", "1.0")
	enc := root.CreateElement("edXML:AttachmentEncoded")
	for i, a := range m.Attachments {
		cid := a.ContentID
		if cid == "" {
			cid = fmt.Sprintf("cid:%d", i+1)
		}
		ref := man.CreateElement("edXML:Reference")
		text(ref, "edXML:ContentId", cid)
		text(ref, "edXML:ContentType", a.ContentType)
		text(ref, "edXML:Description", a.Description)
		text(ref, "edXML:AttachmentName", a.Name)
		att := enc.CreateElement("edXML:Attachment")
		text(att, "edXML:ContentId", cid)
		text(att, "edXML:AttachmentName", a.Name)
		text(att, "edXML:Description", a.Description)
		text(att, "edXML:ContentType", a.ContentType)
		text(att, "edXML:ContentTransferEncoded", base64.StdEncoding.EncodeToString(a.Data))
	}
	doc.Indent(2)
	_, err = doc.WriteTo(w)
	return err
}

func organ(e *etree.Element, o Organ) {
	text(e, "edXML:OrganId", o.OrganID)
	text(e, "edXML:OrganizationInCharge", o.OrganizationInCharge)
	text(e, "edXML:OrganName", o.OrganName)
	text(e, "edXML:OrganAdd", o.OrganAdd)
	text(e, "edXML:Email", o.Email)
	text(e, "edXML:Telephone", o.Telephone)
	text(e, "edXML:Website", o.Website)
}

func text(parent *etree.Element, tag, value string) {
	parent.CreateElement(tag).SetText(value)
}

// maxPacket bounds a packet read by Parse (attachments are base64 inside it).
const maxPacket = 256 << 20

// Parse reads a packet written by Build or by other agencies' systems (the elements
// are matched by local name within the QCVN 102:2016 namespace).
func Parse(r io.Reader) (*Message, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxPacket+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxPacket {
		return nil, fmt.Errorf("edxml: packet larger than %d bytes", maxPacket)
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(data); err != nil {
		return nil, fmt.Errorf("edxml: %w", err)
	}
	root := doc.Root()
	if root == nil || root.Tag != "edXML" || root.NamespaceURI() != Namespace {
		return nil, fmt.Errorf("edxml: not a QCVN 102:2016 packet (root %q)", tagOf(root))
	}
	mh := find(root, "edXMLEnvelope", "edXMLHeader", "MessageHeader")
	if mh == nil {
		return nil, errors.New("edxml: no MessageHeader")
	}
	m := &Message{From: readOrgan(child(mh, "From"))}
	for _, t := range children(mh, "To") {
		m.To = append(m.To, readOrgan(t))
	}
	idText := val(mh, "DocumentId")
	id, err := docid.ParseDocumentID(idText)
	if err != nil {
		return nil, fmt.Errorf("edxml: DocumentId %q: %w", idText, err)
	}
	m.Number = id.Number
	m.PromulgatedAt = id.Date
	if pi := child(mh, "PromulgationInfo"); pi != nil {
		m.Place = val(pi, "Place")
	}
	if dt := child(mh, "DocumentType"); dt != nil {
		m.DocumentType = val(dt, "TypeName")
		fmt.Sscan(val(dt, "Type"), &m.DocumentTypeNum)
	}
	m.Subject, m.Content = val(mh, "Subject"), val(mh, "Content")
	if si := child(mh, "SignerInfo"); si != nil {
		m.Signer = Signer{Competence: val(si, "Competence"), Position: val(si, "Position"), FullName: val(si, "FullName")}
	}
	if oi := child(mh, "OtherInfo"); oi != nil {
		fmt.Sscan(val(oi, "Priority"), &m.Priority)
		fmt.Sscan(val(oi, "PageAmount"), &m.PageAmount)
	}
	if enc := child(root, "AttachmentEncoded"); enc != nil {
		for _, a := range children(enc, "Attachment") {
			raw := bytes.Join(bytes.Fields([]byte(val(a, "ContentTransferEncoded"))), nil)
			data, err := base64.StdEncoding.DecodeString(string(raw))
			if err != nil {
				return nil, fmt.Errorf("edxml: attachment %q: %w", val(a, "AttachmentName"), err)
			}
			m.Attachments = append(m.Attachments, Attachment{ContentID: val(a, "ContentId"), Name: val(a, "AttachmentName"),
				Description: val(a, "Description"), ContentType: val(a, "ContentType"), Data: data})
		}
	}
	return m, nil
}

func tagOf(e *etree.Element) string {
	if e == nil {
		return ""
	}
	return e.FullTag()
}

func children(e *etree.Element, local string) []*etree.Element {
	var out []*etree.Element
	if e == nil {
		return nil
	}
	for _, c := range e.ChildElements() {
		if c.Tag == local && c.NamespaceURI() == Namespace {
			out = append(out, c)
		}
	}
	return out
}

func child(e *etree.Element, local string) *etree.Element {
	if c := children(e, local); len(c) > 0 {
		return c[0]
	}
	return nil
}

func find(e *etree.Element, path ...string) *etree.Element {
	for _, p := range path {
		e = child(e, p)
	}
	return e
}

func val(e *etree.Element, local string) string {
	if c := child(e, local); c != nil {
		return c.Text()
	}
	return ""
}

func readOrgan(e *etree.Element) Organ {
	return Organ{OrganID: val(e, "OrganId"), OrganizationInCharge: val(e, "OrganizationInCharge"), OrganName: val(e, "OrganName"),
		OrganAdd: val(e, "OrganAdd"), Email: val(e, "Email"), Telephone: val(e, "Telephone"), Website: val(e, "Website")}
}
