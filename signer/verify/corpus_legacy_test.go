package verify

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/hex"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/kyso-vn/kyso/internal/testenv"
	"github.com/kyso-vn/kyso/signer/cms"
)

var contentsRE = regexp.MustCompile(`/Contents\s*<([0-9A-Fa-f\s]+)>`)

// rootsCarried is every self-signed certificate the file's signatures carry. For this
// test only they are made anchors, to see the chain and the verdict behind it; a
// verifier never does this (Options.Anchors are configuration).
func rootsCarried(t *testing.T, path string) []*x509.Certificate {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []*x509.Certificate
	for _, m := range contentsRE.FindAllSubmatch(data, -1) {
		der, err := hex.DecodeString(string(bytes.Join(bytes.Fields(m[1]), nil)))
		if err != nil {
			continue
		}
		sd, err := cms.Parse(bytes.TrimRight(der, "\x00"))
		if err != nil {
			continue
		}
		for _, c := range sd.Certificates {
			if bytes.Equal(c.RawIssuer, c.RawSubject) {
				out = append(out, c)
			}
		}
	}
	if len(out) == 0 {
		t.Fatalf("%s carries no root", path)
	}
	return out
}

// The corpus's own legacy forms: SHA-1 (multi-revision-ur3-fieldmdp #2), CMS without
// signed attributes (pyhanko-sig-no-signed-attrs), RSA-1024 (openpdf-signed-with-
// timestamp). With the documents' own roots as anchors, each is intact and its chain
// is found; today its certificate has expired with no proof of time
// (OUT_OF_BOUNDS_NO_POE, "chứng thư số đã hết hạn"), and validated as at a time inside
// its validity (--at) the algorithm's cutoff speaks (CRYPTO_CONSTRAINTS_FAILURE_NO_POE)
// or, offline, the unknown revocation status (TRY_LATER): never TOTAL_FAILED for what
// cannot be judged, always with the reason in both languages.
func TestCorpusLegacyForms(t *testing.T) {
	dir := testenv.CorpusDir(t)
	for _, tc := range []struct {
		file   string
		index  int // 1-based signature
		digest string
		atSub  SubIndication // within the signer's validity
	}{
		{"signed/multi-revision-ur3-fieldmdp.pdf", 2, "SHA-1", CryptoConstraintsFailureNoPOE},
		{"signed/pyhanko-sig-no-signed-attrs.pdf", 1, "SHA-256", TryLater},
		{"signed/openpdf-signed-with-timestamp.pdf", 1, "SHA-256", CryptoConstraintsFailureNoPOE}, // RSA-1024
	} {
		t.Run(tc.file, func(t *testing.T) {
			path := filepath.Join(dir, tc.file)
			anchors := rootsCarried(t, path)
			check := func(o Options, sub SubIndication, vi string) *SignatureReport {
				rep, err := VerifyFile(context.Background(), path, o)
				if err != nil {
					t.Fatal(err)
				}
				s := rep.Signatures[tc.index-1]
				t.Logf("#%d at %s: %s/%s %s %s chain=%d pki=%q vi=%q en=%q", tc.index, rep.ValidationTime.Format("2006-01-02"),
					s.Indication, s.SubIndication, s.Integrity, s.SignatureAlgorithm, len(s.Chain), s.PKI, s.Explanation.VI, s.Explanation.EN)
				if s.Integrity != IntegrityIntact || s.Indication != Indeterminate || s.SubIndication != sub ||
					len(s.Chain) < 2 || s.PKI == "" || s.DigestAlgorithm != tc.digest || !strings.Contains(s.Explanation.VI, vi) || s.Explanation.EN == "" {
					t.Errorf("want intact, a chain, INDETERMINATE/%s saying %q", sub, vi)
				}
				return &s
			}
			s := check(Options{Offline: true, Anchors: anchors}, OutOfBoundsNoPOE, "chứng thư số đã hết hạn ngày")
			mid := s.Signer.NotBefore.Add(s.Signer.NotAfter.Sub(s.Signer.NotBefore) / 2)
			check(Options{Offline: true, Anchors: anchors, At: mid}, tc.atSub, "")
		})
	}
}
