package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/kyso-vn/kyso/internal/testenv"
	"github.com/kyso-vn/kyso/pkg/store"
)

// runKyso runs the CLI in-process and returns its standard output.
type cliBackend struct {
	name  string
	flags func(t *testing.T) []string
}

var cliBackends = []cliBackend{
	{"sqlite", func(t *testing.T) []string { return []string{"--data-dir", filepath.Join(t.TempDir(), "data")} }},
	{"postgres", func(t *testing.T) []string {
		return []string{"--db-driver", "postgres", "--db-dsn", testenv.StartPostgres(t), "--data-dir", t.TempDir()}
	}},
}

func TestDocsImportListGetCheck(t *testing.T) {
	for _, b := range cliBackends {
		t.Run(b.name, func(t *testing.T) {
			db := b.flags(t)
			dir := t.TempDir()
			files := map[string]string{"cv-7816.pdf": "%PDF-1.7 văn bản 7816", "b.pdf": "%PDF-1.7 b", "c.txt": "plain"}
			var paths []string
			for name, body := range files {
				p := filepath.Join(dir, name)
				if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
					t.Fatal(err)
				}
				paths = append(paths, p)
			}
			args := append([]string{"docs"}, db...)
			_, stderr, err := runKyso(t, append(append(args, "import", "--agency", "000.00.00.G22", "--holder", "000.00.00.H43",
				"--type", "CV", "--summary", "Về việc triển khai chữ ký số", "--received", "2021-03-05"), paths...)...)
			if err != nil {
				t.Fatalf("import: %v\n%s", err, stderr)
			}
			if !strings.Contains(stderr, "imported 3 documents") || !strings.Contains(stderr, "documents/s") {
				t.Errorf("no rate summary: %q", stderr)
			}
			// the same file again for the same holder is refused (one registration per content)
			_, _, err = runKyso(t, append(args, "import", "--identifier", "000.00.00.G22,2015/09/30,7816/VPCP-TTĐT",
				"--holder", "000.00.00.H43", "--received", "2021-03-06", filepath.Join(dir, "cv-7816.pdf"))...)
			if err == nil {
				t.Fatal("the same file was registered twice")
			}
			files["cv-7816-edxml.pdf"] = "%PDF-1.7 văn bản 7816, bản nhận qua trục"
			os.WriteFile(filepath.Join(dir, "cv-7816-edxml.pdf"), []byte(files["cv-7816-edxml.pdf"]), 0o600)
			_, _, err = runKyso(t, append(args, "import", "--identifier", "000.00.00.G22,2015/09/30,7816/VPCP-TTĐT",
				"--holder", "000.00.00.H43", "--received", "2021-03-06", filepath.Join(dir, "cv-7816-edxml.pdf"))...)
			if err != nil {
				t.Fatal(err)
			}

			out, _, err := runKyso(t, append(args, "list", "--json", "--text", "chữ ký")...)
			if err != nil {
				t.Fatal(err)
			}
			var docs []store.Document
			if err := json.Unmarshal([]byte(out), &docs); err != nil || len(docs) != 3 {
				t.Fatalf("list --text: %d documents, %v\n%s", len(docs), err, out)
			}
			out, _, err = runKyso(t, append(args, "list")...)
			if err != nil || !strings.Contains(out, "7816/VPCP-TTĐT") || !strings.Contains(out, "04/2021") {
				t.Errorf("list table:\n%s %v", out, err)
			}

			target := filepath.Join(t.TempDir(), "out.pdf")
			if _, _, err := runKyso(t, append(args, "get", "000.00.00.G22,2015/09/30,7816/VPCP-TTĐT", "--out", target)...); err != nil {
				t.Fatal(err)
			}
			if got, _ := os.ReadFile(target); string(got) != files["cv-7816-edxml.pdf"] {
				t.Errorf("get --out wrote %q", got)
			}
			out, _, err = runKyso(t, append(args, "get", "4")...)
			if err != nil || !strings.Contains(out, "receive") || !strings.Contains(out, "download") {
				t.Errorf("get shows no audit trail:\n%s %v", out, err)
			}
			if _, _, err := runKyso(t, append(args, "get", "99")...); err == nil {
				t.Error("get of a missing document succeeded")
			}

			out, _, err = runKyso(t, append(args, "check")...)
			if err != nil || !strings.HasSuffix(out, "OK\n") || !strings.Contains(out, "audit events: 5") {
				t.Fatalf("check: %v\n%s", err, out)
			}

			// Someone edits audit event 2 in the database by hand.
			s, err := (&storeFlags{driver: flagValue(db, "--db-driver", "sqlite"), dsn: flagValue(db, "--db-dsn", ""),
				dataDir: flagValue(db, "--data-dir", "")}).open(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if err := s.DB().Exec("UPDATE audit_events SET actor = 'nobody' WHERE id = 2").Error; err != nil {
				t.Fatal(err)
			}
			s.Close()
			out, _, err = runKyso(t, append(args, "check")...)
			var ee *exitError
			if !errors.As(err, &ee) || ee.code != 1 || !strings.Contains(err.Error(), "event 2") {
				t.Fatalf("check after tampering: %v\n%s", err, out)
			}
			if !strings.Contains(out, "PROBLEM audit_edited 2") {
				t.Errorf("check output does not name the row:\n%s", out)
			}
		})
	}
}

