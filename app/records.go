package app

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/kyso-vn/kyso/pkg/docid"
	"github.com/kyso-vn/kyso/pkg/fault"
	"github.com/kyso-vn/kyso/pkg/store"
)

// The records below are what the surfaces show of the store (the API renders them as
// JSON): the store's rows, in plain types.

// DocumentRecord is a stored document.
type DocumentRecord struct {
	ID              int64      `json:"id"`
	Direction       string     `json:"direction"` // outgoing (văn bản đi), incoming (văn bản đến)
	Status          string     `json:"status"`    // draft, approved, issued, received, returned
	Type            string     `json:"type,omitempty"`
	Summary         string     `json:"summary,omitempty"` // trích yếu
	AgencyCode      string     `json:"agency_code"`       // the issuing agency
	HolderCode      string     `json:"holder_code"`       // the agency keeping it
	Number          int        `json:"number,omitempty"`
	Symbol          string     `json:"symbol,omitempty"`
	LegalYear       int        `json:"legal_year,omitempty"`
	Identifier      string     `json:"identifier,omitempty"` // edXML document identifier
	RegisterYear    int        `json:"register_year,omitempty"`
	RegisterNumber  int        `json:"register_number,omitempty"` // outgoing number or arrival number (số đến)
	IssuedAt        *time.Time `json:"issued_at,omitempty"`
	ReceivedAt      *time.Time `json:"received_at,omitempty"`
	Urgency         string     `json:"urgency,omitempty"`
	Confidentiality string     `json:"confidentiality,omitempty"`
	// Series is the register series the document is numbered or registered in: ""
	// is the agency's main series (registers: in the configuration).
	Series         string          `json:"series"`
	CurrentVersion int             `json:"current_version"`
	ContentSHA256  string          `json:"content_sha256"`
	CreatedAt      time.Time       `json:"created_at"`
	UpdatedAt      time.Time       `json:"updated_at"`
	Versions       []VersionRecord `json:"versions,omitempty"`
	// Verdict is the verification of the current version's signatures, as last
	// verified (absent: never verified, such as an unsigned draft).
	Verdict *VerdictRecord `json:"verdict,omitempty"`
	// Verification is the verdict on each signature of a document just received.
	Verification *Verification `json:"verification,omitempty"`
	// Withdrawn says that an issued document was recalled (thu hồi) or replaced (thay
	// thế); Replaces lists the documents it replaced (shown by GetDocument).
	Withdrawn *WithdrawalRecord `json:"withdrawn,omitempty"`
	Replaces  []int64           `json:"replaces,omitempty"`
	// StatusPacket is, in the answer to a receipt, the edXML status packet (QCVN
	// 102:2016) to send back to the sender: 03 received, or 02 returned with the reason.
	StatusPacket string `json:"status_packet,omitempty"`
}

// VerdictRecord is what the verifier said of a document: the ETSI EN 319 102-1
// indication (or NOT_SIGNED), its sub-indication and a short reason.
type VerdictRecord struct {
	Indication    string `json:"indication"`
	SubIndication string `json:"sub_indication,omitempty"`
	Reason        string `json:"reason,omitempty"`
}

// Verification summarises the verification of a document's signatures when it was
// received: the overall indication (NOT_SIGNED for a document without one) and each
// signature's.
type Verification struct {
	Indication string                  `json:"indication"`
	Signatures []SignatureVerification `json:"signatures"`
}

// SignatureVerification is one signature's line of a Verification.
type SignatureVerification struct {
	Field      string `json:"field"`
	Signer     string `json:"signer"`
	Indication string `json:"indication"`
	Level      string `json:"level"`
}

// VersionRecord is one stored revision of a document's content.
type VersionRecord struct {
	Seq            int       `json:"seq"`
	SHA256         string    `json:"sha256"`
	Size           int64     `json:"size"`
	Filename       string    `json:"filename,omitempty"`
	MediaType      string    `json:"media_type,omitempty"`
	SignatureCount int       `json:"signature_count"`
	CreatedBy      string    `json:"created_by,omitempty"`
	CreatedAt      time.Time `json:"created_at"`
}

