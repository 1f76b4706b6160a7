package app

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/kyso-vn/kyso/pkg/docid"
	"github.com/kyso-vn/kyso/pkg/fault"
	"github.com/kyso-vn/kyso/pkg/store"
	"github.com/kyso-vn/kyso/pkg/wire"
	"github.com/kyso-vn/kyso/signer/pades"
	"github.com/kyso-vn/kyso/signer/verify"
)

// Roles of a signature in the Decree 30/2020 workflow, shown to the person who signs.
const (
	RoleApprove  = "approve"  // the leader approves (personal certificate)
	RoleIssue    = "issue"    // the clerk issues with the organisation's signature and seal
	RoleAppendix = "appendix" // an attachment in a separate file
	RoleCopy     = "copy"     // an electronic copy
	RoleIncoming = "incoming" // stamping an incoming document
)

// PrepareRequest asks for a signature made outside the server (desktop agent, SIM
// PKI, another system): the document and the signer's certificate, known in advance.
type PrepareRequest struct {
	// DocumentID names a stored document (its current version is signed), or Content
	// gives a new one, stored as a draft of AgencyCode.
	DocumentID int64
	Content    io.Reader
	Filename   string
	AgencyCode string
	Summary    string
	Symbol     string // e.g. "UBND-VP": the number comes when the document is issued
	Type       string // QĐ, CV, TTr, …
	Series     string // overrides the register series chosen from Type (checked)

	Certificate *x509.Certificate
	Chain       []*x509.Certificate
	Role        string
	Options     SignOptions
	// By is who asks; the rules of authz.go (role, agency, certificate) apply to it.
	By Principal
	// Actor names By in the audit trail (default AuditActor(By)).
	Actor string
}

// actor names the request's principal in the audit trail.
func (r PrepareRequest) actor() string {
	if r.Actor != "" {
		return r.Actor
	}
	return AuditActor(r.By)
}

// Pending is a prepared signature as callers see it: the wire contract of the
// prepare/complete exchange.
type Pending = wire.Pending

// pendingStateVersion is the version of pendingState written now. Rows written before
// (no "v") also held a copy of the caller's view and of the row's document_id; they
// are still read, and rewritten in this version when they next change.
const pendingStateVersion = 2

// pendingState is what the store keeps between prepare and complete, so that any
// replica, or the same one after a restart, completes the signature. The id, status,
// document and expiry are the row's own columns and are not repeated here; the digest
// is the prepared layout's.
type pendingState struct {
	V          int             `json:"v"`
	Prepared   *pades.Prepared `json:"prepared"`
	BaseSHA256 string          `json:"base_sha256"`
	Chain      [][]byte        `json:"chain"`
	Reserve    int             `json:"timestamp_reserve"`
	// Shown is what the signer is shown, and how the key signs.
	Shown shownState `json:"shown"`
	// SignedVersion is the document's version the completion stored.
	SignedVersion int `json:"signed_version,omitempty"`
	// Signatures summarises the signatures verified before an issue signature, and
	// SignatureCount counts them with it (1 for other roles).
	Signatures     json.RawMessage `json:"signatures,omitempty"`
	SignatureCount int             `json:"signature_count,omitempty"`
	// Remote is set when a remote holder signs (see PrepareRemote).
	Remote *remoteState `json:"remote,omitempty"`
	// By is the id of the client that prepared it: only it completes it or sees it.
	// Cert is the signer's certificate, checked again at completion.
	By   string `json:"by,omitempty"`
	Cert []byte `json:"cert,omitempty"`
	// Plan is the number an issue signature carries, taken when it completes.
	Plan *numberPlan `json:"plan,omitempty"`

	// Rows of version 0 only: a copy of the view, and the document id.
	LegacyView       *Pending `json:"view,omitempty"`
	LegacyDocumentID int64    `json:"document_id,omitempty"`

	// documentID is the row's document_id column, set by decodePending.
	documentID int64
}

