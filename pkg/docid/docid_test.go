package docid

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
)

// Real codes and numbers seen in VPCP and provincial edXML samples and in the decree's
// own examples.
var (
	agencySeeds = []string{"000.00.00.G22", "000.00.00.H41", "000.00.00.H43", "000.00.00.H14",
		"000.00.04.G14", "H37.DN.001", "000.00.00.K63", "000.00.00.A01", "1", "ABCDEFGHIJ.0123456789.ABCDEFGHIJ.01"}
	numberSeeds = []string{"05/UBND-VP", "15/QĐ-BNV", "05/BNV-VP", "12/UBND-VX", "7816/VPCP-TTĐT",
		"30/2020/NĐ-CP", "01/TTr-BNV", "10/QyĐ-UBND", "123/CV", "09/SY-VP"}
	idSeeds = []string{"000.00.00.G22,2015/09/30,7816/VPCP-TTĐT", "000.00.00.H43,2021/01/01,01/QĐ-UBND",
		"000.00.00.H41,2020/02/29,30/2020/NĐ-CP"}
)

func TestParseAgencyCode(t *testing.T) {
	tests := []struct {
		in       string
		ok       bool
		standard bool
		top      string
		kind     TopLevelKind
	}{
		{"000.00.00.G22", true, true, "G22", KindMinistry},
		{"000.00.00.H43", true, true, "H43", KindProvince},
		{"000.00.00.H63", true, true, "H63", KindProvince},
		{"000.00.00.H64", true, true, "H64", KindUnknown},
		{"000.00.00.K01", true, true, "K01", KindProvinceCouncil},
		{"000.00.00.D01", true, true, "D01", KindOther},
		{"000.00.04.G14", true, true, "G14", KindMinistry},
		{"H37.DN.001", true, false, "001", KindUnknown},
		{strings.Repeat("A", 35), true, false, strings.Repeat("A", 35), KindUnknown},
		{strings.Repeat("A", 36), false, false, "", ""},
		{"", false, false, "", ""},
		{"000.00.00.h43", false, false, "", ""},
		{"vxp.saas.03", false, false, "", ""},
		{"000..00.H43", false, false, "", ""},
		{".000.00.00.H43", false, false, "", ""},
		{"000.00.00.H43.", false, false, "", ""},
		{"000.00.00 H43", false, false, "", ""},
		{"000.00.00.Đ43", false, false, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			c, err := ParseAgencyCode(tt.in)
			if (err == nil) != tt.ok {
				t.Fatalf("ParseAgencyCode(%q) error = %v, want ok=%v", tt.in, err, tt.ok)
			}
			if err != nil {
				if !errors.Is(err, ErrSyntax) || !strings.HasPrefix(err.Error(), "docid: ") {
					t.Errorf("error %v: want a docid: error wrapping ErrSyntax", err)
				}
				return
			}
			if c.IsStandard() != tt.standard || c.TopLevel() != tt.top || c.Kind() != tt.kind {
				t.Errorf("%q: standard=%v top=%q kind=%q, want %v %q %q", tt.in, c.IsStandard(), c.TopLevel(), c.Kind(), tt.standard, tt.top, tt.kind)
			}
		})
	}
}

func TestParseNumberSymbol(t *testing.T) {
	tests := []struct {
		in   string
		want NumberSymbol
		ok   bool
	}{
		{"05/UBND-VP", NumberSymbol{5, 0, "UBND-VP"}, true},
		{"7816/VPCP-TTĐT", NumberSymbol{7816, 0, "VPCP-TTĐT"}, true},
		{"30/2020/NĐ-CP", NumberSymbol{30, 2020, "NĐ-CP"}, true},
		{"01/TTr-BNV", NumberSymbol{1, 0, "TTr-BNV"}, true},
		{"10/QyĐ-UBND", NumberSymbol{10, 0, "QyĐ-UBND"}, true},
		{"5/UBND-VP", NumberSymbol{}, false},    // leading zero missing
		{"005/UBND-VP", NumberSymbol{}, false},  // extra zero
		{"00/UBND-VP", NumberSymbol{}, false},   // numbers start at 01
		{"05/UBND VP", NumberSymbol{}, false},   // space
		{"05 /UBND-VP", NumberSymbol{}, false},  // space
		{"05/UBND--VP", NumberSymbol{}, false},  // empty group
		{"05/-UBND", NumberSymbol{}, false},     // empty group
		{"05/ubnd-VP", NumberSymbol{}, false},   // group starts lower-case
		{"05/", NumberSymbol{}, false},          // no symbol
		{"/UBND", NumberSymbol{}, false},        // no number
		{"05/20/NĐ-CP", NumberSymbol{}, false},  // year must be 4 digits
		{"05/UBND,VP", NumberSymbol{}, false},   // comma would break the edXML identifier
		{"05/UBND-VP/X", NumberSymbol{}, false}, // middle is not a year
		{"1234567890/CV", NumberSymbol{}, false},
		{"05/" + strings.Repeat("Đ", 31), NumberSymbol{}, false},
		{"05/ЖК", NumberSymbol{}, false}, // Cyrillic is not Vietnamese
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseNumberSymbol(tt.in)
			if (err == nil) != tt.ok {
				t.Fatalf("ParseNumberSymbol(%q) error = %v, want ok=%v", tt.in, err, tt.ok)
			}
			if !tt.ok {
				return
			}
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
			if got.String() != tt.in {
				t.Errorf("String() = %q, want %q", got.String(), tt.in)
			}
			line := got.Line()
			if line != "Số: "+tt.in {
				t.Errorf("Line() = %q", line)
			}
			back, err := ParseNumberLine(line)
			if err != nil || back != got {
				t.Errorf("ParseNumberLine(%q) = %+v, %v", line, back, err)
			}
		})
	}
	if _, err := ParseNumberLine("So: 05/UBND-VP"); err == nil {
		t.Error("ParseNumberLine accepted a line without the Số: prefix")
	}
}

