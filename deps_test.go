package kyso_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/kyso-vn/kyso/"

// layerRow is one row of the README's layer table.
type layerRow struct {
	layer    string
	pkg      string   // a package path relative to the module, or "dir/*"
	any      bool     // "any": a tool or test helper, free to import what it needs
	mayUse   []string // Kyso packages it may import
	mustNot  []string // import-path prefixes it must never import
	isHelper bool     // a test helper: only tests and other helpers may import it
}

var backticked = regexp.MustCompile("`([^`]+)`")

// readLayers parses the table between the layers markers of README.md: the one
// statement of which package may import which.
func readLayers(t *testing.T) []layerRow {
	t.Helper()
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	begin, end := strings.Index(s, "<!-- layers:begin -->"), strings.Index(s, "<!-- layers:end -->")
	if begin < 0 || end < begin {
		t.Fatal("README.md has no layers table between <!-- layers:begin --> and <!-- layers:end -->")
	}
	var rows []layerRow
	for _, line := range strings.Split(s[begin:end], "\n") {
		cells := strings.Split(line, "|")
		if len(cells) != 6 || !strings.Contains(cells[2], "`") {
			continue // header, separator, markers
		}
		r := layerRow{layer: strings.TrimSpace(cells[1])}
		r.pkg = backticked.FindStringSubmatch(cells[2])[1]
		r.any = strings.TrimSpace(cells[3]) == "any"
		for _, m := range backticked.FindAllStringSubmatch(cells[3], -1) {
			r.mayUse = append(r.mayUse, m[1])
		}
		for _, m := range backticked.FindAllStringSubmatch(cells[4], -1) {
			r.mustNot = append(r.mustNot, m[1])
		}
		r.isHelper = r.layer == "test helpers"
		rows = append(rows, r)
	}
	if len(rows) < 10 {
		t.Fatalf("the layers table has %d rows; the parser or the table is broken", len(rows))
	}
	return rows
}

func rowOf(rows []layerRow, rel string) *layerRow {
	for i, r := range rows {
		if r.pkg == rel || (strings.HasSuffix(r.pkg, "/*") && strings.HasPrefix(rel, strings.TrimSuffix(r.pkg, "*"))) {
			return &rows[i]
		}
	}
	return nil
}

type listedPackage struct {
	ImportPath   string
	Imports      []string
	TestImports  []string
	XTestImports []string
}

// TestImportDirection holds every package to its row of the README's layer table:
// no import the row does not name, nothing it must not use, no production package
// importing a test helper, and no package without a row.
func TestImportDirection(t *testing.T) {
	rows := readLayers(t)
	for _, cgo := range []string{"1", "0"} { // the nocgo builds of hsm and the agent too
		cmd := exec.Command("go", "list", "-json=ImportPath,Imports,TestImports,XTestImports", "./...")
		cmd.Env = append(os.Environ(), "CGO_ENABLED="+cgo)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("go list: %v", err)
		}
		dec := json.NewDecoder(strings.NewReader(string(out)))
		for dec.More() {
			var p listedPackage
			if err := dec.Decode(&p); err != nil {
				t.Fatal(err)
			}
			rel := strings.TrimPrefix(p.ImportPath, module)
			if p.ImportPath+"/" == module {
				continue // the module root holds only this test
			}
			row := rowOf(rows, rel)
			if row == nil {
				t.Errorf("%s has no row in the README's layers table", rel)
				continue
			}
			for _, imp := range p.Imports {
				if strings.HasPrefix(imp, module) {
					to := strings.TrimPrefix(imp, module)
					if r := rowOf(rows, to); r != nil && r.isHelper && !row.isHelper && row.layer != "tools" {
						t.Errorf("%s imports the test helper %s outside its tests", rel, to)
					}
					if !row.any && !slices.Contains(row.mayUse, to) {
						t.Errorf("%s imports %s, which its row (layer %q) does not allow", rel, to, row.layer)
					}
				}
				for _, bad := range row.mustNot {
					if strings.HasPrefix(imp, bad) {
						t.Errorf("%s must not use %s (imports %s)", rel, bad, imp)
					}
				}
			}
		}
	}
}

// TestLayersTableNamesRealPackages keeps the table honest the other way: every row
// names a package that exists, and every package it allows does too.
func TestLayersTableNamesRealPackages(t *testing.T) {
	out, err := exec.Command("go", "list", "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	have := map[string]bool{}
	for _, p := range strings.Fields(string(out)) {
		have[strings.TrimPrefix(p, module)] = true
	}
	exists := func(rel string) bool {
		if strings.HasSuffix(rel, "/*") {
			for h := range have {
				if strings.HasPrefix(h, strings.TrimSuffix(rel, "*")) {
					return true
				}
			}
			return false
		}
		return have[rel]
	}
	for _, r := range readLayers(t) {
		if !exists(r.pkg) {
			t.Errorf("the layers table has a row for %s, which does not exist", r.pkg)
		}
		for _, m := range r.mayUse {
			if !exists(m) {
				t.Errorf("the row of %s allows %s, which does not exist", r.pkg, m)
			}
		}
	}
}
