package pades

import (
	"regexp"
	"strconv"

	"github.com/kyso-vn/kyso/signer/pdf"
)

// pdfaProfile is the PDF/A conformance a document claims (ISO 19005), read from the
// pdfaid entries of its XMP metadata, and the colour space of its PDF/A output
// intent. What Kyso adds to such a document keeps it in that conformance:
//   - PDF/A-1 (part 1) allows no transparency: images get no /SMask; their alpha
//     becomes a 1-bit explicit /Mask (transparent where alpha < 50 %) and the kept
//     pixels' colour is flattened against white, so a seal laid over a signature
//     still shows the signature through its transparent parts. No appearance has a
//     transparency group.
//   - Device colour must match the output intent (ISO 19005-1, 6.2.3.3; -2, 6.2.4.3):
//     images are written in DeviceCMYK or DeviceGray when the intent's profile has 4
//     or 1 components. Text is drawn in DeviceGray black, which every intent allows.
//   - Subset CID fonts carry a /CIDSet (required by PDF/A-1, checked when present by
//     PDF/A-2 and -3).
//   - /Extensions is declared only where the file's version has it (see addDSS).
//   - The XMP packet Kyso updates keeps the pdfaid entries, and Kyso's own properties
//     are described in a PDF/A extension schema (ISO 19005-1, 6.7.8).
type pdfaProfile struct {
	part        int    // 0: not PDF/A
	conformance string // "A", "B", "U", … as the file says it
	components  int    // of the output intent's profile; 3 when unknown
}

const pdfaidNS = "http://www.aiim.org/pdfa/ns/id/"

var (
	pdfaidPrefix = regexp.MustCompile(`xmlns:([A-Za-z_][\w.-]*)\s*=\s*["']` + regexp.QuoteMeta(pdfaidNS) + `["']`)
)

// pdfaProperty reads an XMP simple property of the pdfaid namespace, written either
// as an attribute (prefix:name="v") or as an element (<prefix:name>v</prefix:name>).
func pdfaProperty(xmp []byte, prefix, name string) string {
	q := regexp.QuoteMeta(prefix + ":" + name)
	re := regexp.MustCompile(`(?:` + q + `\s*=\s*["']\s*([^"'<]*?)\s*["']|<` + q + `>\s*([^<]*?)\s*</` + q + `>)`)
	m := re.FindSubmatch(xmp)
	if m == nil {
		return ""
	}
	if len(m[1]) > 0 {
		return string(m[1])
	}
	return string(m[2])
}

// documentPDFA reads the PDF/A claim of the document's catalog /Metadata.
func documentPDFA(rd *pdf.Reader) pdfaProfile {
	p := pdfaProfile{components: 3}
	cat, _, err := rd.Catalog()
	if err != nil {
		return p
	}
	if oi := rd.Array(cat["OutputIntents"]); len(oi) > 0 {
		for _, o := range oi {
			d := rd.Dict(o)
			if s, _ := d["S"].(pdf.Name); s != "GTS_PDFA1" {
				continue
			}
			if prof, ok := mustResolve(rd, d["DestOutputProfile"]).(*pdf.Stream); ok {
				if n, ok := rd.Int(prof.Dict["N"]); ok && (n == 1 || n == 4) {
					p.components = int(n)
				}
			}
			break
		}
	}
	s, ok := mustResolve(rd, cat["Metadata"]).(*pdf.Stream)
	if !ok {
		return p
	}
	xmp, err := s.Decode(8 << 20)
	if err != nil {
		return p
	}
	p.part, p.conformance = pdfaFromXMP(xmp)
	return p
}

// pdfaFromXMP reads pdfaid:part and pdfaid:conformance, whatever prefix the packet
// binds the namespace to; part 0 when it claims no conformance.
func pdfaFromXMP(xmp []byte) (int, string) {
	for _, m := range pdfaidPrefix.FindAllSubmatch(xmp, -1) {
		prefix := string(m[1])
		if part, err := strconv.Atoi(pdfaProperty(xmp, prefix, "part")); err == nil && part > 0 {
			return part, pdfaProperty(xmp, prefix, "conformance")
		}
	}
	return 0, ""
}

// noTransparency: PDF/A-1 forbids soft masks and transparency groups.
func (p pdfaProfile) noTransparency() bool { return p.part == 1 }

// wantsCIDSet: PDF/A-1 requires a complete CIDSet for a subset CID font; PDF/A-2
// and -3 check one when present. PDF 2.0 (and PDF/A-4) deprecate it.
func (p pdfaProfile) wantsCIDSet() bool { return p.part >= 1 && p.part <= 3 }
