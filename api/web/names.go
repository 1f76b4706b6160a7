package web

import (
	"encoding/asn1"
	"encoding/hex"
	"strings"
)

// Party is a certificate's subject as a person reads it: the name, the organisation,
// and the identifiers Vietnamese CAs write into the subject (the citizen ID "CCCD:" or
// "CMND:", the tax code "MST:" in UID; the agency code in organizationIdentifier).
type Party struct {
	Name, Organisation, Unit string
	CitizenID, TaxCode       string
	AgencyCode               string
	Passport                 string
	Province                 string
}

// attribute names as crypto/x509/pkix.Name.String writes them, and the OIDs it writes
// for the others.
const (
	oidUID         = "0.9.2342.19200300.100.1.1"
	oidOrgID       = "2.5.4.97"
	oidSerial      = "2.5.4.5"
	oidTelephone   = "2.5.4.20"
	oidEmail       = "1.2.840.113549.1.9.1"
	oidDescription = "2.5.4.13"
)

// parseParty reads a subject written by pkix.Name.String (RFC 4514: "CN=...,O=...",
// with "#hex" for attributes it has no name for). A subject it cannot read gives
// the whole string as the name.
func parseParty(dn string) Party {
	var p Party
	for _, rdn := range splitDN(dn) {
		typ, val, ok := strings.Cut(rdn, "=")
		if !ok {
			continue
		}
		typ = strings.ToUpper(strings.TrimSpace(typ))
		val = unescapeDN(val)
		switch typ {
		case "CN":
			p.Name = val
		case "O":
			p.Organisation = val
		case "OU":
			if p.Unit == "" {
				p.Unit = val
			}
		case "ST":
			p.Province = val
		case oidOrgID, "ORGANIZATIONIDENTIFIER":
			p.AgencyCode = val
		case "UID", oidUID, "SERIALNUMBER", oidSerial:
			p.identifier(val)
		}
	}
	if p.Name == "" {
		p.Name = dn
	}
	return p
}

// identifier sorts one "KIND:value" identifier of a Vietnamese certificate.
func (p *Party) identifier(v string) {
	kind, num, ok := strings.Cut(v, ":")
	if !ok {
		return
	}
	num = strings.TrimSpace(num)
	switch strings.ToUpper(strings.TrimSpace(kind)) {
	case "CCCD", "CMND":
		p.CitizenID = num
	case "MST", "MNS":
		p.TaxCode = num
	case "HC", "PASSPORT":
		p.Passport = num
	}
}

// splitDN splits at commas that are not escaped.
func splitDN(dn string) []string {
	var out []string
	var b strings.Builder
	esc := false
	for _, r := range dn {
		switch {
		case esc:
			b.WriteRune('\\')
			b.WriteRune(r)
			esc = false
		case r == '\\':
			esc = true
		case r == ',' || r == '+':
			out = append(out, b.String())
			b.Reset()
		default:
			b.WriteRune(r)
		}
	}
	return append(out, b.String())
}

// unescapeDN undoes RFC 4514 escapes and decodes a "#hex" DER value holding a string.
func unescapeDN(v string) string {
	v = strings.TrimSpace(v)
	if strings.HasPrefix(v, "#") {
		der, err := hex.DecodeString(v[1:])
		if err != nil {
			return v
		}
		var s string
		if _, err := asn1.Unmarshal(der, &s); err == nil {
			return s
		}
		var raw asn1.RawValue
		if _, err := asn1.Unmarshal(der, &raw); err == nil && raw.Class == asn1.ClassUniversal {
			return string(raw.Bytes) // UTF8String and the other string types
		}
		return v
	}
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		if v[i] == '\\' && i+1 < len(v) {
			if i+2 < len(v) && isHex(v[i+1]) && isHex(v[i+2]) {
				x, _ := hex.DecodeString(v[i+1 : i+3])
				b.Write(x)
				i += 2
				continue
			}
			i++
		}
		b.WriteByte(v[i])
	}
	return b.String()
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}