// NewDocument is a document to record: an outgoing draft, or an incoming document.
type NewDocument struct {
	Direction       string // outgoing or incoming
	AgencyCode      string
	HolderCode      string
	Type            string
	Summary         string
	Number          int
	Symbol          string
	Identifier      string
	IssuedAt        time.Time
	ReceivedAt      time.Time
	Urgency         string
	Confidentiality string
	// Series overrides the register series the configuration chooses from the type
	// and the confidentiality; checked ("main" names the main series).
	Series string
	// AcceptIndeterminate registers an incoming document whose verdict is
	// INDETERMINATE, or which holds no signature, instead of returning it.
	AcceptIndeterminate bool
}

// DocumentQuery is a search of the documents; zero fields do not filter.
type DocumentQuery struct {
	Identifier, HolderCode, AgencyCode, Direction, Status, Symbol, Text string
	Number, Year                                                        int
	IssuedFrom, IssuedTo                                                time.Time
	Limit, Offset                                                       int
}

// Document is a file handed in for the length of a request (an upload).
type Document interface {
	io.ReaderAt
	Size() int64
	Filename() string
	ContentType() string
	SHA256() [32]byte
}

// CertificateInfo is a certificate in use in the province.
type CertificateInfo struct {
	Subject    string     `json:"subject"`
	Issuer     string     `json:"issuer"`
	Serial     string     `json:"serial"`
	SHA256     string     `json:"sha256"`
	Kind       string     `json:"kind"` // organisation, personal
	Form       string     `json:"form"` // usb_token, sim_pki, hsm
	AgencyCode string     `json:"agency_code,omitempty"`
	Owner      string     `json:"owner,omitempty"`
	NotBefore  time.Time  `json:"not_before"`
	NotAfter   time.Time  `json:"not_after"`
	RevokedAt  *time.Time `json:"revoked_at,omitempty"`
}

// AgencyRecord is one version of an agency's identifier code entry (Decision
// 20/2020/QĐ-TTg): codes change with reorganisations, so each entry has a validity.
type AgencyRecord struct {
	Code       string     `json:"code"`
	Name       string     `json:"name"`
	ParentCode string     `json:"parent_code,omitempty"`
	ValidFrom  time.Time  `json:"valid_from"`
	ValidTo    *time.Time `json:"valid_to,omitempty"`
}

// RegisterRecord is a numbering register ("sổ đăng ký") with the last number taken in
// Year.
type RegisterRecord struct {
	ID         int64  `json:"id"`
	AgencyCode string `json:"agency_code"`
	Kind       string `json:"kind"` // outgoing or incoming
	Series     string `json:"series,omitempty"`
	Name       string `json:"name,omitempty"`
	Year       int    `json:"year"`
	LastNumber int    `json:"last_number"`
	// Of the numbers 1…LastNumber: held by a document (issued, or received), voided
	// (số bị hủy) and reserved for an issue being signed (see RegisterNumbers).
	Documents int       `json:"documents"`
	Voided    int       `json:"voided"`
	Reserved  int       `json:"reserved"`
	CreatedAt time.Time `json:"created_at"`
}

// RegisterNumber is one number of a register's year and what holds it.
type RegisterNumber struct {
	Number int `json:"number"`
	// Status is issued or received (a document holds it), reserved (an issue being
	// signed), voided (số bị hủy: its issue was abandoned; Reason says why) or missing
	// (a gap left before numbers were recorded, schema 5).
	Status     string     `json:"status"`
	DocumentID int64      `json:"document_id,omitempty"`
	Identifier string     `json:"identifier,omitempty"`
	At         *time.Time `json:"at,omitempty"`
	Reason     string     `json:"reason,omitempty"`
	Actor      string     `json:"actor,omitempty"`
}

// NewRegister is a register to create.
type NewRegister struct {
	AgencyCode string `json:"agency"`
	Kind       string `json:"kind"`
	Series     string `json:"series"`
	Name       string `json:"name"`
}

func documentRecord(d *store.Document) DocumentRecord {
	r := DocumentRecord{
		ID: d.ID, Direction: string(d.Direction), Status: string(d.Status), Type: d.Type, Summary: d.Summary,
		AgencyCode: d.AgencyCode, HolderCode: d.HolderCode, Number: d.Number, Symbol: d.Symbol, LegalYear: d.LegalYear,
		IssuedAt: d.IssuedAt, ReceivedAt: d.ReceivedAt, Urgency: string(d.Urgency), Confidentiality: string(d.Confidentiality),
		Series: d.Series, CurrentVersion: d.CurrentVersion, ContentSHA256: d.ContentSHA256, CreatedAt: d.CreatedAt.UTC(), UpdatedAt: d.UpdatedAt.UTC(),
	}
	if d.Identifier != nil {
		r.Identifier = *d.Identifier
	}
	if d.Year != nil {
		r.RegisterYear = *d.Year
	}
	if d.RegNumber != nil {
		r.RegisterNumber = *d.RegNumber
	}
	if d.Verdict != "" {
		r.Verdict = &VerdictRecord{Indication: d.Verdict, SubIndication: d.VerdictSub, Reason: d.VerdictReason}
	}
	return r
}

