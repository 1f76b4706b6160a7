package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/kyso-vn/kyso/pkg/docid"
	"github.com/kyso-vn/kyso/pkg/fault"
	"github.com/kyso-vn/kyso/pkg/store"
	"github.com/kyso-vn/kyso/signer/verify"
)

// PublicDocument is what anyone may see of an issued document of a public register
// (public.registers): the lookup page /tra-cuu/{identifier} shows it.
type PublicDocument struct {
	Identifier   string     `json:"identifier"` // edXML document identifier
	AgencyCode   string     `json:"agency_code"`
	AgencyName   string     `json:"agency_name,omitempty"`
	Type         string     `json:"type,omitempty"`
	NumberSymbol string     `json:"number_symbol"` // "05/UBND-VP"
	IssuedAt     *time.Time `json:"issued_at,omitempty"`
	Summary      string     `json:"summary,omitempty"`
	// SHA256 (hex) and Size are the issued version's, the file the agency sent out.
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
	// Report is the verification of the issued version at the time of the lookup.
	Report *verify.Report `json:"report"`
	// Withdrawn says the document was recalled ("Đã bị thu hồi") or replaced ("Đã
	// được thay thế bởi …"): a visitor must not rely on it any longer. The replacing
	// document is named only when it is public itself.
	Withdrawn *PublicWithdrawal `json:"withdrawn,omitempty"`
}

// PublicWithdrawal is the recall or replacement of a public document.
type PublicWithdrawal struct {
	Kind     string    `json:"kind"` // recalled, replaced
	Reason   string    `json:"reason"`
	Decision string    `json:"decision,omitempty"`
	At       time.Time `json:"at"`
	// ReplacedBy and ReplacedByNumber name the replacing document.
	ReplacedBy       string `json:"replaced_by,omitempty"`
	ReplacedByNumber string `json:"replaced_by_number,omitempty"`
}

// errNotPublic is the one answer for an identifier that is unknown, malformed, not
// issued, confidential or of a register that is not public: the public cannot tell
// them apart, so identifiers cannot be probed.
func errNotPublic() error {
	return fault.New(fault.NotFound, "No public document has this identifier.")
}

// PublicDocument looks up an issued document by its edXML identifier when its
// agency's register is public (Service.PublicRegisters), and verifies the issued
// version at now with the server's anchors. Unknown, malformed, unissued,
// confidential and non-public identifiers are all the same fault.NotFound.
func (s *Service) PublicDocument(ctx context.Context, identifier string, now time.Time) (PublicDocument, error) {
	id, err := docid.ParseDocumentID(strings.TrimSpace(identifier))
	if err != nil || !slices.Contains(s.PublicRegisters, string(id.Organ)) {
		return PublicDocument{}, errNotPublic()
	}
	// The issuing agency's own copy: the register that numbered it.
	d, err := s.Store.FindByIdentifier(ctx, id.String(), id.Organ)
	if errors.Is(err, fault.NotFound) {
		return PublicDocument{}, errNotPublic()
	}
	if err != nil {
		return PublicDocument{}, err
	}
	if d.Status != store.StatusIssued || d.Direction != store.Outgoing || d.Confidentiality != store.Unclassified ||
		d.AgencyCode != string(id.Organ) {
		return PublicDocument{}, errNotPublic()
	}
	f, size, sum, cleanup, err := s.openContent(ctx, d.ContentSHA256)
	if err != nil {
		return PublicDocument{}, err
	}
	defer cleanup()
	rep, err := s.VerifyPDF(ctx, f, size, id.String(), now)
	if err != nil {
		return PublicDocument{}, fmt.Errorf("app: verifying issued document %d: %w", d.ID, err)
	}
	pd := PublicDocument{
		Identifier: id.String(), AgencyCode: d.AgencyCode, Type: d.Type, NumberSymbol: d.NumberSymbol().String(),
		IssuedAt: d.IssuedAt, Summary: d.Summary, SHA256: sum, Size: size, Report: rep,
	}
	at := now
	if d.IssuedAt != nil {
		at = *d.IssuedAt
	}
	if a, err := s.AgencyAt(ctx, d.AgencyCode, at); err == nil {
		pd.AgencyName = a.Name
	}
	ws, err := s.Store.Withdrawals(ctx, d.ID)
	if err != nil {
		return PublicDocument{}, err
	}
	if w, ok := ws[d.ID]; ok {
		pw := &PublicWithdrawal{Kind: w.Kind, Reason: w.Reason, Decision: w.Decision, At: w.At.UTC()}
		if w.ReplacedBy != nil {
			if nd, err := s.Store.GetDocument(ctx, *w.ReplacedBy); err == nil && nd.Identifier != nil &&
				nd.Status == store.StatusIssued && nd.Confidentiality == store.Unclassified {
				pw.ReplacedBy, pw.ReplacedByNumber = *nd.Identifier, nd.NumberSymbol().String()
			}
		}
		pd.Withdrawn = pw
	}
	return pd, nil
}

// maxDetachedSignature bounds a .p7s handed in for verification (the verifier reads
// it whole).
const maxDetachedSignature = 16 << 20

// VerifyDetachedDocument is `kyso verify --content` on uploads: the detached CMS or
// CAdES signature sig over content, at now, with the server's anchors and revocation
// sources. The content is read as a stream; the signature whole, up to 16 MiB.
func (s *Service) VerifyDetachedDocument(ctx context.Context, sig, content Document, now time.Time) (*verify.Report, error) {
	if sig.Size() > maxDetachedSignature {
		return nil, fault.Errorf(fault.TooLarge, "a signature file may be at most %d MiB", maxDetachedSignature>>20)
	}
	raw := make([]byte, sig.Size())
	if _, err := sig.ReadAt(raw, 0); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	o := s.Verify
	o.At = now
	var c io.ReaderAt
	var size int64
	if content != nil {
		c, size = content, content.Size()
	}
	name := sig.Filename()
	if content != nil {
		name = content.Filename()
	}
	rep, err := verify.VerifyDetached(ctx, raw, c, size, name, o)
	switch {
	case errors.Is(err, verify.ErrNotSigned), errors.Is(err, verify.ErrUnreadable):
		return nil, fault.Errorf(fault.BadDocument, "the signature file is not a CMS signature (.p7s) over the content file")
	}
	return rep, err
}
