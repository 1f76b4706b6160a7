package api

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"mime/multipart"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kyso-vn/kyso/pkg/config"
	"github.com/kyso-vn/kyso/pkg/fault"
)

// recordingSignatures stands in for the pipeline: it keeps what the handler decoded
// and the uploaded bytes, so a test sees exactly what reached the service.
type recordingSignatures struct {
	mu   sync.Mutex
	req  PrepareRequest
	doc  []byte
	comp Completion
}

func (r *recordingSignatures) PrepareSignature(_ context.Context, _ Principal, req PrepareRequest, doc Document) (Pending, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.req, r.doc = req, nil
	if doc != nil {
		b, err := io.ReadAll(io.NewSectionReader(doc, 0, doc.Size()))
		if err != nil {
			return Pending{}, err
		}
		r.doc = b
	}
	return Pending{ID: strings.Repeat("a", 32), Status: "pending", Role: req.Role}, nil
}

func (r *recordingSignatures) Signature(context.Context, Principal, string) (Pending, error) {
	return Pending{}, fault.New(fault.Expired, "The signature request expired.")
}

func (r *recordingSignatures) CancelSignature(_ context.Context, _ Principal, id, _ string) (Pending, error) {
	return Pending{ID: id, Status: "cancelled"}, nil
}

func (r *recordingSignatures) CompleteSignature(_ context.Context, _ Principal, id string, c Completion) (Pending, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.comp = c
	return Pending{ID: id, Status: "completed"}, nil
}

