package pades

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/kyso-vn/kyso/signer/pdf"
)

// Metadata is written in the same revision as the signature: the clerk's
// organisation signature carries the number, the issue date and the identifier codes
// the system assigned (Decree 30/2020, Art. 15.3), in /Info, in the XMP packet and in
// the template's form fields.
type Metadata struct {
	// Info entries are added to (or replace those of) the document information
	// dictionary, e.g. "KysoIdentifier": "000.00.00.H43,2025/03/05,05/UBND-VP".
	Info map[string]string
	// XMP properties are written in the kyso namespace (https://kyso.vn/ns/1.0/) of a
	// new rdf:Description; Identifier also goes to dc:identifier.
	XMP        map[string]string
	Identifier string
	// Fields fills text fields of the template by full name (e.g. the number/symbol
	// and date boxes); each gets its value and an appearance in the embedded font.
	Fields map[string]string
}

// KysoNS is the XMP namespace of Kyso's document properties.
const KysoNS = "https://kyso.vn/ns/1.0/"

// applyMetadata adds the metadata changes to u; newCat is the catalog to write.
func applyMetadata(rd *pdf.Reader, u *pdf.Update, m *Metadata, cat pdf.Dict, newCat pdf.Dict, fields []field) (bool, error) {
	catChanged := false
	if len(m.Info) > 0 {
		info := copyDict(rd.Dict(rd.Trailer["Info"]))
		keys := make([]string, 0, len(m.Info))
		for k := range m.Info {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			info[pdf.Name(k)] = pdf.TextString(m.Info[k])
		}
		ref := u.Add(info)
		if u.TrailerExtra == nil {
			u.TrailerExtra = pdf.Dict{}
		}
		u.TrailerExtra["Info"] = ref
	}
	if len(m.XMP) > 0 || m.Identifier != "" {
		var old []byte
		if s, ok := mustResolve(rd, cat["Metadata"]).(*pdf.Stream); ok {
			old, _ = s.Decode(8 << 20)
		}
		packet, err := mergeXMP(old, m, documentPDFA(rd).part > 0)
		if err != nil {
			return false, err
		}
		newCat["Metadata"] = u.Add(&pdf.Stream{Dict: pdf.Dict{"Type": pdf.Name("Metadata"), "Subtype": pdf.Name("XML")}, Data: packet})
		catChanged = true
	}
	// The blank fields the approval made (number, day, month, year) share one font.
	var blankFont pdf.Ref
	var blankEnc func(string) string
	var blankTexts []string
	names := make([]string, 0, len(m.Fields))
	for name, value := range m.Fields {
		names = append(names, name)
		if isBlankName(name) {
			blankTexts = append(blankTexts, value)
		}
	}
	sort.Strings(names)
	if len(blankTexts) > 0 {
		var err error
		if blankFont, blankEnc, err = fontResource(u, blankTexts, documentPDFA(rd).wantsCIDSet()); err != nil {
			return false, err
		}
	}
	for _, name := range names {
		value := m.Fields[name]
		var f *field
		for i := range fields {
			if fields[i].name == name {
				f = &fields[i]
			}
		}
		if f == nil || f.ft != "Tx" || f.ref.Num == 0 {
			return false, fmt.Errorf("%w: %q is not a text field of the document", ErrField, name)
		}
		nd := copyDict(f.dict)
		nd["V"] = pdf.TextString(value)
		if r := rd.Array(nd["Rect"]); len(r) == 4 {
			rect, err := coords(rd, r, fmt.Sprintf("the /Rect of field %q", name))
			if err != nil {
				return false, err
			}
			if name == BlankLookup {
				ap, err := qrAppearance(u, value, rect)
				if err != nil {
					return false, err
				}
				nd["AP"] = pdf.Dict{"N": ap}
				u.Set(f.ref, nd)
				continue
			}
			if isBlankName(name) {
				q, _ := rd.Int(nd["Q"])
				size := daSize(nd["DA"])
				italic := strings.Contains(string(daString(nd["DA"])), "/HeIt ")
				nd["AP"] = pdf.Dict{"N": blankAppearance(u, rect, size, int(q), italic, blankFont, blankEnc(value), textWidth(value, size))}
				u.Set(f.ref, nd)
				continue
			}
			h := rect[3] - rect[1]
			fs := 10.0
			if h < 12 {
				fs = h * 0.8
			}
			a := &Appearance{Lines: []string{value}, FontSize: fs}
			page, _ := nd["P"].(pdf.Ref)
			ap, _, err := a.build(rd, u, page, rect, &Options{})
			if err != nil {
				return false, err
			}
			nd["AP"] = pdf.Dict{"N": ap}
		}
		u.Set(f.ref, nd)
	}
	return catChanged, nil
}

func mustResolve(rd *pdf.Reader, o pdf.Object) pdf.Object {
	v, err := rd.Resolve(o)
	if err != nil {
		return nil
	}
	return v
}

