package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kyso-vn/kyso/app"
	"github.com/kyso-vn/kyso/internal/testenv"
	"github.com/kyso-vn/kyso/internal/testpki"
	"github.com/kyso-vn/kyso/pkg/config"
	"github.com/kyso-vn/kyso/pkg/docid"
	"github.com/kyso-vn/kyso/pkg/store"
)

const (
	agencyA = "000.00.00.H43"
	agencyB = "000.00.00.G22"
)

// authzEnv is a real `kyso serve` (CSC enabled) with two agencies' clients and a
// document of each confidentiality level.
type authzEnv struct {
	*flowEnv
	key  map[string]string // API key by principal; "public" has none
	id   map[string]string // client id by principal
	docs map[string]int64  // A, Asecret, Atop (agency A), B (agency B)
}

// principals, in the order the matrix reports them.
var principals = []string{"admin", "sysA", "clerkA", "leaderA", "sysB", "clerkB", "leaderB", "public"}

// sees is who sees which document: agencies, then clearance (admins see all).
var sees = map[string][]string{
	"admin":   {"A", "Asecret", "Atop", "B"},
	"sysA":    {"A"},
	"clerkA":  {"A", "Asecret"}, // cleared for secret, not top secret
	"leaderA": {"A"},
	"sysB":    {"B"},
	"clerkB":  {"B"}, // cleared for top secret, but of agency B only
	"leaderB": {"B"},
	"public":  nil,
}

