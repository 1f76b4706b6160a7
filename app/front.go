package app

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/kyso-vn/kyso/hsm/remote"
	"github.com/kyso-vn/kyso/pkg/fault"
	"github.com/kyso-vn/kyso/pkg/wire"
	"github.com/kyso-vn/kyso/signer/verify"
)

// The use-cases as a client asks for them over the API: options in plain types, the
// caller as a Principal, the answers as records. Each maps once onto the use-cases
// above; the API declares the interfaces these methods satisfy.

// SignRequest is the options of a signature with a server-side key, as in `kyso sign`.
type SignRequest struct {
	Key      string // server-side key name
	Format   string // "pades" (PDF) or "cades" (detached .p7s of any file)
	Level    string // B-B, B-T, B-LT or B-LTA
	Reason   string
	Location string
	Contact  string
	Field    string // signature field to sign into or create
	Page     int    // page of a visible signature, 0 for none
	Store    bool   // keep the signed document in the store instead of returning it
	// With Store: DocumentID gets the signed PDF as its new version, or (0) a new
	// outgoing draft of Agency is made with Summary, Symbol and Type.
	DocumentID                    int64
	Agency, Summary, Symbol, Type string
}

// SignResult says what SignDocument produced.
type SignResult struct {
	ContentType string          // of the bytes written to out
	Document    *DocumentRecord // the stored document (SignRequest.Store); nothing is written to out
}

// SignDocument signs as PAdES (or a detached CAdES .p7s of any file) with the named
// key, and stores the signed PDF when asked. The caller has checked that p may use the
// key (MayUseKey).
func (s *Service) SignDocument(ctx context.Context, p Principal, req SignRequest, doc Document, out io.Writer) (SignResult, error) {
	level, err := ParseLevel(req.Level)
	if err != nil {
		return SignResult{}, err
	}
	ctx = WithCaller(ctx, p)
	if req.Format == "cades" {
		if err := s.SignCAdES(ctx, req.Key, io.NewSectionReader(doc, 0, doc.Size()), out, level); err != nil {
			return SignResult{}, err
		}
		return SignResult{ContentType: "application/pkcs7-signature"}, nil
	}
	o := SignOptions{Level: level, Reason: req.Reason, Location: req.Location, Contact: req.Contact, Field: req.Field, VisiblePage: req.Page}
	if !req.Store {
		if err := s.SignPDF(ctx, req.Key, doc, doc.Size(), out, o); err != nil {
			return SignResult{}, err
		}
		return SignResult{ContentType: "application/pdf"}, nil
	}
	d, err := s.SignAndStore(ctx, req.Key, doc, doc.Size(), o, StoreTarget{
		DocumentID: req.DocumentID, AgencyCode: req.Agency, Summary: req.Summary, Symbol: req.Symbol, Type: req.Type,
		Filename: doc.Filename(), By: p,
	})
	if err != nil {
		return SignResult{}, err
	}
	rec, err := s.record(ctx, d.ID)
	if err != nil {
		return SignResult{}, err
	}
	return SignResult{ContentType: "application/json", Document: &rec}, nil
}

// VerifyDocument is the report of `kyso verify` on doc at the time now, with the
// server's anchors and revocation sources.
func (s *Service) VerifyDocument(ctx context.Context, doc Document, now time.Time) (*verify.Report, error) {
	return s.VerifyPDF(ctx, doc, doc.Size(), doc.Filename(), now)
}

// SignatureRequest asks for a signature the key outside the server (the desktop
// agent's USB token, a SIM PKI, another system) will make over a digest.
type SignatureRequest struct {
	// DocumentID names a stored document; 0 means the uploaded file is a new draft of
	// Agency.
	DocumentID int64
	// Certificates is the signer's certificate first, then its chain.
	Certificates []*x509.Certificate
	Role         string // approve, issue, appendix, copy or incoming
	Level        string // B-B, B-T, B-LT or B-LTA ("" is B-B)
	Reason       string
	Location     string
	Page         int        // page of the visible signature, 0 for none
	Rect         [4]float64 // its place; zero: the top right corner, or for a seal over the leader's signature
	Image        []byte     // PNG of the handwritten signature; with role issue, the seal
	Agency       string
	Symbol       string
	Summary      string
	Type         string
	Series       string // a new draft's register series, instead of the one its type gives (checked)
	// Remote holder (optional): a configured provider, the holder's MSISDN or CSC
	// credential id, the text shown on the phone, further documents for the same
	// confirmation, and whether the request waits for the answer.
	Provider, Holder, DisplayText string
	MoreDocuments                 []int64
	Wait                          bool
}

// prepareRequest is the use-case request for document id of r.
func (r SignatureRequest) prepareRequest(p Principal, id int64, level SignOptions) PrepareRequest {
	pr := PrepareRequest{
		DocumentID: id, AgencyCode: r.Agency, Summary: r.Summary, Symbol: r.Symbol, Type: r.Type, Series: r.Series,
		Role: r.Role, By: p, Options: level,
	}
	// A remote provider may tell the holder's certificate itself (see PrepareRemote).
	if len(r.Certificates) > 0 {
		pr.Certificate, pr.Chain = r.Certificates[0], r.Certificates[1:]
	}
	return pr
}

func (r SignatureRequest) options() (SignOptions, error) {
	level, err := ParseLevel(r.Level)
	if err != nil {
		return SignOptions{}, err
	}
	return SignOptions{Level: level, Reason: r.Reason, Location: r.Location,
		VisiblePage: r.Page, VisibleRect: r.Rect, VisibleImage: r.Image}, nil
}

