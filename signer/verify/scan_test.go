package verify

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestContentsExtent(t *testing.T) {
	for _, tc := range []struct {
		name string
		obj  string
		// value is the token expected, found in obj from its last occurrence
		value string
		kind  byte
		err   error
	}{
		{"plain", "7 0 obj\n<< /Type /Sig /Contents <0A0B> /ByteRange [0 1 2 3] >>\nendobj", "<0A0B>", '<', nil},
		{"after nested values", "7 0 obj <</Prop_Build<</App<</Name/X>>>>/Reference[<</Data 1 0 R>>]/Contents<AB>>>endobj", "<AB>", '<', nil},
		{"reference value", "7 0 obj << /Contents 9 0 R >> endobj", "9 0 R", 'R', nil},
		{"literal string", "7 0 obj << /Contents (a\\)b) >> endobj", "(a\\)b)", '(', nil},
		{"a name that looks like the key", "7 0 obj << /Name /Contents /Contents <00> >> endobj", "<00>", '<', nil},
		{"twice", "7 0 obj << /Contents <00> /Contents <01> >> endobj", "", 0, errDuplicateContents},
		{"missing", "7 0 obj << /Type /Sig >> endobj", "", 0, errNoContents},
		{"key without value", "7 0 obj << /Contents >> endobj", "", 0, errRawSyntax},
		{"not an object", "<< /Contents <00> >>", "", 0, errRawSyntax},
		{"unterminated", "7 0 obj << /Contents <00", "", 0, errRawSyntax},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := bytes.NewReader([]byte(tc.obj))
			s, e, k, err := contentsExtent(r, int64(len(tc.obj)), 0)
			if !errors.Is(err, tc.err) {
				t.Fatalf("err %v, want %v", err, tc.err)
			}
			if err != nil {
				return
			}
			if got := tc.obj[s:e]; got != tc.value || int64(strings.LastIndex(tc.obj, tc.value)) != s || k != tc.kind {
				t.Fatalf("got %q at %d (%q), want %q (%q)", got, s, k, tc.value, tc.kind)
			}
		})
	}
}

func TestUnhexContents(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []byte
		ok   bool
	}{
		{"<3082>", []byte{0x30, 0x82}, true},
		{"<30 82\n0a>", []byte{0x30, 0x82, 0x0a}, true},
		{"<308>", []byte{0x30, 0x80}, true},
		{"<>", []byte{}, true},
		{"<30%82>", nil, false},
		{"(3082)", nil, false},
		{"<", nil, false},
	} {
		got, err := unhexContents([]byte(tc.in))
		if (err == nil) != tc.ok || (tc.ok && !bytes.Equal(got, tc.want)) {
			t.Errorf("%q: got %x, %v", tc.in, got, err)
		}
	}
}

func TestFilePassAndRanges(t *testing.T) {
	// markers across the chunk boundary, with and without end-of-line
	doc := bytes.Repeat([]byte{'x'}, scanChunk-3)
	doc = append(doc, "%%EOF\r\nabc%%EOF"...)
	marks, sum, err := filePass(context.Background(), bytes.NewReader(doc), int64(len(doc)))
	if err != nil {
		t.Fatal(err)
	}
	want := []eofMark{{after: scanChunk + 2, eol: scanChunk + 4}, {after: int64(len(doc)), eol: int64(len(doc))}}
	if len(marks) != 2 || marks[0] != want[0] || marks[1] != want[1] {
		t.Errorf("marks %v, want %v", marks, want)
	}
	if full := sha256.Sum256(doc); sum != hex.EncodeToString(full[:]) {
		t.Errorf("sha256 %s", sum)
	}
	if !atRevisionEnd(marks, scanChunk+2) || !atRevisionEnd(marks, scanChunk+4) || atRevisionEnd(marks, scanChunk+3) {
		t.Error("atRevisionEnd")
	}
	// two jobs over ranges that cross chunks, in one pass
	br1 := []int64{0, 10, scanChunk - 5, 15}
	br2 := []int64{0, scanChunk + 1, scanChunk + 5, 3}
	h1, h2 := sha256.New(), sha256.New()
	if err := hashRanges(context.Background(), bytes.NewReader(doc), []rangeJob{{br1, h1}, {br2, h2}}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		br []int64
		h  []byte
	}{{br1, h1.Sum(nil)}, {br2, h2.Sum(nil)}} {
		w := sha256.New()
		w.Write(doc[c.br[0] : c.br[0]+c.br[1]])
		w.Write(doc[c.br[2] : c.br[2]+c.br[3]])
		if !bytes.Equal(w.Sum(nil), c.h) {
			t.Errorf("ranges %v: digest differs", c.br)
		}
	}
}

func TestFieldLock(t *testing.T) {
	for _, tc := range []struct {
		lock   fieldLock
		field  string
		locked bool
	}{
		{fieldLock{action: "All"}, "so", true},
		{fieldLock{action: "Include", fields: []string{"so"}}, "so", true},
		{fieldLock{action: "Include", fields: []string{"so"}}, "ngay", false},
		{fieldLock{action: "Include", fields: []string{"header"}}, "header.so", true},
		{fieldLock{action: "Exclude", fields: []string{"so"}}, "so", false},
		{fieldLock{action: "Exclude", fields: []string{"so"}}, "ngay", true},
		{fieldLock{action: "Exclude"}, "so", true},
		{fieldLock{action: "Include", fields: []string{"header.so"}}, "header", false},
		// a lock that does not say what it locks locks everything
		{fieldLock{}, "so", true},
		{fieldLock{action: "Everything"}, "so", true},
	} {
		if got := tc.lock.locked(tc.field); got != tc.locked {
			t.Errorf("%+v locked(%q) = %v", tc.lock, tc.field, got)
		}
	}
}

func TestParsePDFDate(t *testing.T) {
	for _, s := range []string{"D:20250305143015+07'00'", "D:20250305073015Z", "D:20250305143015+07'00", "20250305143015+0700"} {
		got, err := parsePDFDate(s)
		if err != nil || !got.Equal(mustTime(t, "2025-03-05T07:30:15Z")) {
			t.Errorf("%q: %v %v", s, got, err)
		}
	}
	if _, err := parsePDFDate("D:yesterday"); err == nil {
		t.Error("garbage accepted")
	}
}

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
