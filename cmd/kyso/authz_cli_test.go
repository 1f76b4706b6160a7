package main

import (
	"context"
	"crypto/x509"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/kyso-vn/kyso/internal/testenv"
	"github.com/kyso-vn/kyso/pkg/pki/pkitest"
	"github.com/kyso-vn/kyso/pkg/store"
)

// TestAuthzCLI: the bypasses of the issue through the command line, on SQLite and
// PostgreSQL — a clerk approving, a leader approving with another's certificate or
// issuing, another agency's clerk issuing — are refused by the same rules as the API;
// and `kyso docs check` finds a status changed with plain SQL, and (with --head) the
// audit chain cut back with its head row.
func TestAuthzCLI(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) { testAuthzCLI(t, backend) })
	}
}

func testAuthzCLI(t *testing.T, backend string) {
	// The approval's certificate is checked for revocation at the URLs it names.
	p := pkitest.ServeRevocation(t)
	dir := t.TempDir()
	sc := store.Config{Driver: store.DriverSQLite, DSN: filepath.Join(dir, "kyso.db"), BlobDir: filepath.Join(dir, "blobs")}
	storeArgs := []string{"--data-dir", dir}
	if backend == "postgres" {
		sc = store.Config{Driver: store.DriverPostgres, DSN: testenv.StartPostgres(t), BlobDir: filepath.Join(dir, "blobs")}
		storeArgs = append(storeArgs, "--db-driver", "postgres", "--db-dsn", sc.DSN)
	}
	run := func(args ...string) (int, string) { return kysoExit(t, append(args, storeArgs...)...) }
	pkiDir := p.Dir
	softkey := func(name string) string {
		return "softkey:path=" + filepath.Join(pkiDir, name+".key") + ";cert=" + filepath.Join(pkiDir, name+".pem")
	}
	root, chain := filepath.Join(pkiDir, "root-ca.pem"), filepath.Join(pkiDir, "chain.pem")
	draft := filepath.Join(dir, "draft.pdf")
	if err := os.WriteFile(draft, testenv.CongVanPDF(t), 0o644); err != nil { // blanks for the number and date
		t.Fatal(err)
	}
	if code, out := run("docs", "import", "--direction", "outgoing", "--agency", agencyA, "--number", "UBND-VP",
		"--summary", "Về việc thử nghiệm", "--actor", "chuyên viên", draft); code != 0 {
		t.Fatalf("import: %d %s", code, out)
	}
	leader := storeClient(t, sc, "chu-tich", "leader", agencyA, p.Leader.Cert)
	clerk := storeClient(t, sc, "van-thu", "clerk", agencyA)
	clerkB := storeClient(t, sc, "van-thu-b", "clerk", agencyB)
	approve := func(key, as string) (int, string) {
		return run("docs", "approve", "1", "--key", key, "--chain", chain, "--as", as, "--actor", "người ký", "--trust", root)
	}
	issue := func(as string) (int, string) {
		return run("docs", "issue", "1", "--key", softkey("org"), "--chain", chain, "--as", as, "--actor", "văn thư", "--trust", root)
	}
	for _, c := range []struct {
		name string
		try  func() (int, string)
		says string
	}{
		{"a clerk approves", func() (int, string) { return approve(softkey("clerk"), clerk) }, "leader"},
		{"a leader approves with the clerk's certificate", func() (int, string) { return approve(softkey("clerk"), leader) }, "not registered to you"},
		{"no client named", func() (int, string) { return approve(softkey("leader"), "") }, "--as"},
	} {
		if code, out := c.try(); code == 0 || !strings.Contains(out, c.says) {
			t.Errorf("%s: exit %d: %s", c.name, code, out)
		}
	}
	if code, out := approve(softkey("leader"), leader); code != 0 {
		t.Fatalf("approve: %d %s", code, out)
	}
	for _, c := range []struct{ name, as, says string }{
		{"a leader issues", leader, "clerk"},
		{"another agency's clerk issues", clerkB, "no document 1"},
	} {
		if code, out := issue(c.as); code != 1 || !strings.Contains(out, c.says) {
			t.Errorf("%s: exit %d: %s", c.name, code, out)
		}
	}
	if code, out := issue(clerk); code != 0 {
		t.Fatalf("issue: %d %s", code, out)
	}

	// docs check: clean, then a status changed behind the store's back, then back.
	head := filepath.Join(dir, "head.json")
	if code, out := run("docs", "check", "--export-head", head); code != 0 || !strings.Contains(out, "OK") {
		t.Fatalf("check: %d %s", code, out)
	}
	if b, err := os.ReadFile(head); err != nil || !strings.Contains(string(b), `"last_hash"`) {
		t.Fatalf("exported head: %s %v", b, err)
	}
	st, err := store.Open(context.Background(), sc)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	sql := func(q string) {
		t.Helper()
		if err := st.DB().Exec(q).Error; err != nil {
			t.Fatal(err)
		}
	}
	sql("UPDATE documents SET status = 'approved' WHERE id = 1")
	if code, out := run("docs", "check"); code != 1 || !strings.Contains(out, "row_changed 1") {
		t.Errorf("check after the status changed: %d %s", code, out)
	}
	sql("UPDATE documents SET status = 'issued' WHERE id = 1")
	// The last two audit events removed and the head row moved back: consistent in
	// itself, found only against the head exported before.
	var last struct {
		LastID int64
	}
	if err := st.DB().Raw("SELECT last_id FROM audit_head WHERE id = 1").Scan(&last).Error; err != nil {
		t.Fatal(err)
	}
	keep := strconv.FormatInt(last.LastID-2, 10)
	sql("DELETE FROM audit_events WHERE id > " + keep)
	sql("UPDATE audit_head SET last_id = " + keep + ", last_hash = (SELECT hash FROM audit_events WHERE id = " + keep + ") WHERE id = 1")
	// (The chain alone may already object: the document's row no longer matches the
	// last event left about it. The exported head must object whatever was cut.)
	code, out := run("docs", "check")
	t.Logf("the cut chain alone: exit %d: %s", code, out)
	if code, out := run("docs", "check", "--head", head); code != 1 || !strings.Contains(out, "audit_truncated") {
		t.Errorf("check --head after the chain was cut: %d %s", code, out)
	}
}

// storeClient makes an API client in the store sc (as POST /v1/clients would) and
// returns its id, for --as.
func storeClient(t *testing.T, sc store.Config, name, role, agency string, certs ...*x509.Certificate) string {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, sc)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	_, hash, err := store.NewAPIKey()
	if err != nil {
		t.Fatal(err)
	}
	spec := store.ClientSpec{Name: name, Principal: role, Agencies: []string{agency}}
	for _, c := range certs {
		spec.Certificates = append(spec.Certificates, c.Raw)
	}
	c, err := st.CreateClientWith(ctx, spec, hash, "test")
	if err != nil {
		t.Fatal(err)
	}
	return strconv.FormatInt(c.ID, 10)
}
