package edxml

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/kyso-vn/kyso/pkg/docid"
)

// TestStatusRoundTrip: the status packet a receiving agency sends back names the
// document, says 02 (returned) with the reason, and reads back the same.
func TestStatusRoundTrip(t *testing.T) {
	in := &Status{
		OrganID: "000.00.00.G22", Number: docid.NumberSymbol{Number: 7816, Symbol: "VPCP-TTĐT"},
		PromulgatedAt: time.Date(2025, 9, 30, 0, 0, 0, 0, docid.Vietnam), DocumentID: "000.00.00.G22,2025/09/30,7816/VPCP-TTĐT",
		From:  Organ{OrganID: "000.00.00.H43"},
		Staff: Staff{Name: "văn thư"}, Code: StatusRefused, Description: "Chữ ký số không hợp lệ: TOTAL_FAILED/HASH_FAILURE",
		Timestamp: time.Date(2026, 12, 3, 9, 15, 0, 0, docid.Vietnam),
	}
	var b bytes.Buffer
	if err := BuildStatus(&b, in); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"<edXML:StatusCode>02</edXML:StatusCode>", "<edXML:Code>7816/VPCP-TTĐT</edXML:Code>",
		"<edXML:PromulgationDate>2025/09/30</edXML:PromulgationDate>", "<edXML:Timestamp>2026/12/03 09:15:00</edXML:Timestamp>"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("status packet lacks %s:\n%s", want, b.String())
		}
	}
	out, err := ParseStatus(&b)
	if err != nil {
		t.Fatal(err)
	}
	if out.OrganID != in.OrganID || out.Number != in.Number || !out.PromulgatedAt.Equal(in.PromulgatedAt) || out.DocumentID != in.DocumentID ||
		out.From != in.From || out.Staff != in.Staff || out.Code != in.Code || out.Description != in.Description || !out.Timestamp.Equal(in.Timestamp) {
		t.Errorf("round trip:\n got %+v\nwant %+v", out, in)
	}
	if err := BuildStatus(&b, &Status{From: Organ{OrganID: "000.00.00.H43"}}); err == nil {
		t.Error("a status without a code was built")
	}
	if _, err := ParseStatus(strings.NewReader("<a/>")); err == nil {
		t.Error("a non-edXML status was read")
	}
}
