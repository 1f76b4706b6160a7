package docid

import (
	"bytes"
	"strings"
	"testing"
)

// Every parser keeps one property under fuzzing: it never panics, and what it accepts
// it formats back byte for byte (one document, one spelling).

func FuzzParseAgencyCode(f *testing.F) {
	for _, s := range agencySeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseAgencyCode(s)
		if err != nil {
			return
		}
		if c.String() != s || len(s) > MaxAgencyCodeLen {
			t.Fatalf("accepted %q as %q", s, c)
		}
		_ = c.Kind()
		if c.IsStandard() && len(c.TopLevel()) != 3 {
			t.Fatalf("standard code %q has top level %q", s, c.TopLevel())
		}
	})
}

func FuzzParseNumberSymbol(f *testing.F) {
	for _, s := range numberSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ns, err := ParseNumberSymbol(s)
		if err != nil {
			return
		}
		if ns.String() != s {
			t.Fatalf("ParseNumberSymbol(%q).String() = %q", s, ns.String())
		}
		back, err := ParseNumberLine(ns.Line())
		if err != nil || back != ns {
			t.Fatalf("line round trip of %q: %+v, %v", s, back, err)
		}
	})
}

func FuzzParseDocumentID(f *testing.F) {
	for _, s := range idSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := ParseDocumentID(s)
		if err != nil {
			return
		}
		if id.String() != s {
			t.Fatalf("ParseDocumentID(%q).String() = %q", s, id.String())
		}
	})
}

func FuzzReadAgencies(f *testing.F) {
	f.Add("code,name,parent_code,valid_from,valid_to\n000.00.00.H43,UBND tỉnh,,2020-09-15,\n")
	f.Add("code,name,parent_code,valid_from,valid_to\n000.00.01.H43,\"VP, UBND\",000.00.00.H43,2020-09-15,2025-07-01\n")
	// Found by the fuzzer in CI: a quoted name with a line break did not read back the same.
	f.Add("code,name,parent_code,valid_from,valid_to\n000.00.00.H43,\"UBND\r\ntỉnh\",,2020-09-15,\n")
	f.Fuzz(func(t *testing.T, s string) {
		list, err := ReadAgencies(strings.NewReader(s))
		if err != nil {
			return
		}
		var buf bytes.Buffer
		if err := WriteAgencies(&buf, list); err != nil {
			t.Fatal(err)
		}
		again, err := ReadAgencies(&buf)
		if err != nil || len(again) != len(list) {
			t.Fatalf("written list does not read back: %v", err)
		}
		for i := range list {
			if again[i].Code != list[i].Code || again[i].Name != list[i].Name || again[i].Parent != list[i].Parent ||
				!again[i].ValidFrom.Equal(list[i].ValidFrom) || !again[i].ValidTo.Equal(list[i].ValidTo) {
				t.Fatalf("entry %d changed: %+v -> %+v", i, list[i], again[i])
			}
		}
	})
}
