package main

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"fmt"
	"math/big"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kyso-vn/kyso/internal/testenv"
	"github.com/kyso-vn/kyso/internal/testpki"
	"github.com/kyso-vn/kyso/pkg/docid"
	"github.com/kyso-vn/kyso/pkg/edxml"
	"github.com/kyso-vn/kyso/pkg/pki/pkitest"
	"github.com/kyso-vn/kyso/signer/pades"
	"github.com/kyso-vn/kyso/signer/pdf"
)

// receiveFiles are the incoming documents of the receive tests, made once per test
// with the test PKI whose revocation servers run for it.
type receiveFiles struct {
	pki  *testpki.TestPKI
	dir  string
	root string // the trust anchor
	// issued: signed by H43's organisation key, with the /Info and XMP identifiers
	// Kyso writes when issuing (15/UBND-VP of 2026-11-30); issued17 the same for 17;
	// foreign says G22 issued it, under H43's organisation signature.
	issued, issued17, foreign string
	tampered                  string // a signed PDF whose page was changed after signing
	untrusted                 string // signed with a certificate that chains to no anchor
	unsigned                  string // no signature, nothing written about its issuer
	packet                    string // an edXML packet from H43: 16/UBND-VP of 2026-12-01, a signed PDF and a note
	packetBad                 string // 21/UBND-VP: a signed PDF and a tampered appendix
}

const (
	// the sender is the agency of the test PKI's organisation certificate
	issuedID   = "000.00.00.H43,2026/11/30,15/UBND-VP"
	packetID   = "000.00.00.H43,2026/12/01,16/UBND-VP"
	receiver   = "000.00.00.G22"
	sender     = "000.00.00.H43"
	receiveMsg = "công văn số mười lăm"
)

func newReceiveFiles(t *testing.T) *receiveFiles {
	t.Helper()
	p := pkitest.ServeRevocation(t)
	dir := t.TempDir()
	rf := &receiveFiles{pki: p, dir: dir, root: p.Path("root-ca.pem")}
	write := func(name string, data []byte) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	kysoIssued := func(text string, organ docid.AgencyCode, n int, day time.Time) []byte {
		ns := fmt.Sprintf("%d/UBND-VP", n)
		id := docid.NewDocumentID(organ, day, docid.NumberSymbol{Number: n, Symbol: "UBND-VP"}).String()
		at := day.Format(time.RFC3339)
		return signPDF(t, testenv.OnePagePDF(text), p.Org.Key, p.Org.Cert, p.Org.Chain, &pades.Metadata{
			Info:       map[string]string{"KysoIdentifier": id, "KysoNumber": ns, "KysoIssuedAt": at, "KysoOrganId": string(organ)},
			XMP:        map[string]string{"OrganId": string(organ), "NumberSymbol": ns, "IssuedAt": at},
			Identifier: id,
		})
	}
	nov30 := time.Date(2026, 11, 30, 9, 0, 0, 0, docid.Vietnam)
	rf.issued = write("cv-15.pdf", kysoIssued(receiveMsg, sender, 15, nov30))
	rf.issued17 = write("cv-17.pdf", kysoIssued("cong van so 17", sender, 17, nov30))
	rf.foreign = write("cv-20.pdf", kysoIssued("cong van so 20", "000.00.00.G22", 20, nov30))
	good := signPDF(t, testenv.OnePagePDF("cong van so 18"), p.Org.Key, p.Org.Cert, p.Org.Chain, nil)
	bad := bytes.Replace(good, []byte("cong van so 18"), []byte("cong van so 81"), 1)
	if bytes.Equal(bad, good) {
		t.Fatal("the page text was not found in the signed PDF")
	}
	rf.tampered = write("tampered.pdf", bad)
	key, cert := selfSigned(t)
	rf.untrusted = write("untrusted.pdf", signPDF(t, testenv.OnePagePDF("cong van so 19"), key, cert, nil, nil))
	rf.unsigned = write("scan.pdf", testenv.OnePagePDF("ban chup"))
	var pk bytes.Buffer
	if err := edxml.Build(&pk, &edxml.Message{
		From: edxml.Organ{OrganID: sender, OrganName: "Ủy ban nhân dân tỉnh Ninh Thuận"}, To: []edxml.Organ{{OrganID: receiver}},
		Number: docid.NumberSymbol{Number: 16, Symbol: "UBND-VP"}, PromulgatedAt: time.Date(2026, 12, 1, 10, 0, 0, 0, docid.Vietnam),
		Subject: "Về việc triển khai chữ ký số", Attachments: []edxml.Attachment{
			{Name: "16-VPCP-TTDT.pdf", ContentType: "application/pdf", Data: signPDF(t, testenv.OnePagePDF("cong van so 16"), p.Org.Key, p.Org.Cert, p.Org.Chain, nil)},
			{Name: "ghi-chu.txt", ContentType: "text/plain", Data: []byte("ghi chú")},
		}}); err != nil {
		t.Fatal(err)
	}
	rf.packet = write("goi-tin.edxml", pk.Bytes())
	pk.Reset()
	if err := edxml.Build(&pk, &edxml.Message{
		From: edxml.Organ{OrganID: sender}, To: []edxml.Organ{{OrganID: receiver}},
		Number: docid.NumberSymbol{Number: 21, Symbol: "UBND-VP"}, PromulgatedAt: time.Date(2026, 12, 2, 10, 0, 0, 0, docid.Vietnam),
		Attachments: []edxml.Attachment{
			{Name: "21-UBND-VP.pdf", ContentType: "application/pdf", Data: signPDF(t, testenv.OnePagePDF("cong van so 21"), p.Org.Key, p.Org.Cert, p.Org.Chain, nil)},
			{Name: "phu-luc.pdf", ContentType: "application/pdf", Data: bad},
		}}); err != nil {
		t.Fatal(err)
	}
	rf.packetBad = write("goi-tin-hong.edxml", pk.Bytes())
	return rf
}

