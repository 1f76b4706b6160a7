package app

import (
	"context"
	"errors"
	"io"
	"os"
	"time"

	"github.com/kyso-vn/kyso/pkg/docid"
	"github.com/kyso-vn/kyso/pkg/fault"
	"github.com/kyso-vn/kyso/pkg/store"
	"github.com/kyso-vn/kyso/signer/cades"
	"github.com/kyso-vn/kyso/signer/pades"
	"github.com/kyso-vn/kyso/signer/verify"
)

// ParseLevel reads a baseline level name (B-B, B-T, B-LT, B-LTA); "" is B-B.
func ParseLevel(s string) (pades.Level, error) {
	if s == "" {
		return pades.LevelBB, nil
	}
	l, err := pades.ParseLevel(s)
	if err != nil {
		return 0, fault.Errorf(fault.Invalid, "%v", err)
	}
	return l, nil
}

// StoreTarget says where SignAndStore keeps the signed PDF: as a new version of
// DocumentID, or (DocumentID 0) as a new outgoing draft of AgencyCode.
type StoreTarget struct {
	DocumentID int64
	AgencyCode string
	Summary    string
	Symbol     string
	Type       string
	Filename   string
	// By is who stores it (authz.go); Actor names it in the audit trail (default
	// AuditActor(By)).
	By    Principal
	Actor string
}

// SignAndStore signs size bytes of in with the named server key, as SignPDF, and
// stores the result. Nothing is stored when signing fails. The caller has checked
// MayUse.
func (s *Service) SignAndStore(ctx context.Context, keyName string, in io.ReaderAt, size int64, o SignOptions, t StoreTarget) (*store.Document, error) {
	if t.DocumentID == 0 && t.AgencyCode == "" {
		return nil, fault.Errorf(fault.Invalid, "name the document to add a version to, or the agency of a new draft")
	}
	if t.Actor == "" {
		t.Actor = AuditActor(t.By)
	}
	// A new version goes only to a draft the caller sees, of an agency it acts for,
	// and names the version it replaces: an approved or issued document never changes
	// this way (the store refuses it too).
	base := ""
	if t.DocumentID != 0 {
		d, err := s.readDocument(ctx, t.By, t.DocumentID, "")
		if err != nil {
			return nil, err
		}
		if d.Status != store.StatusDraft {
			return nil, fault.Errorf(fault.Conflict, "document %d is %s; it cannot change (only a draft takes new versions)", d.ID, d.Status)
		}
		if !actsFor(t.By, d.AgencyCode) {
			return nil, fault.Errorf(fault.Forbidden, "you do not act for agency %s", d.AgencyCode)
		}
		base = d.ContentSHA256
	} else if err := mayCreate(t.By, t.AgencyCode, store.Unclassified); err != nil {
		return nil, err
	}
	out, err := os.CreateTemp(s.TempDir, "kyso-signed-*")
	if err != nil {
		return nil, err
	}
	defer func() { out.Close(); os.Remove(out.Name()) }()
	if err := s.SignPDF(withUse(ctx, t.By, t.DocumentID, ""), keyName, in, size, out, o); err != nil {
		return nil, err
	}
	if _, err := out.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	k := s.Keys[keyName]
	if t.DocumentID != 0 {
		if _, err := s.Store.AddVersion(ctx, t.DocumentID, store.VersionInput{Content: out, Filename: t.Filename, Base: base,
			MediaType: "application/pdf", SignatureCount: 1, Actor: t.Actor, KeyURI: k.URI,
			Uses: signatureUse(store.SigSign, keyKindOf(k.URI), k.Key.Certificate(), t.AgencyCode)}); err != nil {
			return nil, err
		}
		d, err := s.Store.GetDocument(ctx, t.DocumentID)
		return d, err
	}
	d, err := s.Store.CreateDocument(ctx, store.NewDocument{
		Direction: store.Outgoing, AgencyCode: docid.AgencyCode(t.AgencyCode), Summary: t.Summary, Type: t.Type,
		Number:  docid.NumberSymbol{Symbol: t.Symbol},
		Content: out, Filename: t.Filename, MediaType: "application/pdf", SignatureCount: 1, Actor: t.Actor,
		Uses: signatureUse(store.SigSign, keyKindOf(k.URI), k.Key.Certificate(), t.AgencyCode),
	})
	return d, err
}

// SignCAdES writes to out a detached CAdES signature (.p7s, B-B, or B-T with a
// timestamp authority) of the content read from in, with the named server key, through
// signer/cades as `kyso sign` does: the content is hashed as it arrives and never
// held in memory. The caller has checked MayUse.
func (s *Service) SignCAdES(ctx context.Context, keyName string, in io.Reader, out io.Writer, level pades.Level) error {
	k, ok := s.Keys[keyName]
	if !ok {
		return fault.Errorf(fault.NotFound, "no key %q", keyName)
	}
	spec, ts, err := s.cadesSpec(k.Key, SignOptions{Level: level})
	if err != nil {
		return err
	}
	der, err := cades.Sign(ctx, s.useOf(k), spec, in, ts)
	if err != nil {
		return mapSignError(err)
	}
	_, err = out.Write(der)
	return err
}

// VerifyPDF verifies a PDF's signatures at the time at (zero: now) with the server's
// trust anchors and revocation sources: the report `kyso verify` prints. A file with
// no signature, or one that cannot be read, is ErrBadDocument.
func (s *Service) VerifyPDF(ctx context.Context, r io.ReaderAt, size int64, name string, at time.Time) (*verify.Report, error) {
	o := s.Verify
	o.At = at
	rep, err := verify.VerifyPDF(ctx, r, size, name, o)
	switch {
	case errors.Is(err, verify.ErrNotSigned):
		return nil, fault.Errorf(fault.BadDocument, "the document holds no signature")
	case errors.Is(err, verify.ErrUnreadable):
		return nil, fault.Errorf(fault.BadDocument, "the document cannot be read as a PDF")
	}
	return rep, err
}
