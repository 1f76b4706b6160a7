package app

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/kyso-vn/kyso/pkg/docid"
	"github.com/kyso-vn/kyso/pkg/edxml"
	"github.com/kyso-vn/kyso/pkg/fault"
	"github.com/kyso-vn/kyso/pkg/store"
	"github.com/kyso-vn/kyso/signer/pades"
	"github.com/kyso-vn/kyso/signer/pdf"
	"github.com/kyso-vn/kyso/signer/verify"
)

// Receiving (văn bản đến, Decree 30/2020 Art. 21.2: the clerk checks authenticity
// and integrity before registering; a wrong or invalid document is returned through
// the system, and the sender is told the same day):
//
//   - The document is verified first, with the same verifier and trust as kyso verify
//     and POST /v1/verify. TOTAL_PASSED is registered with the holder's next arrival
//     number. TOTAL_FAILED is returned, always. INDETERMINATE, and a document with no
//     signature at all (a scan), are returned unless the clerk accepts them knowingly
//     (AcceptIndeterminate); the audit event then carries the verdict and its reason.
//   - A returned document is kept, with status "returned", its verdict and the
//     reason, and takes no number; the receipt carries the edXML status packet for
//     the sender (02, with the reason; 03 when registered).
//   - The same content, or the same edXML identifier, already registered by the
//     holder is a Conflict naming the first registration. A returned copy does not
//     count: the sender may correct it, and the clerk may accept it on a second try.
//   - The issuer, number and symbol, date and identifier are read from the document
//     itself — the /Info keys and XMP properties Kyso writes when issuing, in the
//     revision the last signature covers, the edXML header of a packet, and the
//     agency code in the organisation signature's certificate — and
//     checked against what the clerk typed: a difference is refused (Invalid) showing
//     both; what was not typed is taken from the document. The holder is never taken
//     for the issuer: with neither typed nor written, the receipt is refused.
//   - An .edxml packet is taken as it is: each PDF attachment is verified (the worst
//     verdict decides), the first PDF is the registered document, the others are
//     kept as its attachments.

// ReceiveRequest registers an incoming document.
type ReceiveRequest struct {
	Content  io.Reader // a PDF, or an edXML packet (QCVN 102:2016)
	Filename string
	Holder   docid.AgencyCode // the receiving agency
	// Issuer, Number, IssuedAt and Identifier are what the clerk typed, if anything;
	// they are checked against the document's own.
	Issuer     docid.AgencyCode
	Number     docid.NumberSymbol
	IssuedAt   time.Time
	Identifier string
	Summary    string
	Type       string
	Actor      string
	// ReceivedAt defaults to now.
	ReceivedAt      time.Time
	Urgency         store.Urgency
	Confidentiality store.Confidentiality
	// AcceptIndeterminate registers a document whose verdict is INDETERMINATE, or
	// which holds no signature (a scanned paper document), instead of returning it.
	// A TOTAL_FAILED document is never registered.
	AcceptIndeterminate bool
	// Series overrides the incoming register series chosen from Type and
	// Confidentiality (checked; config.Registers).
	Series string
}

// NotSigned is the verdict recorded for an incoming document that holds no signature.
const NotSigned = "NOT_SIGNED"

// CodeReturned: the incoming document was recorded as returned, not registered.
const CodeReturned = "receive/returned"

// CodeMismatch: what the clerk typed differs from what the document says.
const CodeMismatch = "receive/mismatch"

// Receipt is the outcome of receiving a document.
type Receipt struct {
	Document *store.Document
	// Report is the main document's verification (nil when it holds no signature).
	Report *verify.Report
	// Verdict is the one that decided: the worst of the packet's attachments.
	Verdict  store.Verdict
	Returned bool
	// StatusPacket is the edXML status for the sender: 03 (received) or 02 (returned,
	// with the reason).
	StatusPacket []byte
}

// ReturnedError is the error of a document recorded as returned: its fault is
// BadDocument with CodeReturned, and it carries the receipt for the surfaces to show.
type ReturnedError struct {
	Receipt *Receipt
	// Record is the returned document as the API shows it (CreateDocument only).
	Record *DocumentRecord
	err    error
}

func (e *ReturnedError) Error() string { return e.err.Error() }
func (e *ReturnedError) Unwrap() error { return e.err }