// shownState is the part of the view that is the pending signature's own.
type shownState struct {
	Role       string `json:"role"`
	Summary    string `json:"summary,omitempty"`
	Number     string `json:"number,omitempty"`
	Agency     string `json:"agency,omitempty"`
	Signer     string `json:"signer"`
	CertSHA256 string `json:"certificate_sha256"`
	Algorithm  string `json:"algorithm"`
	Hash       string `json:"hash"`
}

// decodePending reads a row's state, of any version, into the current one.
func decodePending(ps *store.PendingSignature) (*pendingState, error) {
	var st pendingState
	if err := json.Unmarshal(ps.State, &st); err != nil {
		return nil, fmt.Errorf("app: pending signature %s: %w", ps.ID, err)
	}
	if st.V == 0 && st.LegacyView != nil {
		v := st.LegacyView
		st.Shown = shownState{Role: v.Role, Summary: v.Summary, Number: v.Number, Agency: v.Agency, Signer: v.Signer,
			CertSHA256: v.CertSHA256, Algorithm: v.Algorithm, Hash: v.Hash}
		st.SignedVersion = v.Version
		st.documentID = v.DocumentID
	}
	if st.LegacyDocumentID != 0 {
		st.documentID = st.LegacyDocumentID
	}
	st.V, st.LegacyView, st.LegacyDocumentID = pendingStateVersion, nil, 0
	if ps.DocumentID != nil {
		st.documentID = *ps.DocumentID
	}
	return &st, nil
}

// view is the pending signature of row ps with state st as callers see it.
func (st *pendingState) view(ps *store.PendingSignature) *Pending {
	sh := st.Shown
	v := &Pending{
		ID: ps.ID, Status: ps.Status, Digest: st.Prepared.SignedAttrsDigest(), Algorithm: sh.Algorithm, Hash: sh.Hash,
		ExpiresAt: ps.ExpiresAt, DocumentID: st.documentID, Role: sh.Role, Summary: sh.Summary, Number: sh.Number,
		Agency: sh.Agency, Signer: sh.Signer, CertSHA256: sh.CertSHA256, Version: st.SignedVersion,
	}
	if st.Remote != nil {
		v.Provider, v.Holder, v.Error, v.Batch = st.Remote.Provider, st.Remote.Holder, st.Remote.Error, st.Remote.Batch
	}
	return v
}

const (
	statusPending    = "pending"
	statusCompleting = "completing"
	statusCompleted  = "completed"
)

