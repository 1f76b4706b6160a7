package pades

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"image"
	"strings"
	"testing"

	"golang.org/x/image/font/sfnt"
	"golang.org/x/image/math/fixed"

	"github.com/kyso-vn/kyso/internal/testenv"
	"github.com/kyso-vn/kyso/internal/testpki"
	"github.com/kyso-vn/kyso/signer/pdf"
)

// iccHeader is a 128-byte ICC profile header with an empty tag table: enough for a
// test's output intent to say its colour space (the machine has no ICC profile).
func iccHeader(space string) []byte {
	b := make([]byte, 132)
	copy(b[4:], "none")
	b[8], b[9] = 2, 0x10 // version 2.1
	copy(b[12:], "mntr")
	copy(b[16:], space)
	copy(b[20:], "XYZ ")
	copy(b[36:], "acsp")
	b[0], b[1], b[2], b[3] = 0, 0, 0, 132
	return b
}

// pdfaInput is a one-page PDF/A-part+conformance file as a PDF/A producer writes it:
// the header of the part's base version, XMP with pdfaid, an OutputIntent with the
// profile, a trailer /ID, and a page drawing a grey band (no text: an unembedded font
// would not be PDF/A) where the signature will lie.
func pdfaInput(part int, conformance, iccSpace string, n int) []byte {
	version := map[int]string{1: "1.4", 2: "1.7"}[part]
	xmp := `<?xpacket begin="` + "\ufeff" + `" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
<rdf:Description rdf:about="" xmlns:pdfaid="http://www.aiim.org/pdfa/ns/id/"><pdfaid:part>` + fmt.Sprint(part) + `</pdfaid:part><pdfaid:conformance>` + conformance + `</pdfaid:conformance></rdf:Description>
<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:format>application/pdf</dc:format></rdf:Description>
</rdf:RDF></x:xmpmeta>
<?xpacket end="w"?>`
	icc := iccHeader(iccSpace)
	content := "q 0.5 g 300 400 220 100 re f Q"
	objs := []string{
		"<< /Type /Catalog /Pages 2 0 R /Metadata 5 0 R /OutputIntents [<< /Type /OutputIntent /S /GTS_PDFA1 /OutputConditionIdentifier (test) /Info (test) /DestOutputProfile 6 0 R >>] >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R /Resources << >> >>",
		testenv.StreamObject(content),
		fmt.Sprintf("<< /Type /Metadata /Subtype /XML /Length %d >>\nstream\n%s\nendstream", len(xmp), xmp),
		fmt.Sprintf("<< /N %d /Length %d >>\nstream\n%s\nendstream", n, len(icc), icc),
	}
	var b bytes.Buffer
	b.WriteString("%PDF-" + version + "\n%\xe2\xe3\xcf\xd3\n")
	offsets := make([]int, len(objs))
	for i, o := range objs {
		offsets[i] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(objs)+1)
	for _, off := range offsets {
		fmt.Fprintf(&b, "%010d 00000 n \n", off)
	}
	id := "<0123456789ABCDEF0123456789ABCDEF>"
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R /ID [%s %s] >>\nstartxref\n%d\n%%%%EOF\n", len(objs)+1, id, id, xref)
	return b.Bytes()
}

