package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kyso-vn/kyso/internal/testenv"
	"github.com/kyso-vn/kyso/pkg/pki/pkitest"
	"github.com/kyso-vn/kyso/pkg/store"
	"github.com/kyso-vn/kyso/signer/verify"
)

// registerNumbersJSON is GET /v1/registers/{id}/numbers (and `kyso docs numbers --json`).
type registerNumbersJSON struct {
	RegisterID int64 `json:"register_id"`
	Numbers    []struct {
		Number     int    `json:"number"`
		Status     string `json:"status"`
		DocumentID int64  `json:"document_id"`
		Reason     string `json:"reason"`
		Actor      string `json:"actor"`
		At         string `json:"at"`
	} `json:"numbers"`
}

// approveOverAPI uploads draft as a new document the leader approves (prepare,
// sign outside, complete) and returns its id.
func (e *flowEnv) approveOverAPI(t *testing.T, draft []byte) int64 {
	t.Helper()
	resp, body := e.prepare(t, e.keys["leader"], e.pki.Leader, draft, 0, [2]any{"role", "approve"},
		[2]any{"page", "1"}, [2]any{"rect", "300,100,480,160"}, [2]any{"image", testenv.SignaturePNG()})
	p := decodeInto[pendingJSON](t, "approve", resp, body, 201)
	resp, body = e.complete(t, e.keys["leader"], p.ID, signOutside(t, e.pki.Leader.Key, p))
	decodeInto[pendingJSON](t, "approve complete", resp, body, 200)
	return p.DocumentID
}

// outgoingRegister finds the agency's outgoing register of a series over the API.
func (e *flowEnv) outgoingRegister(t *testing.T, series string) map[string]any {
	t.Helper()
	resp, body := e.rs.call(t, "GET", "/v1/registers?agency=000.00.00.H43", e.keys["clerk"], "", nil)
	regs := decodeInto[struct{ Registers []map[string]any }](t, "registers", resp, body, 200)
	for _, r := range regs.Registers {
		if r["kind"] == "outgoing" && (r["series"] == series || (series == "" && r["series"] == nil)) {
			return r
		}
	}
	t.Fatalf("no outgoing register %q: %s", series, body)
	return nil
}

// TestIssueNumbersOverAPI is issue #17's gap over HTTP, on SQLite and PostgreSQL: the
// clerk prepares the issue of two approved documents (numbers 01 and 02 printed on
// their pages), completes the second, cancels the first: 01 is voided with the reason,
// the register lists it so, the cancelled request cannot complete, and the first
// document, prepared again, takes 03 — no number skipped silently, none twice.
func TestIssueNumbersOverAPI(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) { testIssueNumbersOverAPI(t, backend) })
	}
}

