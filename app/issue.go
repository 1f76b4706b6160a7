package app

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/kyso-vn/kyso/internal/vntime"
	"github.com/kyso-vn/kyso/pkg/fault"
	"github.com/kyso-vn/kyso/pkg/store"
	"github.com/kyso-vn/kyso/signer/pades"
	"github.com/kyso-vn/kyso/signer/pdf"
	"github.com/kyso-vn/kyso/signer/verify"
)

// vietnam is the zone of issue times (ISO 8601 with +07:00, Decree 30/2020).
var vietnam = vntime.Zone

// IssueRequest is the clerk's issuing of an approved document: the system assigns the
// number and the issue time, writes them and the identifier codes into the PDF in the
// same revision as the organisation's signature with the seal, and stores the
// document as issued.
type IssueRequest struct {
	DocumentID int64
	KeyName    string // the organisation's key
	Seal       []byte // PNG, red, transparent
	SealSize   float64
	// Page and Rect place the seal; zero: over the leader's visible signature, or
	// invisible when there is none.
	Page int
	Rect [4]float64
	// NumberField and DateField name template text fields to fill, if the template has
	// them (e.g. "so_ky_hieu", "ngay_ban_hanh").
	NumberField, DateField string
	Level                  pades.Level
	// By is the clerk issuing (authz.go); Actor names it in the audit trail (default
	// AuditActor(By)).
	By    Principal
	Actor string
}

// Issue issues an approved document. It refuses when the leader's signature does not
// verify (Decree 30/2020, Art. 32).
func (s *Service) Issue(ctx context.Context, req IssueRequest) (*store.Document, *verify.Report, error) {
	k, ok := s.Keys[req.KeyName]
	if !ok {
		return nil, nil, fault.Errorf(fault.NotFound, "no key %q", req.KeyName)
	}
	if req.Actor == "" {
		req.Actor = AuditActor(req.By)
	}
	doc, err := s.readDocument(ctx, req.By, req.DocumentID, "")
	if err != nil {
		return nil, nil, err
	}
	if doc.Status != store.StatusApproved {
		return nil, nil, fault.Errorf(fault.Conflict, "document %d is %s; only an approved document is issued", doc.ID, doc.Status)
	}
	// The clerk, the organisation certificate's validity, chain and revocation are
	// checked before the document is read or the key asked (signercheck.go).
	chain, err := s.mayIssueWithKey(ctx, req.By, doc.AgencyCode, k)
	if err != nil {
		return nil, nil, err
	}
	f, size, _, cleanup, err := s.openContent(ctx, doc.ContentSHA256)
	if err != nil {
		return nil, nil, err
	}
	defer cleanup()
	rep, err := s.issueOnce(ctx, doc, k, chain, f, size, req)
	if err != nil {
		return nil, rep, err
	}
	d, err := s.Store.GetDocument(ctx, doc.ID)
	return d, rep, err
}

// issueHold is how long a server-key issue holds its reserved number: a process that
// dies while signing leaves it reserved, and the sweep voids it after this.
const issueHold = 10 * time.Minute

// issueOnce reserves the number, signs with the organisation's key and stores the
// issued version; a failure once the number is reserved voids it, with the reason.
// chain is the one the certificate check found (signercheck.go), embedded whole.
func (s *Service) issueOnce(ctx context.Context, doc *store.Document, k *ServerKey, chain []*x509.Certificate, f *os.File, size int64, req IssueRequest) (*verify.Report, error) {
	po, numbered, rep, err := s.issueOptions(ctx, doc, f, size, req, k.Key.Certificate(), chain, s.now().Add(issueHold))
	if err != nil {
		return rep, err
	}
	err = func() error {
		out, err := os.CreateTemp(s.TempDir, "kyso-issue-*")
		if err != nil {
			return err
		}
		defer func() { out.Close(); os.Remove(out.Name()) }()
		if err := pades.Sign(withUse(ctx, req.By, doc.ID, doc.ContentSHA256), s.useOf(k), f, size, out, po); err != nil {
			return mapSignError(err)
		}
		if _, err := out.Seek(0, io.SeekStart); err != nil {
			return err
		}
		sum, _ := json.Marshal(summary(rep))
		_, err = s.Store.IssueNumbered(ctx, doc.ID, store.VersionInput{Content: out, MediaType: "application/pdf", Base: doc.ContentSHA256,
			Signatures: sum, SignatureCount: len(rep.Signatures) + 1, Actor: req.Actor, KeyURI: k.URI,
			Uses: signatureUse(store.SigIssue, keyKindOf(k.URI), k.Key.Certificate(), doc.AgencyCode)}, numbered)
		return err
	}()
	if err != nil {
		s.voidFailed(ctx, doc.ID, err, req.Actor)
	}
	return rep, err
}

