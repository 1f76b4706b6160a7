package pades

import (
	"bytes"
	"fmt"
	"strings"

	"rsc.io/qr"

	"github.com/kyso-vn/kyso/signer/pdf"
)

// The QR code of the lookup page. When a document's register is public, the leader's
// approval revision makes one more blank, LookupBlank: an empty, read-only square
// text field on the first page where it covers neither text nor annotations. The
// issuing revision fills it with the URL of the document's public lookup page
// (/tra-cuu/{identifier}, known once the number is) and draws that URL as a QR code
// in the field's appearance, in vectors (no image, nothing PDF/A forbids). Filling a
// field that was there when the leader signed is form filling, which an approval
// permits; an annotation added by the issuing revision would not be (the verifier
// treats an approval-only document as DocMDP P=2), nor would a change of the page's
// content. Whoever holds a printed copy scans the code and finds the issued original.

// BlankLookup is the name of the lookup blank.
const BlankLookup = "kyso_tra_cuu"

// DefaultQRSize is 70 pt (about 25 mm), the side of the lookup blank: a version-5 code
// (a 90-character URL at level M: 37 modules and a 4-module quiet zone each side)
// then has modules of about 0.55 mm, which a phone reads from an office laser print
// and zbar from a 150 dpi scan.
const DefaultQRSize = 70

// qrMargin keeps the code this far from the edge of the page as the reader sees it.
const qrMargin = 20

// LookupBlank is the lookup blank the approval makes on page 1; its place is chosen
// when the revision is laid out (see qrPlace).
func LookupBlank() Blank { return Blank{Name: BlankLookup, Page: 1, Size: 10} }

// placeLookup gives a lookup blank without a rectangle its place on the page, clear of
// the page's text and annotations and of the rectangles in avoid (the signature's
// own widget, the other blanks). It returns a copy of blanks.
func placeLookup(rd *pdf.Reader, blanks []Blank, pages []pdf.Ref, avoid [][4]float64) ([]Blank, error) {
	out := append([]Blank(nil), blanks...)
	for _, b := range out {
		if b.Name != BlankLookup {
			avoid = append(avoid, b.Rect)
		}
	}
	for i, b := range out {
		if b.Name != BlankLookup || b.Rect != ([4]float64{}) || b.Page < 1 || b.Page > len(pages) {
			continue
		}
		page := rd.Dict(pages[b.Page-1])
		if page == nil {
			return nil, fmt.Errorf("%w: page %d is not a dictionary", pdf.ErrDamaged, b.Page)
		}
		box, err := pageBox(rd, page)
		if err != nil {
			return nil, err
		}
		rot, err := rotation(rd, page)
		if err != nil {
			return nil, err
		}
		out[i].Rect = qrPlace(rd, page, box, rot, DefaultQRSize, avoid)
	}
	return out, nil
}

// qrAppearance is the filled lookup blank's appearance: the URL as a QR code filling
// the field's rectangle.
func qrAppearance(u *pdf.Update, url string, rect [4]float64) (pdf.Ref, error) {
	code, err := qr.Encode(url, qr.M)
	if err != nil {
		return pdf.Ref{}, fmt.Errorf("%w: the QR code cannot hold %q: %v", ErrOptions, url, err)
	}
	size := min(rect[2]-rect[0], rect[3]-rect[1])
	return u.Add(&pdf.Stream{Dict: pdf.Dict{
		"Type": pdf.Name("XObject"), "Subtype": pdf.Name("Form"),
		"BBox":      pdf.Array{0.0, 0.0, size, size},
		"Resources": pdf.Dict{},
	}, Data: qrContent(code, size)}), nil
}

// qrContent draws the code in a size×size box: white under the whole code and its
// quiet zone (a tinted page must not reach the finder patterns), then each run of dark
// modules of a row as one rectangle.
func qrContent(code *qr.Code, size float64) []byte {
	n := code.Size + 8
	m := size / float64(n)
	var b bytes.Buffer
	fmt.Fprintf(&b, "/Tx BMC q 1 g 0 0 %s %s re f 0 g\n", f2(size), f2(size))
	for y := 0; y < code.Size; y++ {
		for x := 0; x < code.Size; {
			if !code.Black(x, y) {
				x++
				continue
			}
			run := 1
			for x+run < code.Size && code.Black(x+run, y) {
				run++
			}
			// row 0 is the top of the code
			fmt.Fprintf(&b, "%s %s %s %s re\n", f2(float64(x+4)*m), f2(size-float64(y+5)*m), f2(float64(run)*m), f2(m))
			x += run
		}
	}
	b.WriteString("f Q EMC\n")
	return b.Bytes()
}

// qrPlace chooses the code's rectangle in user space.
func qrPlace(rd *pdf.Reader, page pdf.Dict, box [4]float64, rot int64, size float64, avoid [][4]float64) [4]float64 {
	busy := append(textBoxes(rd, page), avoid...)
	for _, a := range rd.Array(page["Annots"]) {
		if d := rd.Dict(a); d != nil {
			if r, err := coords(rd, rd.Array(d["Rect"]), "an annotation's /Rect"); err == nil {
				busy = append(busy, r)
			}
		}
	}
	dw, dh := box[2]-box[0], box[3]-box[1]
	if rot == 90 || rot == 270 {
		dw, dh = dh, dw
	}
	at := func(dx, dy float64) [4]float64 {
		return displayRect(box, rot, [4]float64{dx, dy, dx + size, dy + size})
	}
	candidates := [][4]float64{
		at(qrMargin, qrMargin),                 // bottom left
		at(dw-qrMargin-size, qrMargin),         // bottom right
		at(qrMargin, dh-qrMargin-size),         // top left
		at(dw-qrMargin-size, dh-qrMargin-size), // top right
	}
	for dx := qrMargin + 10.0; dx+size+qrMargin <= dw; dx += 10 {
		candidates = append(candidates, at(dx, qrMargin))
	}
	for _, c := range candidates {
		if keepsClear(busy, c) {
			return c
		}
	}
	return candidates[0]
}

// textBoxes are the rectangles of the page's visible glyphs (user space), from the
// page's own text layout; none when the page cannot be read that way.
func textBoxes(rd *pdf.Reader, page pdf.Dict) [][4]float64 {
	gs, err := pageGlyphs(rd, page)
	if err != nil {
		return nil
	}
	busy := make([][4]float64, 0, len(gs))
	for _, g := range gs {
		if strings.TrimSpace(g.text) != "" {
			busy = append(busy, [4]float64{g.x, g.y - 0.25*g.size, g.x1, g.y + 0.9*g.size})
		}
	}
	return busy
}

// keepsClear tells whether r keeps 2 points away from every rectangle of busy.
func keepsClear(busy [][4]float64, r [4]float64) bool {
	for _, b := range busy {
		b = [4]float64{minf(b[0], b[2]), minf(b[1], b[3]), maxf(b[0], b[2]), maxf(b[1], b[3])}
		if b[0] < r[2]+2 && r[0]-2 < b[2] && b[1] < r[3]+2 && r[1]-2 < b[3] {
			return false
		}
	}
	return true
}