func versionRecord(v *store.Version) VersionRecord {
	return VersionRecord{
		Seq: v.Seq, SHA256: v.SHA256, Size: v.Size, Filename: v.Filename, MediaType: v.MediaType,
		SignatureCount: v.SignatureCount, CreatedBy: v.CreatedBy, CreatedAt: v.CreatedAt.UTC(),
	}
}

func registerRecord(r store.RegisterCount) RegisterRecord {
	return RegisterRecord{ID: r.ID, AgencyCode: r.AgencyCode, Kind: string(r.Kind), Series: r.Series, Name: r.Name,
		Year: r.Year, LastNumber: r.LastNumber, Documents: r.Documents, Voided: r.Voided, Reserved: r.Reserved, CreatedAt: r.CreatedAt.UTC()}
}

// CreateDocument records an outgoing draft, or receives an incoming document (see
// Receive: its signatures are verified, a scan without one is registered NOT_SIGNED).
func (s *Service) CreateDocument(ctx context.Context, actor Principal, nd NewDocument, content Document) (DocumentRecord, error) {
	part, owner := "issuing", nd.AgencyCode
	if store.Direction(nd.Direction) == store.Incoming {
		part, owner = "holder", nd.HolderCode
	}
	if err := mayCreateAs(actor, part, owner, store.Confidentiality(nd.Confidentiality)); err != nil {
		return DocumentRecord{}, err
	}
	if store.Direction(nd.Direction) == store.Incoming {
		return s.receiveDocument(ctx, actor, nd, content)
	}
	series, err := s.seriesFor(store.Direction(nd.Direction), nd.Type, store.Confidentiality(nd.Confidentiality), nd.Series)
	if err != nil {
		return DocumentRecord{}, err
	}
	d, err := s.Store.CreateDocument(ctx, store.NewDocument{
		Series:          series,
		Direction:       store.Direction(nd.Direction),
		Type:            nd.Type,
		Summary:         nd.Summary,
		AgencyCode:      docid.AgencyCode(nd.AgencyCode),
		HolderCode:      docid.AgencyCode(nd.HolderCode),
		Number:          docid.NumberSymbol{Number: nd.Number, Symbol: nd.Symbol},
		Identifier:      nd.Identifier,
		IssuedAt:        nd.IssuedAt,
		ReceivedAt:      nd.ReceivedAt,
		Urgency:         store.Urgency(nd.Urgency),
		Confidentiality: store.Confidentiality(nd.Confidentiality),
		Content:         io.NewSectionReader(content, 0, content.Size()),
		Filename:        content.Filename(),
		MediaType:       content.ContentType(),
		Actor:           AuditActor(actor),
	})
	if err != nil {
		return DocumentRecord{}, err
	}
	return s.record(ctx, d.ID)
}

func (s *Service) receiveDocument(ctx context.Context, actor Principal, nd NewDocument, content Document) (DocumentRecord, error) {
	rc, err := s.Receive(ctx, ReceiveRequest{
		Content: io.NewSectionReader(content, 0, content.Size()), Filename: content.Filename(),
		Holder: docid.AgencyCode(nd.HolderCode), Issuer: docid.AgencyCode(nd.AgencyCode),
		Number: docid.NumberSymbol{Number: nd.Number, Symbol: nd.Symbol}, Identifier: nd.Identifier,
		Summary: nd.Summary, Type: nd.Type, IssuedAt: nd.IssuedAt, ReceivedAt: nd.ReceivedAt,
		Urgency: store.Urgency(nd.Urgency), Confidentiality: store.Confidentiality(nd.Confidentiality),
		Series: nd.Series, AcceptIndeterminate: nd.AcceptIndeterminate, Actor: AuditActor(actor),
	})
	if rc == nil {
		return DocumentRecord{}, err
	}
	rec, rerr := s.record(ctx, rc.Document.ID)
	if rerr != nil {
		return rec, rerr
	}
	rec.Verification = receiptVerification(rc)
	rec.StatusPacket = string(rc.StatusPacket)
	var re *ReturnedError
	if errors.As(err, &re) {
		return rec, &ReturnedError{Receipt: re.Receipt, Record: &rec, err: re.err}
	}
	return rec, err
}