// TestPDFAKept approves and issues PDF/A-1b and PDF/A-2b files as Decree 30 does —
// the leader's signature image (a PNG with alpha) with blanks for the number and
// the lookup QR code, then the clerk's seal (a PNG with alpha) over it, the blanks
// filled and Kyso's XMP properties written, at B-LT — and checks what ISO 19005 asks of what Kyso added: no
// soft mask or transparency group in PDF/A-1, images in the output intent's colour
// space, fonts embedded with widths, ToUnicode and a CIDSet naming every glyph, no
// /Extensions where the version does not have it, pdfaid and an extension schema
// for Kyso's properties in the XMP; pdfsig and qpdf judge the file, and the rendered
// page shows the grey band through the images' transparent parts.
func TestPDFAKept(t *testing.T) {
	ts, col := startServices(t)
	for _, tc := range []struct {
		name        string
		part        int
		icc         string
		n           int
		wantSpace   pdf.Name
		wantSMask   bool
		wantESIC    bool
		conformance string
	}{
		{"PDF/A-1b", 1, "RGB ", 3, "DeviceRGB", false, false, "B"},
		{"PDF/A-2b", 2, "RGB ", 3, "DeviceRGB", true, true, "B"},
		{"PDF/A-1b CMYK intent", 1, "CMYK", 4, "DeviceCMYK", false, false, "B"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := pdfaInput(tc.part, tc.conformance, tc.icc, tc.n)
			if p := documentPDFA(openBytes(t, in)); p.part != tc.part || p.conformance != tc.conformance || p.components != tc.n {
				t.Fatalf("input read as %+v", p)
			}
			// the leader approves with the signature image, leaving blanks for the
			// number and the lookup QR code; the clerk issues: the seal over the
			// image, the blanks filled, Kyso's XMP properties, B-LT
			p := testpki.Committed(t)
			rect := [4]float64{300, 400, 520, 500}
			once, err := signBytes(t, in, p.Leader.Key, Options{Certificate: p.Leader.Cert, Chain: p.Leader.Chain,
				Appearance: &Appearance{Rect: rect, Image: testenv.SignaturePNG()},
				Blanks:     []Blank{{Name: BlankNumber, Page: 1, Rect: [4]float64{100, 700, 160, 715}, Size: 13}, LookupBlank()}})
			if err != nil {
				t.Fatal(err)
			}
			opts, key := orgOptions(t)
			opts.Level, opts.Timestamper, opts.Validation = LevelBLT, ts, col
			opts.Appearance = &Appearance{Rect: rect, Seal: testenv.SealPNG()}
			opts.LockFields = []string{BlankNumber, BlankLookup}
			opts.Metadata = &Metadata{XMP: map[string]string{"NumberSymbol": "05/UBND-VP"}, Identifier: "000.00.00.H43,2025/03/05,05/UBND-VP",
				Fields: map[string]string{BlankNumber: "05", BlankLookup: "https://kyso.example.vn/tra-cuu/000.00.00.H43,2025%2F03%2F05,05%2FUBND-VP"}}
			out, err := signBytes(t, once, key, opts)
			if err != nil {
				t.Fatal(err)
			}
			path := writeTemp(t, "signed.pdf", out)
			j := judge(t, path)
			if n := strings.Count(j.pdfsig, "Signature is Valid."); n != 2 {
				t.Errorf("pdfsig: %d valid signatures, want 2:\n%s", n, j.pdfsig)
			}
			if errs := qpdfErrors(j.qpdf); len(errs) > 0 || !strings.Contains(j.qpdf, "No syntax or stream encoding errors found") {
				t.Errorf("qpdf --check:\n%s", j.qpdf)
			}

			r := openBytes(t, out)
			orig := openBytes(t, in).MaxObjectNumber()
			images, fonts := 0, 0
			masks := map[int]bool{}
			for _, num := range r.Objects() {
				if s, ok := mustResolve(r, pdf.Ref{Num: num}).(*pdf.Stream); ok && num > orig {
					for _, k := range []pdf.Name{"SMask", "Mask"} {
						if ref, ok := s.Dict[k].(pdf.Ref); ok {
							masks[ref.Num] = true
						}
					}
				}
			}
			for _, num := range r.Objects() {
				if num <= orig {
					continue
				}
				o, err := r.Get(num)
				if err != nil {
					t.Fatal(err)
				}
				var d pdf.Dict
				switch v := o.(type) {
				case pdf.Dict:
					d = v
				case *pdf.Stream:
					d = v.Dict
				default:
					continue
				}
				if _, ok := d["Group"]; ok && tc.part == 1 {
					t.Errorf("object %d has a transparency group in a PDF/A-1 file", num)
				}
				if st, _ := d["Subtype"].(pdf.Name); st == "Image" {
					if masks[num] {
						continue
					}
					images++
					checkImage(t, r, num, d, tc.wantSpace, tc.wantSMask)
				}
				if st, _ := d["Subtype"].(pdf.Name); st == "CIDFontType2" {
					fonts++
					checkFont(t, r, num, d, tc.part <= 3)
				}
			}
			if images != 2 || fonts != 1 {
				t.Errorf("%d images and %d fonts added, want 2 (signature, seal) and 1 (the number)", images, fonts)
			}

			cat, _, _ := r.Catalog()
			_, esic := r.Dict(cat["Extensions"])["ESIC"]
			if esic != tc.wantESIC {
				t.Errorf("/Extensions /ESIC present=%v in a PDF %s file, want %v", esic, r.Version, tc.wantESIC)
			}
			if r.Dict(cat["DSS"]) == nil {
				t.Error("no DSS at B-LT")
			}
			if p := documentPDFA(r); p.part != tc.part || p.conformance != tc.conformance {
				t.Errorf("after signing the XMP says %+v", p)
			}
			meta, _ := mustResolve(r, cat["Metadata"]).(*pdf.Stream)
			x, _ := meta.Decode(1 << 20)
			if _, filtered := meta.Dict["Filter"]; filtered {
				t.Error("the XMP stream is filtered (ISO 19005: metadata streams are not)")
			}
			if !bytes.Contains(x, []byte("<pdfaSchema:namespaceURI>"+KysoNS+"</pdfaSchema:namespaceURI>")) ||
				!bytes.Contains(x, []byte("<pdfaProperty:name>NumberSymbol</pdfaProperty:name>")) {
				t.Errorf("Kyso's XMP properties have no PDF/A extension schema:\n%s", x)
			}

			before := greyPixels(renderPage(t, writeTemp(t, "in.pdf", in), 72))
			img := renderPage(t, path, 72)
			after := greyPixels(img)
			if before == 0 || float64(after) < 0.8*float64(before) {
				t.Errorf("the grey band under the images: %d px before, %d after: the transparent background hides the page", before, after)
			}
			if colourBox(img, isRed).n == 0 || colourBox(img, isBlue).n == 0 {
				t.Error("the seal or the signature image does not render")
			}
		})
	}
}

