package verify

import (
	"bytes"
	"strings"
	"testing"
)

// TestRenderBareSignature: a signature that is not PAdES (a CAdES .p7s, a legacy
// adbe.pkcs7) and names no signing time is told so in the reader's language, in text
// and HTML — not "none" and not empty brackets.
func TestRenderBareSignature(t *testing.T) {
	r := &Report{Format: "cms", Indication: Indeterminate, Revisions: 1,
		Signatures: []SignatureReport{{Index: 1, Type: "approval", Level: "none", Integrity: IntegrityIntact}}}
	for _, c := range []struct {
		lang       Lang
		level, not string
	}{
		{Vietnamese, "không có (không phải chữ ký PAdES)", "PAdES: none"},
		{English, "none (not a PAdES signature)", "()"},
	} {
		var txt, page bytes.Buffer
		if err := r.WriteText(&txt, c.lang); err != nil {
			t.Fatal(err)
		}
		if err := r.WriteHTML(&page, c.lang); err != nil {
			t.Fatal(err)
		}
		for name, out := range map[string]string{"text": txt.String(), "html": page.String()} {
			if !strings.Contains(out, c.level) || strings.Contains(out, "()") {
				t.Errorf("%s, %s: want %q and no empty brackets:\n%s", c.lang, name, c.level, out)
			}
		}
		if strings.Contains(txt.String(), c.not) {
			t.Errorf("%s: the text says %q", c.lang, c.not)
		}
	}
}
