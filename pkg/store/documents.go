package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/kyso-vn/kyso/pkg/docid"
	"github.com/kyso-vn/kyso/pkg/fault"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// NewDocument describes a document to store with its first content.
type NewDocument struct {
	Direction Direction
	// Status defaults to draft for outgoing and received for incoming documents. A
	// received document gets the next arrival number of the holder's incoming register
	// in the same transaction.
	Status          Status
	Type            string
	Summary         string
	AgencyCode      docid.AgencyCode   // issuing agency
	HolderCode      docid.AgencyCode   // keeping agency; defaults to AgencyCode
	Number          docid.NumberSymbol // known for incoming documents; for drafts only Symbol
	Identifier      string             // edXML identifier when received with one; else derived
	IssuedAt        time.Time
	ReceivedAt      time.Time
	Urgency         Urgency
	Confidentiality Confidentiality
	// Series is the register series (app chooses it; "" the main one): an outgoing
	// document is numbered in it, an incoming one registered in it.
	Series string

	Content        io.Reader
	Filename       string
	MediaType      string
	Signatures     json.RawMessage // signatures summary of Content, from the verifier
	SignatureCount int
	Uses           []SignatureUse // the signatures the statistics count (see SignatureUse)
	// Verdict is the verification of Content; a zero Verdict takes the indication of
	// Signatures.
	Verdict Verdict

	Actor string
	// Note is added to the audit event as "note" (e.g. why a clerk registered a
	// document whose signatures could not be fully verified).
	Note string
}

// Verdict is what the verifier said of a document's signatures: the ETSI EN 319
// 102-1 indication (or NOT_SIGNED), the sub-indication and a short reason.
type Verdict struct {
	Indication, SubIndication, Reason string
}

// indicationOf reads the "indication" of a signatures summary ("" when it has none).
func indicationOf(summary []byte) string {
	var v struct {
		Indication string `json:"indication"`
	}
	if json.Unmarshal(summary, &v) != nil {
		return ""
	}
	return v.Indication
}

// verdictOf is v, or the indication of summary when v is empty.
func verdictOf(v *Verdict, summary []byte) Verdict {
	if v != nil && v.Indication != "" {
		return *v
	}
	return Verdict{Indication: indicationOf(summary)}
}

// VersionInput is new content for an existing document.
type VersionInput struct {
	Content        io.Reader
	Filename       string
	MediaType      string
	Signatures     json.RawMessage
	SignatureCount int
	Uses           []SignatureUse // the signatures this version adds, for the statistics
	// Verdict is the verification of Content (nil: the indication of Signatures).
	Verdict *Verdict
	Actor   string
	KeyURI  string // the key that signed this version, for the audit trail
	// Base (AddVersion, Approve, Issue), when set, is the content hash the new version
	// was made from: it is refused (ErrConflict) when the document has moved on since,
	// so that two signatures prepared over one version cannot drop each other.
	Base string
	// Completes (AddVersion, Approve, Issue), when set, moves a pending signature to
	// its final status in the version's own transaction: a crash leaves both or
	// neither, so a pending signature still "completing" has written no version.
	Completes *PendingCompletion
}

// PendingCompletion is the move of a pending signature that a new version completes.
type PendingCompletion struct {
	ID, From, To string
	// State makes the pending signature's new state once the version is known.
	State func(*Version) ([]byte, error)
}