func signPDF(t *testing.T, in []byte, key crypto.Signer, cert *x509.Certificate, chain []*x509.Certificate, meta *pades.Metadata) []byte {
	t.Helper()
	var out bytes.Buffer
	if err := pades.Sign(context.Background(), key, bytes.NewReader(in), int64(len(in)), &out,
		pades.Options{Certificate: cert, Chain: chain, Metadata: meta}); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// selfSigned is a certificate no anchor vouches for.
func selfSigned(t *testing.T) (crypto.Signer, *x509.Certificate) {
	t.Helper()
	key, err := testpki.GenerateKey(testpki.RSA2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "Cơ quan lạ", Country: []string{"VN"}},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return key, cert
}

// TestDocsReceiveCLI drives kyso docs receive through every state: a Kyso-issued PDF
// is registered with the identifiers it carries; the same file again is refused
// naming the first; a tampered PDF and an untrusted one are returned (exit 1, no
// number, the status packet says 02 with the reason); --accept-indeterminate
// registers the untrusted one, audited; what the clerk typed against what the
// document says is refused with both (exit 2); an edXML packet is registered with
// its header's identifiers; docs list and get show every verdict.
func TestDocsReceiveCLI(t *testing.T) {
	rf := newReceiveFiles(t)
	data := filepath.Join(rf.dir, "data")
	recv := func(file string, extra ...string) (int, string) {
		t.Helper()
		args := append([]string{"docs", "receive", file, "--data-dir", data, "--holder", receiver, "--actor", "văn thư", "--trust", rf.root}, extra...)
		return kysoExit(t, args...)
	}
	incoming := regexp.MustCompile(`(?m)^(\d+)\tincoming (\d+)/\d{4}\t(\S+)\t(.*)$`)

	code, out := recv(rf.issued)
	m := incoming.FindStringSubmatch(out)
	if code != 0 || m == nil || m[2] != "1" || m[3] != "TOTAL_PASSED" || m[4] != issuedID {
		t.Fatalf("a Kyso-issued PDF, no --issuer: exit %d\n%s", code, out)
	}
	code, out = recv(rf.issued)
	if code != 1 || !strings.Contains(out, "already registered") || !strings.Contains(out, "document 1,") || !strings.Contains(out, "arrival number 1/") {
		t.Errorf("the same file again: exit %d\n%s", code, out)
	}

	status := filepath.Join(rf.dir, "status.edxml")
	code, out = recv(rf.tampered, "--issuer", sender, "--status-out", status)
	if code != 1 || !strings.Contains(out, "returned to the sender") || !strings.Contains(out, "TOTAL_FAILED") {
		t.Errorf("tampered: exit %d\n%s", code, out)
	}
	if st := readStatus(t, status); st.Code != edxml.StatusRefused || !strings.Contains(st.Description, "TOTAL_FAILED") || st.From.OrganID != receiver {
		t.Errorf("tampered: status packet %+v", st)
	}

	code, out = recv(rf.untrusted, "--issuer", sender)
	if code != 1 || !strings.Contains(out, "INDETERMINATE") || !strings.Contains(out, "--accept-indeterminate") {
		t.Errorf("untrusted: exit %d\n%s", code, out)
	}
	code, out = recv(rf.untrusted, "--issuer", sender, "--accept-indeterminate", "--status-out", status)
	if m := incoming.FindStringSubmatch(out); code != 0 || m == nil || m[2] != "2" || m[3] != "INDETERMINATE" {
		t.Errorf("untrusted, accepted: exit %d\n%s", code, out)
	} else if _, get := kysoExit(t, "docs", "get", m[1], "--data-dir", data); !strings.Contains(get, "registered knowingly although INDETERMINATE") {
		t.Errorf("the acceptance is not audited:\n%s", get)
	}
	if st := readStatus(t, status); st.Code != edxml.StatusAccepted {
		t.Errorf("accepted: status packet %+v", st)
	}

	for _, c := range []struct {
		name  string
		args  []string
		wants []string
	}{
		{"issuer", []string{"--issuer", "000.00.00.H41"}, []string{"000.00.00.H41", sender, "/Info"}},
		{"number", []string{"--number", "18/UBND-VP"}, []string{"18/UBND-VP", "17/UBND-VP"}},
		{"date", []string{"--issued", "2026-12-01"}, []string{"2026-12-01", "2026-11-30"}},
		{"identifier", []string{"--identifier", "000.00.00.H43,2026/11/30,18/UBND-VP"}, []string{"18/UBND-VP", "17/UBND-VP"}},
	} {
		code, out := recv(rf.issued17, c.args...)
		if code != 2 || !strings.Contains(out, "does not match") {
			t.Errorf("mismatch of the %s: exit %d\n%s", c.name, code, out)
		}
		for _, w := range c.wants {
			if !strings.Contains(out, w) {
				t.Errorf("mismatch of the %s does not show %q:\n%s", c.name, w, out)
			}
		}
	}
	// An unsigned later revision renames the document in /Info: what is read is what
	// the signature covers, so 99 is a mismatch and, untyped, it is registered as 17.
	renamed := filepath.Join(rf.dir, "renamed.pdf")
	if err := os.WriteFile(renamed, renameInfo(t, rf.issued17, "99/UBND-VP"), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, out := recv(renamed, "--number", "99/UBND-VP"); code != 2 || !strings.Contains(out, "17/UBND-VP") {
		t.Errorf("renamed after signing, typed as renamed: exit %d\n%s", code, out)
	}
	if code, out := recv(renamed); code != 0 || !strings.Contains(out, "000.00.00.H43,2026/11/30,17/UBND-VP") {
		t.Errorf("renamed after signing: exit %d\n%s", code, out)
	}
	// the document says G22 issued it, the organisation's certificate is H43's
	if code, out := recv(rf.foreign); code != 2 || !strings.Contains(out, "organisation's signature") || !strings.Contains(out, "000.00.00.G22") {
		t.Errorf("issuer other than the sealing organisation: exit %d\n%s", code, out)
	}
	if code, out := recv(rf.unsigned); code != 2 || !strings.Contains(out, "--issuer") {
		t.Errorf("no issuer anywhere: exit %d\n%s", code, out)
	}

	code, out = recv(rf.packet)
	if m := incoming.FindStringSubmatch(out); code != 0 || m == nil || m[2] != "4" || m[3] != "TOTAL_PASSED" || m[4] != packetID {
		t.Fatalf("edXML packet: exit %d\n%s", code, out)
	}
	if code, out := recv(rf.packet); code != 1 || !strings.Contains(out, "already registered") {
		t.Errorf("the packet again: exit %d\n%s", code, out)
	}
	// a tampered appendix returns the whole packet, naming it
	if code, out := recv(rf.packetBad); code != 1 || !strings.Contains(out, "returned to the sender") || !strings.Contains(out, "phu-luc.pdf: signature") {
		t.Errorf("packet with a tampered appendix: exit %d\n%s", code, out)
	}

	_, list := kysoExit(t, "docs", "list", "--data-dir", data)
	for _, w := range []string{"TOTAL_PASSED", "returned", "TOTAL_FAILED/HASH_FAILURE", "INDETERMINATE/NO_CERTIFICATE_CHAIN_FOUND", packetID} {
		if !strings.Contains(list, w) {
			t.Errorf("docs list lacks %q:\n%s", w, list)
		}
	}
	if strings.Count(list, "\n") != 1+7 { // header, 3 registered PDFs, 2 returned, the packet, the returned packet
		t.Errorf("docs list: want 7 documents (nothing stored for a refusal):\n%s", list)
	}
	_, get := kysoExit(t, "docs", "get", packetID, "--data-dir", data)
	if !strings.Contains(get, "verdict:    TOTAL_PASSED") || !strings.Contains(get, "Attachment: ghi-chu.txt") || !strings.Contains(get, "Về việc triển khai chữ ký số") {
		t.Errorf("docs get of the packet:\n%s", get)
	}
	_, get = kysoExit(t, "docs", "get", "2", "--data-dir", data)
	if !strings.Contains(get, "returned") || !strings.Contains(get, "verdict:    TOTAL_FAILED/HASH_FAILURE — ") || !strings.Contains(get, "register:   -") {
		t.Errorf("docs get of the returned document:\n%s", get)
	}
}

// renameInfo appends an unsigned revision to the PDF at path that writes another
// number and identifier into /Info.
func renameInfo(t *testing.T, path, number string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	rd, err := pdf.Open(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	info := pdf.Dict{}
	for k, v := range rd.Dict(rd.Trailer["Info"]) {
		info[k] = v
	}
	info["KysoNumber"] = pdf.TextString(number)
	info["KysoIdentifier"] = pdf.TextString(sender + ",2026/11/30," + number)
	u := pdf.NewUpdate(rd)
	u.TrailerExtra = pdf.Dict{"Info": u.Add(info)}
	tail, err := u.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	return append(b, tail...)
}

func readStatus(t *testing.T, path string) *edxml.Status {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, err := edxml.ParseStatus(f)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// TestServeReceive drives POST /v1/documents/receive through the same states, and
// reads the verdicts back from GET /v1/documents and /v1/documents/{id}.
func TestServeReceive(t *testing.T) {
	rf := newReceiveFiles(t)
	cfg := filepath.Join(rf.dir, "kyso.yaml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf("store:\n  data_dir: %q\ntrust:\n  anchors: [%q]\n", filepath.Join(rf.dir, "srv"), rf.root)), 0o600); err != nil {
		t.Fatal(err)
	}
	rs := startServe(t, cfg, map[string]string{})
	admin := adminKeyLine.FindStringSubmatch(rs.stdout.String())[1]
	resp, body := rs.call(t, "POST", "/v1/clients", admin, "application/json", strings.NewReader(`{"name":"van-thu","role":"clerk","agencies":["`+receiver+`"]}`))
	var cl struct {
		APIKey string `json:"api_key"`
	}
	if err := json.Unmarshal(body, &cl); err != nil || resp.StatusCode != 201 {
		t.Fatalf("clerk: %d %s", resp.StatusCode, body)
	}
	clerk := cl.APIKey
	type record struct {
		ID             int64
		Status         string
		AgencyCode     string `json:"agency_code"`
		Identifier     string
		RegisterNumber int `json:"register_number"`
		Verdict        *struct {
			Indication    string
			SubIndication string `json:"sub_indication"`
			Reason        string
		}
		StatusPacket string `json:"status_packet"`
	}
	post := func(file, query, ctype string) (int, []byte) {
		t.Helper()
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		resp, body := rs.call(t, "POST", "/v1/documents/receive?holder="+receiver+query, clerk, ctype, bytes.NewReader(data))
		return resp.StatusCode, body
	}
	var r record
	code, body := post(rf.issued, "", "application/pdf")
	if err := json.Unmarshal(body, &r); err != nil || code != 201 || r.Status != "received" || r.RegisterNumber != 1 || r.Identifier != issuedID ||
		r.AgencyCode != sender || r.Verdict == nil || r.Verdict.Indication != "TOTAL_PASSED" || !strings.Contains(r.StatusPacket, "<edXML:StatusCode>03</edXML:StatusCode>") {
		t.Fatalf("a Kyso-issued PDF: %d %s", code, body)
	}
	first := r.ID
	if code, body := post(rf.issued, "", "application/pdf"); code != 409 || !strings.Contains(string(body), "/problems/conflict") ||
		!strings.Contains(string(body), fmt.Sprintf("document %d,", first)) {
		t.Errorf("the same file again: %d %s", code, body)
	}

	var ret struct {
		Type, Detail string
		Document     record
		StatusPacket string `json:"status_packet"`
	}
	code, body = post(rf.tampered, "&agency="+sender, "application/pdf")
	if err := json.Unmarshal(body, &ret); err != nil || code != 422 || !strings.HasSuffix(ret.Type, "/document-returned") ||
		ret.Document.Status != "returned" || ret.Document.RegisterNumber != 0 || ret.Document.Verdict == nil ||
		ret.Document.Verdict.Indication != "TOTAL_FAILED" || ret.Document.Verdict.Reason == "" ||
		!strings.Contains(ret.StatusPacket, "<edXML:StatusCode>02</edXML:StatusCode>") {
		t.Errorf("tampered: %d %s", code, body)
	}
	returnedID := ret.Document.ID

	code, body = post(rf.untrusted, "&agency="+sender, "application/pdf")
	if err := json.Unmarshal(body, &ret); err != nil || code != 422 || ret.Document.Verdict == nil || ret.Document.Verdict.Indication != "INDETERMINATE" ||
		!strings.Contains(ret.Detail, "accept_indeterminate") {
		t.Errorf("untrusted: %d %s", code, body)
	}
	code, body = post(rf.untrusted, "&agency="+sender+"&accept_indeterminate=true", "application/pdf")
	if err := json.Unmarshal(body, &r); err != nil || code != 201 || r.RegisterNumber != 2 || r.Verdict.Indication != "INDETERMINATE" ||
		r.Verdict.SubIndication != "NO_CERTIFICATE_CHAIN_FOUND" {
		t.Errorf("untrusted, accepted: %d %s", code, body)
	}
	if code, body := post(rf.untrusted, "&agency="+sender+"&accept_indeterminate=maybe", "application/pdf"); code != 400 {
		t.Errorf("accept_indeterminate=maybe: %d %s", code, body)
	}

	if code, body := post(rf.issued17, "&agency=000.00.00.H41", "application/pdf"); code != 400 || !strings.Contains(string(body), "000.00.00.H41") ||
		!strings.Contains(string(body), sender) {
		t.Errorf("issuer mismatch: %d %s", code, body)
	}
	if code, body := post(rf.issued17, "&number=18&symbol=UBND-VP", "application/pdf"); code != 400 || !strings.Contains(string(body), "does not match") {
		t.Errorf("number mismatch: %d %s", code, body)
	}
	if code, body := post(rf.unsigned, "", "application/pdf"); code != 400 || !strings.Contains(string(body), "agency") {
		t.Errorf("no issuer anywhere: %d %s", code, body)
	}

	code, body = post(rf.packet, "", "application/xml")
	if err := json.Unmarshal(body, &r); err != nil || code != 201 || r.Identifier != packetID || r.RegisterNumber != 3 || r.Verdict.Indication != "TOTAL_PASSED" {
		t.Fatalf("edXML packet: %d %s", code, body)
	}

	resp, body = rs.call(t, "GET", fmt.Sprintf("/v1/documents/%d", returnedID), clerk, "", nil)
	if err := json.Unmarshal(body, &r); err != nil || resp.StatusCode != 200 || r.Status != "returned" || r.Verdict == nil ||
		r.Verdict.Indication != "TOTAL_FAILED" || r.Verdict.SubIndication != "HASH_FAILURE" {
		t.Errorf("get the returned document: %d %s", resp.StatusCode, body)
	}
	resp, body = rs.call(t, "GET", "/v1/documents?status=returned&holder="+url.QueryEscape(receiver), clerk, "", nil)
	var list struct{ Documents []record }
	if err := json.Unmarshal(body, &list); err != nil || resp.StatusCode != 200 || len(list.Documents) != 2 {
		t.Fatalf("list returned: %d %s", resp.StatusCode, body)
	}
	for _, d := range list.Documents {
		if d.Verdict == nil || d.Verdict.Indication == "TOTAL_PASSED" || d.Verdict.Reason == "" {
			t.Errorf("listed returned document without its verdict: %+v", d)
		}
	}
}