// incoming is the document to register, read from the upload.
type incoming struct {
	content  io.Reader
	filename string
	report   *verify.Report
	verdict  store.Verdict
	reasonVI string
	values   []docValues
	summary  string
	extras   []edxml.Attachment // an edXML packet's other attachments
}

// Receive verifies an incoming document and registers it with the holder's next
// arrival number, or records it as returned (then the error is a *ReturnedError).
func (s *Service) Receive(ctx context.Context, req ReceiveRequest) (*Receipt, error) {
	if req.Actor == "" {
		return nil, fault.Errorf(fault.Invalid, "an actor is required")
	}
	if _, err := docid.ParseAgencyCode(string(req.Holder)); err != nil {
		return nil, fault.Errorf(fault.Invalid, "holder agency: %v", err)
	}
	series, err := s.seriesFor(store.Incoming, req.Type, req.Confidentiality, req.Series)
	if err != nil {
		return nil, err
	}
	f, size, sha, cleanup, err := s.spool(req.Content)
	if err != nil {
		return nil, err
	}
	defer cleanup()
	// the same file again: refused before any verification is spent on it
	if prev, err := s.Store.FindRegistered(ctx, req.Holder, sha, ""); err != nil {
		return nil, err
	} else if prev != nil {
		return nil, store.AlreadyReceived(prev)
	}
	var in *incoming
	if isXML(f) {
		in, err = s.readPacket(ctx, f, size, req)
	} else {
		in, err = s.readPDF(ctx, f, size, req)
	}
	if err != nil {
		return nil, err
	}
	ids, err := reconcile(req, in.values)
	if err != nil {
		return nil, err
	}
	if ids.issuer == "" {
		return nil, fault.Errorf(fault.Invalid, "the document does not say which agency issued it; give the issuing agency's code (--issuer, or agency in the API)")
	}
	status, note := store.StatusReceived, ""
	switch in.verdict.Indication {
	case string(verify.TotalPassed):
	case string(verify.Indeterminate), NotSigned:
		if req.AcceptIndeterminate {
			note = fmt.Sprintf("registered knowingly although %s: %s", verdictText(in.verdict), in.verdict.Reason)
		} else {
			status = store.StatusReturned
		}
	default:
		status = store.StatusReturned
	}
	summary := req.Summary
	if summary == "" {
		summary = in.summary
	}
	received := req.ReceivedAt
	if received.IsZero() {
		received = s.now()
	}
	raw, _ := json.Marshal(in.summaryJSON())
	d, err := s.Store.CreateDocument(ctx, store.NewDocument{
		Direction: store.Incoming, Status: status, AgencyCode: ids.issuer, HolderCode: req.Holder, Number: ids.number,
		Identifier: ids.identifier, Summary: summary, Type: req.Type, ReceivedAt: received, IssuedAt: ids.issuedAt,
		Urgency: req.Urgency, Confidentiality: req.Confidentiality, Series: series,
		Content: in.content, Filename: in.filename, MediaType: "application/pdf",
		Signatures: raw, SignatureCount: in.signatureCount(), Verdict: in.verdict, Actor: req.Actor, Note: note,
	})
	if err != nil {
		return nil, err
	}
	for _, a := range in.extras {
		if _, err := s.Store.AddAttachment(ctx, d.ID, a.Name, a.ContentType, bytes.NewReader(a.Data), req.Actor); err != nil {
			return nil, err
		}
	}
	rc := &Receipt{Document: d, Report: in.report, Verdict: in.verdict, Returned: status == store.StatusReturned}
	rc.StatusPacket = statusPacket(d, rc, in.reasonVI, req.Actor, s.now())
	if !rc.Returned {
		return rc, nil
	}
	detail := fmt.Sprintf("document %d is returned to the sender, not registered: %s (%s)", d.ID, verdictText(in.verdict), in.verdict.Reason)
	if in.verdict.Indication != string(verify.TotalFailed) {
		detail += "; to register it knowingly, receive it again with --accept-indeterminate (accept_indeterminate in the API)"
	}
	return rc, &ReturnedError{Receipt: rc, err: fault.WithCode(fault.New(fault.BadDocument, detail), CodeReturned)}
}

