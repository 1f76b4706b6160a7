package web

import (
	"encoding/xml"
	"strings"
	"testing"
	"time"

	"github.com/kyso-vn/kyso/signer/verify"
)

// TestETSIReportShape: one SignatureValidationReport per signature and document
// timestamp, in order; the best signature time only when a timestamp proves it;
// Kyso's own sub-indication outside ETSI's namespace; signer-chosen text escaped.
func TestETSIReportShape(t *testing.T) {
	ts := time.Date(2026, 3, 5, 7, 30, 15, 0, time.UTC)
	cert := &verify.CertInfo{Subject: "CN=Nguyễn Văn A", SHA256: strings.Repeat("ab", 32)}
	rep := &verify.Report{SHA256: strings.Repeat("01", 32), ValidationTime: ts.Add(time.Hour), Signatures: []verify.SignatureReport{
		{Index: 1, Field: "Sig1", Signer: cert, SigningTime: &ts, TimeSource: "timestamp", Reason: `<b>&"`,
			Indication: verify.TotalFailed, SubIndication: verify.ModifiedAfterSigning},
		{Index: 2, Field: "Sig2", Signer: cert, SigningTime: &ts, TimeSource: "claimed", CoversWholeDocument: true,
			Indication: verify.Indeterminate, SubIndication: verify.TryLater},
		{Index: 3, Type: "document-timestamp", Indication: verify.TotalPassed},
	}}
	b, err := writeETSI(rep)
	if err != nil {
		t.Fatal(err)
	}
	var r struct {
		Reports []struct {
			ID struct {
				ID string `xml:"id,attr"`
			} `xml:"SignatureIdentifier"`
			Best *struct {
				POETime     string
				TypeOfProof string
			} `xml:"ValidationTimeInfo>BestSignatureTime"`
			Doc    *struct{} `xml:"SignersDocument"`
			Reason string    `xml:"SignatureAttributes>Reason>ReasonElement"`
			Main   string    `xml:"SignatureValidationStatus>MainIndication"`
			Sub    string    `xml:"SignatureValidationStatus>SubIndication"`
		} `xml:"SignatureValidationReport"`
		Objects []struct{} `xml:"SignatureValidationObjects>ValidationObject"`
	}
	if err := xml.Unmarshal(b, &r); err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	if len(r.Reports) != 3 || len(r.Objects) != 1 {
		t.Fatalf("%d reports, %d objects:\n%s", len(r.Reports), len(r.Objects), b)
	}
	s1, s2, s3 := r.Reports[0], r.Reports[1], r.Reports[2]
	if s1.ID.ID != "S-1" || s1.Best == nil || s1.Best.POETime != "2026-03-05T07:30:15Z" || s1.Best.TypeOfProof != "urn:etsi:019102:poetype:provided" || s1.Reason != `<b>&"` || s1.Doc != nil {
		t.Errorf("signature 1: %+v", s1)
	}
	if s1.Main != "urn:etsi:019102:mainindication:total-failed" || s1.Sub != "urn:kyso:subindication:MODIFIED_AFTER_SIGNING" {
		t.Errorf("signature 1 indications %s %s", s1.Main, s1.Sub)
	}
	if s2.Best != nil || s2.Doc == nil || s2.Main != "urn:etsi:019102:mainindication:indeterminate" || s2.Sub != "urn:etsi:019102:subindication:TRY_LATER" {
		t.Errorf("signature 2 (claimed time, whole document): %+v", s2)
	}
	if s3.Main != "urn:etsi:019102:mainindication:total-passed" || s3.Sub != "" {
		t.Errorf("document timestamp: %+v", s3)
	}
}
