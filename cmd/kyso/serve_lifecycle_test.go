package main

import (
	"crypto/x509/pkix"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/kyso-vn/kyso/internal/testenv"
	"github.com/kyso-vn/kyso/internal/testpki"
	"github.com/kyso-vn/kyso/signer/verify"
)

// TestServeLifecycle drives issues #17 and #19 over HTTP against kyso serve: a leader
// whose certificate is expired, revoked or comes without its chain (and is not in the
// configuration's chain material) is refused at prepare with its own problem type and
// the reason in Vietnamese, or English on Accept-Language: en, and no document is
// stored; a leaf-only certificate whose CA the configuration holds (the organisation
// key's chain file) is approved and the signature embeds the chain. Then: return to
// draft by the clerk, issue refused, approve again, issue; a second document issued;
// the first replaced by the second, the second recalled; the record, the list and the
// public lookup page show it.
func TestServeLifecycle(t *testing.T) {
	e := newFlowEnv(t, "sqlite")
	leader, clerk := e.keys["leader"], e.keys["clerk"]
	draft := testenv.CongVanPDF(t)
	newLeader := func(name string, c *testpki.Cert) string {
		pemJSON, _ := json.Marshal(certPEM(c.Cert))
		resp, body := e.rs.call(t, "POST", "/v1/clients", e.admin, "application/json",
			strings.NewReader(`{"name":"`+name+`","role":"leader","agencies":["000.00.00.H43"],"certificates":[`+string(pemJSON)+`]}`))
		var cl struct {
			APIKey string `json:"api_key"`
		}
		if err := json.Unmarshal(body, &cl); err != nil || resp.StatusCode != 201 {
			t.Fatalf("client %s: %d %s", name, resp.StatusCode, body)
		}
		return cl.APIKey
	}
	foreign := testpki.New(t).Sub
	issued := e.pki.PKI().Issue(t, testpki.Spec{Kind: testpki.Personal, Subject: pkix.Name{CommonName: "Kyso TEST stranger"}, Issuer: foreign})
	stranger := &testpki.Cert{Cert: issued.Cert, Key: issued.Key} // its token holds only the leaf
	before := e.documentCount(t)
	for _, c := range []struct {
		name    string
		cert    *testpki.Cert
		problem string
		vi, en  string
	}{
		{"expired", e.pki.Expired, "certificate/expired", "đã hết hạn ngày 31/12/2023", "expired on 2023-12-31"},
		{"revoked", e.pki.Revoked, "certificate/revoked", "đã bị thu hồi ngày 01/06/2025", "was revoked on 2025-06-01"},
		{"unknown CA", stranger, "certificate/no-chain", "thiếu chứng thư của CA cấp \"" + foreign.Cert.Subject.String() + "\"",
			"the issuer certificate \"" + foreign.Cert.Subject.String() + "\" is missing"},
	} {
		key := newLeader("leader-"+c.name, c.cert)
		resp, body := e.prepare(t, key, c.cert, draft, 0, [2]any{"role", "approve"})
		var p struct{ Type, Detail string }
		_ = json.Unmarshal(body, &p)
		if resp.StatusCode != 403 || problemType(body) != c.problem || !strings.Contains(p.Detail, c.vi) {
			t.Errorf("%s: %d %s", c.name, resp.StatusCode, body)
		}
		ct, mb := multipartBody(t, [][2]any{{"certificate", certPEM(c.cert.ChainWithLeaf()...)}, {"file", draft},
			{"agency", "000.00.00.H43"}, {"symbol", "UBND-VP"}, {"role", "approve"}})
		req, _ := http.NewRequest("POST", e.rs.base+"/v1/signatures", mb)
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", ct)
		req.Header.Set("Accept-Language", "en-GB,en;q=0.9")
		r2, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b2, _ := io.ReadAll(r2.Body)
		r2.Body.Close()
		if _ = json.Unmarshal(b2, &p); r2.StatusCode != 403 || !strings.Contains(p.Detail, c.en) {
			t.Errorf("%s in English: %d %s", c.name, r2.StatusCode, b2)
		}
	}
	if n := e.documentCount(t); n != before {
		t.Errorf("refused prepares stored %d documents", n-before)
	}

	// the leader's token holds only the leaf: the sub CA comes from the configuration
	leafOnly := &testpki.Cert{Cert: e.pki.Leader.Cert, Key: e.pki.Leader.Key}
	approve := func(id int64) int64 {
		t.Helper()
		var content []byte
		if id == 0 {
			content = draft
		}
		resp, body := e.prepare(t, leader, leafOnly, content, id, [2]any{"role", "approve"})
		p := decodeInto[pendingJSON](t, "prepare", resp, body, 201)
		if resp, body := e.complete(t, leader, p.ID, signOutside(t, e.pki.Leader.Key, p)); resp.StatusCode != 200 {
			t.Fatalf("complete: %d %s", resp.StatusCode, body)
		}
		return p.DocumentID
	}
	id := approve(0)
	o := e.verify
	o.Intermediates = nil
	if rep, err := verify.VerifyPDF(t.Context(), strings.NewReader(string(e.download(t, id))), int64(len(e.download(t, id))), "approved.pdf", o); err != nil ||
		rep.Indication != verify.TotalPassed {
		t.Fatalf("the leaf-only approval: %v %+v", err, rep)
	}
	post := func(key, path, body string, want int) []byte {
		t.Helper()
		resp, b := e.rs.call(t, "POST", path, key, "application/json", strings.NewReader(body))
		if resp.StatusCode != want {
			t.Fatalf("POST %s: %d, want %d: %s", path, resp.StatusCode, want, b)
		}
		return b
	}
	doc := func(id int64) string { return fmt.Sprintf("/v1/documents/%d", id) }
	post(e.keys["system"], doc(id)+"/return-to-draft", `{"reason":"x"}`, 403)
	post(clerk, doc(id)+"/return-to-draft", `{}`, 400)
	if b := post(clerk, doc(id)+"/return-to-draft", `{"reason":"Sửa lại trích yếu"}`, 200); !strings.Contains(string(b), `"status":"draft"`) {
		t.Errorf("returned: %s", b)
	}
	issueBody := `{"key":"org"}`
	post(clerk, doc(id)+"/issue", issueBody, 409)
	approve(id)
	post(clerk, doc(id)+"/issue", issueBody, 200)
	second := approve(0)
	post(clerk, doc(second)+"/issue", issueBody, 200)
	post(clerk, doc(second)+"/return-to-draft", `{"reason":"x"}`, 409)
	post(leader, doc(id)+"/replace", `{"reason":"Thay đổi thời hạn"}`, 400)
	post(leader, doc(id)+"/replace", fmt.Sprintf(`{"reason":"Thay đổi thời hạn","decision":"Văn bản số 02/UBND-VP","replaced_by":%d}`, second), 200)
	post(clerk, doc(second)+"/recall", `{"reason":"Ban hành sai thẩm quyền","decision":"Quyết định số 12/QĐ-UBND"}`, 200)
	post(clerk, doc(second)+"/recall", `{"reason":"again"}`, 409)

	resp, body := e.rs.call(t, "GET", doc(id), clerk, "", nil)
	var first struct {
		Status    string
		Withdrawn struct {
			Kind                 string
			ReplacedBy           int64  `json:"replaced_by"`
			ReplacedByIdentifier string `json:"replaced_by_identifier"`
		}
		Identifier string
	}
	if err := json.Unmarshal(body, &first); err != nil || resp.StatusCode != 200 || first.Status != "issued" ||
		first.Withdrawn.Kind != "replaced" || first.Withdrawn.ReplacedBy != second {
		t.Fatalf("GET the replaced document: %d %s", resp.StatusCode, body)
	}
	resp, body = e.rs.call(t, "GET", "/v1/documents?status=issued", clerk, "", nil)
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"kind":"recalled"`) || !strings.Contains(string(body), `"kind":"replaced"`) {
		t.Errorf("list: %d %s", resp.StatusCode, body)
	}

	e.restart(t, map[string]string{"KYSO_PUBLIC_REGISTERS": "000.00.00.H43"})
	resp, body = e.rs.call(t, "GET", "/tra-cuu/"+url.PathEscape(first.Identifier), "", "", nil)
	if resp.StatusCode != 200 || !strings.Contains(string(body), "Đã được thay thế bởi văn bản số 02/UBND-VP") ||
		!strings.Contains(string(body), first.Withdrawn.ReplacedByIdentifier) {
		t.Errorf("lookup of the replaced document: %d %s", resp.StatusCode, body)
	}
	resp, body = e.rs.call(t, "GET", "/tra-cuu/"+url.PathEscape(first.Withdrawn.ReplacedByIdentifier)+"?lang=en", "", "", nil)
	if resp.StatusCode != 200 || !strings.Contains(string(body), "Recalled") || !strings.Contains(string(body), "Quyết định số 12/QĐ-UBND") {
		t.Errorf("lookup of the recalled document: %d %s", resp.StatusCode, body)
	}
}