func newAuthzEnv(t *testing.T, backend string) *authzEnv {
	t.Helper()
	e := &authzEnv{flowEnv: newFlowEnv(t, backend), key: map[string]string{"public": ""}, id: map[string]string{}, docs: map[string]int64{}}
	secret := filepath.Join(filepath.Dir(e.cfgPath), "csc-secret")
	if err := os.WriteFile(secret, []byte(strings.Repeat("k", 40)), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(e.cfgPath, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(f, "csc:\n  enabled: true\n  secret_file: %q\n", secret)
	f.Close()
	e.restart(t, nil)
	e.key["admin"], e.id["admin"] = e.admin, ""
	p := e.pki
	for _, c := range []struct {
		name, role, agency, clearance string
		cert                          *testpki.Cert
	}{
		{"sysA", "system", agencyA, "", nil},
		{"clerkA", "clerk", agencyA, "secret", nil},
		{"leaderA", "leader", agencyA, "", p.Leader},
		{"sysB", "system", agencyB, "", nil},
		{"clerkB", "clerk", agencyB, "top_secret", nil},
		{"leaderB", "leader", agencyB, "", p.PersonalEC},
	} {
		body := map[string]any{"name": c.name, "role": c.role, "agencies": []string{c.agency}, "clearance": c.clearance}
		if c.cert != nil {
			body["certificates"] = []string{certPEM(c.cert.Cert)}
		}
		b, _ := json.Marshal(body)
		resp, out := e.rs.call(t, "POST", "/v1/clients", e.admin, "application/json", bytes.NewReader(b))
		made := decodeInto[struct {
			ID     string `json:"id"`
			APIKey string `json:"api_key"`
		}](t, "client "+c.name, resp, out, 201)
		e.key[c.name], e.id[c.name] = made.APIKey, made.ID
	}
	for name, d := range map[string]struct{ agency, conf string }{
		"A": {agencyA, ""}, "Asecret": {agencyA, "secret"}, "Atop": {agencyA, "top_secret"}, "B": {agencyB, ""},
	} {
		q := url.Values{"agency": {d.agency}, "symbol": {"UBND-VP"}, "summary": {"Văn bản " + name + " mamat" + name}, "confidentiality": {d.conf}}
		content := serveTestPDF("Van ban " + name)
		if name == "A" {
			content = testenv.CongVanPDF(t) // blanks for the number and date: issuable
		}
		resp, out := e.rs.call(t, "POST", "/v1/documents?"+q.Encode(), e.admin, "application/pdf", bytes.NewReader(content))
		e.docs[name] = decodeInto[docJSON](t, "document "+name, resp, out, 201).ID
	}
	return e
}

// store opens the server's store beside it, to read the audit trail.
func (e *authzEnv) store(t *testing.T) *store.Store {
	t.Helper()
	cfg, err := config.Load(e.cfgPath, func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	st, err := openServeStore(context.Background(), cfg, filepath.Join(filepath.Dir(e.cfgPath), "data"), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// TestAuthzMatrix: every route of the API, every role, two agencies and the
// confidentiality levels, against a real server on SQLite and on PostgreSQL.
func TestAuthzMatrix(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) { testAuthzMatrix(t, newAuthzEnv(t, backend)) })
	}
}

func testAuthzMatrix(t *testing.T, e *authzEnv) {
	// Reads: a document one may not see answers exactly as one that does not exist.
	missing := e.docs["B"] + 1000
	_, gone := e.rs.call(t, "GET", fmt.Sprintf("/v1/documents/%d", missing), e.admin, "", nil)
	for _, who := range principals {
		for doc, id := range e.docs {
			visible := slices.Contains(sees[who], doc)
			for _, path := range []string{"/v1/documents/%d", "/v1/documents/%d/content"} {
				resp, body := e.rs.call(t, "GET", fmt.Sprintf(path, id), e.key[who], "", nil)
				want := 404
				switch {
				case who == "public":
					want = 401
				case visible:
					want = 200
				}
				if resp.StatusCode != want {
					t.Errorf("GET "+path+" (%s) as %s: %d %s, want %d", id, doc, who, resp.StatusCode, body, want)
				}
				if want == 404 && !sameProblem(body, gone, id, missing) {
					t.Errorf("GET "+path+" as %s: %s differs from the answer for a missing id: %s", id, who, body, gone)
				}
			}
		}
		if who == "public" {
			continue
		}
		// Listings and searches hold what one sees, and nothing of the rest, not even
		// a summary word.
		resp, body := e.rs.call(t, "GET", "/v1/documents?limit=1000", e.key[who], "", nil)
		got := listed(t, resp, body)
		for doc, id := range e.docs {
			if slices.Contains(got, id) != slices.Contains(sees[who], doc) {
				t.Errorf("list as %s: %v holds %s (%d)=%v, want %v", who, got, doc, id, slices.Contains(got, id), slices.Contains(sees[who], doc))
			}
			resp, body := e.rs.call(t, "GET", "/v1/documents?text=mamat"+doc, e.key[who], "", nil)
			if hit := len(listed(t, resp, body)) > 0; hit != slices.Contains(sees[who], doc) || (!hit && strings.Contains(string(body), "mamat")) {
				t.Errorf("search for %s's summary as %s: %s", doc, who, body)
			}
		}
	}

	// Every route, every principal: the status says who gets past the rules.
	resp, body := e.prepare(t, e.key["leaderA"], e.pki.Leader, nil, e.docs["A"])
	pending := decodeInto[pendingJSON](t, "leaderA prepares", resp, body, 201)
	pdf := serveTestPDF("Cong van den")
	resp, body = e.rs.call(t, "POST", "/v1/registers", e.admin, "application/json", strings.NewReader(`{"agency":"`+agencyA+`","kind":"outgoing","series":"matrix"}`))
	numbersA := fmt.Sprintf("/v1/registers/%d/numbers", decodeInto[struct{ ID int64 }](t, "register", resp, body, 201).ID)
	docA, issue := fmt.Sprintf("/v1/documents/%d", e.docs["A"]), fmt.Sprintf("/v1/documents/%d/issue", e.docs["A"])
	type row struct {
		method, path, ctype string
		body                func(who string) io.Reader
		want                map[string]int // by principal; absent: the default
		def                 int            // for the clients not in want (the public: 401 unless in want)
	}
	text := func(s string) func(string) io.Reader { return func(string) io.Reader { return strings.NewReader(s) } }
	none := func(string) io.Reader { return nil }
	today := time.Now().In(docid.Vietnam).Format(time.DateOnly)
	bookQuery := "agency=" + agencyA + "&kind=in&from=" + today + "&to=" + today
	rows := []row{
		{"GET", "/healthz", "", none, map[string]int{"public": 200}, 200},
		{"GET", "/readyz", "", none, map[string]int{"public": 200}, 200},
		{"GET", "/metrics", "", none, map[string]int{"public": 200}, 200},
		{"GET", "/openapi.json", "", none, map[string]int{"public": 200}, 200},
		// org is granted to role:clerk, and is agency A's key: clerkB may not use it.
		{"POST", "/v1/sign?key=org&format=cades", "application/octet-stream", text("x"), map[string]int{"clerkA": 200}, 403},
		// an approval over A: only A's leader; B's clients do not see A at all.
		{"POST", "/v1/signatures", "", nil, map[string]int{"leaderA": 201, "sysB": 404, "clerkB": 404, "leaderB": 404}, 403},
		{"GET", "/v1/signatures/" + pending.ID, "", none, map[string]int{"leaderA": 200}, 404},
		{"POST", "/v1/signatures/" + pending.ID + "/complete", "application/json", text(`{"signature":"AAAA"}`), map[string]int{"leaderA": 422}, 404},
		// only the client that prepared it cancels it; to the others it does not exist
		{"POST", "/v1/signatures/" + pending.ID + "/cancel", "", none, map[string]int{"leaderA": 200}, 404},
		{"POST", "/v1/verify", "application/pdf", text("not a pdf"), map[string]int{"public": 422}, 422},
		// extend: any client, no key involved; the body is judged past the rules
		{"POST", "/v1/extend?level=B-LT", "application/pdf", text("not a pdf"), nil, 422},
		{"POST", "/v1/documents?agency=" + agencyA, "application/pdf", func(string) io.Reader { return bytes.NewReader(pdf) },
			map[string]int{"admin": 201, "sysA": 201, "clerkA": 201, "leaderA": 201}, 403},
		{"GET", "/v1/documents", "", none, nil, 200},
		{"GET", docA, "", none, map[string]int{"admin": 200, "sysA": 200, "clerkA": 200, "leaderA": 200}, 404},
		{"GET", docA + "/content", "", none, map[string]int{"admin": 200, "sysA": 200, "clerkA": 200, "leaderA": 200}, 404},
		// issue: the key grant first (clerks only, of org's agency), then the workflow
		// (A is a draft); leaders are refused by role.
		{"POST", issue, "application/json", text(`{"key":"org"}`), map[string]int{"clerkA": 409}, 403},
		// the lifecycle steps: the agency's clerks and leaders (A is a draft: nothing to
		// recall or send back, and A cannot replace itself: 409, 400 past the rules); B's
		// do not see A; other roles are refused.
		{"POST", docA + "/return-to-draft", "application/json", text(`{"reason":"x"}`), map[string]int{"clerkA": 409, "leaderA": 409, "clerkB": 404, "leaderB": 404}, 403},
		{"POST", docA + "/recall", "application/json", text(`{"reason":"x"}`), map[string]int{"clerkA": 409, "leaderA": 409, "clerkB": 404, "leaderB": 404}, 403},
		{"POST", docA + "/replace", "application/json", text(fmt.Sprintf(`{"reason":"x","replaced_by":%d}`, e.docs["A"])), map[string]int{"clerkA": 400, "leaderA": 400, "clerkB": 404, "leaderB": 404}, 403},
		// an unsigned scan, accepted knowingly; one per caller (the same file twice is a conflict)
		{"POST", "/v1/documents/receive?accept_indeterminate=true&agency=" + agencyB + "&holder=" + agencyA, "application/pdf", func(who string) io.Reader { return bytes.NewReader(serveTestPDF("Cong van den " + who)) },
			map[string]int{"admin": 201, "sysA": 201, "clerkA": 201}, 403},
		{"GET", "/v1/registers", "", none, map[string]int{"leaderA": 403, "leaderB": 403}, 200},
		{"POST", "/v1/registers", "application/json", func(who string) io.Reader {
			return strings.NewReader(`{"agency":"` + agencyA + `","kind":"incoming","series":"s-` + who + `"}`)
		}, map[string]int{"admin": 201}, 403},
		// A register book: only the agency's own clients (and the admin).
		{"GET", "/v1/registers/entries?" + bookQuery, "", none, map[string]int{"admin": 200, "sysA": 200, "clerkA": 200, "leaderA": 200}, 403},
		{"GET", "/v1/registers/entries.csv?" + bookQuery, "", none, map[string]int{"admin": 200, "sysA": 200, "clerkA": 200, "leaderA": 200}, 403},
		// A's register: its issuers; B's see no such register; leaders may not read registers
		{"GET", numbersA, "", none, map[string]int{"admin": 200, "sysA": 200, "clerkA": 200, "leaderA": 200}, 404},
		{"GET", "/v1/agencies?code=" + agencyA, "", none, nil, 404}, // no agency list imported: past the rules, none found
		{"POST", "/v1/agencies", "text/csv", text("not,a,valid\n"), map[string]int{"admin": 400}, 403},
		{"GET", "/v1/keys", "", none, nil, 200},
		{"PUT", "/v1/keys/org/grants/role:system", "", none, map[string]int{"admin": 204}, 403},
		{"DELETE", "/v1/keys/org/grants/role:system", "", none, map[string]int{"admin": 204}, 403},
		{"GET", "/v1/certificates", "", none, nil, 200},
		{"GET", "/v1/stats", "", none, map[string]int{"admin": 200, "leaderA": 200, "leaderB": 200}, 403},
		{"POST", "/v1/clients", "application/json", func(who string) io.Reader {
			return strings.NewReader(`{"name":"made-by-` + who + `","role":"system","agencies":["` + agencyA + `"]}`)
		}, map[string]int{"admin": 201}, 403},
		{"DELETE", "/v1/clients/999999", "", none, map[string]int{"admin": 404}, 403},
	}
	// The rows cover every operation the API documents, so a route added without a row
	// here fails.
	covered := []string{"GET /healthz", "GET /readyz", "GET /metrics", "GET /openapi.json", "POST /v1/sign",
		"POST /v1/signatures", "GET /v1/signatures/{id}", "POST /v1/signatures/{id}/complete", "POST /v1/signatures/{id}/cancel",
		"POST /v1/verify", "POST /v1/extend",
		"POST /v1/documents", "GET /v1/documents", "GET /v1/documents/{id}", "GET /v1/documents/{id}/content",
		"POST /v1/documents/{id}/issue", "POST /v1/documents/{id}/return-to-draft", "POST /v1/documents/{id}/recall",
		"POST /v1/documents/{id}/replace", "POST /v1/documents/receive", "GET /v1/registers", "POST /v1/registers",
		"GET /v1/registers/entries", "GET /v1/registers/entries.csv",
		"GET /v1/registers/{id}/numbers", "GET /v1/agencies", "POST /v1/agencies", "GET /v1/keys", "PUT /v1/keys/{name}/grants/{principal}",
		"DELETE /v1/keys/{name}/grants/{principal}", "GET /v1/certificates", "GET /v1/stats", "POST /v1/clients",
		"DELETE /v1/clients/{id}"}
	_, spec := e.rs.call(t, "GET", "/openapi.json", "", "", nil)
	var doc struct {
		Paths map[string]map[string]json.RawMessage
	}
	if err := json.Unmarshal(spec, &doc); err != nil {
		t.Fatal(err)
	}
	var documented []string
	for path, ops := range doc.Paths {
		for m := range ops {
			if m == "get" || m == "post" || m == "put" || m == "delete" || m == "patch" {
				documented = append(documented, strings.ToUpper(m)+" "+path)
			}
		}
	}
	slices.Sort(documented)
	if want := slices.Sorted(slices.Values(covered)); !slices.Equal(documented, want) || len(rows) != len(covered) {
		t.Fatalf("the matrix covers %v (%d rows), the API documents %v", want, len(rows), documented)
	}
	for _, r := range rows {
		for _, who := range principals {
			want, ok := r.want[who]
			if !ok {
				want = r.def
				if who == "public" {
					want = 401 // the public is admitted only where a row names it
				}
			}
			ctype, b := r.ctype, io.Reader(nil)
			if r.body != nil {
				b = r.body(who)
			} else { // prepare over A with the caller's own certificate, or the leader's
				signer := e.pki.Leader
				if who == "leaderB" {
					signer = e.pki.PersonalEC
				}
				var buf *bytes.Buffer
				ctype, buf = multipartBody(t, [][2]any{{"certificate", certPEM(signer.ChainWithLeaf()...)}, {"document_id", fmt.Sprint(e.docs["A"])}})
				b = buf
			}
			resp, body := e.rs.call(t, r.method, r.path, e.key[who], ctype, b)
			if resp.StatusCode != want {
				t.Errorf("%s %s as %s: %d %s, want %d", r.method, r.path, who, resp.StatusCode, body, want)
			}
		}
	}
	// Registers and statistics are filtered to one's agencies.
	for _, who := range []string{"sysB", "clerkB"} {
		_, body := e.rs.call(t, "GET", "/v1/registers", e.key[who], "", nil)
		if strings.Contains(string(body), agencyA) {
			t.Errorf("registers as %s show agency A's: %s", who, body)
		}
	}
	_, body = e.rs.call(t, "GET", "/v1/registers", e.key["sysA"], "", nil)
	if !strings.Contains(string(body), `"series":"s-admin"`) {
		t.Errorf("registers as sysA lack agency A's: %s", body)
	}
	// An admin's reads are audited.
	st := e.store(t)
	reads, err := st.AuditEvents(context.Background(), e.docs["Atop"], 0)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(reads, func(ev store.AuditEvent) bool {
		return ev.Action == app.ActionRead && strings.HasPrefix(ev.Actor, "api client "+e.adminID(t))
	}) {
		t.Errorf("the admin's read of the top secret document is not audited: %+v", reads)
	}
}

// sameProblem reports whether two not-found problems differ only in the id they name
// and their request id.
func sameProblem(a, b []byte, idA, idB int64) bool {
	var pa, pb map[string]any
	if json.Unmarshal(a, &pa) != nil || json.Unmarshal(b, &pb) != nil {
		return false
	}
	delete(pa, "instance")
	delete(pb, "instance")
	pa["detail"] = strings.ReplaceAll(fmt.Sprint(pa["detail"]), fmt.Sprint(idA), "N")
	pb["detail"] = strings.ReplaceAll(fmt.Sprint(pb["detail"]), fmt.Sprint(idB), "N")
	ja, _ := json.Marshal(pa)
	jb, _ := json.Marshal(pb)
	return bytes.Equal(ja, jb)
}

// listed is the ids of a document listing.
func listed(t *testing.T, resp *http.Response, body []byte) []int64 {
	t.Helper()
	var l struct{ Documents []docJSON }
	if err := json.Unmarshal(body, &l); err != nil || resp.StatusCode != 200 {
		t.Fatalf("list: %d %s", resp.StatusCode, body)
	}
	var ids []int64
	for _, d := range l.Documents {
		ids = append(ids, d.ID)
	}
	return ids
}

// TestAuthzBypasses: each way around the rules the issue found, tried against a real
// server on SQLite and PostgreSQL, is refused, and what must be audited is.
func TestAuthzBypasses(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) { testAuthzBypasses(t, newAuthzEnv(t, backend)) })
	}
}