// checkImage: an image Kyso added is in the output intent's colour space, and has
// a soft mask only where the conformance allows transparency.
func checkImage(t *testing.T, r *pdf.Reader, num int, d pdf.Dict, space pdf.Name, smaskAllowed bool) {
	t.Helper()
	if cs, _ := d["ColorSpace"].(pdf.Name); cs != space {
		t.Errorf("image %d in %v, want %v", num, d["ColorSpace"], space)
	}
	_, smask := d["SMask"]
	if smask && !smaskAllowed {
		t.Errorf("image %d has an /SMask in a PDF/A-1 file", num)
	}
	if !smaskAllowed {
		m, ok := mustResolve(r, d["Mask"]).(*pdf.Stream)
		if !ok {
			t.Fatalf("image %d has no explicit /Mask for its transparent background", num)
		}
		if bpc, _ := r.Int(m.Dict["BitsPerComponent"]); bpc != 1 {
			t.Errorf("image %d's mask has %d bits per component", num, bpc)
		}
	}
}

// checkFont: the CID font is embedded, its widths are the font program's advances,
// it has a ToUnicode map, and (PDF/A-1 to -3) a CIDSet naming exactly the glyphs
// the program holds.
func checkFont(t *testing.T, r *pdf.Reader, num int, d pdf.Dict, wantCIDSet bool) {
	t.Helper()
	desc := r.Dict(d["FontDescriptor"])
	ff, ok := mustResolve(r, desc["FontFile2"]).(*pdf.Stream)
	if !ok {
		t.Fatalf("font %d is not embedded", num)
	}
	program, err := ff.Decode(4 << 20)
	if err != nil {
		t.Fatal(err)
	}
	// widths are checked against the whole font (glyph ids are kept) and the
	// subset's own hmtx
	f, err := sfnt.Parse(serifTTF)
	if err != nil {
		t.Fatal(err)
	}
	tables, err := ttfTables(program)
	if err != nil {
		t.Fatalf("font %d's program: %v", num, err)
	}
	hmtx, loca := tables["hmtx"], tables["loca"]
	var buf sfnt.Buffer
	upem := f.UnitsPerEm()
	w := r.Array(d["W"])
	var used []int
	for i := 0; i+1 < len(w); i += 2 {
		g, _ := r.Int(w[i])
		ws := r.Array(w[i+1])
		for k, v := range ws {
			gid := int(g) + k
			got, _ := r.Int(v)
			adv, err := f.GlyphAdvance(&buf, sfnt.GlyphIndex(gid), fixed.I(int(upem)), 0)
			if err != nil {
				t.Fatal(err)
			}
			if want := int64(float64(adv) / 64 * 1000 / float64(upem)); got != want {
				t.Errorf("font %d glyph %d: /W %d, the font %d", num, gid, got, want)
			}
			if 4*gid+2 > len(hmtx) || int(binary.BigEndian.Uint16(hmtx[4*gid:])) != int(adv/64) {
				t.Errorf("font %d glyph %d: the subset's advance differs from the font's", num, gid)
			}
			used = append(used, gid)
		}
	}
	if len(used) == 0 {
		t.Errorf("font %d has no widths", num)
	}
	// the ToUnicode map is found through the Type0 font that names this one
	var toUnicode bool
	for _, n := range r.Objects() {
		if o, _ := r.Get(n); o != nil {
			if t0, ok := o.(pdf.Dict); ok && t0["Subtype"] == pdf.Name("Type0") {
				if ds := r.Array(t0["DescendantFonts"]); len(ds) == 1 && ds[0] == (pdf.Ref{Num: num}) {
					_, toUnicode = mustResolve(r, t0["ToUnicode"]).(*pdf.Stream)
				}
			}
		}
	}
	if !toUnicode {
		t.Errorf("font %d has no ToUnicode map", num)
	}
	cs, ok := mustResolve(r, desc["CIDSet"]).(*pdf.Stream)
	if ok != wantCIDSet {
		t.Fatalf("font %d: CIDSet present=%v, want %v", num, ok, wantCIDSet)
	}
	if !ok {
		return
	}
	set, err := cs.Decode(1 << 20)
	if err != nil {
		t.Fatal(err)
	}
	// what the program holds: .notdef, the glyphs drawn, and every glyph with an
	// outline in the subset's glyf (composite components); loca is long (4 bytes)
	present := map[int]bool{0: true}
	for _, g := range used {
		present[g] = true
	}
	for g := 0; 4*g+8 <= len(loca); g++ {
		if binary.BigEndian.Uint32(loca[4*g+4:]) > binary.BigEndian.Uint32(loca[4*g:]) {
			present[g] = true
		}
	}
	inSet := map[int]bool{}
	for i, b := range set {
		for bit := 0; bit < 8; bit++ {
			if b&(0x80>>bit) != 0 {
				inSet[8*i+bit] = true
			}
		}
	}
	for g := range present {
		if !inSet[g] {
			t.Errorf("font %d: glyph %d is in the program but not in the CIDSet", num, g)
		}
		delete(inSet, g)
	}
	if len(inSet) > 0 {
		t.Errorf("font %d: the CIDSet names %d glyphs the program lacks", num, len(inSet))
	}
}