// receiptVerification is each signature's verdict of the received document.
func receiptVerification(rc *Receipt) *Verification {
	v := &Verification{Indication: rc.Verdict.Indication, Signatures: []SignatureVerification{}}
	if rc.Report != nil {
		for _, sg := range VerificationSummary(rc.Report).Signatures {
			v.Signatures = append(v.Signatures, SignatureVerification{Field: sg.Field, Signer: sg.Signer, Indication: sg.Indication, Level: sg.Level})
		}
	}
	return v
}

// SearchDocuments finds the documents p may see, newest first: those its agencies
// issued or hold, up to its clearance (authz.go). An admin's search is audited.
func (s *Service) SearchDocuments(ctx context.Context, p Principal, q DocumentQuery) ([]DocumentRecord, error) {
	if p.Role == RoleAdmin {
		if _, err := s.Store.Audit(ctx, store.Event{Actor: AuditActor(p), Action: ActionRead, Detail: map[string]any{"search": q}}); err != nil {
			return nil, err
		}
	}
	docs, err := s.Store.Search(ctx, store.Query{Visible: visibility(p),
		Identifier: q.Identifier, HolderCode: docid.AgencyCode(q.HolderCode), AgencyCode: docid.AgencyCode(q.AgencyCode),
		Direction: store.Direction(q.Direction), Status: store.Status(q.Status), Number: q.Number, Symbol: q.Symbol,
		Year: q.Year, IssuedFrom: q.IssuedFrom, IssuedTo: q.IssuedTo, Text: q.Text, Limit: q.Limit, Offset: q.Offset,
	})
	if err != nil {
		return nil, err
	}
	out := make([]DocumentRecord, len(docs))
	for i := range docs {
		out[i] = documentRecord(&docs[i])
	}
	if err := s.withLifecycle(ctx, out); err != nil {
		return nil, err
	}
	return out, nil
}

// GetDocument returns the document with its versions, when p may see it; otherwise
// the same NotFound as for an id that does not exist.
func (s *Service) GetDocument(ctx context.Context, p Principal, id int64) (DocumentRecord, error) {
	if _, err := s.readDocument(ctx, p, id, "metadata"); err != nil {
		return DocumentRecord{}, err
	}
	return s.record(ctx, id)
}

// record is the document with its versions, unchecked: for the document just written.
func (s *Service) record(ctx context.Context, id int64) (DocumentRecord, error) {
	d, err := s.Store.GetDocument(ctx, id)
	if err != nil {
		return DocumentRecord{}, err
	}
	vs, err := s.Store.Versions(ctx, id)
	if err != nil {
		return DocumentRecord{}, err
	}
	rec := documentRecord(d)
	for i := range vs {
		rec.Versions = append(rec.Versions, versionRecord(&vs[i]))
	}
	one := []DocumentRecord{rec}
	if err := s.withLifecycle(ctx, one); err != nil {
		return DocumentRecord{}, err
	}
	return one[0], nil
}

// OpenContent opens version seq (0: the current one) of a document and records the
// download.
func (s *Service) OpenContent(ctx context.Context, actor Principal, id int64, seq int) (io.ReadCloser, VersionRecord, error) {
	if _, err := s.readDocument(ctx, actor, id, ""); err != nil { // the download itself is audited
		return nil, VersionRecord{}, err
	}
	rc, v, err := s.Store.Download(ctx, id, seq, AuditActor(actor))
	if err != nil {
		return nil, VersionRecord{}, err
	}
	return rc, versionRecord(v), nil
}

// Certificates lists the certificates in use of the agencies p acts for (all, for an
// admin).
func (s *Service) Certificates(ctx context.Context, p Principal) ([]CertificateInfo, error) {
	cs, err := s.Store.Certificates(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]CertificateInfo, 0, len(cs))
	for _, c := range cs {
		if !actsFor(p, c.AgencyCode) {
			continue // another agency's, or of no agency: an admin's to see
		}
		out = append(out, CertificateInfo{
			Subject: c.Subject, Issuer: c.Issuer, Serial: c.Serial, SHA256: c.Fingerprint,
			Kind: string(c.Kind), Form: string(c.Form), AgencyCode: c.AgencyCode, Owner: c.Owner,
			NotBefore: c.NotBefore.UTC(), NotAfter: c.NotAfter.UTC(), RevokedAt: c.RevokedAt,
		})
	}
	return out, nil
}