// CreateDocument stores content and the document row with its first version and an
// audit event. The blob is written first and the rows in one transaction after it, so
// a crash leaves either the whole document or nothing (at worst an unreferenced blob).
func (s *Store) CreateDocument(ctx context.Context, nd NewDocument) (*Document, error) {
	doc, err := s.prepareDocument(&nd)
	if err != nil {
		return nil, err
	}
	if nd.Content == nil {
		return nil, fault.Errorf(fault.Invalid, "document content is required")
	}
	first := VersionInput{Content: nd.Content, Filename: nd.Filename, MediaType: nd.MediaType,
		Signatures: nd.Signatures, SignatureCount: nd.SignatureCount, Uses: nd.Uses, Actor: nd.Actor}
	if err := first.checkSignatures(); err != nil {
		return nil, err
	}
	var out Document
	vd := verdictOf(&nd.Verdict, first.Signatures)
	err = s.withContent(ctx, nd.Content, func(tx *gorm.DB, sha string, size int64) error {
		d := *doc
		now := s.now()
		d.CreatedAt, d.UpdatedAt = now, now
		d.CurrentVersion, d.ContentSHA256 = 1, sha
		d.Verdict, d.VerdictSub, d.VerdictReason = vd.Indication, vd.SubIndication, vd.Reason
		action := ActionCreate
		if d.Direction == Incoming {
			d.ReceiptSHA256 = &sha
		}
		if d.Status == StatusReturned {
			action = ActionReturn
		}
		if d.Status == StatusReceived {
			action = ActionReceive
			if dup, err := registeredTx(tx, d.HolderCode, sha, deref(d.Identifier)); err != nil {
				return err
			} else if dup != nil {
				return AlreadyReceived(dup)
			}
			reg, err := s.registerTx(tx, docid.AgencyCode(d.HolderCode), Incoming, d.Series)
			if err != nil {
				return err
			}
			year := NumberingYear(*d.ReceivedAt)
			n, err := nextNumberTx(tx, reg.ID, year)
			if err != nil {
				return err
			}
			d.RegisterID, d.Year, d.RegNumber = &reg.ID, &year, &n
		}
		if err := tx.Create(&d).Error; err != nil {
			if isUniqueViolation(err) {
				return errDuplicate{sha: sha}
			}
			return fmt.Errorf("store: insert document: %w", err)
		}
		if _, err := first.insert(tx, d.ID, 1, sha, size, now); err != nil {
			return err
		}
		fields := map[string]any{"filename": nd.Filename, "size": size, "identifier": deref(d.Identifier)}
		if vd.Indication != "" {
			fields["verdict"] = strings.TrimSuffix(vd.Indication+"/"+vd.SubIndication, "/")
		}
		if vd.Reason != "" {
			fields["reason"] = vd.Reason
		}
		if nd.Note != "" {
			fields["note"] = nd.Note
		}
		detail, err := withRow(tx, d.ID, fields)
		if err != nil {
			return err
		}
		if _, err := s.appendAudit(tx, Event{Actor: nd.Actor, Action: action, DocumentID: d.ID, DocumentHash: sha,
			Detail: detail}); err != nil {
			return err
		}
		out = d
		return nil
	})
	var dup errDuplicate
	if errors.As(err, &dup) {
		// another writer stored the same document meanwhile: name it, as above
		if prev, ferr := registeredTx(s.db.WithContext(ctx), doc.HolderCode, dup.sha, deref(doc.Identifier)); ferr == nil && prev != nil {
			return nil, AlreadyReceived(prev)
		}
		return nil, fault.Errorf(fault.Conflict, "a document with identifier %s is already stored", deref(doc.Identifier))
	}
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// errDuplicate is an insert refused by a unique index; it ends the transaction, and
// the document it collided with is looked up after it.
type errDuplicate struct{ sha string }

func (errDuplicate) Error() string { return "store: duplicate document" }

// registeredTx finds the document holder already registered with this content (as it
// arrived) or, for a non-empty identifier, this edXML identifier; nil if none.
// Returned documents do not count: the sender may send a corrected copy under the
// same identifier, and the clerk may register knowingly what was returned.
func registeredTx(tx *gorm.DB, holder, sha, identifier string) (*Document, error) {
	q := tx.Where("holder_code = ? AND status <> ?", holder, StatusReturned)
	if identifier != "" {
		q = q.Where("(receipt_sha256 = ? OR identifier = ?)", sha, identifier)
	} else {
		q = q.Where("receipt_sha256 = ?", sha)
	}
	var ds []Document
	if err := q.Order("id").Limit(1).Find(&ds).Error; err != nil {
		return nil, fmt.Errorf("store: find registered document: %w", err)
	}
	if len(ds) == 0 {
		return nil, nil
	}
	return &ds[0], nil
}

// FindRegistered finds the document holder has registered (not returned) with this
// content as it arrived, or with this edXML identifier ("": content only); nil if none.
func (s *Store) FindRegistered(ctx context.Context, holder docid.AgencyCode, sha, identifier string) (*Document, error) {
	return registeredTx(s.db.WithContext(ctx), string(holder), sha, identifier)
}

// CodeAlreadyReceived: the document was already registered by the receiving agency.
const CodeAlreadyReceived = "receive/duplicate"

// AlreadyReceived is the Conflict of a document that d already registers, naming d.
func AlreadyReceived(d *Document) error {
	place := string(d.Status)
	if d.RegNumber != nil && d.Year != nil {
		place = fmt.Sprintf("%s with arrival number %d/%d", d.Status, *d.RegNumber, *d.Year)
	}
	what := "this document"
	if d.Identifier != nil {
		what = "document " + *d.Identifier
	}
	at := ""
	if d.ReceivedAt != nil {
		at = " on " + d.ReceivedAt.In(docid.Vietnam).Format(time.DateOnly)
	}
	return fault.WithCode(fault.Errorf(fault.Conflict, "%s is already registered by %s: document %d, %s%s",
		what, d.HolderCode, d.ID, place, at), CodeAlreadyReceived)
}

func (s *Store) prepareDocument(nd *NewDocument) (*Document, error) {
	bad := func(format string, a ...any) (*Document, error) {
		return nil, fault.Errorf(fault.Invalid, format, a...)
	}
	if nd.Actor == "" {
		return bad("an actor is required")
	}
	switch nd.Direction {
	case Outgoing:
		if nd.Status == "" {
			nd.Status = StatusDraft
		}
		if nd.Status != StatusDraft {
			return bad("a new outgoing document is a draft (it is numbered and issued later)")
		}
	case Incoming:
		if nd.Status == "" {
			nd.Status = StatusReceived
		}
		if nd.Status != StatusReceived && nd.Status != StatusReturned {
			return bad("an incoming document is stored as received or returned")
		}
	default:
		return bad("direction must be outgoing or incoming, not %q", nd.Direction)
	}
	if _, err := docid.ParseAgencyCode(string(nd.AgencyCode)); err != nil {
		return bad("issuing agency: %v", err)
	}
	if nd.HolderCode == "" {
		nd.HolderCode = nd.AgencyCode
	}
	if _, err := docid.ParseAgencyCode(string(nd.HolderCode)); err != nil {
		return bad("holder agency: %v", err)
	}
	if nd.Number.Symbol != "" {
		if err := docid.ValidateSymbol(nd.Number.Symbol); err != nil {
			return bad("%v", err)
		}
	}
	if nd.Number.Number < 0 || nd.Number.Number > docid.MaxNumber {
		return bad("number %d out of range", nd.Number.Number)
	}
	if !validUrgency[nd.Urgency] || !validConfidentiality[nd.Confidentiality] {
		return bad("unknown urgency %q or confidentiality %q", nd.Urgency, nd.Confidentiality)
	}
	if err := checkSeries(nd.Series); err != nil {
		return nil, err
	}
	d := &Document{
		Direction: nd.Direction, Status: nd.Status, Type: nd.Type, Summary: nd.Summary, SummaryFold: foldText(nd.Summary),
		AgencyCode: string(nd.AgencyCode), HolderCode: string(nd.HolderCode),
		Number: nd.Number.Number, LegalYear: nd.Number.Year, Symbol: nd.Number.Symbol,
		Urgency: nd.Urgency, Confidentiality: nd.Confidentiality, Series: nd.Series,
	}
	if !nd.IssuedAt.IsZero() {
		t := dbTime(nd.IssuedAt)
		d.IssuedAt = &t
	}
	if nd.Direction == Incoming {
		rt := nd.ReceivedAt
		if rt.IsZero() {
			rt = s.cfg.Now()
		}
		t := dbTime(rt)
		d.ReceivedAt = &t
	}
	switch {
	case nd.Identifier != "":
		id, err := docid.ParseDocumentID(nd.Identifier)
		if err != nil {
			return bad("%v", err)
		}
		str := id.String()
		d.Identifier = &str
		if d.Number == 0 {
			d.Number, d.LegalYear, d.Symbol = id.Number.Number, id.Number.Year, id.Number.Symbol
		}
		if d.IssuedAt == nil {
			t := dbTime(id.Date)
			d.IssuedAt = &t
		}
	case d.Number > 0 && d.Symbol != "" && d.IssuedAt != nil:
		str := docid.NewDocumentID(nd.AgencyCode, *d.IssuedAt, nd.Number).String()
		d.Identifier = &str
	}
	return d, nil
}

var (
	validUrgency         = map[Urgency]bool{UrgencyNormal: true, UrgencyUrgent: true, UrgencyVeryUrgent: true, UrgencyFlash: true}
	validConfidentiality = map[Confidentiality]bool{Unclassified: true, Confidential: true, Secret: true, TopSecret: true}
)

// checkSignatures refuses a signatures summary that is not JSON, before any content is
// written, and makes no summary the empty list a version row keeps.
func (in *VersionInput) checkSignatures() error {
	for _, u := range in.Uses {
		if err := u.check(); err != nil {
			return err
		}
	}
	if len(in.Signatures) == 0 {
		in.Signatures = json.RawMessage("[]")
		return nil
	}
	if !json.Valid(in.Signatures) {
		return fault.Errorf(fault.Invalid, "signatures summary is not JSON")
	}
	return nil
}

// insert adds the row of version seq of a document whose content was just written
// (sha, size): one place for what a version records, first or later.
func (in *VersionInput) insert(tx *gorm.DB, documentID int64, seq int, sha string, size int64, at time.Time) (Version, error) {
	v := Version{DocumentID: documentID, Seq: seq, SHA256: sha, Size: size, Filename: in.Filename, MediaType: in.MediaType,
		Signatures: string(in.Signatures), SignatureCount: in.SignatureCount, CreatedBy: in.Actor, CreatedAt: at}
	if err := tx.Create(&v).Error; err != nil {
		return Version{}, fmt.Errorf("store: insert version: %w", err)
	}
	if err := recordUses(tx, documentID, at, in.Uses); err != nil {
		return Version{}, err
	}
	return v, nil
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// AddVersion stores new content for a draft (a signed revision) as its next version.
// Approved, issued and received documents do not change this way: they move on only
// through the workflow's own steps (Approve over a draft, Issue over an approved and
// numbered document, Extend of validation data), each naming its Base; anything else is
// a Conflict.
func (s *Store) AddVersion(ctx context.Context, documentID int64, in VersionInput) (*Version, error) {
	return s.addVersion(ctx, documentID, in, ActionVersion, func(_ *gorm.DB, d *Document) error {
		if d.Status != StatusDraft {
			return fault.Errorf(fault.Conflict, "document %d is %s; it cannot change (only a draft takes new versions)", d.ID, d.Status)
		}
		return nil
	})
}

// ActionExtend is the audit action of adding validation data (DSS, a document
// timestamp) to a stored document.
const ActionExtend = "extend"

// Extend stores the same document with validation data added (B-LT, B-LTA, renewal)
// as its next version, whatever its status; in.Base must name the version it extends.
// The caller has checked that the new content is the old one plus validation data.
func (s *Store) Extend(ctx context.Context, documentID int64, in VersionInput) (*Version, error) {
	if in.Base == "" {
		return nil, fault.Errorf(fault.Invalid, "an extension names the version it extends")
	}
	return s.addVersion(ctx, documentID, in, ActionExtend, nil)
}

func (s *Store) addVersion(ctx context.Context, documentID int64, in VersionInput, action string, also func(tx *gorm.DB, d *Document) error) (*Version, error) {
	if in.Content == nil || in.Actor == "" {
		return nil, fault.Errorf(fault.Invalid, "a version needs content and an actor")
	}
	if err := in.checkSignatures(); err != nil {
		return nil, err
	}
	var out Version
	err := s.withContent(ctx, in.Content, func(tx *gorm.DB, sha string, size int64) error {
		var d Document
		if err := lockDocument(tx, &d, documentID); err != nil {
			return err
		}
		if in.Base != "" && d.ContentSHA256 != in.Base {
			return fault.Errorf(fault.Conflict, "document %d has changed since this version was prepared (now version %d)", d.ID, d.CurrentVersion)
		}
		now := s.now()
		v, err := in.insert(tx, d.ID, d.CurrentVersion+1, sha, size, now)
		if err != nil {
			return err
		}
		if c := in.Completes; c != nil {
			state, err := c.State(&v)
			if err != nil {
				return err
			}
			if err := updatePending(tx, now, c.ID, c.From, c.To, state); err != nil {
				return err
			}
		}
		d.CurrentVersion, d.ContentSHA256, d.UpdatedAt = v.Seq, sha, now
		// a version that says nothing of its signatures (validation data added)
		// keeps the verdict of the one it extends
		if vd := verdictOf(in.Verdict, in.Signatures); vd.Indication != "" {
			d.Verdict, d.VerdictSub, d.VerdictReason = vd.Indication, vd.SubIndication, vd.Reason
		}
		if also != nil {
			if err := also(tx, &d); err != nil {
				return err
			}
		}
		if err := tx.Save(&d).Error; err != nil {
			return fmt.Errorf("store: update document: %w", err)
		}
		detail, err := withRow(tx, d.ID, map[string]any{"version": v.Seq, "signatures": in.SignatureCount, "base": in.Base})
		if err != nil {
			return err
		}
		if _, err := s.appendAudit(tx, Event{Actor: in.Actor, Action: action, DocumentID: d.ID, DocumentHash: sha,
			KeyURI: in.KeyURI, Detail: detail}); err != nil {
			return err
		}
		out = v
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// Approve stores the leader-signed revision of a draft and moves it to approved.
func (s *Store) Approve(ctx context.Context, documentID int64, in VersionInput) (*Version, error) {
	return s.addVersion(ctx, documentID, in, ActionApprove, func(tx *gorm.DB, d *Document) error {
		if d.Status != StatusDraft {
			return fault.Errorf(fault.Conflict, "document %d is %s, only a draft can be approved", d.ID, d.Status)
		}
		d.Status = StatusApproved
		return nil
	})
}

// GetDocument reads a document by id.
func (s *Store) GetDocument(ctx context.Context, id int64) (*Document, error) {
	var d Document
	if err := s.db.WithContext(ctx).Take(&d, id).Error; err != nil {
		return nil, notFound(err, fmt.Sprintf("document %d", id))
	}
	return &d, nil
}

// FindByIdentifier finds a document by its edXML identifier. holder narrows to one
// keeping agency when the same document is stored by several ("" for any).
func (s *Store) FindByIdentifier(ctx context.Context, identifier string, holder docid.AgencyCode) (*Document, error) {
	q := s.db.WithContext(ctx).Where("identifier = ?", identifier)
	if holder != "" {
		q = q.Where("holder_code = ?", string(holder))
	}
	var d Document
	if err := q.Order("id").Take(&d).Error; err != nil {
		return nil, notFound(err, "document "+identifier)
	}
	return &d, nil
}

// FindByNumber finds the document holding a number in a register's year.
func (s *Store) FindByNumber(ctx context.Context, registerID int64, year, number int) (*Document, error) {
	var d Document
	err := s.db.WithContext(ctx).Where("register_id = ? AND year = ? AND reg_number = ?", registerID, year, number).Take(&d).Error
	if err != nil {
		return nil, notFound(err, fmt.Sprintf("document number %d/%d in register %d", number, year, registerID))
	}
	return &d, nil
}

// Versions lists a document's versions, oldest first.
func (s *Store) Versions(ctx context.Context, documentID int64) ([]Version, error) {
	var vs []Version
	if err := s.db.WithContext(ctx).Where("document_id = ?", documentID).Order("seq").Find(&vs).Error; err != nil {
		return nil, fmt.Errorf("store: versions: %w", err)
	}
	return vs, nil
}

// Download opens a document's version (0: current) and records the download.
func (s *Store) Download(ctx context.Context, documentID int64, seq int, actor string) (io.ReadCloser, *Version, error) {
	d, err := s.GetDocument(ctx, documentID)
	if err != nil {
		return nil, nil, err
	}
	if seq == 0 {
		seq = d.CurrentVersion
	}
	var v Version
	if err := s.db.WithContext(ctx).Where("document_id = ? AND seq = ?", documentID, seq).Take(&v).Error; err != nil {
		return nil, nil, notFound(err, fmt.Sprintf("version %d of document %d", seq, documentID))
	}
	rc, err := s.OpenBlob(ctx, v.SHA256)
	if err != nil {
		return nil, nil, err
	}
	if _, err := s.Audit(ctx, Event{Actor: actor, Action: ActionDownload, DocumentID: documentID, DocumentHash: v.SHA256,
		Detail: map[string]any{"version": seq}}); err != nil {
		rc.Close()
		return nil, nil, err
	}
	return rc, &v, nil
}

// AddAttachment stores a separate-file attachment of a document.
func (s *Store) AddAttachment(ctx context.Context, documentID int64, name, mediaType string, content io.Reader, actor string) (*Attachment, error) {
	if name == "" || content == nil || actor == "" {
		return nil, fault.Errorf(fault.Invalid, "an attachment needs a name, content and an actor")
	}
	var out Attachment
	err := s.withContent(ctx, content, func(tx *gorm.DB, sha string, size int64) error {
		var n int64
		if err := tx.Model(&Document{}).Where("id = ?", documentID).Count(&n).Error; err != nil {
			return fmt.Errorf("store: %w", err)
		}
		if n == 0 {
			return fault.Errorf(fault.NotFound, "no document %d", documentID)
		}
		a := Attachment{DocumentID: documentID, Name: name, SHA256: sha, Size: size, MediaType: mediaType, CreatedAt: s.now()}
		if err := tx.Create(&a).Error; err != nil {
			return fmt.Errorf("store: insert attachment: %w", err)
		}
		if _, err := s.appendAudit(tx, Event{Actor: actor, Action: ActionVersion, DocumentID: documentID, DocumentHash: sha,
			Detail: map[string]any{"attachment": name}}); err != nil {
			return err
		}
		out = a
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// Attachments lists a document's attachments.
func (s *Store) Attachments(ctx context.Context, documentID int64) ([]Attachment, error) {
	var as []Attachment
	if err := s.db.WithContext(ctx).Where("document_id = ?", documentID).Order("id").Find(&as).Error; err != nil {
		return nil, fmt.Errorf("store: attachments: %w", err)
	}
	return as, nil
}

// DeleteDocument removes a document, its versions and attachments and records the
// deletion. Blobs stay (other documents may share them); Check reports unreferenced
// ones.
func (s *Store) DeleteDocument(ctx context.Context, documentID int64, actor string, reason string) error {
	return s.write(ctx, func(tx *gorm.DB) error {
		var d Document
		if err := lockDocument(tx, &d, documentID); err != nil {
			return err
		}
		for _, q := range []string{"DELETE FROM attachments WHERE document_id = ?", "DELETE FROM document_versions WHERE document_id = ?", "DELETE FROM documents WHERE id = ?"} {
			if err := tx.Exec(q, documentID).Error; err != nil {
				return fmt.Errorf("store: delete document: %w", err)
			}
		}
		_, err := s.appendAudit(tx, Event{Actor: actor, Action: ActionDelete, DocumentID: documentID, DocumentHash: d.ContentSHA256,
			Detail: map[string]any{"identifier": deref(d.Identifier), "reason": reason, "row": rowDigestDeleted}})
		return err
	})
}

// Query selects documents; zero fields do not filter.
type Query struct {
	Identifier string
	HolderCode docid.AgencyCode
	AgencyCode docid.AgencyCode
	Direction  Direction
	Status     Status
	Number     int
	Symbol     string
	Year       int // register year
	RegisterID int64
	IssuedFrom time.Time // inclusive
	IssuedTo   time.Time // exclusive
	Text       string    // in the summary, ignoring case and Vietnamese diacritics
	Limit      int       // default 100, at most 1000
	Offset     int
	// Visible, when set, admits only the documents a reader may see.
	Visible *Visibility
}

// Search finds documents, newest first.
func (s *Store) Search(ctx context.Context, q Query) ([]Document, error) {
	db := s.db.WithContext(ctx).Model(&Document{})
	eq := func(col string, v any, set bool) {
		if set {
			db = db.Where(col+" = ?", v)
		}
	}
	db = q.Visible.apply(db)
	eq("identifier", q.Identifier, q.Identifier != "")
	eq("holder_code", string(q.HolderCode), q.HolderCode != "")
	eq("agency_code", string(q.AgencyCode), q.AgencyCode != "")
	eq("direction", q.Direction, q.Direction != "")
	eq("status", q.Status, q.Status != "")
	eq("number", q.Number, q.Number != 0)
	eq("symbol", q.Symbol, q.Symbol != "")
	eq("year", q.Year, q.Year != 0)
	eq("register_id", q.RegisterID, q.RegisterID != 0)
	if !q.IssuedFrom.IsZero() {
		db = db.Where("issued_at >= ?", dbTime(q.IssuedFrom))
	}
	if !q.IssuedTo.IsZero() {
		db = db.Where("issued_at < ?", dbTime(q.IssuedTo))
	}
	if q.Text != "" {
		db = db.Where("summary_fold LIKE ? ESCAPE '\\'", "%"+escapeLike(foldText(q.Text))+"%")
	}
	limit := q.Limit
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, 1000)
	var out []Document
	if err := db.Order("id DESC").Limit(limit).Offset(max(q.Offset, 0)).Find(&out).Error; err != nil {
		return nil, fmt.Errorf("store: search: %w", err)
	}
	return out, nil
}

func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// lockDocument reads a document for update inside a write transaction. On PostgreSQL
// the row lock makes concurrent state changes of one document (two clerks pressing
// "issue") queue instead of both acting on the same old state; SQLite's write
// transaction already excludes every other writer, and its dialect drops the clause.
func lockDocument(tx *gorm.DB, d *Document, id int64) error {
	if err := tx.Clauses(clause.Locking{Strength: "UPDATE"}).Take(d, id).Error; err != nil {
		return notFound(err, fmt.Sprintf("document %d", id))
	}
	return nil
}