func greyPixels(img image.Image) int {
	return colourBox(img, func(r, g, b uint32) bool {
		return r > 100 && r < 160 && absDiff(r, g) < 8 && absDiff(g, b) < 8
	}).n
}

// TestPDFAFromXMP: the pdfaid entries as elements or attributes, under any prefix.
func TestPDFAFromXMP(t *testing.T) {
	const ns = `xmlns:%s="http://www.aiim.org/pdfa/ns/id/"`
	for _, tc := range []struct {
		name, xmp   string
		part        int
		conformance string
	}{
		{"elements", `<rdf:Description ` + fmt.Sprintf(ns, "pdfaid") + `><pdfaid:part>1</pdfaid:part><pdfaid:conformance>B</pdfaid:conformance></rdf:Description>`, 1, "B"},
		{"attributes", `<rdf:Description rdf:about="" ` + fmt.Sprintf(ns, "pdfaid") + ` pdfaid:part="2" pdfaid:conformance="U"/>`, 2, "U"},
		{"another prefix", `<rdf:Description ` + fmt.Sprintf(ns, "id") + ` id:part='3' id:conformance='A'/>`, 3, "A"},
		{"the prefix not bound", `<rdf:Description pdfaid:part="1"/>`, 0, ""},
		{"no claim", `<rdf:Description xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:format>application/pdf</dc:format></rdf:Description>`, 0, ""},
		{"not a number", `<rdf:Description ` + fmt.Sprintf(ns, "pdfaid") + ` pdfaid:part="x"/>`, 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			part, conf := pdfaFromXMP([]byte(tc.xmp))
			if part != tc.part || conf != tc.conformance {
				t.Errorf("got PDF/A-%d%s, want PDF/A-%d%s", part, conf, tc.part, tc.conformance)
			}
		})
	}
}