func testCertPEM(t *testing.T) string {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Nguyễn Văn A"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

func form(t *testing.T, parts ...[2]string) (string, *bytes.Buffer) {
	t.Helper()
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	for _, p := range parts {
		var err error
		if p[0] == "file" || p[0] == "image" {
			var fw io.Writer
			if fw, err = w.CreateFormFile(p[0], p[0]+".bin"); err == nil {
				_, err = fw.Write([]byte(p[1]))
			}
		} else {
			err = w.WriteField(p[0], p[1])
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	w.Close()
	return w.FormDataContentType(), &b
}

// TestPrepareForm: the multipart form of POST /v1/signatures reaches the service as
// parsed fields and the uploaded bytes, or is refused with the field named.
func TestPrepareForm(t *testing.T) {
	rec := &recordingSignatures{}
	ts := startServer(t, func(_ *config.Config, o *Options) { o.Signatures = rec })
	crt := testCertPEM(t)
	png := "\x89PNG\r\n\x1a\nrest"
	cases := []struct {
		name   string
		parts  [][2]string
		status int
		detail string
		check  func(PrepareRequest, []byte) bool
	}{
		{"new draft", [][2]string{{"file", tinyPDF}, {"agency", "000.00.00.H43"}, {"certificate", crt + crt}, {"rect", "1,2,30.5,40"}, {"image", png}, {"level", "B-T"}}, 201, "",
			func(r PrepareRequest, doc []byte) bool {
				return string(doc) == tinyPDF && len(r.Certificates) == 2 && r.Role == "approve" && r.Page == 1 &&
					r.Rect == [4]float64{1, 2, 30.5, 40} && string(r.Image) == png && r.Level == "B-T" && r.Agency == "000.00.00.H43"
			}},
		{"stored document", [][2]string{{"document_id", "42"}, {"certificate", crt}, {"role", "issue"}, {"page", "2"}}, 201, "",
			func(r PrepareRequest, doc []byte) bool {
				return doc == nil && r.DocumentID == 42 && r.Role == "issue" && r.Page == 2
			}},
		{"neither", [][2]string{{"certificate", crt}}, 400, "exactly one", nil},
		{"both", [][2]string{{"file", tinyPDF}, {"agency", "000.00.00.H43"}, {"document_id", "1"}, {"certificate", crt}}, 400, "exactly one", nil},
		{"no agency", [][2]string{{"file", tinyPDF}, {"certificate", crt}}, 400, "agency", nil},
		{"unknown field", [][2]string{{"document_id", "1"}, {"certificate", crt}, {"pin", "123456"}}, 400, `Unknown field \"pin\"`, nil},
		{"twice", [][2]string{{"document_id", "1"}, {"certificate", crt}, {"role", "copy"}, {"role", "issue"}}, 400, "more than once", nil},
		{"private key", [][2]string{{"document_id", "1"}, {"certificate", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"}}, 400, "only CERTIFICATE", nil},
		{"garbage after", [][2]string{{"document_id", "1"}, {"certificate", crt + "junk"}}, 400, "PEM certificates", nil},
		{"bad id", [][2]string{{"document_id", "-3"}, {"certificate", crt}}, 400, "document_id", nil},
		{"inverted rect", [][2]string{{"document_id", "1"}, {"certificate", crt}, {"rect", "30,40,1,2"}}, 400, "x2 > x1", nil},
		{"image without rect", [][2]string{{"document_id", "1"}, {"certificate", crt}, {"image", png}}, 400, "rect", nil},
		{"empty file", [][2]string{{"file", ""}, {"agency", "000.00.00.H43"}, {"certificate", crt}}, 400, "empty", nil},
		{"too large", [][2]string{{"file", tinyPDF + strings.Repeat(" ", 1<<20)}, {"agency", "000.00.00.H43"}, {"certificate", crt}}, 413, "", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rec.req, rec.doc = PrepareRequest{}, nil
			ct, body := form(t, c.parts...)
			resp := ts.do("POST", "/v1/signatures", ts.keyFor[RoleLeader], ct, body)
			if resp.StatusCode != c.status {
				t.Fatalf("status %d: %s", resp.StatusCode, readAll(t, resp))
			}
			if c.status >= 400 {
				if p := problemOf(t, resp); !strings.Contains(p.Detail, strings.ReplaceAll(c.detail, `\"`, `"`)) {
					t.Errorf("detail %q, want it to mention %q", p.Detail, c.detail)
				}
				return
			}
			if !c.check(rec.req, rec.doc) {
				t.Errorf("the service got %+v with %q", rec.req, rec.doc)
			}
		})
	}
	assertNoTempFiles(t, ts.tempDir)
}

// TestCompleteBody: exactly one of signature or cms, in standard base64; an unknown
// handle shape is 404 without reaching the service; an expired one is 410.
func TestCompleteBody(t *testing.T) {
	rec := &recordingSignatures{}
	ts := startServer(t, func(_ *config.Config, o *Options) { o.Signatures = rec })
	id := strings.Repeat("b", 32)
	cases := []struct {
		path, body string
		status     int
	}{
		{"/v1/signatures/" + id + "/complete", `{"signature":"AQID"}`, 200},
		{"/v1/signatures/" + id + "/complete", `{"cms":"AQID"}`, 200},
		{"/v1/signatures/" + id + "/complete", `{"signature":"AQID","cms":"AQID"}`, 400},
		{"/v1/signatures/" + id + "/complete", `{}`, 400},
		{"/v1/signatures/" + id + "/complete", `{"signature":"***"}`, 400},
		{"/v1/signatures/" + id + "/complete", `{"signature":""}`, 400},
		{"/v1/signatures/" + id + "/complete", `{"signature":1}`, 400},
		{"/v1/signatures/../complete", `{"signature":"AQID"}`, 404},
		{"/v1/signatures/NOTHEX/complete", `{"signature":"AQID"}`, 404},
	}
	for _, c := range cases {
		resp := ts.do("POST", c.path, ts.keyFor[RoleSystem], "application/json", strings.NewReader(c.body))
		if resp.StatusCode != c.status {
			t.Errorf("%s %s: %d %s", c.path, c.body, resp.StatusCode, readAll(t, resp))
		}
	}
	if !bytes.Equal(rec.comp.CMS, []byte{1, 2, 3}) || rec.comp.Signature != nil {
		t.Errorf("the service got %+v", rec.comp)
	}
	if resp := ts.do("GET", "/v1/signatures/"+id, ts.keyFor[RoleClerk], "", nil); resp.StatusCode != 410 || problemOf(t, resp).Type != ProblemBase+"expired" {
		t.Errorf("expired: %d", resp.StatusCode)
	}
}
