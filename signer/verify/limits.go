package verify

import "github.com/kyso-vn/kyso/signer/pdf"

// Limits bound the work one verification may do on one file (revisions, objects,
// cross-reference entries, decoded bytes, time); Options.Limits carries them. They
// are the PDF reader's, named here so that callers of the verifier need not import
// signer/pdf.
type Limits = pdf.Limits

// DefaultLimits are the limits used where none are configured.
func DefaultLimits() Limits { return pdf.DefaultLimits() }