// voidFailed voids the number reserved for document id by an issue that failed with
// err, so that it is recorded with the reason rather than left reserved (a request of
// the document still live keeps it). The reason is what the clerk was told; an
// internal error's text stays in the log.
func (s *Service) voidFailed(ctx context.Context, id int64, err error, actor string) {
	why := fault.DetailOf(err)
	if why == "" {
		why = fault.KindOf(err).String() + " error"
	}
	_ = s.Store.VoidReservation(context.WithoutCancel(ctx), id, "the issue failed: "+why, actor)
}

// notVerified refuses to issue a document whose signatures do not verify.
func notVerified(why string) error {
	return fault.WithCode(fault.Errorf(fault.BadDocument, "the document's signature does not verify, so it is not issued: %s", why), CodeNotVerified)
}

// issueOptions checks that the approved document's signatures verify, numbers it, and
// lays out the organisation's signature: number, date and identifier in /Info, XMP
// and the template's fields, and the seal. Issue (a server key) and Prepare with
// RoleIssue (the clerk's token, outside the server) share it. Everything a request can
// get wrong is checked before the number is reserved (store.ReserveNumber, held until
// until); the returned document carries it, and store.IssueNumbered settles it when
// the signed version is stored. A failure after the reservation voids it.
func (s *Service) issueOptions(ctx context.Context, doc *store.Document, f *os.File, size int64, req IssueRequest, cert *x509.Certificate, chain []*x509.Certificate, until time.Time) (pades.Options, *store.Document, *verify.Report, error) {
	rep, err := verify.VerifyPDF(ctx, f, size, fmt.Sprintf("document-%d", doc.ID), s.Verify)
	if err != nil {
		return pades.Options{}, nil, nil, notVerified(err.Error())
	}
	if rep.Indication != verify.TotalPassed || len(rep.Signatures) == 0 {
		return pades.Options{}, nil, rep, notVerified(verdict(rep))
	}
	// The number and date go on the page: into the template's fields when named,
	// else into the blanks the approval marked. Without either the document is not
	// issued (and takes no number): never an issued document with a blank number.
	var rd *pdf.Reader
	if req.NumberField == "" || req.DateField == "" {
		if rd, err = pdf.Open(f, size); err != nil {
			return pades.Options{}, nil, rep, mapSignError(err)
		}
		if _, err := pades.BlankValues(rd, pades.NumberDate{}); err != nil {
			return pades.Options{}, nil, rep, noPlace(doc.ID, err)
		}
	}
	if rd == nil && s.lookupPublic(doc.AgencyCode, doc.Confidentiality) {
		if rd, err = pdf.Open(f, size); err != nil {
			return pades.Options{}, nil, rep, mapSignError(err)
		}
	}
	app, err := sealAppearance(f, size, req)
	if err != nil {
		return pades.Options{}, nil, rep, err
	}
	if _, err := s.padesOptions(SignOptions{Level: req.Level, Appearance: app}, cert, chain); err != nil {
		return pades.Options{}, nil, rep, err
	}
	numbered, err := s.Store.ReserveNumber(ctx, doc.ID, s.now(), until, req.Actor)
	if err != nil {
		return pades.Options{}, nil, rep, err
	}
	po, err := s.numberedOptions(numbered, rd, app, req, cert, chain)
	if err != nil {
		s.voidFailed(ctx, doc.ID, err, req.Actor)
		return pades.Options{}, nil, rep, err
	}
	return po, numbered, rep, nil
}