// verdictText is "INDICATION/SUB_INDICATION".
func verdictText(v store.Verdict) string {
	return strings.TrimSuffix(v.Indication+"/"+v.SubIndication, "/")
}

// isXML tells an edXML packet from a PDF by its first byte that is not space or a
// byte order mark.
func isXML(f *os.File) bool {
	var b [512]byte
	n, _ := f.ReadAt(b[:], 0)
	head := bytes.TrimLeft(bytes.TrimPrefix(b[:n], []byte("\xef\xbb\xbf")), " \t\r\n")
	return len(head) > 0 && head[0] == '<'
}

// verifyOne verifies one PDF: its report and verdict; a PDF with no signature is
// NOT_SIGNED, one that is not a PDF a BadDocument.
func (s *Service) verifyOne(ctx context.Context, r io.ReaderAt, size int64, name string) (*verify.Report, store.Verdict, string, error) {
	rep, err := verify.VerifyPDF(ctx, r, size, name, s.Verify)
	switch {
	case err == nil:
		v, vi := reportVerdict(rep)
		return rep, v, vi, nil
	case errors.Is(err, verify.ErrNotSigned):
		return nil, store.Verdict{Indication: NotSigned, Reason: "the document holds no signature"}, "văn bản không có chữ ký số", nil
	case errors.Is(err, verify.ErrUnreadable):
		return nil, store.Verdict{}, "", fault.Errorf(fault.BadDocument, "%s cannot be read as a PDF or an edXML packet", name)
	}
	var fe *fault.Error
	if errors.As(err, &fe) {
		return nil, store.Verdict{}, "", err
	}
	return nil, store.Verdict{}, "", fmt.Errorf("receive: verify %s: %w", name, err)
}

// reportVerdict is the report's indication with the first failing signature's
// sub-indication and explanation (English; Vietnamese second, for the sender).
func reportVerdict(rep *verify.Report) (store.Verdict, string) {
	v := store.Verdict{Indication: string(rep.Indication), SubIndication: string(rep.SubIndication)}
	vi := ""
	for _, sg := range rep.Signatures {
		if sg.Indication == verify.TotalPassed {
			continue
		}
		if v.SubIndication == "" {
			v.SubIndication = string(sg.SubIndication)
		}
		en, why := string(sg.SubIndication), string(sg.SubIndication)
		if sg.Explanation != nil {
			en, why = sg.Explanation.EN, sg.Explanation.VI
		}
		v.Reason = fmt.Sprintf("signature %q: %s", sg.Field, en)
		vi = fmt.Sprintf("chữ ký %q: %s", sg.Field, why)
		break
	}
	if v.Reason == "" && rep.Indication != verify.TotalPassed && len(rep.Errors) > 0 {
		v.Reason, vi = rep.Errors[0], rep.Errors[0]
	}
	if v.Reason == "" && rep.Indication == verify.TotalPassed {
		v.Reason, vi = fmt.Sprintf("%d signature(s) valid", len(rep.Signatures)), fmt.Sprintf("%d chữ ký số hợp lệ", len(rep.Signatures))
	}
	return v, vi
}

func rankOf(ind string) int {
	switch ind {
	case string(verify.TotalFailed):
		return 3
	case string(verify.Indeterminate), NotSigned:
		return 2
	case string(verify.TotalPassed):
		return 0
	}
	return 1
}

func (s *Service) readPDF(ctx context.Context, f *os.File, size int64, req ReceiveRequest) (*incoming, error) {
	name := req.Filename
	if name == "" {
		name = "incoming.pdf"
	}
	rep, v, vi, err := s.verifyOne(ctx, f, size, name)
	if err != nil {
		return nil, err
	}
	vals, err := pdfValues(f, size, rep)
	if err != nil {
		return nil, err
	}
	return &incoming{content: io.NewSectionReader(f, 0, size), filename: req.Filename,
		report: rep, verdict: v, reasonVI: vi, values: vals}, nil
}