// PrepareSignature lays out the signature; doc is the upload, nil when req.DocumentID
// names a stored document.
func (s *Service) PrepareSignature(ctx context.Context, p Principal, req SignatureRequest, doc Document) (wire.Pending, error) {
	o, err := req.options()
	if err != nil {
		return wire.Pending{}, err
	}
	pr := req.prepareRequest(p, req.DocumentID, o)
	if doc != nil {
		pr.Content, pr.Filename = io.NewSectionReader(doc, 0, doc.Size()), doc.Filename()
	}
	pend, err := s.Prepare(ctx, pr)
	if err != nil {
		return wire.Pending{}, err
	}
	return *pend, nil
}

// Signature is a prepared signature's state.
func (s *Service) Signature(ctx context.Context, p Principal, id string) (wire.Pending, error) {
	pend, err := s.GetPending(ctx, p, id)
	if err != nil {
		return wire.Pending{}, err
	}
	return *pend, nil
}

// CancelSignature ends a prepared signature that will not be completed (CancelPending).
func (s *Service) CancelSignature(ctx context.Context, p Principal, id, reason string) (wire.Pending, error) {
	pend, err := s.CancelPending(ctx, p, id, reason)
	if err != nil {
		return wire.Pending{}, err
	}
	return *pend, nil
}

// CompleteSignature embeds what the key produced.
func (s *Service) CompleteSignature(ctx context.Context, p Principal, id string, c wire.Completion) (wire.Pending, error) {
	pend, err := s.Complete(ctx, id, CompleteRequest{Signature: c.Signature, CMS: c.CMS, By: p})
	if err != nil {
		return wire.Pending{}, err
	}
	return *pend, nil
}

// PrepareRemoteSignature prepares the documents for a remote holder and submits them.
func (s *Service) PrepareRemoteSignature(ctx context.Context, p Principal, req SignatureRequest, doc Document) (wire.Pending, error) {
	o, err := req.options()
	if err != nil {
		return wire.Pending{}, err
	}
	first := req.prepareRequest(p, req.DocumentID, o)
	if doc != nil {
		first.Content, first.Filename = io.NewSectionReader(doc, 0, doc.Size()), doc.Filename()
	}
	docs := []PrepareRequest{first}
	for _, id := range req.MoreDocuments {
		docs = append(docs, req.prepareRequest(p, id, o))
	}
	views, err := s.PrepareRemote(ctx, RemoteRequest{Documents: docs, Provider: req.Provider,
		Holder: req.Holder, DisplayText: req.DisplayText})
	if err != nil {
		return wire.Pending{}, s.remoteRefusal(req.Provider, err)
	}
	return *views[0], nil
}

// remoteRefusal gives a provider's refusal of a new request its fault kind. The
// caller must know which provider failed and whether the holder may have been asked;
// the network details stay in the log.
func (s *Service) remoteRefusal(provider string, err error) error {
	var fe *fault.Error
	switch {
	case errors.As(err, &fe):
		return err
	case errors.Is(err, remote.ErrUnknownHolder), errors.Is(err, remote.ErrProviderRejected):
		return fault.Errorf(fault.Invalid, "%v", err)
	case errors.Is(err, remote.ErrUnreachable):
		detail := fmt.Sprintf("The remote signing provider %q could not be reached; the request never reached it and nothing is waiting. Try again later.", provider)
		if !remote.SafeToResubmit(err) {
			detail = fmt.Sprintf("The remote signing provider %q failed while taking the request; the holder may have been asked, so it is not sent again and nothing is waiting.", provider)
		}
		if s.Remote != nil && s.Remote.Log != nil {
			s.Remote.Log.Warn("remote signing provider unreachable", "provider", provider, "err", err)
		}
		return fault.WithCode(fault.Wrap(fault.Unavailable, err, detail), CodeKeyUnavailable)
	}
	return err
}

// WaitSignature blocks until the remote signature ends or ctx does.
func (s *Service) WaitSignature(ctx context.Context, p Principal, id string) (wire.Pending, error) {
	if _, err := s.GetPending(ctx, p, id); err != nil {
		return wire.Pending{}, err
	}
	v, err := s.WaitRemote(ctx, id)
	if err != nil {
		return wire.Pending{}, err
	}
	return *v, nil
}

// IssueOrder is the clerk's issuing of an approved document (Decree 30/2020) as a
// client asks for it: the server assigns the number and date, writes them and the
// identifier codes into the PDF, and adds the organisation's signature with the seal.
type IssueOrder struct {
	Key         string // the organisation's server-side key
	Seal        []byte // PNG; nil for an invisible signature
	SealSize    float64
	Page        int
	Rect        [4]float64 // zero: over the leader's visible signature
	NumberField string
	DateField   string
	Level       string
}

// IssueDocument issues document id. The caller has checked that p may use the key.
func (s *Service) IssueDocument(ctx context.Context, p Principal, id int64, o IssueOrder) (DocumentRecord, error) {
	level, err := ParseLevel(o.Level)
	if err != nil {
		return DocumentRecord{}, err
	}
	d, _, err := s.Issue(ctx, IssueRequest{
		DocumentID: id, KeyName: o.Key, Seal: o.Seal, SealSize: o.SealSize, Page: o.Page, Rect: o.Rect,
		NumberField: o.NumberField, DateField: o.DateField, Level: level, By: p,
	})
	if err != nil {
		return DocumentRecord{}, err
	}
	return s.record(ctx, d.ID)
}