// numberedOptions lays out the organisation's signature of a numbered document.
func (s *Service) numberedOptions(numbered *store.Document, rd *pdf.Reader, app *pades.Appearance, req IssueRequest, cert *x509.Certificate, chain []*x509.Certificate) (pades.Options, error) {
	ns := numbered.NumberSymbol().String()
	issued := numbered.IssuedAt.In(vietnam)
	ident := ""
	if numbered.Identifier != nil {
		ident = *numbered.Identifier
	}
	meta := &pades.Metadata{
		Info:       map[string]string{"KysoIdentifier": ident, "KysoNumber": ns, "KysoIssuedAt": issued.Format(time.RFC3339), "KysoOrganId": numbered.AgencyCode},
		XMP:        map[string]string{"OrganId": numbered.AgencyCode, "NumberSymbol": ns, "IssuedAt": issued.Format(time.RFC3339)},
		Identifier: ident,
		Fields:     map[string]string{},
	}
	if req.NumberField != "" {
		meta.Fields[req.NumberField] = "Số: " + ns
	}
	if req.DateField != "" {
		meta.Fields[req.DateField] = issued.Format("02/01/2006")
	}
	if rd != nil {
		values, err := pades.BlankValues(rd, pades.NumberDate{Number: numbered.Number, Symbol: numbered.NumberSymbol().Symbol, Date: issued})
		if err != nil {
			return pades.Options{}, noPlace(numbered.ID, err)
		}
		for k, v := range values {
			meta.Fields[k] = v
		}
	}
	// The lookup page's QR code goes into the blank the approval made for it (rd is
	// open when the document's register is public, issueOptions).
	if numbered.Identifier != nil && rd != nil && s.lookupPublic(numbered.AgencyCode, numbered.Confidentiality) && pades.HasLookupBlank(rd) {
		meta.Fields[pades.BlankLookup] = LookupURL(s.PublicBaseURL, *numbered.Identifier)
	}
	po, err := s.padesOptions(SignOptions{Level: req.Level, Reason: "Phát hành văn bản " + ns, Appearance: app, Metadata: meta}, cert, chain)
	// the organisation's signature locks the number and the date it wrote: a later
	// revision that changes them is not form filling the verifier allows
	for name := range meta.Fields {
		po.LockFields = append(po.LockFields, name)
	}
	slices.Sort(po.LockFields)
	return po, err
}

// lookupPublic tells whether documents of this agency and confidentiality get the QR
// code of their public lookup page: the agency's register is public
// (public.registers), the server knows its public address (public.base_url) and the
// document is not confidential (never shown there). The approval then makes the
// lookup blank (pades.LookupBlank) and the issue fills it with the code.
func (s *Service) lookupPublic(agency string, confidentiality store.Confidentiality) bool {
	return s.PublicBaseURL != "" && confidentiality == store.Unclassified && slices.Contains(s.PublicRegisters, agency)
}

// LookupURL is the public lookup page of the document with this edXML identifier on
// the server whose public address is base.
func LookupURL(base, identifier string) string {
	return strings.TrimRight(base, "/") + "/tra-cuu/" + url.PathEscape(identifier)
}

// TextBlock is the text an organisation's signature shows on an attachment in a
// separate file or an electronic copy when none is given (Decree 30/2020, Appendix I
// III.1.d and the copy form): the signing organisation, from the certificate (its O,
// else its CN), and the signing time as ISO 8601 in Vietnam's zone, drawn at the top
// right of page 1 in 10 pt black serif. The number/symbol or the copy form, which the
// certificate does not know, are given with --text.
func TextBlock(cert *x509.Certificate, at time.Time) []string {
	org := cert.Subject.CommonName
	if len(cert.Subject.Organization) > 0 && cert.Subject.Organization[0] != "" {
		org = cert.Subject.Organization[0]
	}
	return []string{org, at.In(vietnam).Format("2006-01-02T15:04:05-07:00")}
}