// readPacket reads an edXML packet: its header's identifiers, its PDF attachments
// verified, the first of them the document to register.
func (s *Service) readPacket(ctx context.Context, f *os.File, size int64, req ReceiveRequest) (*incoming, error) {
	m, err := edxml.Parse(io.NewSectionReader(f, 0, size))
	if err != nil {
		return nil, fault.Errorf(fault.BadDocument, "not a PDF, nor an edXML packet this system reads: %v", err)
	}
	in := &incoming{summary: m.Subject}
	hdr := docValues{source: "the edXML header says", number: m.Number, issuedAt: m.PromulgatedAt}
	if code, err := docid.ParseAgencyCode(m.From.OrganID); err == nil {
		hdr.issuer = code
		hdr.identifier = docid.NewDocumentID(code, m.PromulgatedAt, m.Number).String()
	}
	in.values = append(in.values, hdr)
	main := -1
	for i, a := range m.Attachments {
		if !bytes.Contains(a.Data[:min(len(a.Data), 1024)], []byte("%PDF-")) {
			continue // not a PDF: kept, not verified
		}
		rep, v, vi, err := s.verifyOne(ctx, bytes.NewReader(a.Data), int64(len(a.Data)), a.Name)
		if err != nil {
			return nil, err
		}
		if main < 0 {
			main = i
			in.report = rep
			vals, err := pdfValues(bytes.NewReader(a.Data), int64(len(a.Data)), rep)
			if err != nil {
				return nil, err
			}
			in.values = append(in.values, vals...)
		}
		if in.verdict.Indication == "" || rankOf(v.Indication) > rankOf(in.verdict.Indication) {
			in.verdict, in.reasonVI = v, vi
			if main != i {
				in.verdict.Reason = a.Name + ": " + v.Reason
				in.reasonVI = a.Name + ": " + vi
			}
		}
	}
	if main < 0 {
		return nil, fault.Errorf(fault.BadDocument, "the edXML packet carries no PDF document to register")
	}
	doc := m.Attachments[main]
	in.content, in.filename = bytes.NewReader(doc.Data), doc.Name
	for i, a := range m.Attachments {
		if i != main {
			in.extras = append(in.extras, a)
		}
	}
	return in, nil
}

// summaryJSON is the stored signatures summary of the registered document.
func (in *incoming) summaryJSON() sigSummary {
	if in.report == nil {
		return sigSummary{Indication: in.verdict.Indication}
	}
	sum := summary(in.report)
	sum.Indication = in.verdict.Indication // the packet's worst, when it has several PDFs
	return sum
}

func (in *incoming) signatureCount() int {
	if in.report == nil {
		return 0
	}
	return len(in.report.Signatures)
}

// docValues are identifiers written in the document (or typed: source "you").
type docValues struct {
	source     string
	issuer     docid.AgencyCode
	number     docid.NumberSymbol
	issuedAt   time.Time
	identifier string
}

// The /Info keys and XMP properties Kyso writes when it issues (issue.go).
const (
	infoIdentifier = "KysoIdentifier"
	infoNumber     = "KysoNumber"
	infoIssuedAt   = "KysoIssuedAt"
	infoOrganID    = "KysoOrganId"
)

// pdfValues reads the identifiers from /Info and XMP as the last signature signed
// them (a later unsigned revision cannot change what the document says it is), and
// the issuer the organisation's signature names.
func pdfValues(r io.ReaderAt, size int64, rep *verify.Report) ([]docValues, error) {
	out, err := metadataValues(r, size, rep)
	if err != nil {
		return nil, err
	}
	if v, ok := sealValues(rep); ok {
		out = append(out, v)
	}
	return out, nil
}

// metadataValues reads /Info and XMP in the revision the last signature covers.
func metadataValues(r io.ReaderAt, size int64, rep *verify.Report) ([]docValues, error) {
	end := size
	if rep != nil {
		for _, sg := range rep.Signatures {
			if sg.Type != "document-timestamp" && len(sg.ByteRange) == 4 && sg.ByteRange[2]+sg.ByteRange[3] <= size {
				end = sg.ByteRange[2] + sg.ByteRange[3]
			}
		}
	}
	rd, err := pdf.Open(r, end)
	if err != nil {
		return nil, nil // what cannot be read names nothing; the verdict already says why
	}
	var out []docValues
	info := rd.Dict(rd.Trailer["Info"])
	str := func(k string) string {
		if s, ok := info[pdf.Name(k)].(pdf.String); ok {
			return strings.TrimSpace(pdf.DecodeText(s))
		}
		return ""
	}
	iv, err := valuesOf("the document's /Info says", str(infoOrganID), str(infoNumber), str(infoIssuedAt), str(infoIdentifier))
	if err != nil {
		return nil, err
	}
	out = append(out, iv)
	if cat, _, err := rd.Catalog(); err == nil {
		if m, err := rd.Resolve(cat["Metadata"]); err == nil {
			if st, ok := m.(*pdf.Stream); ok {
				if data, err := st.Decode(8 << 20); err == nil {
					x := readXMP(data)
					xv, err := valuesOf("the document's XMP says", x["OrganId"], x["NumberSymbol"], x["IssuedAt"], x["identifier"])
					if err != nil {
						return nil, err
					}
					out = append(out, xv)
				}
			}
		}
	}
	return out, nil
}

