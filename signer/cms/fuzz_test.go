package cms_test

import (
	"bytes"
	"context"
	"crypto"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/kyso-vn/kyso/internal/testenv"
	"github.com/kyso-vn/kyso/signer/cms"
)

// FuzzParse drives the parser and everything a verifier calls after it with mutated
// real signatures: those of the corpus PDFs (pyHanko, EU DSS, OpenPDF, Adobe, qpdf…)
// and our own, in DER and BER. Nothing may panic or hang, and normalisation must be
// idempotent.
func FuzzParse(f *testing.F) {
	corpus := testenv.CorpusDir(f)
	for _, sub := range []string{"signed", "attacks"} {
		files, _ := filepath.Glob(filepath.Join(corpus, sub, "*.pdf"))
		for _, name := range files {
			pdf, err := os.ReadFile(name)
			if err != nil {
				f.Fatal(err)
			}
			for _, s := range pdfSignatures(pdf) {
				if s.contents != nil {
					f.Add(s.contents)
				}
			}
		}
	}
	for _, kind := range []string{"RSA-2048", "P-256"} {
		p := newPKI(f, kind)
		tsa := newTSA(f, p, "P-256")
		der, err := cms.SignWithTimestamp(context.Background(), p.leafKey, spec(p, crypto.SHA256, kind == "RSA-2048", cms.ProfileCAdES), digestOf(crypto.SHA256, nil), tsa)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(der)
		f.Add(toBER(f, der))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		// A hang would otherwise stall the fuzzer silently; crashing the worker makes
		// the engine keep the input as a failure.
		watchdog := time.AfterFunc(10*time.Second, func() { panic("FuzzParse: one input took over 10 s") })
		defer watchdog.Stop()
		if ts, err := cms.ParseTimestampToken(data); ts != nil {
			_ = ts.Matches(data)
			_ = err
		}
		sd, err := cms.Parse(data)
		if err != nil {
			return
		}
		again, err := cms.Parse(sd.Raw)
		if err != nil || !bytes.Equal(again.Raw, sd.Raw) {
			t.Fatalf("normalised form does not parse back to itself: %v", err)
		}
		for _, si := range sd.SignerInfos {
			if h, _ := si.Hash(); h != 0 {
				_, _ = sd.VerifySigner(si, make([]byte, h.Size()), h)
			}
			_, _ = si.SignatureTimestamps()
			_, _ = si.RevocationInfoArchival()
			_, _, _ = si.SigningTime()
		}
		if len(sd.SignerInfos) == 1 {
			out, err := cms.AddUnsignedAttributes(data, cms.Attribute{Type: cms.OIDAttrSignatureTimeStampToken, Values: [][]byte{{0x05, 0x00}}})
			if err == nil {
				if _, err := cms.Parse(out); err != nil {
					t.Fatalf("adding an unsigned attribute broke the structure: %v", err)
				}
			}
		}
	})
}
