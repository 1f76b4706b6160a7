package cms_test

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/kyso-vn/kyso/internal/testenv"
	"github.com/kyso-vn/kyso/signer/cms"
)

var (
	byteRangeRE = regexp.MustCompile(`/ByteRange\s*\[\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*\]`)
	contentsRE  = regexp.MustCompile(`/Contents\s*<([0-9A-Fa-f\s]*)>`)
)

// pdfSignature is one /ByteRange of a PDF with the /Contents it leaves out. Good
// enough to seed and test the CMS layer; the PDF reader proper lives elsewhere.
type pdfSignature struct {
	ranges   [4]int64
	contents []byte // decoded /Contents, nil when the gap is not a hex string
}

func pdfSignatures(pdf []byte) []pdfSignature {
	var out []pdfSignature
	for _, loc := range byteRangeRE.FindAllSubmatchIndex(pdf, -1) {
		var s pdfSignature
		for i := range s.ranges {
			s.ranges[i], _ = strconv.ParseInt(string(pdf[loc[2+2*i]:loc[3+2*i]]), 10, 64)
		}
		a, b, c := s.ranges[0], s.ranges[1], s.ranges[2]
		if a == 0 && b > 0 && c > b && c <= int64(len(pdf)) {
			gap := bytes.TrimSpace(pdf[a+b : c])
			if len(gap) >= 2 && gap[0] == '<' && gap[len(gap)-1] == '>' {
				h := bytes.Map(func(r rune) rune {
					if strings.ContainsRune(" \r\n\t", r) {
						return -1
					}
					return r
				}, gap[1:len(gap)-1])
				s.contents = decodeHex(h)
			}
		}
		if s.contents == nil {
			// The gap is not the hex string (a broken writer): take the /Contents
			// nearest after the /ByteRange, or just before it, as pdfsig reads the
			// dictionary rather than the gap.
			from := max(0, loc[0]-200)
			if m := contentsRE.FindSubmatch(pdf[from:]); m != nil {
				s.contents = decodeHex(bytes.Join(bytes.Fields(m[1]), nil))
			}
		}
		out = append(out, s)
	}
	return out
}

func decodeHex(h []byte) []byte {
	if len(h)%2 == 1 {
		h = append(h, '0')
	}
	out := make([]byte, len(h)/2)
	if _, err := hex.Decode(out, h); err != nil {
		return nil
	}
	return out
}

func (s pdfSignature) signedBytes(pdf []byte) (io.Reader, error) {
	a, b, c, d := s.ranges[0], s.ranges[1], s.ranges[2], s.ranges[3]
	if a < 0 || b < 0 || c < 0 || d < 0 || a+b > int64(len(pdf)) || c+d > int64(len(pdf)) {
		return nil, errors.New("byte range outside the file")
	}
	return io.MultiReader(bytes.NewReader(pdf[a:a+b]), bytes.NewReader(pdf[c:c+d])), nil
}

// verifyPDFSignature checks one signature's CMS against its byte ranges: a document
// timestamp by its imprint, a signature by digest and signature value (and its
// signature timestamps).
func verifyPDFSignature(pdf []byte, s pdfSignature) (string, error) {
	if s.contents == nil {
		return "", fmt.Errorf("%w: /Contents is not a hex string in the byte range gap", cms.ErrFormat)
	}
	sd, err := cms.Parse(s.contents)
	if err != nil {
		return "", err
	}
	data, err := s.signedBytes(pdf)
	if err != nil {
		return "", fmt.Errorf("%w: %v", cms.ErrFormat, err)
	}
	if sd.ContentType.Equal(cms.OIDTSTInfo) {
		ts, err := cms.ParseTimestampToken(s.contents)
		if ts == nil {
			return "doc timestamp", err
		}
		all, rerr := io.ReadAll(data)
		if rerr != nil {
			return "", rerr
		}
		if merr := ts.Matches(all); merr != nil && (err == nil || errors.Is(merr, cms.ErrDigestMismatch)) {
			err = merr
		}
		return "doc timestamp " + ts.Signer.SignatureAlgorithm, err
	}
	res, err := sd.VerifyContent(data)
	if res == nil {
		return "", err
	}
	desc := res.SignatureAlgorithm
	if !res.HasSignedAttrs {
		desc += ", no signed attrs"
	}
	tss, terr := res.SignerInfo.SignatureTimestamps()
	if len(tss) > 0 {
		desc += fmt.Sprintf(", %d sig timestamp(s)", len(tss))
	}
	if terr != nil {
		desc += " [timestamp: " + terr.Error() + "]"
		if !errors.Is(terr, cms.ErrUnsupportedAlgorithm) {
			return desc, terr
		}
	}
	if rev, rerr := res.SignerInfo.RevocationInfoArchival(); rev != nil && rerr == nil {
		desc += fmt.Sprintf(", adbe revocation %d CRL %d OCSP", len(rev.CRLs), len(rev.OCSPResponses))
	}
	return desc, err
}

