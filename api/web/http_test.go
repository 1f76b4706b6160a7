package web_test

import (
	"bytes"
	"encoding/xml"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/kyso-vn/kyso/pkg/config"
	"github.com/kyso-vn/kyso/signer/verify"
)

// post sends files as the portal's form does, without a browser.
func post(t *testing.T, u string, files map[string][]byte) (*http.Response, string) {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for name, b := range files {
		fn := "doc.pdf"
		if name == "sig" {
			name, fn = "file", "doc.p7s"
		} else if name == "content" {
			fn = "content.txt"
		}
		w, _ := mw.CreateFormFile(name, fn)
		w.Write(b)
	}
	mw.Close()
	resp, err := http.Post(u, mw.FormDataContentType(), &body)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// etsiReport is the part of the TS 119 102-2 report the tests read.
type etsiReport struct {
	XMLName xml.Name `xml:"http://uri.etsi.org/19102/v1.2.1# ValidationReport"`
	Reports []struct {
		ID struct {
			ID string `xml:"id,attr"`
		} `xml:"SignatureIdentifier"`
		Signer struct {
			Ref struct {
				VOReference string `xml:"VOReference,attr"`
			} `xml:"SignerCertificate"`
			Signer string `xml:"Signer"`
		} `xml:"SignerInformation"`
		Main string   `xml:"SignatureValidationStatus>MainIndication"`
		Sub  []string `xml:"SignatureValidationStatus>SubIndication"`
	} `xml:"SignatureValidationReport"`
	Objects []struct {
		ID   string `xml:"id,attr"`
		Type string `xml:"ObjectType"`
	} `xml:"SignatureValidationObjects>ValidationObject"`
}

// parseETSI checks that b is well-formed XML (every token) and reads the report.
func parseETSI(t *testing.T, b []byte) etsiReport {
	t.Helper()
	dec := xml.NewDecoder(bytes.NewReader(b))
	for {
		_, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("the ETSI report is not well-formed XML: %v\n%s", err, b)
		}
	}
	var r etsiReport
	if err := xml.Unmarshal(b, &r); err != nil {
		t.Fatalf("the ETSI report does not read as a ValidationReport: %v", err)
	}
	return r
}

// TestETSIReportOverHTTP: POST /?format=xml answers the TS 119 102-2 report of the
// same verification the CLI makes: one SignatureValidationReport per signature,
// with the indication and sub-indication URIs of the CLI's report, and the signer's
// certificate among the validation objects.
func TestETSIReportOverHTTP(t *testing.T) {
	k := startKyso(t, nil)
	good := k.sign(t, "org", pdfDoc("Thong bao so 1"))
	cases := []struct {
		name string
		doc  []byte
		main string
		sub  string
	}{
		{"good", good, "urn:etsi:019102:mainindication:total-passed", ""},
		{"tampered", tamper(t, good, "so 1", "so 7"), "urn:etsi:019102:mainindication:total-failed", "urn:etsi:019102:subindication:HASH_FAILURE"},
		{"untrusted", k.sign(t, "stranger", pdfDoc("Thong bao so 2")), "urn:etsi:019102:mainindication:indeterminate", "urn:etsi:019102:subindication:NO_CERTIFICATE_CHAIN_FOUND"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			want := k.report(t, c.doc)
			resp, body := post(t, k.url+"/?format=xml", map[string][]byte{"file": c.doc})
			if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/xml") {
				t.Fatalf("status %d %s: %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
			}
			r := parseETSI(t, []byte(body))
			if len(r.Reports) != len(want.Signatures) || len(r.Reports) == 0 {
				t.Fatalf("%d signature reports, the verifier found %d signatures", len(r.Reports), len(want.Signatures))
			}
			got := r.Reports[0]
			if got.Main != c.main || (c.sub == "") != (len(got.Sub) == 0) || (c.sub != "" && got.Sub[0] != c.sub) {
				t.Errorf("indication %s %v, want %s %s", got.Main, got.Sub, c.main, c.sub)
			}
			if want.Signatures[0].Indication == verify.TotalPassed && c.main != "urn:etsi:019102:mainindication:total-passed" {
				t.Errorf("the CLI says %s", want.Signatures[0].Indication)
			}
			found := false
			for _, o := range r.Objects {
				found = found || (o.ID == got.Signer.Ref.VOReference && o.Type == "urn:etsi:019102:validationObject:certificate")
			}
			if !found || got.Signer.Signer == "" {
				t.Errorf("the signer's certificate %q is not a validation object: %+v", got.Signer.Ref.VOReference, r.Objects)
			}
		})
	}
}