// mergeXMP adds an rdf:Description with Kyso's properties to an existing XMP packet,
// or makes a new packet. The packet's other descriptions (pdfaid among them) stay as
// they are. In a PDF/A document (pdfa) Kyso's namespace is also described in a PDF/A
// extension schema, which ISO 19005 requires of every property outside its
// predefined schemas (dc:identifier is one of those).
func mergeXMP(old []byte, m *Metadata, pdfa bool) ([]byte, error) {
	var d strings.Builder
	d.WriteString(`<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:kyso="` + KysoNS + `">`)
	if m.Identifier != "" {
		d.WriteString("<dc:identifier>")
		xml.EscapeText(&d, []byte(m.Identifier))
		d.WriteString("</dc:identifier>")
	}
	keys := make([]string, 0, len(m.XMP))
	for k := range m.XMP {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !isXMLName(k) {
			return nil, fmt.Errorf("%w: XMP property name %q", ErrOptions, k)
		}
		fmt.Fprintf(&d, "<kyso:%s>", k)
		xml.EscapeText(&d, []byte(m.XMP[k]))
		fmt.Fprintf(&d, "</kyso:%s>", k)
	}
	d.WriteString("</rdf:Description>")
	if pdfa && len(keys) > 0 && !bytes.Contains(old, []byte(">"+KysoNS+"<")) {
		schema := kysoExtensionSchema(keys)
		if loc := extensionBagEnd.FindIndex(old); loc != nil {
			// the packet already describes other extensions: one more in their bag
			old = append(append(append([]byte(nil), old[:loc[0]]...), schema...), old[loc[0]:]...)
		} else {
			d.WriteString(`<rdf:Description rdf:about="" xmlns:pdfaExtension="http://www.aiim.org/pdfa/ns/extension/" xmlns:pdfaSchema="http://www.aiim.org/pdfa/ns/schema#" xmlns:pdfaProperty="http://www.aiim.org/pdfa/ns/property#"><pdfaExtension:schemas><rdf:Bag>`)
			d.WriteString(schema)
			d.WriteString(`</rdf:Bag></pdfaExtension:schemas></rdf:Description>`)
		}
	}
	if i := bytes.LastIndex(old, []byte("</rdf:RDF>")); i >= 0 {
		out := append([]byte(nil), old[:i]...)
		out = append(out, d.String()...)
		return append(out, old[i:]...), nil
	}
	return []byte(`<?xpacket begin="` + "\ufeff" + `" id="W5M0MpCehiHzreSzNTczkc9d"?>` +
		`<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">` +
		d.String() + `</rdf:RDF></x:xmpmeta><?xpacket end="w"?>`), nil
}

// extensionBagEnd is the end of an existing PDF/A extension schema bag.
var extensionBagEnd = regexp.MustCompile(`</rdf:Bag>\s*</pdfaExtension:schemas>`)

// kysoExtensionSchema describes the kyso namespace and the properties named by keys
// as one PDF/A extension schema (ISO 19005-1, 6.7.8; -2, 6.6.2.3.3).
func kysoExtensionSchema(keys []string) string {
	var b strings.Builder
	b.WriteString(`<rdf:li rdf:parseType="Resource"><pdfaSchema:schema>Kyso document properties</pdfaSchema:schema>`)
	b.WriteString(`<pdfaSchema:namespaceURI>` + KysoNS + `</pdfaSchema:namespaceURI><pdfaSchema:prefix>kyso</pdfaSchema:prefix><pdfaSchema:property><rdf:Seq>`)
	for _, k := range keys {
		fmt.Fprintf(&b, `<rdf:li rdf:parseType="Resource"><pdfaProperty:name>%s</pdfaProperty:name><pdfaProperty:valueType>Text</pdfaProperty:valueType><pdfaProperty:category>external</pdfaProperty:category><pdfaProperty:description>Kyso: %s</pdfaProperty:description></rdf:li>`, k, k)
	}
	b.WriteString(`</rdf:Seq></pdfaSchema:property></rdf:li>`)
	return b.String()
}

func isXMLName(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		if !(r == '_' || (r >= 'A' && r <= 'Z') || (r >= 'a' && r <= 'z') || (i > 0 && (r >= '0' && r <= '9' || r == '-' || r == '.'))) {
			return false
		}
	}
	return true
}

func isBlankName(n string) bool {
	switch n {
	case BlankNumber, BlankNumberSymbol, BlankDay, BlankMonth, BlankYear, BlankNumberLine, BlankDate:
		return true
	}
	return false
}

func daString(o pdf.Object) pdf.String {
	s, _ := o.(pdf.String)
	return s
}

// daSize reads the font size of a field's /DA ("/Helv 13 Tf 0 g"); 13 pt when it
// names none.
func daSize(o pdf.Object) float64 {
	s, _ := o.(pdf.String)
	f := strings.Fields(string(s))
	for i := 1; i < len(f); i++ {
		if f[i] == "Tf" {
			if v, err := strconv.ParseFloat(f[i-1], 64); err == nil && v > 0 && v < 200 {
				return v
			}
		}
	}
	return 13
}

// blankAppearance draws a blank field's value in the embedded font at size, aligned
// as its /Q says, slanted when the text around it is italic, on the baseline the blank was found on (0.32 × size above the
// rectangle's bottom).
func blankAppearance(u *pdf.Update, rect [4]float64, size float64, q int, italic bool, font pdf.Ref, hex string, width float64) pdf.Ref {
	w, h := rect[2]-rect[0], rect[3]-rect[1]
	x := 0.0
	switch q {
	case 1:
		x = (w - width) / 2
	case 2:
		x = w - width
	}
	slant := "0"
	if italic {
		slant = "0.21" // about 12°, as a serif italic leans
	}
	content := fmt.Sprintf("/Tx BMC q BT 0 g /F1 %s Tf 1 0 %s 1 %s %s Tm <%s> Tj ET Q EMC\n", f2(size), slant, f2(x), f2(0.32*size), hex)
	return u.Add(&pdf.Stream{Dict: pdf.Dict{
		"Type": pdf.Name("XObject"), "Subtype": pdf.Name("Form"),
		"BBox":      pdf.Array{0.0, 0.0, w, h},
		"Resources": pdf.Dict{"Font": pdf.Dict{"F1": font}, "ProcSet": pdf.Array{pdf.Name("PDF"), pdf.Name("Text")}},
	}, Data: []byte(content)})
}
