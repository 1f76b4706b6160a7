package edxml

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/kyso-vn/kyso/pkg/docid"
)

func sample() *Message {
	return &Message{
		From:          Organ{OrganID: "000.00.00.H43", OrganName: "Ủy ban nhân dân tỉnh Ninh Thuận", Email: "ubnd@ninhthuan.gov.vn"},
		To:            []Organ{{OrganID: "000.00.00.G22", OrganName: "Văn phòng Chính phủ"}},
		Number:        docid.NumberSymbol{Number: 5, Symbol: "UBND-VP"},
		PromulgatedAt: time.Date(2025, 3, 5, 14, 30, 15, 0, docid.Vietnam),
		Place:         "Ninh Thuận",
		DocumentType:  "Công văn",
		Subject:       "Về việc triển khai chữ ký số",
		Signer:        Signer{Competence: "TM. ỦY BAN NHÂN DÂN", Position: "CHỦ TỊCH", FullName: "Nguyễn Văn A"},
		PageAmount:    2,
		Attachments:   []Attachment{{Name: "05-UBND-VP.pdf", ContentType: "application/pdf", Data: []byte("%PDF-1.7 signed bytes\x00\xff")}},
	}
}

// TestRoundTrip: what Build writes, Parse reads back the same, and the header carries
// the edXML identifier of the document.
func TestRoundTrip(t *testing.T) {
	var b bytes.Buffer
	if err := Build(&b, sample()); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		`xmlns:edXML="http://www.mic.gov.vn/TBT/QCVN_102_2016"`,
		"<edXML:DocumentId>000.00.00.H43,2025/03/05,05/UBND-VP</edXML:DocumentId>",
		"<edXML:CodeNumber>05</edXML:CodeNumber>",
		"<edXML:PromulgationDate>2025/03/05</edXML:PromulgationDate>",
		"<edXML:Timestamp>2025/03/05 14:30:15</edXML:Timestamp>",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("packet lacks %s", want)
		}
	}
	m, err := Parse(&b)
	if err != nil {
		t.Fatal(err)
	}
	s := sample()
	if m.From != s.From || len(m.To) != 1 || m.To[0] != s.To[0] || m.Number != s.Number || !m.PromulgatedAt.Equal(time.Date(2025, 3, 5, 0, 0, 0, 0, docid.Vietnam)) ||
		m.Subject != s.Subject || m.Signer != s.Signer || m.DocumentType != s.DocumentType || m.PageAmount != 2 {
		t.Errorf("round trip:\n got %+v\nwant %+v", m, s)
	}
	if len(m.Attachments) != 1 || !bytes.Equal(m.Attachments[0].Data, s.Attachments[0].Data) || m.Attachments[0].Name != "05-UBND-VP.pdf" {
		t.Errorf("attachment lost: %+v", m.Attachments)
	}
}

// TestRefusals: packets that are not QCVN 102:2016 or lack their parts are refused
// with a reason, and Build refuses an incomplete message.
func TestRefusals(t *testing.T) {
	for _, in := range []string{
		"", "not xml", `<edXML xmlns="http://www.go.vn/eDoc"/>`,
		`<edXML:edXML xmlns:edXML="http://www.mic.gov.vn/TBT/QCVN_102_2016"/>`,
		`<edXML:edXML xmlns:edXML="http://www.mic.gov.vn/TBT/QCVN_102_2016"><edXML:edXMLEnvelope><edXML:edXMLHeader><edXML:MessageHeader><edXML:DocumentId>bad</edXML:DocumentId></edXML:MessageHeader></edXML:edXMLHeader></edXML:edXMLEnvelope></edXML:edXML>`,
	} {
		if _, err := Parse(strings.NewReader(in)); err == nil {
			t.Errorf("accepted %q", in)
		}
	}
	m := sample()
	m.To = nil
	if err := Build(&bytes.Buffer{}, m); err == nil {
		t.Error("built a packet with no receiver")
	}
	m = sample()
	m.From.OrganID = "h43"
	if err := Build(&bytes.Buffer{}, m); err == nil {
		t.Error("built a packet with a bad agency code")
	}
}

func FuzzParse(f *testing.F) {
	var b bytes.Buffer
	_ = Build(&b, sample())
	f.Add(b.Bytes())
	f.Add([]byte(`<edXML:edXML xmlns:edXML="http://www.mic.gov.vn/TBT/QCVN_102_2016"/>`))
	b.Reset()
	_ = BuildStatus(&b, &Status{From: Organ{OrganID: "000.00.00.H43"}, Code: StatusRefused, Description: "Trả lại", Timestamp: time.Now()})
	f.Add(b.Bytes())
	// one target for both readers of packets: the document and the status
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Parse(bytes.NewReader(data))
		if err == nil && m == nil {
			t.Fatal("nil message without an error")
		}
		st, err := ParseStatus(bytes.NewReader(data))
		if err == nil && st == nil {
			t.Fatal("nil status without an error")
		}
	})
}
