package pki

import (
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"strings"
)

// Names people read. Vietnamese certificates carry their identifiers in attributes Go's
// pkix.Name.String prints as hex (2.5.4.97=#130d…, 0.9.2342.19200300.100.1.1=#1311…):
// the organizationIdentifier and the UID, whose value names the kind of number:
// "MST:0101234567" a tax code, "CCCD:001…" a citizen identity card. DisplayName spells
// every attribute by its name, most specific first as Go does; Identifiers decodes
// the numbers.

var attrNames = map[string]string{
	"2.5.4.3": "CN", "2.5.4.4": "SN", "2.5.4.5": "SERIALNUMBER", "2.5.4.6": "C", "2.5.4.7": "L",
	"2.5.4.8": "ST", "2.5.4.9": "STREET", "2.5.4.10": "O", "2.5.4.11": "OU", "2.5.4.12": "T",
	"2.5.4.42": "GN", "2.5.4.43": "initials", "2.5.4.46": "dnQualifier", "2.5.4.65": "pseudonym",
	"2.5.4.97": "organizationIdentifier", "2.5.4.17": "postalCode", "2.5.4.20": "telephoneNumber",
	"0.9.2342.19200300.100.1.1":  "UID",
	"0.9.2342.19200300.100.1.25": "DC",
	"1.2.840.113549.1.9.1":       "E",
}

// attrValue is an attribute's value as text: Go decodes the string types; anything
// else is shown as its DER in hex, as RFC 4514 does.
func attrValue(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case []byte:
		return fmt.Sprintf("#%x", x)
	}
	if der, err := asn1.Marshal(v); err == nil {
		return fmt.Sprintf("#%x", der)
	}
	return fmt.Sprint(v)
}

// DisplayName is name as "CN=…, UID=MST:0101234567, O=…, C=VN", every attribute by
// its name: the common name first, then the others most specific first.
func DisplayName(name pkix.Name) string {
	var parts, cn []string
	for i := len(name.Names) - 1; i >= 0; i-- {
		a := name.Names[i]
		key, ok := attrNames[a.Type.String()]
		if !ok {
			key = a.Type.String()
		}
		val := attrValue(a.Value)
		val = strings.NewReplacer(",", "\\,", "+", "\\+", "=", "\\=").Replace(val)
		if key == "CN" {
			cn = append(cn, key+"="+val)
			continue
		}
		parts = append(parts, key+"="+val)
	}
	return strings.Join(append(cn, parts...), ", ")
}

// Identifier is a number a Vietnamese certificate names its holder by.
type Identifier struct {
	// Kind is the prefix as written: "MST", "CCCD", "CMND", "HC", "BHXH", "MNS", …,
	// or "organizationIdentifier" for an ETSI EN 319 412-1 identifier without one.
	Kind string `json:"kind"`
	// Label says what it is, in Vietnamese and English.
	LabelVI string `json:"label_vi"`
	LabelEN string `json:"label_en"`
	Value   string `json:"value"`
}

var idKinds = map[string][2]string{
	"MST":  {"Mã số thuế", "Tax code"},
	"CCCD": {"Căn cước công dân", "Citizen identity card"},
	"CMND": {"Chứng minh nhân dân", "Identity card"},
	"CMT":  {"Chứng minh nhân dân", "Identity card"},
	"HC":   {"Hộ chiếu", "Passport"},
	"BHXH": {"Mã số bảo hiểm xã hội", "Social insurance number"},
	"MNS":  {"Mã đơn vị quan hệ ngân sách", "Budget unit code"},
	"MDV":  {"Mã định danh đơn vị", "Agency identifier"},
	"VAT":  {"Mã số thuế (ETSI)", "Tax code (ETSI)"},
	"NTR":  {"Mã số doanh nghiệp (ETSI)", "Business registration (ETSI)"},
	"PAS":  {"Hộ chiếu (ETSI)", "Passport (ETSI)"},
	"IDC":  {"Căn cước (ETSI)", "Identity card (ETSI)"},
}

// Identifiers decodes the UID and organizationIdentifier values of name ("MST:…",
// "CCCD:…", "VATVN-…").
func Identifiers(name pkix.Name) []Identifier {
	var out []Identifier
	for _, a := range name.Names {
		t := a.Type.String()
		if t != "0.9.2342.19200300.100.1.1" && t != "2.5.4.97" && t != "2.5.4.5" {
			continue
		}
		v, ok := a.Value.(string)
		if !ok || v == "" {
			continue
		}
		kind, val := "", v
		if i := strings.IndexAny(v, ":"); i > 0 {
			kind, val = strings.ToUpper(strings.TrimSpace(v[:i])), strings.TrimSpace(v[i+1:])
		} else if len(v) > 6 && v[5] == '-' && strings.ToUpper(v[:3]) == v[:3] {
			// ETSI EN 319 412-1: VATVN-0101234567, NTRVN-…
			kind, val = v[:3], v[6:]
		}
		l, known := idKinds[kind]
		switch {
		case known:
		case t == "2.5.4.97":
			kind, l, val = "organizationIdentifier", [2]string{"Mã định danh tổ chức", "Organization identifier"}, v
		case t == "2.5.4.5":
			continue // a plain serialNumber is shown in the name only
		default:
			kind, l, val = "UID", [2]string{"Mã định danh", "Identifier"}, v
		}
		out = append(out, Identifier{Kind: kind, LabelVI: l[0], LabelEN: l[1], Value: val})
	}
	return out
}