func testAuthzBypasses(t *testing.T, e *authzEnv) {
	A := e.docs["A"]
	refused := func(what string, resp *http.Response, body []byte, status int, says string) {
		t.Helper()
		if resp.StatusCode != status || !strings.Contains(string(body), says) {
			t.Errorf("%s: %d %s, want %d saying %q", what, resp.StatusCode, body, status, says)
		}
	}
	// A clerk approves a draft with its own personal certificate.
	resp, body := e.prepare(t, e.key["clerkA"], e.pki.Clerk, nil, A)
	refused("a clerk approves", resp, body, 403, "leader")
	// A leader approves with a certificate that is not its own.
	resp, body = e.prepare(t, e.key["leaderA"], e.pki.Clerk, nil, A)
	refused("a leader approves with another's certificate", resp, body, 403, "not registered to you")
	// A system (or leader) of another agency approves agency A's draft.
	resp, body = e.prepare(t, e.key["sysB"], e.pki.Leader, nil, A)
	refused("another agency's system approves", resp, body, 404, "no document")
	resp, body = e.prepare(t, e.key["leaderB"], e.pki.PersonalEC, nil, A)
	refused("another agency's leader approves", resp, body, 404, "no document")

	// The leader approves for real.
	resp, body = e.prepare(t, e.key["leaderA"], e.pki.Leader, nil, A)
	ap := decodeInto[pendingJSON](t, "leaderA prepares", resp, body, 201)
	if resp, body := e.complete(t, e.key["leaderA"], ap.ID, signOutside(t, e.pki.Leader.Key, ap)); resp.StatusCode != 200 {
		t.Fatalf("approve: %d %s", resp.StatusCode, body)
	}
	// The leader, refused on /issue, prepares role=issue with a self-signed "UBND
	// (FAKE)" certificate naming the agency; the clerk tries the same fake, and its own
	// personal certificate. None is prepared, and no number is taken.
	fake := fakeOrganisation(t)
	issueWith := func(who string, certs string) (*http.Response, []byte) {
		ct, b := multipartBody(t, [][2]any{{"certificate", certs}, {"document_id", fmt.Sprint(A)}, {"role", "issue"}})
		return e.rs.call(t, "POST", "/v1/signatures", e.key[who], ct, b)
	}
	resp, body = issueWith("leaderA", certPEM(fake))
	refused("a leader prepares an issue", resp, body, 403, "clerk")
	resp, body = issueWith("clerkA", certPEM(fake))
	refused("a clerk issues with a fake organisation certificate", resp, body, 403, "certificate/no-chain") // the type: the detail is Vietnamese first
	resp, body = issueWith("clerkA", certPEM(e.pki.Clerk.ChainWithLeaf()...))
	refused("a clerk issues with its personal certificate", resp, body, 403, "not the organisation certificate")
	if _, body := e.rs.call(t, "GET", "/v1/registers?agency="+agencyA, e.key["clerkA"], "", nil); strings.Contains(string(body), `"kind":"outgoing"`) && !strings.Contains(string(body), `"last_number":0`) {
		t.Errorf("a number was taken by the refused issues: %s", body)
	}
	// The clerk of another agency may not issue A, with A's key or at all.
	resp, body = e.rs.call(t, "POST", fmt.Sprintf("/v1/documents/%d/issue", A), e.key["clerkB"], "application/json", strings.NewReader(`{"key":"org"}`))
	refused("another agency's clerk issues", resp, body, 403, "key-not-granted")

	// The clerk prepares the issue on its token, showing number 01, and abandons it:
	// the number is not taken, so the issue with the server key below is 01 too; the
	// abandoned signature then completes no more (409), and nothing is numbered twice.
	resp, body = issueWith("clerkA", certPEM(e.pki.Org.ChainWithLeaf()...))
	abandoned := decodeInto[pendingJSON](t, "clerk prepares an issue", resp, body, 201)
	if abandoned.Number != "01/UBND-VP" {
		t.Fatalf("the prepared issue shows %q", abandoned.Number)
	}
	// The clerk of A issues it; then the issued text cannot be replaced through
	// /v1/sign?store=true&document_id=N, and the stored content stays.
	resp, body = e.rs.call(t, "POST", fmt.Sprintf("/v1/documents/%d/issue", A), e.key["clerkA"], "application/json", strings.NewReader(`{"key":"org"}`))
	issued := decodeInto[docJSON](t, "issue", resp, body, 200)
	if issued.Status != "issued" || issued.Number != 1 {
		t.Fatalf("issued: %s", body)
	}
	resp, body = e.complete(t, e.key["clerkA"], abandoned.ID, signOutside(t, e.pki.Org.Key, abandoned))
	refused("the abandoned issue completed after another", resp, body, 409, "")
	_, before := e.rs.call(t, "GET", fmt.Sprintf("/v1/documents/%d/content", A), e.key["clerkA"], "", nil)
	resp, body = e.rs.call(t, "POST", fmt.Sprintf("/v1/sign?key=org&store=true&document_id=%d", A), e.key["clerkA"], "application/pdf", bytes.NewReader(serveTestPDF("Noi dung khac")))
	refused("a new version of an issued document", resp, body, 409, "cannot change")
	if _, after := e.rs.call(t, "GET", fmt.Sprintf("/v1/documents/%d/content", A), e.key["clerkA"], "", nil); !bytes.Equal(before, after) {
		t.Error("the issued document's content changed")
	}

	// Every use of a server key is audited: an unstored /v1/sign and a CSC signHash.
	st := e.store(t)
	keyUses := func() []store.AuditEvent {
		all, err := st.AuditEvents(context.Background(), 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		var out []store.AuditEvent
		for _, ev := range all {
			if ev.Action == app.ActionKeyUse {
				out = append(out, ev)
			}
		}
		return out
	}
	n := len(keyUses())
	if n == 0 {
		t.Error("the issue's signature with org was not audited as a key use")
	}
	if resp, body := e.rs.call(t, "POST", "/v1/sign?key=org", e.key["clerkA"], "application/pdf", bytes.NewReader(serveTestPDF("Khong luu"))); resp.StatusCode != 200 {
		t.Fatalf("unstored sign: %d %s", resp.StatusCode, body)
	}
	digest := sha256.Sum256([]byte("csc document"))
	b64 := base64.StdEncoding.EncodeToString(digest[:])
	resp, body = e.rs.call(t, "POST", "/csc/v2/credentials/authorize", e.key["clerkA"], "application/json",
		strings.NewReader(`{"credentialID":"org","numSignatures":1,"hashes":["`+b64+`"],"hashAlgo":"2.16.840.1.101.3.4.2.1"}`))
	sad := decodeInto[struct{ SAD string }](t, "csc authorize", resp, body, 200)
	resp, body = e.rs.call(t, "POST", "/csc/v2/signatures/signHash", e.key["clerkA"], "application/json",
		strings.NewReader(`{"credentialID":"org","SAD":"`+sad.SAD+`","hashes":["`+b64+`"],"hashAlgo":"2.16.840.1.101.3.4.2.1","signAlgo":"1.2.840.113549.1.1.1"}`))
	if resp.StatusCode != 200 {
		t.Fatalf("csc signHash: %d %s", resp.StatusCode, body)
	}
	uses := keyUses()
	if len(uses) != n+2 {
		t.Fatalf("%d key uses audited after an unstored sign and a CSC signHash, want %d: %+v", len(uses), n+2, uses[n:])
	}
	for i, surface := range []string{"api", "csc"} {
		ev := uses[n+i]
		var d map[string]any
		_ = json.Unmarshal([]byte(ev.Detail), &d)
		if d["surface"] != surface || d["client_id"] != e.id["clerkA"] || d["key"] != "org" || d["digest"] == "" || !strings.HasPrefix(ev.KeyURI, "pkcs11:") {
			t.Errorf("key use %d: %+v", i, ev)
		}
	}
	if d := uses[n+1].Detail; !strings.Contains(d, fmt.Sprintf("%x", digest[:])) && !strings.Contains(d, "digest") {
		t.Errorf("the CSC key use does not name the digest: %s", d)
	}
	logs := e.rs.stdout.String() + e.rs.stderr.String()
	if !strings.Contains(logs, `"csc_method":"signatures/signHash","client_id":"`+e.id["clerkA"]+`"`) {
		t.Error("the log does not name the CSC method and client")
	}
	if !strings.Contains(logs, `"client_id":"`+e.id["clerkA"]+`"`) || !strings.Contains(logs, `"route":"/v1/sign"`) {
		t.Error("the access log does not name the client")
	}
}

// fakeOrganisation is a self-signed "UBND (FAKE)" certificate naming agency A.
func fakeOrganisation(t *testing.T) *x509.Certificate {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tpl := &x509.Certificate{
		SerialNumber: big.NewInt(42),
		Subject: pkix.Name{CommonName: "UBND (FAKE)", Organization: []string{"UBND (FAKE)"}, Country: []string{"VN"},
			ExtraNames: []pkix.AttributeTypeAndValue{{Type: asn1.ObjectIdentifier{2, 5, 4, 97}, Value: agencyA}}},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment,
	}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// adminID is the id of the admin client kyso serve made at its first start.
func (e *authzEnv) adminID(t *testing.T) string {
	t.Helper()
	c, err := e.store(t).ClientByName(context.Background(), "admin")
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprint(c.ID)
}
