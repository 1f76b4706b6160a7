package main

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kyso-vn/kyso/api"
	"github.com/kyso-vn/kyso/app"
	"github.com/kyso-vn/kyso/pkg/docid"
)

// TestRegistersThroughCLIAndAPI fills agency A's incoming register through a running
// `kyso serve`, then reads it through the API (JSON and CSV) and through the CLI on the
// same store: the rows in number order with Phụ lục IV's columns, the CSV with its
// UTF-8 BOM and the same bytes on both surfaces, another agency's clerk refused alike,
// and `docs list --json` and `stats --json` printing exactly the API's JSON.
func TestRegistersThroughCLIAndAPI(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	cfgPath := filepath.Join(dir, "kyso.yaml")
	if err := os.WriteFile(cfgPath, []byte(fmt.Sprintf("store:\n  data_dir: %q\n", data)), 0o600); err != nil {
		t.Fatal(err)
	}
	// Classified documents stay in the main register here (where the configuration puts
	// them in a secret series, that series is listed with --series), so one book shows a
	// row withheld from a reader without the clearance.
	rs := startServe(t, cfgPath, map[string]string{"KYSO_REGISTERS_SECRET_SERIES": ""})
	admin := adminKeyLine.FindStringSubmatch(rs.stdout.String())[1]
	clients := map[string]struct{ ID, APIKey string }{}
	for name, agency := range map[string]string{"clerkA": agencyA, "clerkB": agencyB} {
		b, _ := json.Marshal(map[string]any{"name": name, "role": "clerk", "agencies": []string{agency}})
		resp, out := rs.call(t, "POST", "/v1/clients", admin, "application/json", bytes.NewReader(b))
		made := decodeInto[struct {
			ID     string `json:"id"`
			APIKey string `json:"api_key"`
		}](t, name, resp, out, 201)
		clients[name] = struct{ ID, APIKey string }{made.ID, made.APIKey}
	}
	// Three documents arrive at A (not in date order), one at B, one at A in April.
	for _, d := range []struct{ holder, received, typ, summary, number, urgency, conf string }{
		{agencyA, "2026-03-05", "QĐ", "Về việc phê duyệt kế hoạch", "12", "urgent", ""},
		{agencyA, "2026-03-02", "CV", "Về việc báo cáo số liệu", "7", "", ""},
		{agencyA, "2026-03-10", "TB", "Thông báo, kết luận", "30", "flash", "confidential"},
		{agencyB, "2026-03-06", "CV", "Gửi B", "1", "", ""},
		{agencyA, "2026-04-01", "CV", "Tháng sau", "2", "", ""},
	} {
		q := url.Values{"agency": {agencyB}, "holder": {d.holder}, "type": {d.typ}, "summary": {d.summary}, "symbol": {"VPCP-TTĐT"},
			"number": {d.number}, "issued": {"2026-02-27"}, "received": {d.received}, "urgency": {d.urgency}, "confidentiality": {d.conf},
			"accept_indeterminate": {"true"}} // scans without a signature, registered knowingly
		if d.holder == agencyB {
			q.Set("agency", agencyA)
		}
		resp, out := rs.call(t, "POST", "/v1/documents/receive?"+q.Encode(), admin, "application/pdf", bytes.NewReader(serveTestPDF(d.summary)))
		decodeInto[map[string]any](t, "receive "+d.summary, resp, out, 201)
	}
	period := "agency=" + agencyA + "&kind=in&from=2026-03-01&to=2026-03-31"
	cli := func(wantExit int, args ...string) string {
		t.Helper()
		out, errOut, err := runKyso(t, append(args, "--data-dir", data)...)
		if got := exitCode(err); got != wantExit {
			t.Fatalf("kyso %s: exit %d (%v) %s, want %d", strings.Join(args, " "), got, err, errOut, wantExit)
		}
		if err != nil {
			return errorMessage(err)
		}
		return out
	}
	cliPeriod := []string{"--agency", agencyA, "--kind", "in", "--from", "2026-03-01", "--to", "2026-03-31"}

	// JSON: the rows in number order (arrival order), only March's, only A's.
	resp, body := rs.call(t, "GET", "/v1/registers/entries?"+period, clients["clerkA"].APIKey, "", nil)
	book := decodeInto[app.RegisterBook](t, "register", resp, body, 200)
	if len(book.Entries) != 3 || book.Kind != "incoming" || book.From != "2026-03-01" || book.To != "2026-03-31" {
		t.Fatalf("register %s", body)
	}
	for i, want := range []struct {
		number                      int
		day, numberSymbol, typeName string
	}{
		{1, "2026-03-05", "12/VPCP-TTĐT", "Quyết định"}, {2, "2026-03-02", "07/VPCP-TTĐT", "Công văn"}, {3, "2026-03-10", "30/VPCP-TTĐT", "Thông báo"},
	} {
		e := book.Entries[i]
		if i == 2 { // confidential, above clerk A's clearance
			if !e.Withheld || e.Number != 3 || e.Summary != "" || e.DocumentID != 0 {
				t.Errorf("row 2 for clerk A: %+v", e)
			}
			continue
		}
		if e.Number != want.number || e.Date.In(docid.Vietnam).Format(time.DateOnly) != want.day || e.NumberSymbol != want.numberSymbol ||
			e.TypeName != want.typeName || e.Issuer != agencyB || e.Verification != "NOT_SIGNED" {
			t.Errorf("row %d: %+v", i, e)
		}
	}
	// CSV: the BOM, Phụ lục IV's header, the same rows with Vietnamese dates and marks.
	resp, csvBody := rs.call(t, "GET", "/v1/registers/entries.csv?"+period, clients["clerkA"].APIKey, "", nil)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/csv; charset=utf-8" || !bytes.HasPrefix(csvBody, []byte("\xef\xbb\xbf")) {
		t.Fatalf("CSV: %d %q %q", resp.StatusCode, resp.Header.Get("Content-Type"), csvBody[:min(len(csvBody), 20)])
	}
	rows, err := csv.NewReader(bytes.NewReader(csvBody[3:])).ReadAll()
	if err != nil || len(rows) != 4 || !slices.Equal(rows[0], app.RegisterCSVHeader["incoming"]) {
		t.Fatalf("CSV rows %q (%v)", rows, err)
	}
	if !slices.Equal(rows[0][:3], []string{"Số đến", "Ngày đến", "Tác giả"}) || rows[0][9] != "Ghi chú" {
		t.Errorf("header %q", rows[0])
	}
	if got := rows[1]; got[0] != "01" || got[1] != "05/03/2026" || got[2] != agencyB || got[3] != "12/VPCP-TTĐT" || got[4] != "27/02/2026" ||
		got[5] != "Quyết định Về việc phê duyệt kế hoạch" || got[8] != "Khẩn" {
		t.Errorf("first row %q", got)
	}
	// The confidential third row is beyond clerk A's clearance: its number and date
	// only, so the book shows no gap; the admin sees it whole.
	if got := rows[3]; got[0] != "03" || got[1] != "10/03/2026" || got[3] != "" || got[5] != "" || !strings.Contains(got[9], "không hiển thị") {
		t.Errorf("third row for clerk A %q", got)
	}
	_, adminCSV := rs.call(t, "GET", "/v1/registers/entries.csv?"+period, admin, "", nil)
	if rows, err := csv.NewReader(bytes.NewReader(adminCSV[3:])).ReadAll(); err != nil || len(rows) != 4 ||
		rows[3][5] != "Thông báo, kết luận" || rows[3][8] != "Mật; Hỏa tốc" {
		t.Errorf("third row for the admin %q (%v)", rows, err)
	}
	// Another agency's clerk is refused on both surfaces with the same words; the
	// public is not let in.
	resp, body = rs.call(t, "GET", "/v1/registers/entries.csv?"+period, clients["clerkB"].APIKey, "", nil)
	var p api.Problem
	if err := json.Unmarshal(body, &p); err != nil || resp.StatusCode != 403 {
		t.Fatalf("clerk B: %d %s", resp.StatusCode, body)
	}
	if msg := cli(1, append([]string{"registers", "list", "--as", clients["clerkB"].ID}, cliPeriod...)...); msg != p.Detail {
		t.Errorf("clerk B on the CLI: %q, the API: %q", msg, p.Detail)
	}
	if resp, _ := rs.call(t, "GET", "/v1/registers/entries?"+period, "", "", nil); resp.StatusCode != 401 {
		t.Errorf("the public: %d", resp.StatusCode)
	}
	// The CLI writes the same CSV bytes (as clerk A, and as the database's operator who
	// sees what the admin sees), and prints the same JSON.
	for _, c := range []struct {
		as   []string
		want []byte
	}{{[]string{"--as", clients["clerkA"].ID}, csvBody}, {nil, adminCSV}} {
		file := filepath.Join(dir, "so-den.csv")
		cli(0, append(append([]string{"registers", "export", "--csv", file}, c.as...), cliPeriod...)...)
		if got, err := os.ReadFile(file); err != nil || !bytes.Equal(got, c.want) {
			t.Errorf("kyso registers export %v wrote %q (%v), the API %q", c.as, got, err, c.want)
		}
	}
	sameJSON(t, "registers list --json", cli(0, append([]string{"registers", "list", "--json", "--as", clients["clerkA"].ID}, cliPeriod...)...), body2(t, rs, "/v1/registers/entries?"+period, clients["clerkA"].APIKey))
	table := cli(0, append([]string{"registers", "list", "--lang", "vi"}, cliPeriod...)...)
	for _, want := range []string{"SỔ ĐĂNG KÝ VĂN BẢN ĐẾN", "01/03/2026", "31/03/2026", "05/03/2026", "Quyết định Về việc phê duyệt kế hoạch", "3 dòng"} {
		if !strings.Contains(table, want) {
			t.Errorf("the register's table lacks %q:\n%s", want, table)
		}
	}
	// Bad requests are usage errors on the CLI and 400 on the API.
	cli(2, "registers", "list", "--agency", agencyA, "--kind", "sideways", "--from", "2026-03-01", "--to", "2026-03-31")
	cli(2, "registers", "list", "--agency", agencyA, "--kind", "in", "--from", "01/03/2026", "--to", "2026-03-31")
	if resp, _ := rs.call(t, "GET", "/v1/registers/entries?agency="+agencyA+"&kind=in&from=2026-03-31&to=2026-03-01", admin, "", nil); resp.StatusCode != 400 {
		t.Errorf("a period turned around: %d", resp.StatusCode)
	}

	// docs list --json is the API's GET /v1/documents, key for key and value for value.
	sameJSON(t, "docs list --json", cli(0, "docs", "list", "--json"), body2(t, rs, "/v1/documents", admin))
	var listed struct{ Documents []map[string]any }
	if err := json.Unmarshal([]byte(cli(0, "docs", "list", "--json")), &listed); err != nil || len(listed.Documents) != 5 {
		t.Fatalf("docs list --json: %v %+v", err, listed)
	}
	for _, key := range []string{"id", "status", "agency_code", "holder_code", "register_number", "received_at"} {
		if _, ok := listed.Documents[0][key]; !ok {
			t.Errorf("docs list --json lacks %q: %v", key, listed.Documents[0])
		}
	}
	// stats --json is the API's GET /v1/stats for the same period.
	sameJSON(t, "stats --json", cli(0, "stats", "--json", "--from", "2026-03-01", "--to", "2026-03-31"), body2(t, rs, "/v1/stats?from=2026-03-01&to=2026-03-31", admin))
}

// body2 is the body of a GET that must answer 200.
func body2(t *testing.T, rs *runningServer, path, key string) string {
	t.Helper()
	resp, body := rs.call(t, "GET", path, key, "", nil)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", path, resp.StatusCode, body)
	}
	return string(body)
}

// sameJSON compares two JSON texts as values.
func sameJSON(t *testing.T, what, cli, api string) {
	t.Helper()
	var a, b any
	if err := json.Unmarshal([]byte(cli), &a); err != nil {
		t.Fatalf("%s: %v: %s", what, err, cli)
	}
	if err := json.Unmarshal([]byte(api), &b); err != nil {
		t.Fatalf("%s: the API's: %v: %s", what, err, api)
	}
	if !reflect.DeepEqual(a, b) {
		t.Errorf("%s differs from the API's:\nCLI %s\nAPI %s", what, cli, api)
	}
}
