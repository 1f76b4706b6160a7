package app

import (
	"github.com/kyso-vn/kyso/pkg/config"
	"github.com/kyso-vn/kyso/signer/pdf"
)

// VerifyLimits are the verifier's limits from the configuration's verify: section:
// what verifying one document may cost before it is refused (a TooLarge fault naming
// the key).
func VerifyLimits(c config.Verify) pdf.Limits {
	return pdf.Limits{
		MaxRevisions:    c.MaxRevisions,
		MaxObjects:      c.MaxObjects,
		MaxXrefEntries:  c.MaxXrefEntries,
		MaxDecodedBytes: int64(c.MaxDecodedBytes),
		Timeout:         c.Timeout,
	}
}