// TestCorpusSignatures verifies, at the CMS level, every signature of the signed PDFs
// in the shared corpus against the MANIFEST's expectations, and prints the table.
func TestCorpusSignatures(t *testing.T) {
	dir := filepath.Join(testenv.CorpusDir(t), "signed")
	files, err := filepath.Glob(filepath.Join(dir, "*.pdf"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no signed PDFs in %s: %v", dir, err)
	}
	// Expected failures by file and signature index; every other signature verifies.
	// "weak" marks signatures that are intact but use algorithms refused by policy
	// (RSA-1024, SHA-1): never valid, yet not broken either.
	weak := errors.New("weak")
	expectFail := map[string]map[int]error{
		"pyhanko-ed448.pdf":                  {0: cms.ErrUnsupportedAlgorithm},
		"pdfjs-signed.pdf":                   {0: cms.ErrDigestMismatch},
		"verapdf-pdfa2b-dummy-signature.pdf": {0: cms.ErrFormat},
		// pdfsig's #2 is our #2 (a SHA-1 signature labelled sha256WithRSA); #0 and #1
		// are one usage-rights signature found twice.
		"multi-revision-ur3-fieldmdp.pdf":   {0: weak, 1: weak, 2: cms.ErrSignatureInvalid, 3: weak},
		"openpdf-signed-with-timestamp.pdf": {0: weak},
	}
	var table strings.Builder
	fmt.Fprintf(&table, "\n%-40s %-3s %-8s %s\n", "file", "#", "result", "detail")
	total := 0
	for _, f := range files {
		pdf, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		name := filepath.Base(f)
		sigs := pdfSignatures(pdf)
		if len(sigs) == 0 {
			t.Errorf("%s: no /ByteRange found", name)
		}
		for i, s := range sigs {
			total++
			desc, err := verifyPDFSignature(pdf, s)
			verdict := "valid"
			if err != nil {
				verdict, desc = "INVALID", err.Error()
			}
			fmt.Fprintf(&table, "%-40s %-3d %-8s %s\n", name, i, verdict, desc)
			want, failing := expectFail[name][i]
			var ae *cms.AlgorithmError
			if want == weak {
				if !errors.As(err, &ae) || !ae.Verified {
					t.Errorf("%s #%d: %v, want an intact signature refused by policy", name, i, err)
				}
				continue
			}
			switch {
			case !failing && err != nil:
				t.Errorf("%s #%d: %v", name, i, err)
			case failing && err == nil:
				t.Errorf("%s #%d: reported valid, must not be", name, i)
			case failing && want != nil && !errors.Is(err, want):
				t.Errorf("%s #%d: %v, want %v", name, i, err, want)
			case name == "pyhanko-ed448.pdf" && !strings.Contains(fmt.Sprint(err), "Ed448"):
				t.Errorf("%s: %v does not name Ed448", name, err)
			}
		}
	}
	t.Logf("%d signatures%s", total, table.String())
}