// CodeNoPlace: the approved document shows no place for its number and date.
const CodeNoPlace = "issue/no-place"

func noPlace(id int64, err error) error {
	return fault.WithCode(&fault.Error{Kind: fault.Invalid, Cause: err, Detail: fmt.Sprintf("document %d shows no place for its number and date, so it is not issued: "+
		"its first page had no blank \"Số:      /SYMBOL\" and \"ngày      tháng      năm\" when it was approved, and no template fields were named. "+
		"Either name the template's text fields (--number-field and --date-field; number_field and date_field in the API), "+
		"or put those blanks on the draft's first page and have it approved again", id)}, CodeNoPlace)
}

// approvalBlanks finds the blanks of the number and date on the draft's first page,
// for the approval to mark with empty fields; none when the page has none (the
// template may have fields of its own).
func approvalBlanks(f *os.File, size int64) []pades.Blank {
	rd, err := pdf.Open(f, size)
	if err != nil {
		return nil
	}
	blanks, err := pades.FindBlanks(rd)
	if err != nil {
		return nil
	}
	return blanks
}

// sealAppearance lays the seal over the left third of the leader's visible signature
// when the request gives no place of its own.
func sealAppearance(f *os.File, size int64, req IssueRequest) (*pades.Appearance, error) {
	if req.Seal == nil {
		return nil, nil
	}
	app := &pades.Appearance{Page: req.Page, Rect: req.Rect, Seal: req.Seal, SealSize: req.SealSize}
	if req.Rect != ([4]float64{}) {
		return app, nil
	}
	rd, err := pdf.Open(f, size)
	if err != nil {
		return nil, mapSignError(err)
	}
	page, rect, ok := pades.LastVisibleSignature(rd)
	if !ok {
		return nil, fault.Errorf(fault.Invalid, "the document has no visible signature to lay the seal over; give its place")
	}
	app.Page, app.Rect = page, rect
	// over the left third of the leader's image itself, where the appearance shows
	// it, not of the rectangle it was fitted in
	app.Under, _ = pades.LastSignatureImage(rd)
	return app, nil
}

// Summary is the verification summary stored with a version (and shown by the API).
type Summary = sigSummary

// VerificationSummary summarises a report as it is stored with a version.
func VerificationSummary(rep *verify.Report) Summary { return summary(rep) }

type sigSummary struct {
	Indication string `json:"indication"`
	Signatures []struct {
		Field      string `json:"field"`
		Signer     string `json:"signer"`
		Indication string `json:"indication"`
		Level      string `json:"level"`
	} `json:"signatures"`
}

func summary(rep *verify.Report) sigSummary {
	var s sigSummary
	s.Indication = string(rep.Indication)
	for _, sg := range rep.Signatures {
		e := struct {
			Field      string `json:"field"`
			Signer     string `json:"signer"`
			Indication string `json:"indication"`
			Level      string `json:"level"`
		}{Field: sg.Field, Indication: string(sg.Indication), Level: sg.Level}
		if sg.Signer != nil {
			e.Signer = sg.Signer.Subject
		}
		s.Signatures = append(s.Signatures, e)
	}
	return s
}

func verdict(rep *verify.Report) string {
	msg := string(rep.Indication)
	if rep.SubIndication != "" {
		msg += "/" + string(rep.SubIndication)
	}
	for _, sg := range rep.Signatures {
		if sg.Indication != verify.TotalPassed {
			msg += fmt.Sprintf("; signature %q: %s %s", sg.Field, sg.Indication, sg.SubIndication)
		}
	}
	return msg
}