func testIssueNumbersOverAPI(t *testing.T, backend string) {
	e := newFlowEnv(t, backend)
	clerk := e.keys["clerk"]
	draft := testenv.CongVanPDF(t)
	a, b := e.approveOverAPI(t, draft), e.approveOverAPI(t, draft)
	seal := [2]any{"image", testenv.SealPNG()}
	resp, body := e.prepare(t, clerk, e.pki.Org, nil, a, [2]any{"role", "issue"}, seal)
	pa := decodeInto[pendingJSON](t, "prepare a", resp, body, 201)
	resp, body = e.prepare(t, clerk, e.pki.Org, nil, b, [2]any{"role", "issue"}, seal)
	pb := decodeInto[pendingJSON](t, "prepare b", resp, body, 201)
	if pa.Number != "01/UBND-VP" || pb.Number != "02/UBND-VP" {
		t.Fatalf("prepared numbers %q and %q, want 01 and 02", pa.Number, pb.Number)
	}
	reg := e.outgoingRegister(t, "")
	if reg["last_number"] != 2.0 || reg["reserved"] != 2.0 || reg["documents"] != 0.0 {
		t.Errorf("while both are being signed: %v", reg)
	}
	resp, body = e.complete(t, clerk, pb.ID, signOutside(t, e.pki.Org.Key, pb))
	decodeInto[pendingJSON](t, "complete b", resp, body, 200)
	// someone else cannot cancel the clerk's request; the clerk can, with a reason
	if resp, body := e.rs.call(t, "POST", "/v1/signatures/"+pa.ID+"/cancel", e.keys["system"], "application/json",
		strings.NewReader(`{"reason":"x"}`)); resp.StatusCode != 404 {
		t.Errorf("cancel by another client: %d %s", resp.StatusCode, body)
	}
	resp, body = e.rs.call(t, "POST", "/v1/signatures/"+pa.ID+"/cancel", clerk, "application/json",
		strings.NewReader(`{"reason":"văn thư đóng phiên ký; ký lại sau"}`))
	if got := decodeInto[pendingJSON](t, "cancel", resp, body, 200); got.Status != "cancelled" {
		t.Fatalf("cancelled: %s", body)
	}
	if resp, body := e.complete(t, clerk, pa.ID, signOutside(t, e.pki.Org.Key, pa)); resp.StatusCode != 409 {
		t.Errorf("completing a cancelled request: %d %s", resp.StatusCode, body)
	}
	if resp, body := e.rs.call(t, "POST", "/v1/signatures/"+pa.ID+"/cancel", clerk, "", nil); resp.StatusCode != 409 {
		t.Errorf("cancelling twice: %d %s", resp.StatusCode, body)
	}
	// prepared again: a new number, never the voided one
	resp, body = e.prepare(t, clerk, e.pki.Org, nil, a, [2]any{"role", "issue"}, seal)
	pa2 := decodeInto[pendingJSON](t, "prepare a again", resp, body, 201)
	if pa2.Number != "03/UBND-VP" {
		t.Fatalf("prepared again: %q, want 03/UBND-VP", pa2.Number)
	}
	resp, body = e.complete(t, clerk, pa2.ID, signOutside(t, e.pki.Org.Key, pa2))
	decodeInto[pendingJSON](t, "complete a", resp, body, 200)
	if txt := testenv.PageText(t, e.download(t, a)); !strings.Contains(txt, "Số: 03/UBND-VP") {
		t.Errorf("document %d's page:\n%s", a, txt)
	}
	if rep := e.verifyPDF(t, "a.pdf", e.download(t, a)); rep.Indication != verify.TotalPassed {
		t.Errorf("document %d: %s", a, rep.Indication)
	}

	reg = e.outgoingRegister(t, "")
	if reg["last_number"] != 3.0 || reg["documents"] != 2.0 || reg["voided"] != 1.0 || reg["reserved"] != 0.0 {
		t.Errorf("register: %v", reg)
	}
	resp, body = e.rs.call(t, "GET", fmt.Sprintf("/v1/registers/%d/numbers", int64(reg["id"].(float64))), clerk, "", nil)
	nums := decodeInto[registerNumbersJSON](t, "numbers", resp, body, 200)
	var got []string
	for _, n := range nums.Numbers {
		got = append(got, fmt.Sprintf("%d:%s:%d", n.Number, n.Status, n.DocumentID))
	}
	if want := fmt.Sprintf("1:voided:%d 2:issued:%d 3:issued:%d", a, b, a); strings.Join(got, " ") != want {
		t.Fatalf("numbers: %s, want %s", strings.Join(got, " "), want)
	}
	if v := nums.Numbers[0]; !strings.Contains(v.Reason, "văn thư đóng phiên ký") || !strings.Contains(v.Reason, "cancelled") || v.At == "" || !strings.Contains(v.Actor, "van-thu") {
		t.Errorf("the voided number: %+v", v)
	}
	// the leader's client acts for the agency: it reads the numbers as it reads the
	// register book (GET /v1/registers/entries), voided ones included
	if resp, body := e.rs.call(t, "GET", fmt.Sprintf("/v1/registers/%d/numbers", int64(reg["id"].(float64))), e.keys["leader"], "", nil); resp.StatusCode != 200 || !strings.Contains(string(body), `"status":"voided"`) {
		t.Errorf("numbers as a leader: %d %s", resp.StatusCode, body)
	}
	if resp, _ := e.rs.call(t, "GET", "/v1/registers/999999/numbers", clerk, "", nil); resp.StatusCode != 404 {
		t.Errorf("numbers of no register: %d", resp.StatusCode)
	}
}