// sealValues is the issuer the organisation's signature names: the agency code in
// the organizationIdentifier of the last signer whose certificate has one (Kyso
// issues only with such a certificate of the issuing agency, Decree 30/2020 Art. 5).
// A tax code or citizen number is not an agency code and names nothing here.
func sealValues(rep *verify.Report) (docValues, bool) {
	if rep == nil {
		return docValues{}, false
	}
	var v docValues
	found := false
	for _, sg := range rep.Signatures {
		if sg.Type == "document-timestamp" || sg.Signer == nil {
			continue
		}
		for _, id := range sg.Signer.Identifiers {
			if id.Kind != "organizationIdentifier" && id.Kind != "MDV" || !strings.Contains(id.Value, ".") {
				continue
			}
			if code, err := docid.ParseAgencyCode(id.Value); err == nil {
				v = docValues{source: fmt.Sprintf("the organisation's signature (%q, its certificate) says", sg.Field), issuer: code}
				found = true
			}
		}
	}
	return v, found
}

// valuesOf parses the identifiers a document writes; one that does not parse is a
// document that contradicts itself, refused as BadDocument.
func valuesOf(source, organ, number, issued, identifier string) (docValues, error) {
	v := docValues{source: source}
	bad := func(what, val string, err error) (docValues, error) {
		return v, fault.Errorf(fault.BadDocument, "%s: %s %q, which cannot be read: %v", source, what, val, err)
	}
	if organ != "" {
		c, err := docid.ParseAgencyCode(organ)
		if err != nil {
			return bad("the issuing agency", organ, err)
		}
		v.issuer = c
	}
	if number != "" {
		ns, err := docid.ParseNumberSymbol(number)
		if err != nil {
			return bad("the number", number, err)
		}
		v.number = ns
	}
	if issued != "" {
		t, err := time.Parse(time.RFC3339, issued)
		if err != nil {
			return bad("the issue time", issued, err)
		}
		v.issuedAt = t
	}
	if identifier != "" {
		if _, err := docid.ParseDocumentID(identifier); err != nil {
			return bad("the identifier", identifier, err)
		}
		v.identifier = identifier
	}
	return v, nil
}

// readXMP collects Kyso's properties and dc:identifier from an XMP packet (the text
// of the first occurrence of each).
func readXMP(data []byte) map[string]string {
	out := map[string]string{}
	dec := xml.NewDecoder(bytes.NewReader(data))
	dec.Strict = false
	var cur string
	var text strings.Builder
	depth := 0
	for {
		tok, err := dec.Token()
		if err != nil {
			return out
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if cur != "" {
				depth++
				continue
			}
			if t.Name.Space == pades.KysoNS || (t.Name.Space == "http://purl.org/dc/elements/1.1/" && t.Name.Local == "identifier") {
				cur, depth = t.Name.Local, 0
				text.Reset()
			}
		case xml.CharData:
			if cur != "" {
				text.Write(t)
			}
		case xml.EndElement:
			if cur == "" {
				continue
			}
			if depth > 0 {
				depth--
				continue
			}
			if _, seen := out[cur]; !seen {
				out[cur] = strings.TrimSpace(text.String())
			}
			cur = ""
		}
	}
}

// ids are the registered document's identifiers after reconcile.
type ids struct {
	issuer     docid.AgencyCode
	number     docid.NumberSymbol
	issuedAt   time.Time
	identifier string
}