// Prepare lays out the signature revision and returns the digest the key must sign.
func (s *Service) Prepare(ctx context.Context, req PrepareRequest) (_ *Pending, err error) {
	if req.Certificate == nil {
		return nil, fault.Errorf(fault.Invalid, "the signer's certificate is required")
	}
	req.Actor = req.actor()
	if req.Actor == "" {
		return nil, fault.Errorf(fault.Invalid, "an actor is required")
	}
	if req.Role == "" {
		req.Role = RoleApprove
	}
	// Who may sign what is decided before anything is read, laid out or numbered.
	agency := req.AgencyCode
	if req.DocumentID != 0 {
		d, err := s.readDocument(ctx, req.By, req.DocumentID, "")
		if err != nil {
			return nil, err
		}
		if req.Role == RoleApprove && d.Status != store.StatusDraft {
			return nil, fault.Errorf(fault.Conflict, "document %d is %s; only a draft is approved", d.ID, d.Status)
		}
		if req.Role == RoleIssue && d.Status != store.StatusApproved {
			return nil, fault.Errorf(fault.Conflict, "document %d is %s; only an approved document is issued", d.ID, d.Status)
		}
		agency = d.AgencyCode
	} else if err := mayCreate(req.By, agency, store.Unclassified); err != nil {
		return nil, err
	}
	// The certificate is checked (valid now, chained to the anchors, unrevoked) before
	// anything is laid out, and the signature embeds the whole chain found.
	chain, err := s.mayPrepare(ctx, req.By, req.Role, agency, req.Certificate, req.Chain)
	if err != nil {
		return nil, err
	}
	req.Chain = chain
	po, err := s.padesOptions(req.Options, req.Certificate, req.Chain)
	if err != nil {
		return nil, err
	}
	var (
		doc     *store.Document
		f       *os.File
		size    int64
		sha     string
		cleanup func()
	)
	if req.DocumentID != 0 {
		if doc, err = s.Store.GetDocument(ctx, req.DocumentID); err != nil {
			return nil, err
		}
		if req.Role == RoleApprove && doc.Status != store.StatusDraft {
			return nil, fault.Errorf(fault.Conflict, "document %d is %s; only a draft is approved", doc.ID, doc.Status)
		}
		f, size, sha, cleanup, err = s.openContent(ctx, doc.ContentSHA256)
	} else if req.Content != nil {
		f, size, sha, cleanup, err = s.spool(req.Content)
	} else {
		return nil, fault.Errorf(fault.Invalid, "give a document id or the document")
	}
	if err != nil {
		return nil, err
	}
	defer cleanup()
	var (
		sigs     json.RawMessage
		sigCount = 1
		issuing  int64
		expires  = s.now().Add(s.ttl()).UTC().Truncate(time.Microsecond) // as the store keeps it
	)
	if req.Role == RoleIssue {
		// The clerk issues with the organisation's token: the same numbering, metadata
		// and seal as Issue, signed outside the server. Options.VisibleImage is the seal.
		if doc == nil {
			return nil, fault.Errorf(fault.Invalid, "an issue signature is over a stored, approved document; give its id")
		}
		if doc.Status != store.StatusApproved {
			return nil, fault.Errorf(fault.Conflict, "document %d is %s; only an approved document is issued", doc.ID, doc.Status)
		}
		var rep *verify.Report
		po, doc, rep, err = s.issueOptions(ctx, doc, f, size, IssueRequest{Seal: req.Options.VisibleImage, Page: req.Options.VisiblePage,
			Rect: req.Options.VisibleRect, Level: req.Options.Level, Actor: req.Actor}, req.Certificate, req.Chain, expires)
		if err != nil {
			return nil, err
		}
		// from here a failure voids the number reserved; the request, once stored,
		// holds it until it completes, ends or expires
		issuing = doc.ID
		defer func() {
			if err != nil && issuing != 0 {
				s.voidFailed(ctx, issuing, err, req.Actor)
			}
		}()
		sigs, _ = json.Marshal(summary(rep))
		sigCount = len(rep.Signatures) + 1
	}
	if req.Role == RoleApprove && po.Field == "" && len(po.Blanks) == 0 {
		po.Blanks = approvalBlanks(f, size)
		conf := store.Unclassified
		if doc != nil {
			conf = doc.Confidentiality
		}
		if s.lookupPublic(agency, conf) {
			po.Blanks = append(po.Blanks, pades.LookupBlank())
		}
	}
	// The revision is laid out before a new document is stored, so a file that is not
	// a PDF it can sign leaves nothing behind.
	p, err := pades.Prepare(ctx, f, size, nil, po)
	if err != nil {
		return nil, mapSignError(err)
	}
	if doc == nil {
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return nil, err
		}
		series, err := s.seriesFor(store.Outgoing, req.Type, store.Unclassified, req.Series)
		if err != nil {
			return nil, err
		}
		doc, err = s.Store.CreateDocument(ctx, store.NewDocument{
			Direction: store.Outgoing, AgencyCode: docidCode(req.AgencyCode), Summary: req.Summary, Type: req.Type, Series: series,
			Number:  docid.NumberSymbol{Symbol: req.Symbol},
			Content: io.LimitReader(f, size), Filename: req.Filename, MediaType: "application/pdf", Actor: req.Actor,
		})
		if err != nil {
			return nil, err
		}
		if doc.ContentSHA256 != sha {
			return nil, fmt.Errorf("service: stored draft %d reads %s, prepared over %s", doc.ID, doc.ContentSHA256, sha)
		}
	}
	docID := doc.ID
	st := pendingState{V: pendingStateVersion, Prepared: p, BaseSHA256: sha, Reserve: po.TimestampReserve,
		Signatures: sigs, SignatureCount: sigCount, documentID: docID, By: req.By.ID, Cert: req.Certificate.Raw,
		Shown: shownState{Role: req.Role, Summary: doc.Summary, Agency: doc.AgencyCode, Signer: req.Certificate.Subject.String(),
			CertSHA256: wire.CertificateHash(req.Certificate), Algorithm: wire.AlgorithmName(req.Certificate.PublicKey, p.SignatureOpts()),
			Hash: wire.HashName(p.SignatureOpts().HashFunc())}}
	if doc.Number > 0 {
		st.Shown.Number = doc.NumberSymbol().String()
	}
	if req.Role == RoleIssue && doc.RegNumber != nil && doc.IssuedAt != nil {
		st.Plan = &numberPlan{Number: *doc.RegNumber, IssuedAt: *doc.IssuedAt}
	}
	for _, c := range req.Chain {
		st.Chain = append(st.Chain, c.Raw)
	}
	raw, err := json.Marshal(st)
	if err != nil {
		return nil, err
	}
	row := store.PendingSignature{ID: newID(), Status: statusPending, State: raw, DocumentID: &docID, ExpiresAt: expires}
	if err = s.Store.PutPending(ctx, row); err != nil {
		return nil, err
	}
	return st.view(&row), nil
}