// TestSeriesOverAPI: with per-type series configured, an upload of type QĐ is in the
// QĐ series, a confidential one in Mật whatever its type, an override is checked, and
// the document JSON says which.
func TestSeriesOverAPI(t *testing.T) {
	e := newFlowEnv(t, "sqlite")
	f, err := os.OpenFile(e.cfgPath, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintln(f, "registers:\n  secret_series: Mật\n  outgoing: [{name: QĐ, types: [QĐ]}, {name: NQ, types: [NQ]}]")
	f.Close()
	e.restart(t, nil)
	doc := testenv.OnePagePDF("Quyết định")
	for _, c := range []struct {
		query  string
		status int
		series string
	}{
		{"type=Q%C4%90", 201, "QĐ"},
		{"type=CV", 201, ""},
		{"type=Q%C4%90&confidentiality=confidential", 201, "Mật"},
		{"type=CV&series=NQ", 201, "NQ"},
		{"type=Q%C4%90&series=main", 201, ""},
		{"type=CV&series=H%E1%BB%99i%20%C4%91%E1%BB%93ng", 400, ""},
		{"type=CV&series=M%E1%BA%ADt", 400, ""},
		{"type=CV&confidentiality=secret&series=NQ", 400, ""},
	} {
		resp, body := e.rs.call(t, "POST", "/v1/documents?agency=000.00.00.H43&symbol=QĐ-UBND&"+c.query, e.admin, "application/pdf", strings.NewReader(string(doc)))
		if resp.StatusCode != c.status {
			t.Errorf("%s: %d %s", c.query, resp.StatusCode, body)
			continue
		}
		if c.status != 201 {
			if problemType(body) != "invalid-request" {
				t.Errorf("%s: %s", c.query, body)
			}
			continue
		}
		var d map[string]any
		if err := json.Unmarshal(body, &d); err != nil || d["series"] != c.series {
			t.Errorf("%s: series %v, want %q (%s)", c.query, d["series"], c.series, body)
		}
	}
	// an incoming confidential document is registered in the secret incoming register
	resp, body := e.rs.call(t, "POST", "/v1/documents/receive?agency=000.00.00.G22&holder=000.00.00.H43&confidentiality=confidential&accept_indeterminate=true",
		e.admin, "application/pdf", strings.NewReader(string(testenv.OnePagePDF("Công văn mật đến"))))
	var d map[string]any
	if json.Unmarshal(body, &d); resp.StatusCode != 201 || d["series"] != "Mật" || d["register_number"] != 1.0 {
		t.Errorf("receive a confidential document: %d %s", resp.StatusCode, body)
	}
}

// TestIssueNumbersCLI: on the command line (a server key, no prepare), an issue that
// fails after its number was taken — the timestamp authority cannot be reached —
// voids the number with the reason; `kyso docs numbers` lists it; the next issues
// take the next numbers. Import chooses the series from type and confidentiality.
func TestIssueNumbersCLI(t *testing.T) {
	env := newCLIFlow(t)
	for i := 1; i <= 2; i++ {
		env.importAndApprove(t, i)
	}
	// 127.0.0.1:1 refuses connections: the signature is made, its timestamp is not
	if code, out := kysoExit(t, env.issueArgs("1", "--level", "B-T", "--tsa", "http://127.0.0.1:1/")...); code == 0 {
		t.Fatalf("an issue without its timestamp: exit 0\n%s", out)
	}
	for _, id := range []string{"2", "1"} {
		if code, out := kysoExit(t, env.issueArgs(id)...); code != 0 {
			t.Fatalf("issue %s: %d %s", id, code, out)
		}
	}
	code, out := kysoExit(t, "docs", "numbers", "--data-dir", env.data, "--agency", "000.00.00.H43", "--json")
	if code != 0 {
		t.Fatalf("docs numbers: %d %s", code, out)
	}
	var nums registerNumbersJSON
	if err := json.Unmarshal([]byte(out), &nums); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	var got []string
	for _, n := range nums.Numbers {
		got = append(got, fmt.Sprintf("%d:%s:%d", n.Number, n.Status, n.DocumentID))
	}
	if strings.Join(got, " ") != "1:voided:1 2:issued:2 3:issued:1" {
		t.Fatalf("numbers: %v", got)
	}
	if r := nums.Numbers[0].Reason; !strings.Contains(r, "the issue failed") {
		t.Errorf("reason %q", r)
	}
	code, out = kysoExit(t, "docs", "numbers", "--data-dir", env.data, "--agency", "000.00.00.H43")
	if code != 0 || !strings.Contains(out, "01  ") || !strings.Contains(out, "voided") || !strings.Contains(out, "the issue failed") {
		t.Errorf("docs numbers table: %d\n%s", code, out)
	}

	// series: the configuration's per-type series, Mật for classified documents, and
	// an override that is checked
	cfg := filepath.Join(t.TempDir(), "kyso.yaml")
	os.WriteFile(cfg, []byte("registers:\n  secret_series: Mật\n  outgoing: [{name: QĐ, types: [QĐ]}]\n"), 0o600)
	imp := func(extra ...string) (int, string) {
		args := append([]string{"docs", "import", "--config", cfg, "--data-dir", env.data, "--direction", "outgoing", "--agency", "000.00.00.H43",
			"--number", "QĐ-UBND", "--actor", "chuyên viên"}, extra...)
		return kysoExit(t, append(args, env.draft)...)
	}
	for _, c := range []struct {
		args   []string
		code   int
		series string
	}{
		{[]string{"--type", "QĐ"}, 0, "QĐ"},
		{[]string{"--type", "CV"}, 0, ""},
		{[]string{"--type", "QĐ", "--confidentiality", "secret"}, 0, "Mật"},
		{[]string{"--type", "CV", "--series", "QĐ"}, 0, "QĐ"},
		{[]string{"--type", "CV", "--series", "NQ"}, 2, ""},
		{[]string{"--type", "CV", "--confidentiality", "confidential", "--series", "main"}, 2, ""},
	} {
		code, out := imp(c.args...)
		if code != c.code {
			t.Errorf("import %v: %d, want %d: %s", c.args, code, c.code, out)
			continue
		}
		if code != 0 {
			continue
		}
		var id int64
		fmt.Sscanf(out, "%d", &id)
		if d := env.document(t, id); d.Series != c.series {
			t.Errorf("import %v: series %q, want %q", c.args, d.Series, c.series)
		}
	}
	// the CSV's optional series column
	csvPath := filepath.Join(t.TempDir(), "meta.csv")
	os.WriteFile(csvPath, []byte("file,direction,agency,holder,type,summary,number,issued,received,identifier,series\n"+
		env.draft+",outgoing,000.00.00.H43,,CV,Tờ trình,UBND-VP,,,,QĐ\n"), 0o600)
	code, out = kysoExit(t, "docs", "import", "--config", cfg, "--data-dir", env.data, "--csv", csvPath, "--actor", "chuyên viên")
	var id int64
	if fmt.Sscanf(out, "%d", &id); code != 0 || env.document(t, id).Series != "QĐ" {
		t.Errorf("import --csv with a series column: %d %s", code, out)
	}
}

// cliFlow is a SQLite store, the test PKI with its revocation servers, a leader and a
// clerk, for the docs commands.
type cliFlow struct {
	data, draft, sig, seal, leaderKey, orgKey, root, chain, leaderID, clerkID string
}

func newCLIFlow(t *testing.T) *cliFlow {
	t.Helper()
	p := pkitest.ServeRevocation(t) // docs issue checks the approval's revocation
	dir := t.TempDir()
	e := &cliFlow{data: filepath.Join(dir, "data"), draft: filepath.Join(dir, "draft.pdf"), sig: filepath.Join(dir, "sig.png"), seal: filepath.Join(dir, "seal.png"),
		leaderKey: "softkey:path=" + p.Path("leader.key") + ";cert=" + p.Path("leader.pem"),
		orgKey:    "softkey:path=" + p.Path("org.key") + ";cert=" + p.Path("org.pem"),
		root:      p.Path("root-ca.pem"), chain: p.Path("chain.pem")}
	os.WriteFile(e.sig, testenv.SignaturePNG(), 0o644)
	os.WriteFile(e.seal, testenv.SealPNG(), 0o644)
	os.WriteFile(e.draft, testenv.CongVanPDF(t), 0o644)
	e.leaderID = cliClient(t, e.data, "chu-tich", "leader", "000.00.00.H43", p.Leader.Cert)
	e.clerkID = cliClient(t, e.data, "van-thu", "clerk", "000.00.00.H43")
	return e
}

func (e *cliFlow) importAndApprove(t *testing.T, id int) {
	t.Helper()
	if code, out := kysoExit(t, "docs", "import", "--data-dir", e.data, "--direction", "outgoing", "--agency", "000.00.00.H43",
		"--number", "UBND-VP", "--type", "CV", "--actor", "chuyên viên", e.draft); code != 0 {
		t.Fatalf("import: %d %s", code, out)
	}
	if code, out := kysoExit(t, "docs", "approve", fmt.Sprint(id), "--data-dir", e.data, "--key", e.leaderKey, "--chain", e.chain,
		"--image", e.sig, "--page", "1", "--rect", "300,100,480,160", "--as", e.leaderID, "--actor", "Chủ tịch", "--trust", e.root); code != 0 {
		t.Fatalf("approve %d: %d %s", id, code, out)
	}
}

func (e *cliFlow) issueArgs(id string, extra ...string) []string {
	return append([]string{"docs", "issue", id, "--data-dir", e.data, "--key", e.orgKey, "--chain", e.chain,
		"--seal", e.seal, "--seal-size", "60", "--as", e.clerkID, "--actor", "văn thư", "--trust", e.root}, extra...)
}

func (e *cliFlow) document(t *testing.T, id int64) *store.Document {
	t.Helper()
	st, err := store.Open(t.Context(), store.Config{DSN: filepath.Join(e.data, "kyso.db"), BlobDir: filepath.Join(e.data, "blobs")})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	d, err := st.GetDocument(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	return d
}
