package web

import (
	"crypto/x509/pkix"
	"encoding/asn1"
	"testing"
)

// TestParseParty: the subjects pkix.Name.String writes for Vietnamese certificates
// give back the name, the organisation and the identifiers, including those it can
// only write as #hex (UID, organizationIdentifier).
func TestParseParty(t *testing.T) {
	uid := asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 1}
	orgID := asn1.ObjectIdentifier{2, 5, 4, 97}
	cases := []struct {
		name pkix.Name
		want Party
	}{
		{pkix.Name{CommonName: "Nguyễn Văn A", Province: []string{"Ninh Thuận"}, Country: []string{"VN"},
			ExtraNames: []pkix.AttributeTypeAndValue{{Type: uid, Value: "CCCD:001080000001"}}},
			Party{Name: "Nguyễn Văn A", Province: "Ninh Thuận", CitizenID: "001080000001"}},
		{pkix.Name{CommonName: "Công ty TNHH Hòa Bình, chi nhánh 2", Organization: []string{"Công ty TNHH Hòa Bình"},
			ExtraNames: []pkix.AttributeTypeAndValue{{Type: uid, Value: "MST:0101234567"}}},
			Party{Name: "Công ty TNHH Hòa Bình, chi nhánh 2", Organisation: "Công ty TNHH Hòa Bình", TaxCode: "0101234567"}},
		{pkix.Name{CommonName: "Ủy ban nhân dân tỉnh Ninh Thuận", Organization: []string{"Ủy ban nhân dân tỉnh Ninh Thuận"},
			ExtraNames: []pkix.AttributeTypeAndValue{{Type: orgID, Value: "000.00.00.H43"}}},
			Party{Name: "Ủy ban nhân dân tỉnh Ninh Thuận", Organisation: "Ủy ban nhân dân tỉnh Ninh Thuận", AgencyCode: "000.00.00.H43"}},
		{pkix.Name{CommonName: `a+b "c"\d`}, Party{Name: `a+b "c"\d`}},
	}
	for _, c := range cases {
		dn := c.name.String()
		if got := parseParty(dn); got != c.want {
			t.Errorf("%s:\n got %+v\nwant %+v", dn, got, c.want)
		}
	}
}