func TestFormatNumber(t *testing.T) {
	for n, want := range map[int]string{1: "01", 9: "09", 10: "10", 99: "99", 1000: "1000"} {
		if got := FormatNumber(n); got != want {
			t.Errorf("FormatNumber(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestDocumentID(t *testing.T) {
	const s = "000.00.00.G22,2015/09/30,7816/VPCP-TTĐT"
	id, err := ParseDocumentID(s)
	if err != nil {
		t.Fatal(err)
	}
	if id.Organ != "000.00.00.G22" || id.Number != (NumberSymbol{7816, 0, "VPCP-TTĐT"}) ||
		!id.Date.Equal(time.Date(2015, 9, 30, 0, 0, 0, 0, Vietnam)) {
		t.Errorf("parsed %+v", id)
	}
	if id.String() != s {
		t.Errorf("String() = %q", id.String())
	}
	// The issue date is the day in Vietnam: 31 Dec 17:30 UTC is already 1 January there.
	utc := time.Date(2020, 12, 31, 17, 30, 0, 0, time.UTC)
	got := NewDocumentID("000.00.00.H43", utc, NumberSymbol{Number: 1, Symbol: "QĐ-UBND"}).String()
	if want := "000.00.00.H43,2021/01/01,01/QĐ-UBND"; got != want {
		t.Errorf("NewDocumentID = %q, want %q", got, want)
	}
	for _, bad := range []string{
		"", "000.00.00.G22,2015/9/30,7816/VPCP-TTĐT", "000.00.00.G22,2015/02/30,01/CV",
		"000.00.00.G22,2015-09-30,01/CV", "000.00.00.g22,2015/09/30,01/CV",
		"000.00.00.G22,2015/09/30,1/CV", "000.00.00.G22,2015/09/30", "a,b,c,d",
		"000.00.00.G22, 2015/09/30,01/CV",
	} {
		if _, err := ParseDocumentID(bad); !errors.Is(err, ErrSyntax) {
			t.Errorf("ParseDocumentID(%q) error = %v, want ErrSyntax", bad, err)
		}
	}
}

func TestReadAgencies(t *testing.T) {
	good := "code,name,parent_code,valid_from,valid_to\n" +
		"000.00.00.H43,UBND tỉnh Ninh Thuận,,2020-09-15,2025-07-01\n" +
		"000.00.01.H43,Văn phòng UBND tỉnh,000.00.00.H43,2020-09-15,\n" +
		"000.00.00.H43,\"UBND tỉnh, sau sáp nhập\",,2025-07-01,\n"
	list, err := ReadAgencies(strings.NewReader(good))
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 3 || list[1].Parent != "000.00.00.H43" || !list[2].ValidTo.IsZero() || list[2].Name != "UBND tỉnh, sau sáp nhập" {
		t.Fatalf("got %+v", list)
	}
	old, cur := list[0], list[2]
	at := time.Date(2025, 6, 30, 23, 59, 59, 0, Vietnam)
	if !old.ActiveAt(at) || cur.ActiveAt(at) {
		t.Errorf("30 June 2025: old active=%v new active=%v", old.ActiveAt(at), cur.ActiveAt(at))
	}
	at = at.Add(time.Second)
	if old.ActiveAt(at) || !cur.ActiveAt(at) {
		t.Errorf("1 July 2025: old active=%v new active=%v", old.ActiveAt(at), cur.ActiveAt(at))
	}
	var buf bytes.Buffer
	if err := WriteAgencies(&buf, list); err != nil {
		t.Fatal(err)
	}
	if buf.String() != good {
		t.Errorf("WriteAgencies round trip:\n%s\nwant\n%s", buf.String(), good)
	}

	tests := []struct {
		name  string
		csv   string
		lines []int
		msg   string
	}{
		{"bad header", "id,name\n", []int{1}, "wrong number of fields"},
		{"wrong header", "code,name,parent,valid_from,valid_to\n", []int{1}, "header must be"},
		{"bad code", "code,name,parent_code,valid_from,valid_to\n000.00.00.h43,X,,2020-01-01,\n", []int{2}, "capital letters"},
		{"bad date and overlap", "code,name,parent_code,valid_from,valid_to\n" +
			"000.00.00.H43,X,,2020-01-01,\n" +
			"000.00.00.H41,Y,,2020-13-01,\n" +
			"000.00.00.H43,Z,,2024-01-01,\n" +
			"000.00.00.H42,W,,2024-01-01,2023-01-01\n", []int{3, 4, 5}, "overlapping"},
		{"empty name and self parent", "code,name,parent_code,valid_from,valid_to\n" +
			"000.00.00.H43,,,2020-01-01,\n000.00.00.H41,A,000.00.00.H41,2020-01-01,\n", []int{2, 3}, "own parent"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ReadAgencies(strings.NewReader(tt.csv))
			if err == nil {
				t.Fatal("no error")
			}
			var lines []int
			for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
				var le *LineError
				if !errors.As(e, &le) {
					t.Fatalf("%v is not a *LineError", e)
				}
				lines = append(lines, le.Line)
			}
			if len(lines) != len(tt.lines) {
				t.Fatalf("lines %v, want %v (%v)", lines, tt.lines, err)
			}
			for i := range lines {
				if lines[i] != tt.lines[i] {
					t.Fatalf("lines %v, want %v (%v)", lines, tt.lines, err)
				}
			}
			if !strings.Contains(err.Error(), tt.msg) || !strings.Contains(err.Error(), "line ") {
				t.Errorf("error %q lacks %q or a line number", err, tt.msg)
			}
		})
	}
}