// AgencyAt returns the entry of code in force at at.
func (s *Service) AgencyAt(ctx context.Context, code string, at time.Time) (AgencyRecord, error) {
	a, err := s.Store.AgencyAt(ctx, docid.AgencyCode(code), at)
	if err != nil {
		return AgencyRecord{}, err
	}
	return AgencyRecord{Code: a.Code, Name: a.Name, ParentCode: a.ParentCode, ValidFrom: a.ValidFrom.UTC(), ValidTo: a.ValidTo}, nil
}

// ImportAgencies reads an agency list in CSV (code,name,parent_code,valid_from,
// valid_to) and upserts it; a bad file is Invalid, naming its lines.
func (s *Service) ImportAgencies(ctx context.Context, actor Principal, csv io.Reader) (int, error) {
	list, err := docid.ReadAgencies(csv)
	if err != nil {
		return 0, fault.Errorf(fault.Invalid, "%v", err) // the line errors describe the caller's own file
	}
	return s.Store.ImportAgencies(ctx, list, AuditActor(actor))
}

// Registers lists the registers ("sổ đăng ký") of agency ("" for all) that p's
// agencies keep, with the last number taken in year; year 0 is this numbering year
// (Vietnam time).
func (s *Service) Registers(ctx context.Context, p Principal, agency string, year int) ([]RegisterRecord, error) {
	if year == 0 {
		year = store.NumberingYear(s.now())
	}
	regs, err := s.Store.Registers(ctx, docid.AgencyCode(agency), year)
	if err != nil {
		return nil, err
	}
	out := make([]RegisterRecord, 0, len(regs))
	for _, r := range regs {
		if actsFor(p, r.AgencyCode) {
			out = append(out, registerRecord(r))
		}
	}
	return out, nil
}

// RegisterNumbers lists every number of a register's year (0: this numbering year),
// from 1 to the last taken, with what holds it: the issued or received document, a
// reservation, or a voided number with its reason. Only clients of the register's
// agency see it (others: NotFound); a document above the reader's clearance shows as
// a number taken, without its id or identifier.
func (s *Service) RegisterNumbers(ctx context.Context, p Principal, registerID int64, year int) ([]RegisterNumber, error) {
	if year == 0 {
		year = store.NumberingYear(s.now())
	}
	if year < 1 || year > 9999 {
		return nil, fault.Errorf(fault.Invalid, "year %d is out of range", year)
	}
	reg, err := s.Store.GetRegister(ctx, registerID)
	if err != nil {
		return nil, err
	}
	if !actsFor(p, reg.AgencyCode) {
		return nil, fault.Errorf(fault.NotFound, "no register %d", registerID)
	}
	lines, err := s.Store.RegisterNumbers(ctx, registerID, year)
	if err != nil {
		return nil, err
	}
	v := visibility(p)
	out := make([]RegisterNumber, len(lines))
	for i, l := range lines {
		out[i] = RegisterNumber{Number: l.Number, Status: l.Status, DocumentID: l.DocumentID, Identifier: l.Identifier, Reason: l.Reason, Actor: l.Actor}
		if l.At != nil {
			at := l.At.UTC()
			out[i].At = &at
		}
		if v != nil && store.ConfidentialityRank(l.Confidentiality) > store.ConfidentialityRank(v.Clearance) {
			out[i].DocumentID, out[i].Identifier = 0, ""
		}
	}
	return out, nil
}

// CreateRegister creates an agency's outgoing or incoming register.
func (s *Service) CreateRegister(ctx context.Context, actor Principal, nr NewRegister) (RegisterRecord, error) {
	r, err := s.Store.CreateRegister(ctx, docid.AgencyCode(nr.AgencyCode), store.Direction(nr.Kind), nr.Series, nr.Name, AuditActor(actor))
	if err != nil {
		return RegisterRecord{}, err
	}
	return registerRecord(store.RegisterCount{Register: *r, Year: store.NumberingYear(s.now())}), nil
}
