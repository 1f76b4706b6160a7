package app

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kyso-vn/kyso/internal/testenv"
	"github.com/kyso-vn/kyso/pkg/config"
	"github.com/kyso-vn/kyso/pkg/fault"
	"github.com/kyso-vn/kyso/signer/pdf"
	"github.com/kyso-vn/kyso/signer/verify"
)

// TestVerifyLimitsDefaults: the configuration's defaults are the reader's (pkg/config
// cannot import signer/pdf, so the two are kept equal here).
func TestVerifyLimitsDefaults(t *testing.T) {
	if got, want := VerifyLimits(config.Default().Verify), pdf.DefaultLimits(); got != want {
		t.Errorf("config's verify defaults %+v, the reader's %+v", got, want)
	}
}

// TestVerifyPDFPastALimit: a document past a verify.* limit is refused with the limit's
// fault and code (the API's 422 limit-exceeded, the CLI's exit 2), naming its key.
func TestVerifyPDFPastALimit(t *testing.T) {
	path := filepath.Join(testenv.CorpusDir(t), "signed/dss-25-signatures.pdf")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := &Service{Verify: verify.Options{Offline: true, Limits: pdf.Limits{MaxRevisions: 5}}}
	_, err = s.VerifyPDF(context.Background(), bytes.NewReader(b), int64(len(b)), "x.pdf", time.Time{})
	if fault.KindOf(err) != fault.TooLarge || fault.CodeOf(err) != "limit/revisions" ||
		!strings.Contains(err.Error(), "verify.max_revisions") {
		t.Errorf("got %v (kind %v, code %q)", err, fault.KindOf(err), fault.CodeOf(err))
	}
}
