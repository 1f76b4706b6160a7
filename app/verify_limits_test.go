package app

import (
	"testing"

	"github.com/kyso-vn/kyso/pkg/config"
	"github.com/kyso-vn/kyso/signer/pdf"
)

// TestVerifyLimitsDefaults: the configuration's defaults are the reader's (pkg/config
// cannot import signer/pdf, so the two are kept equal here).
func TestVerifyLimitsDefaults(t *testing.T) {
	if got, want := VerifyLimits(config.Default().Verify), pdf.DefaultLimits(); got != want {
		t.Errorf("config's verify defaults %+v, the reader's %+v", got, want)
	}
}