func flagValue(args []string, name, def string) string {
	for i := 0; i+1 < len(args); i++ {
		if args[i] == name {
			return args[i+1]
		}
	}
	return def
}

func TestDocsImportRefusesBadInput(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "a.pdf")
	os.WriteFile(file, []byte("x"), 0o600)
	badCSV := filepath.Join(dir, "meta.csv")
	os.WriteFile(badCSV, []byte("file,agency\na.pdf,000.00.00.G22\n"), 0o600)
	data := []string{"docs", "--data-dir", filepath.Join(dir, "data")}
	tests := []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"no files", []string{"import", "--agency", "000.00.00.G22"}, 2, "no files"},
		{"no agency", []string{"import", file}, 2, "--agency"},
		{"bad number", []string{"import", "--agency", "000.00.00.G22", "--number", "5/UBND", file}, 2, "leading zero"},
		{"bad date", []string{"import", "--agency", "000.00.00.G22", "--issued", "05/03/2021", file}, 2, "yyyy-MM-dd"},
		{"bad agency", []string{"import", "--agency", "h43", file}, 1, "capital letters"},
		{"bad csv", []string{"import", "--csv", badCSV}, 2, "wrong number of fields"},
		{"missing file", []string{"import", "--agency", "000.00.00.G22", filepath.Join(dir, "nope.pdf")}, 1, "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, stderr, err := runKyso(t, append(data, tt.args...)...)
			var ee *exitError
			if !errors.As(err, &ee) || ee.code != tt.code {
				t.Fatalf("error %v, want exit code %d", err, tt.code)
			}
			if !strings.Contains(err.Error()+stderr, tt.msg) {
				t.Errorf("%q does not say %q", err.Error()+stderr, tt.msg)
			}
		})
	}
}

func TestDocsImportCSVAndStats(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"a", "b", "c", "d"} {
		os.WriteFile(filepath.Join(dir, n+".pdf"), []byte("%PDF "+n), 0o600)
	}
	csvText := "file,direction,agency,holder,type,summary,number,issued,received,identifier\n" +
		"a.pdf,incoming,000.00.00.G22,000.00.00.H43,CV,Công văn A,01/VPCP-TTĐT,2020-12-30,2020-12-31,\n" +
		"b.pdf,incoming,000.00.00.G22,000.00.00.H43,CV,Công văn B,02/VPCP-TTĐT,2021-01-02,2021-01-04,\n" +
		"c.pdf,,000.00.00.G09,000.00.00.H43,QĐ,Quyết định C,,,2021-02-01,000.00.00.G09,2021/01/20,15/QĐ-BNV\n" +
		"d.pdf,outgoing,000.00.00.H43,,TTr,Tờ trình D,TTr-UBND,,,\n"
	// The identifier holds commas: quote it as CSV wants.
	csvText = strings.Replace(csvText, "000.00.00.G09,2021/01/20,15/QĐ-BNV", `"000.00.00.G09,2021/01/20,15/QĐ-BNV"`, 1)
	meta := filepath.Join(dir, "meta.csv")
	os.WriteFile(meta, []byte(csvText), 0o600)
	data := []string{"--data-dir", filepath.Join(dir, "data")}
	if _, stderr, err := runKyso(t, append(append([]string{"docs"}, data...), "import", "--csv", meta)...); err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	out, _, err := runKyso(t, append(append([]string{"stats"}, data...), "--year", "2021", "--json")...)
	if err != nil {
		t.Fatal(err)
	}
	var st store.Stats
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatal(err)
	}
	if st.Incoming != 2 || st.IncomingPrevYear != 1 || st.Outgoing != 0 {
		t.Errorf("stats %+v", st)
	}
	out, _, err = runKyso(t, append(append([]string{"stats"}, data...), "--year", "2021")...)
	if err != nil || !strings.Contains(out, "incoming") || !strings.Contains(out, "+1 (+100.0%)") {
		t.Errorf("stats table:\n%s %v", out, err)
	}
	out, _, err = runKyso(t, append(append([]string{"docs"}, data...), "list", "--status", "draft")...)
	if err != nil || !strings.Contains(out, "…/TTr-UBND") {
		t.Errorf("the outgoing row became a draft with its symbol:\n%s %v", out, err)
	}
}