// TestDetachedSignature: a .p7s with its content verifies on the portal; the same
// .p7s over other content does not; a .p7s alone asks for its content.
func TestDetachedSignature(t *testing.T) {
	k := startKyso(t, nil)
	content := []byte("Biên bản họp ngày 03/12/2026\n")
	var p7s bytes.Buffer
	if err := k.svc.SignCAdES(t.Context(), "org", bytes.NewReader(content), &p7s, 0); err != nil {
		t.Fatal(err)
	}
	resp, body := post(t, k.url+"/", map[string][]byte{"sig": p7s.Bytes(), "content": content})
	if resp.StatusCode != 200 || !strings.Contains(body, `id="verdict-text">Hợp lệ<`) {
		t.Fatalf("good .p7s: %d\n%s", resp.StatusCode, body)
	}
	// every text the templates ask for exists: no empty label, button or note
	if empty := regexp.MustCompile(`<(dt|button|label|p|h[1-4]|a)[^>]*>\s*</`).FindString(body); empty != "" {
		t.Errorf("an empty element (a missing text): %s", empty)
	}
	resp, body = post(t, k.url+"/", map[string][]byte{"sig": p7s.Bytes(), "content": []byte("Biên bản khác\n")})
	if resp.StatusCode != 200 || !strings.Contains(body, `id="verdict-text">Không hợp lệ<`) {
		t.Fatalf(".p7s over other content: %d\n%s", resp.StatusCode, body)
	}
	resp, body = post(t, k.url+"/", map[string][]byte{"sig": p7s.Bytes()})
	if resp.StatusCode != 422 && resp.StatusCode != 400 || !strings.Contains(body, "tệp nội dung") {
		t.Fatalf(".p7s alone: %d\n%s", resp.StatusCode, body)
	}
}

// TestLookupNotFoundIsOneAnswer: an unknown identifier, a malformed one, one of a
// register that is not public and a draft's all answer the same page, byte for byte.
func TestLookupNotFoundIsOneAnswer(t *testing.T) {
	k := startKyso(t, nil)
	_, id := k.issue(t, "Quyet dinh")
	get := func(id string) (int, string) {
		resp, err := http.Get(k.url + "/tra-cuu/" + url.PathEscape(id))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get(id); code != 200 || !strings.Contains(body, `id="sha256"`) {
		t.Fatalf("the issued document %s: %d\n%s", id, code, body)
	}
	// a link written with the identifier's slashes as they are (a QR code's) works too
	if resp, err := http.Get(k.url + "/tra-cuu/" + id); err != nil || resp.StatusCode != 200 {
		t.Fatalf("/tra-cuu/%s unescaped: %v %v", id, resp.StatusCode, err)
	} else {
		resp.Body.Close()
	}
	_, secret := k.issueAs(t, "Mat", "confidential") // issued, public register, but confidential
	_, confidential := get(secret)
	k.svc.PublicRegisters = nil // the same document, its register no longer public
	_, notPublic := get(id)
	k.svc.PublicRegisters = []string{"000.00.00.H43"}
	code, unknown := get("000.00.00.H43,2020/01/01,99/UBND-VP")
	_, malformed := get("nothing-like-an-identifier")
	_, otherAgency := get("000.00.00.G22,2020/01/01,01/VPCP")
	if code != 404 || !strings.Contains(unknown, `id="not-found"`) {
		t.Fatalf("unknown: %d\n%s", code, unknown)
	}
	// the language switch links back to the URL asked for; nothing else may differ
	echo := regexp.MustCompile(`<a class="lang" href="[^"]*"`)
	unknown = echo.ReplaceAllString(unknown, "")
	for name, b := range map[string]string{"not public": notPublic, "malformed": malformed, "other agency": otherAgency, "confidential": confidential} {
		if echo.ReplaceAllString(b, "") != unknown {
			t.Errorf("%s answers differently from unknown:\n%s", name, b)
		}
	}
}

// TestPublicLimitsApply: the page's POST is a public verification: past the
// per-minute rate it is refused like POST /v1/verify.
func TestPublicLimitsApply(t *testing.T) {
	k := startKyso(t, func(c *config.Config) { c.RateLimit.PublicVerifyPerMinute = 2 })
	doc := k.sign(t, "org", pdfDoc("Thong bao"))
	var codes []int
	var last string
	var resp *http.Response
	for range 3 {
		resp, last = post(t, k.url+"/", map[string][]byte{"file": doc})
		codes = append(codes, resp.StatusCode)
	}
	if codes[0] != 200 || codes[1] != 200 || codes[2] != http.StatusTooManyRequests {
		t.Fatalf("statuses %v, want 200 200 429", codes)
	}
	// a browser without the script gets the refusal as the page, not as JSON
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") || !strings.Contains(last, `id="error"`) ||
		!strings.Contains(last, "Too many requests") || resp.Header.Get("Retry-After") == "" {
		t.Errorf("the 429 is %s (Retry-After %q):\n%s", resp.Header.Get("Content-Type"), resp.Header.Get("Retry-After"), last)
	}
}