func (s *Service) ttl() time.Duration {
	if s.PendingTTL > 0 {
		return s.PendingTTL
	}
	return 30 * time.Minute
}

// GetPending returns a prepared signature's state to the client that prepared it.
func (s *Service) GetPending(ctx context.Context, p Principal, id string) (*Pending, error) {
	ps, st, err := s.loadPending(ctx, id)
	if err != nil {
		return nil, err
	}
	if !ownsPending(p, st) {
		return nil, noPending(id)
	}
	v := st.view(ps)
	if st.Remote != nil {
		v.Progress = s.remoteProgress(ctx, st.Remote.Batch)
	}
	return v, nil
}

func (s *Service) loadPending(ctx context.Context, id string) (*store.PendingSignature, *pendingState, error) {
	ps, err := s.Store.GetPending(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	st, err := decodePending(ps)
	if err != nil {
		return nil, nil, err
	}
	return ps, st, nil
}

// CompleteRequest carries what the key produced: a raw signature over the digest, or a
// whole CMS made elsewhere (a remote service that returns CMS).
type CompleteRequest struct {
	Signature []byte
	CMS       []byte
	// By is who completes: the client that prepared the signature, whose right to make
	// it is checked again now.
	By     Principal
	Actor  string
	KeyURI string // for the audit trail
}

// Complete embeds the signature and stores the signed document as the document's new
// version. A pending signature completes once: a replay is ErrConflict.
func (s *Service) Complete(ctx context.Context, id string, req CompleteRequest) (*Pending, error) {
	if (req.Signature == nil) == (req.CMS == nil) {
		return nil, fault.Errorf(fault.Invalid, "give exactly one of a signature or a CMS")
	}
	ps, st, err := s.loadPending(ctx, id)
	if err != nil {
		return nil, err
	}
	if err := s.mayComplete(ctx, req.By, id, st); err != nil {
		return nil, err
	}
	if req.Actor == "" {
		req.Actor = AuditActor(req.By)
	}
	// Claim it first, so that two completions of one request cannot both write. One
	// left "completing" past the grace was cut off by a crash (it wrote no version,
	// see complete) and is claimed again.
	from := statusPending
	if s.cutOff(*ps) {
		from = statusCompleting
	} else if ps.Status != statusPending {
		return nil, fault.Errorf(fault.Conflict, "the signature %s is %s", id, ps.Status)
	}
	if err := s.Store.UpdatePending(ctx, id, from, statusCompleting, nil); err != nil {
		return nil, err
	}
	if _, err := s.complete(ctx, id, st, req); err != nil {
		if st.Shown.Role == RoleIssue && fault.KindOf(err) == fault.Conflict {
			// The document moved on, or the number this revision prints was voided:
			// this request can never complete. It ends, voiding the number unless
			// another request of the document holds it.
			_ = s.Store.EndPending(context.WithoutCancel(ctx), id, statusCompleting, store.PendingFailed, nil, fault.DetailOf(err), req.Actor)
			return nil, err
		}
		// Give the request back: a wrong signature may be followed by the right one.
		_ = s.Store.UpdatePending(context.WithoutCancel(ctx), id, statusCompleting, statusPending, nil)
		return nil, err
	}
	ps.Status = statusCompleted
	return st.view(ps), nil
}

// complete embeds the signature and stores the new version; the pending signature id
// moves from completing to completed in the same transaction, and only if the
// document is still the version it was prepared over.
func (s *Service) complete(ctx context.Context, id string, st *pendingState, req CompleteRequest) (*store.Version, error) {
	f, size, sha, cleanup, err := s.openContent(ctx, st.BaseSHA256)
	if err != nil {
		return nil, err
	}
	defer cleanup()
	if sha != st.BaseSHA256 || size != st.Prepared.BaseSize {
		return nil, fmt.Errorf("service: stored document %s changed since prepare", st.BaseSHA256)
	}
	var chain []*x509.Certificate
	for _, der := range st.Chain {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, err
		}
		chain = append(chain, c)
	}
	po := pades.Options{Chain: chain, Timestamper: s.Timestamper, Validation: s.Validation, TimestampReserve: st.Reserve}
	var tail []byte
	if req.CMS != nil {
		tail, err = st.Prepared.CompleteCMS(ctx, f, req.CMS, po)
	} else {
		tail, err = st.Prepared.Complete(ctx, f, req.Signature, po)
	}
	if err != nil {
		if e := mapSignError(err); fault.KindOf(e) == fault.Unavailable {
			return nil, e
		}
		return nil, fault.Errorf(fault.BadDocument, "%v", err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	count := st.SignatureCount
	if count == 0 {
		count = 1
	}
	kk := keyKindOf(req.KeyURI)
	if st.Remote != nil {
		kk = remoteKeyKind(st.Remote)
	}
	var cert *x509.Certificate
	if st.Cert != nil {
		cert, _ = x509.ParseCertificate(st.Cert) // checked when prepared; unknown, it is counted without
	}
	in := store.VersionInput{
		Uses:    signatureUse(signatureKindOf(st.Shown.Role), kk, cert, st.Shown.Agency),
		Content: io.MultiReader(io.LimitReader(f, size), bytes.NewReader(tail)), MediaType: "application/pdf",
		Actor: req.Actor, KeyURI: req.KeyURI, SignatureCount: count, Signatures: st.Signatures,
		Base: st.BaseSHA256,
		Completes: &store.PendingCompletion{ID: id, From: statusCompleting, To: statusCompleted,
			State: func(v *store.Version) ([]byte, error) {
				st.SignedVersion = v.Seq
				return json.Marshal(st)
			}},
	}
	add := s.Store.AddVersion
	switch st.Shown.Role {
	case RoleApprove:
		add = s.Store.Approve // the leader's signature approves the draft
	case RoleIssue:
		// The organisation's signature issues the document, taking the number it
		// carries now (rows prepared before numbers were planned were numbered then).
		var planned *store.Document
		if st.Plan != nil {
			d, err := s.Store.GetDocument(ctx, st.documentID)
			if err != nil {
				return nil, err
			}
			year := store.NumberingYear(st.Plan.IssuedAt)
			n, at := st.Plan.Number, st.Plan.IssuedAt
			d.RegNumber, d.Year, d.IssuedAt = &n, &year, &at
			planned = d
		}
		add = func(ctx context.Context, id int64, in store.VersionInput) (*store.Version, error) {
			return s.Store.IssueNumbered(ctx, id, in, planned)
		}
	}
	v, err := add(ctx, st.documentID, in)
	if err != nil {
		return nil, err
	}
	return v, nil
}

// pendingKeep is how long an expired pending signature is kept, so that a late
// completion is told "expired" rather than "not found".
const pendingKeep = 24 * time.Hour

// SweepPending deletes pending signatures that expired more than a day ago.
func (s *Service) SweepPending(ctx context.Context) (int64, error) {
	n, err := s.Store.ExpirePendingBefore(ctx, s.now().Add(-pendingKeep))
	return n, err
}

// VoidExpiredNumbers voids the numbers reserved for issues whose requests expired
// without completing (or whose server-key issue died with its process), recording
// why; it returns how many. `kyso serve` runs it often (SweepEvery): until then such
// a number shows as reserved.
func (s *Service) VoidExpiredNumbers(ctx context.Context) (int, error) {
	total := 0
	for {
		n, err := s.Store.VoidExpiredReservations(ctx, 1000)
		total += n
		if err != nil || n < 1000 {
			return total, err
		}
	}
}

// SweepEvery is how often `kyso serve` voids expired reservations: a tenth of the
// time a prepared signature waits, between 1 s and 1 min, so a number abandoned by
// expiry is voided soon after.
func (s *Service) SweepEvery() time.Duration {
	return min(max(s.ttl()/10, time.Second), time.Minute)
}

// CancelPending ends a prepared signature that will not be completed — the signer
// closed the agent, the clerk chose another document, the other system gave up —
// with an optional reason. The number an issue reserved is voided with it, recorded
// in the register with the reason, unless another request of the document holds it.
// Only the client that prepared it cancels it; one completing or ended is a Conflict.
// A remote request still waiting is ended here too, but the phone cannot be told: a
// confirmation that comes later is not stored.
func (s *Service) CancelPending(ctx context.Context, p Principal, id, reason string) (*Pending, error) {
	if len(reason) > 500 {
		return nil, fault.Errorf(fault.Invalid, "the reason is longer than 500 bytes")
	}
	ps, st, err := s.loadPending(ctx, id)
	if err != nil {
		return nil, err
	}
	if !ownsPending(p, st) {
		return nil, noPending(id)
	}
	if ps.Status != statusPending && ps.Status != StatusWaiting {
		return nil, fault.Errorf(fault.Conflict, "the signature %s is %s", id, ps.Status)
	}
	if reason == "" {
		reason = "cancelled by " + AuditActor(p)
	}
	if err := s.Store.EndPending(ctx, id, ps.Status, store.PendingCancelled, nil, reason, AuditActor(p)); err != nil {
		return nil, err
	}
	ps.Status = store.PendingCancelled
	return st.view(ps), nil
}

// numberPlan is the number an issue signature was prepared with.
type numberPlan struct {
	Number   int       `json:"number"`
	IssuedAt time.Time `json:"issued_at"`
}

// noPending is the one answer for a pending signature that does not exist and one
// another client prepared.
func noPending(id string) error { return fault.Errorf(fault.NotFound, "no pending signature %s", id) }

// ownsPending reports whether p prepared st (or is the person at the database).
func ownsPending(p Principal, st *pendingState) bool {
	return local(p) || st.By == "" || st.By == p.ID
}

// mayComplete checks that p prepared the signature and may still make it: the role,
// the agency and the certificate (valid and unrevoked now) are checked again.
func (s *Service) mayComplete(ctx context.Context, p Principal, id string, st *pendingState) error {
	if !ownsPending(p, st) {
		return noPending(id)
	}
	if local(p) || st.Cert == nil {
		return nil
	}
	cert, err := x509.ParseCertificate(st.Cert)
	if err != nil {
		return err
	}
	var chain []*x509.Certificate
	for _, der := range st.Chain {
		if c, err := x509.ParseCertificate(der); err == nil {
			chain = append(chain, c)
		}
	}
	d, err := s.readDocument(ctx, p, st.documentID, "")
	if err != nil {
		return err
	}
	_, err = s.mayPrepare(ctx, p, st.Shown.Role, d.AgencyCode, cert, chain)
	return err
}