// reconcile checks what the clerk typed against every source in the document and
// fills in what was not typed. The identifier is compared through its parts.
func reconcile(req ReceiveRequest, sources []docValues) (ids, error) {
	typed := docValues{source: "you gave", issuer: req.Issuer, number: req.Number, issuedAt: req.IssuedAt, identifier: req.Identifier}
	var all []docValues
	// an identifier stands for its three parts, right after its source
	for _, v := range append([]docValues{typed}, sources...) {
		all = append(all, v)
		if v.identifier == "" {
			continue
		}
		id, err := docid.ParseDocumentID(v.identifier)
		if err != nil {
			return ids{}, fault.Errorf(fault.Invalid, "identifier: %v", err)
		}
		all = append(all, docValues{source: v.source + " (in the identifier " + v.identifier + ")", issuer: id.Organ, number: id.Number, issuedAt: id.Date})
	}
	var out ids
	var from [3]string
	mismatch := func(what, a, srcA, b, srcB string) error {
		return fault.WithCode(fault.Errorf(fault.Invalid, "the %s does not match: %s %s, but %s %s; nothing was registered", what, srcA, a, srcB, b), CodeMismatch)
	}
	for _, v := range all {
		if v.issuer != "" {
			if out.issuer == "" {
				out.issuer, from[0] = v.issuer, v.source
			} else if out.issuer != v.issuer {
				return ids{}, mismatch("issuing agency", string(out.issuer), from[0], string(v.issuer), v.source)
			}
		}
		if v.number.Number != 0 || v.number.Symbol != "" {
			switch {
			case out.number.Number == 0 && out.number.Symbol == "":
				out.number, from[1] = v.number, v.source
			case (v.number.Number != 0 && out.number.Number != 0 && v.number.Number != out.number.Number) ||
				(v.number.Symbol != "" && out.number.Symbol != "" && !strings.EqualFold(v.number.Symbol, out.number.Symbol)):
				return ids{}, mismatch("number and symbol", out.number.String(), from[1], v.number.String(), v.source)
			default:
				if out.number.Number == 0 {
					out.number.Number = v.number.Number
				}
				if out.number.Symbol == "" {
					out.number.Symbol = v.number.Symbol
				}
			}
		}
		if !v.issuedAt.IsZero() {
			day := v.issuedAt.In(vietnam).Format(time.DateOnly)
			if out.issuedAt.IsZero() {
				out.issuedAt, from[2] = v.issuedAt, v.source
			} else if have := out.issuedAt.In(vietnam).Format(time.DateOnly); have != day {
				return ids{}, mismatch("issue date", have, from[2], day, v.source)
			}
		}
	}
	if out.issuer != "" && out.number.Number > 0 && out.number.Symbol != "" && !out.issuedAt.IsZero() {
		out.identifier = docid.NewDocumentID(out.issuer, out.issuedAt, out.number).String()
	}
	return out, nil
}

// statusPacket is the edXML status the sender is sent: 03 registered, 02 returned
// with the reason (in Vietnamese, the language of the exchange).
func statusPacket(d *store.Document, rc *Receipt, reasonVI, actor string, now time.Time) []byte {
	st := &edxml.Status{OrganID: d.AgencyCode, Number: d.NumberSymbol(), DocumentID: deref(d.Identifier),
		From: edxml.Organ{OrganID: d.HolderCode}, Staff: edxml.Staff{Name: actor}, Timestamp: now}
	if d.IssuedAt != nil {
		st.PromulgatedAt = *d.IssuedAt
	}
	if rc.Returned {
		st.Code = edxml.StatusRefused
		st.Description = fmt.Sprintf("Trả lại: văn bản không được tiếp nhận vì kết quả kiểm tra chữ ký số là %s (%s).", verdictText(rc.Verdict), reasonVI)
	} else {
		st.Code = edxml.StatusAccepted
		st.Description = fmt.Sprintf("Đã tiếp nhận, số đến %d/%d.", derefInt(d.RegNumber), derefInt(d.Year))
	}
	var b bytes.Buffer
	if err := edxml.BuildStatus(&b, st); err != nil {
		return nil
	}
	return b.Bytes()
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func derefInt(p *int) int {
	if p == nil {
		return 0
	}
	return *p
}