// TestCLIHelperProcess is not a test of its own: the tests below re-execute the test
// binary with KYSO_CLI_HELPER=1 to run kyso as a separate OS process they can kill.
func TestCLIHelperProcess(t *testing.T) {
	if os.Getenv("KYSO_CLI_HELPER") != "1" {
		return
	}
	args := os.Args
	for i, a := range args {
		if a == "--" {
			args = args[i+1:]
			break
		}
	}
	root := newRootCmd()
	root.SetArgs(args)
	if err := root.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "kyso:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// TestDocsCheckCleanAfterSIGKILL kills `kyso docs import` of 500 files with SIGKILL in
// the middle, then `kyso docs check` must report the store clean.
func TestDocsCheckCleanAfterSIGKILL(t *testing.T) {
	dir := t.TempDir()
	var files []string
	body := bytes.Repeat([]byte("%PDF-1.7 "), 4<<10)
	for i := range 500 {
		p := filepath.Join(dir, fmt.Sprintf("%03d.pdf", i))
		if err := os.WriteFile(p, append(body, fmt.Sprint(i)...), 0o600); err != nil {
			t.Fatal(err)
		}
		files = append(files, p)
	}
	data := []string{"docs", "--data-dir", filepath.Join(dir, "data")}
	cmd := exec.Command(os.Args[0], append([]string{"-test.run=^TestCLIHelperProcess$", "--"},
		append(append(data, "import", "--agency", "000.00.00.G22", "--holder", "000.00.00.H43"), files...)...)...)
	cmd.Env = append(os.Environ(), "KYSO_CLI_HELPER=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	stored := 0
	for stored < 60 && sc.Scan() {
		stored++ // one line per stored document when not on a terminal
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	if stored < 60 {
		t.Fatalf("import ended after %d documents before it was killed", stored)
	}
	res, _, err := runKyso(t, append(data, "check")...)
	if err != nil || !strings.HasSuffix(res, "OK\n") {
		t.Fatalf("check after SIGKILL: %v\n%s", err, res)
	}
	var n int
	if _, err := fmt.Sscanf(res, "documents: %d", &n); err != nil || n < stored || n >= 500 {
		t.Fatalf("documents after the kill: %d (%v), %d reported stored\n%s", n, err, stored, res)
	}
	t.Logf("killed after %d reported: %s", stored, strings.TrimSpace(res))
}

func TestDocsAgencies(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.csv")
	os.WriteFile(good, []byte("code,name,parent_code,valid_from,valid_to\n000.00.00.H43,UBND tỉnh Ninh Thuận,,2020-09-15,\n"+
		"000.00.01.H43,Văn phòng UBND tỉnh,000.00.00.H43,2020-09-15,\n"), 0o600)
	bad := filepath.Join(dir, "bad.csv")
	os.WriteFile(bad, []byte("code,name,parent_code,valid_from,valid_to\n000.00.00.H43,A,,2020-09-15,\n000.00.00.h41,B,,2020-09-15,\n"), 0o600)
	data := []string{"docs", "--data-dir", filepath.Join(dir, "data"), "agencies"}
	out, _, err := runKyso(t, append(data, good)...)
	if err != nil || out != "loaded 2 agency entries\n" {
		t.Fatalf("%q %v", out, err)
	}
	_, _, err = runKyso(t, append(data, bad)...)
	var ee *exitError
	if !errors.As(err, &ee) || ee.code != 2 || !strings.Contains(err.Error(), "line 3") {
		t.Fatalf("bad list: %v", err)
	}
}

// TestDocsPrintJSONOrTable pins the two output shapes docs list, docs get and stats
// share: indented JSON for scripts, and columns two spaces apart for people.
func TestDocsPrintJSONOrTable(t *testing.T) {
	v := []struct{ ID int }{{7}, {1234}}
	rows := func(tw io.Writer) {
		fmt.Fprintln(tw, "ID\tSUMMARY")
		for _, r := range v {
			fmt.Fprintf(tw, "%d\tcông văn\n", r.ID)
		}
	}
	tests := []struct {
		name   string
		asJSON bool
		want   string
	}{
		{"json", true, "[\n  {\n    \"ID\": 7\n  },\n  {\n    \"ID\": 1234\n  }\n]\n"},
		{"table", false, "ID    SUMMARY\n7     công văn\n1234  công văn\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b strings.Builder
			if err := printJSONOrTable(&b, tt.asJSON, v, rows); err != nil {
				t.Fatal(err)
			}
			if b.String() != tt.want {
				t.Errorf("got\n%q\nwant\n%q", b.String(), tt.want)
			}
		})
	}
}
