package pades

import (
	"bytes"
	"compress/zlib"
	_ "embed"
	"encoding/binary"
	"fmt"
	"image/png"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/image/font/sfnt"
	"golang.org/x/image/math/fixed"

	"github.com/kyso-vn/kyso/signer/pdf"
)

// The text font: Liberation Serif 2 (SIL Open Font License 1.1, fonts/LICENSE-*),
// metric-compatible with Times New Roman, which Decree 30/2020 names, and covering
// Vietnamese. It is embedded so that the text renders and extracts everywhere.
//
//go:embed fonts/LiberationSerif-Regular.ttf
var serifTTF []byte

var (
	fontOnce sync.Once
	fontObj  *sfnt.Font
	fontErr  error
)

func serifFont() (*sfnt.Font, error) {
	fontOnce.Do(func() { fontObj, fontErr = sfnt.Parse(serifTTF) })
	return fontObj, fontErr
}

// Appearance is a visible signature laid out as Decree 30/2020 prescribes:
//   - the leader's signature: Image (the handwritten signature, blue, PNG with a
//     transparent background) fitted in Rect;
//   - the organisation's signature: Seal (red, PNG, transparent) at its true size,
//     laid over about the left third of Image (or, without Image, of Rect: the place
//     of the leader's signature made in an earlier revision);
//   - attachments and copies: no image, Lines of text (number/symbol or the copy form
//     and agency, and the time as ISO 8601 with +07:00) in 10 pt black serif, placed by
//     default at the top right of page 1.
type Appearance struct {
	// Page is 1-based (default 1).
	Page int
	// Rect is x1,y1,x2,y2 in the page's default user space. Zero: the top right
	// corner of the crop box, sized for the text.
	Rect [4]float64
	// Image and Seal are PNG files.
	Image, Seal []byte
	// SealSize is the seal's true width in points; zero takes it from the PNG's pHYs
	// resolution, else 36 mm (the common diameter of an agency seal).
	SealSize float64
	// Under is, for a seal laid over a signature made earlier (Seal without Image),
	// the box (x, y, width, height) of that signature's image within Rect, in the
	// appearance's upright space (LastSignatureImage); zero: all of Rect.
	Under [4]float64
	// Lines are drawn top-down in the text font.
	Lines []string
	// FontSize defaults to 10 pt.
	FontSize float64
}

// build writes the appearance XObject and its resources into u and returns its
// reference and the widget rectangle in user space: rect, or when rect is zero the top
// right corner of the crop box as the reader sees the page (rotation included), sized
// for the text.
func (a *Appearance) build(rd *pdf.Reader, u *pdf.Update, pageRef pdf.Ref, rect [4]float64, o *Options) (pdf.Ref, [4]float64, error) {
	fs := a.FontSize
	if fs == 0 {
		fs = 10
	}
	page := rd.Dict(pageRef)
	rot := int64(0)
	if page != nil {
		var err error
		if rot, err = rotation(rd, page); err != nil {
			return pdf.Ref{}, rect, err
		}
	}
	for _, v := range rect {
		if !usableCoord(v) {
			return pdf.Ref{}, rect, badDocument("the appearance rectangle %v is not a place on a page", rect)
		}
	}
	if rect == ([4]float64{}) {
		if page == nil {
			return pdf.Ref{}, rect, fmt.Errorf("%w: signature page is not a dictionary", pdf.ErrDamaged)
		}
		w, h := a.textSize(fs)
		if w == 0 {
			w, h = 160, 60
		}
		box, err := pageBox(rd, page)
		if err != nil {
			return pdf.Ref{}, rect, err
		}
		rect = topRight(box, rot, w, h, 28)
		if len(a.Lines) > 0 {
			// clear of the page's text (the header: national motto, agency, number)
			rect, fs = a.clearOfText(rd, page, box, rot, fs)
		}
	}
	if rect[2] < rect[0] {
		rect[0], rect[2] = rect[2], rect[0]
	}
	if rect[3] < rect[1] {
		rect[1], rect[3] = rect[3], rect[1]
	}
	// w and h are the appearance's size as the reader sees it: a page shown turned by
	// 90° or 270° swaps them.
	w, h := rect[2]-rect[0], rect[3]-rect[1]
	if rot == 90 || rot == 270 {
		w, h = h, w
	}
	if w <= 0 || h <= 0 {
		return pdf.Ref{}, rect, fmt.Errorf("%w: the appearance rectangle is empty", ErrOptions)
	}
	var content bytes.Buffer
	// bbox is what the appearance draws, in its own (upright) space: the rectangle,
	// grown to hold a seal that reaches past it.
	bbox := [4]float64{0, 0, w, h}
	xobjs := pdf.Dict{}
	resources := pdf.Dict{"ProcSet": pdf.Array{pdf.Name("PDF"), pdf.Name("Text"), pdf.Name("ImageC")}}
	var pa pdfaProfile
	if a.Image != nil || a.Seal != nil || len(a.Lines) > 0 {
		pa = documentPDFA(rd)
	}
	if a.Image != nil || a.Seal != nil {
		// the box of the leader's signature image: the image fitted in rect, or, for a
		// seal laid over a signature made earlier, the whole rect
		x, y, dw, dh := 0.0, 0.0, w, h
		if ub := a.Under; a.Image == nil && ub[2] > 0 && ub[3] > 0 && ub[0]+ub[2] <= w+0.01 && ub[1]+ub[3] <= h+0.01 {
			x, y, dw, dh = ub[0], ub[1], ub[2], ub[3]
		}
		if a.Image != nil {
			ref, iw, ih, err := imageXObject(u, a.Image, pa)
			if err != nil {
				return pdf.Ref{}, rect, fmt.Errorf("%w: signature image: %v", ErrOptions, err)
			}
			xobjs["Im1"] = ref
			s := minf(w/iw, h/ih)
			dw, dh = iw*s, ih*s
			x, y = (w-dw)/2, (h-dh)/2
			fmt.Fprintf(&content, "q %s 0 0 %s %s %s cm /Im1 Do Q\n", f2(dw), f2(dh), f2(x), f2(y))
		}
		if a.Seal != nil {
			sref, sw, sh, err := imageXObject(u, a.Seal, pa)
			if err != nil {
				return pdf.Ref{}, rect, fmt.Errorf("%w: seal image: %v", ErrOptions, err)
			}
			xobjs["Im2"] = sref
			size := a.SealSize
			if size == 0 {
				size = sealTrueSize(a.Seal, sw)
			}
			ss := size / sw
			// The seal's right edge lies one third into the signature image.
			sx := x + dw/3 - sw*ss
			sy := y + dh/2 - sh*ss/2
			fmt.Fprintf(&content, "q %s 0 0 %s %s %s cm /Im2 Do Q\n", f2(sw*ss), f2(sh*ss), f2(sx), f2(sy))
			// The seal is shown whole, at its true size: the box grows to hold it
			// (Decree 30/2020, Appendix I, II.8.a).
			bbox = [4]float64{minf(0, sx), minf(0, sy), maxf(w, sx+sw*ss), maxf(h, sy+sh*ss)}
		}
	}
	if len(a.Lines) > 0 {
		fontRef, enc, err := fontResource(u, a.Lines, pa.wantsCIDSet())
		if err != nil {
			return pdf.Ref{}, rect, err
		}
		resources["Font"] = pdf.Dict{"F1": fontRef}
		lead := fs * 1.2
		content.WriteString("BT 0 g\n")
		for i, line := range a.Lines {
			y := h - float64(i+1)*lead + (lead-fs)/2 + fs*0.2
			if y < 0 {
				break
			}
			fmt.Fprintf(&content, "/F1 %s Tf 1 0 0 1 2 %s Tm <%s> Tj\n", f2(fs), f2(y), enc(line))
		}
		content.WriteString("ET\n")
	}
	if len(xobjs) > 0 {
		resources["XObject"] = xobjs
	}
	form := pdf.Dict{
		"Type":      pdf.Name("XObject"),
		"Subtype":   pdf.Name("Form"),
		"BBox":      pdf.Array{bbox[0], bbox[1], bbox[2], bbox[3]},
		"Resources": resources,
	}
	// A rotated page turns the appearance with it; counter-rotate so it reads upright.
	m := uprightMatrix(rot, w, h)
	if rot != 0 {
		form["Matrix"] = pdf.Array{m[0], m[1], m[2], m[3], m[4], m[5]}
	}
	// The widget's rectangle is the box as the matrix places it on the page: the
	// given rectangle when nothing reaches past it, larger when the seal does.
	if bbox != [4]float64{0, 0, w, h} {
		rect = growRect(rect, bbox, m)
	}
	return u.Add(&pdf.Stream{Dict: form, Data: content.Bytes()}), rect, nil
}

// uprightMatrix maps an appearance drawn upright in a w×h box (as the reader sees
// the page) to the page's user space relative to the widget's lower left corner, for
// a page turned by rot degrees.
func uprightMatrix(rot int64, w, h float64) [6]float64 {
	switch rot {
	case 90:
		return [6]float64{0, 1, -1, 0, h, 0}
	case 180:
		return [6]float64{-1, 0, 0, -1, w, h}
	case 270:
		return [6]float64{0, -1, 1, 0, 0, w}
	}
	return [6]float64{1, 0, 0, 1, 0, 0}
}

// growRect is the user-space rectangle that holds bbox (in the appearance's upright
// space) once m places it relative to rect's lower left corner. The appearance is
// then mapped onto it by a translation only, so nothing is scaled or clipped.
func growRect(rect, bbox [4]float64, m [6]float64) [4]float64 {
	out := [4]float64{1e18, 1e18, -1e18, -1e18}
	for _, c := range [4][2]float64{{bbox[0], bbox[1]}, {bbox[2], bbox[1]}, {bbox[0], bbox[3]}, {bbox[2], bbox[3]}} {
		x := m[0]*c[0] + m[2]*c[1] + m[4] + rect[0]
		y := m[1]*c[0] + m[3]*c[1] + m[5] + rect[1]
		out = [4]float64{minf(out[0], x), minf(out[1], y), maxf(out[2], x), maxf(out[3], y)}
	}
	return out
}

// topRight is the rectangle, in user space, of a w×h box margin points from the top
// right corner of box as a reader shows the page turned by rot degrees clockwise.
func topRight(box [4]float64, rot int64, w, h, margin float64) [4]float64 {
	dw, dh := box[2]-box[0], box[3]-box[1]
	if rot == 90 || rot == 270 {
		dw, dh = dh, dw
	}
	return displayRect(box, rot, [4]float64{dw - margin - w, dh - margin - h, dw - margin, dh - margin})
}

// displayRect turns d, a rectangle in display coordinates (origin at the lower left
// corner of box as a reader shows the page turned by rot degrees clockwise), into
// user space.
func displayRect(box [4]float64, rot int64, d [4]float64) [4]float64 {
	x0, y0, x1, y1 := box[0], box[1], box[2], box[3]
	toUser := func(dx, dy float64) (float64, float64) {
		switch rot {
		case 90:
			return x1 - dy, y0 + dx
		case 180:
			return x1 - dx, y1 - dy
		case 270:
			return x0 + dy, y1 - dx
		}
		return x0 + dx, y0 + dy
	}
	ax, ay := toUser(d[0], d[1])
	bx, by := toUser(d[2], d[3])
	return [4]float64{minf(ax, bx), minf(ay, by), maxf(ax, bx), maxf(ay, by)}
}

func pageBox(rd *pdf.Reader, page pdf.Dict) ([4]float64, error) {
	for _, k := range []pdf.Name{"CropBox", "MediaBox"} {
		if a := rd.Array(rd.Inherited(page, k)); len(a) == 4 {
			return coords(rd, a, "the page's /"+string(k))
		}
	}
	return [4]float64{0, 0, 595, 842}, nil
}

func (a *Appearance) textSize(fs float64) (float64, float64) {
	f, err := serifFont()
	if err != nil || len(a.Lines) == 0 {
		return 0, 0
	}
	var buf sfnt.Buffer
	maxW := 0.0
	for _, l := range a.Lines {
		w := 0.0
		for _, r := range l {
			g, err := f.GlyphIndex(&buf, r)
			if err != nil {
				continue
			}
			adv, err := f.GlyphAdvance(&buf, g, fixed.I(int(f.UnitsPerEm())), 0)
			if err == nil {
				w += float64(adv) / 64 / float64(f.UnitsPerEm()) * fs
			}
		}
		maxW = maxf(maxW, w)
	}
	return maxW + 6, float64(len(a.Lines))*fs*1.2 + 4
}

// fontResource embeds the serif font as a Type0/CIDFontType2 font with Identity-H
// encoding (two-byte glyph ids), glyph widths and a ToUnicode map, so that pdftotext
// gives back the exact Vietnamese text. It returns a function encoding a line.
func fontResource(u *pdf.Update, lines []string, cidSet bool) (pdf.Ref, func(string) string, error) {
	f, err := serifFont()
	if err != nil {
		return pdf.Ref{}, nil, fmt.Errorf("pades: font: %w", err)
	}
	var buf sfnt.Buffer
	upem := float64(f.UnitsPerEm())
	glyphs := map[sfnt.GlyphIndex]rune{}
	for _, l := range lines {
		for _, r := range l {
			g, err := f.GlyphIndex(&buf, r)
			if err != nil || g == 0 {
				return pdf.Ref{}, nil, fmt.Errorf("%w: the font has no glyph for %q", ErrOptions, r)
			}
			glyphs[g] = r
		}
	}
	ids := make([]int, 0, len(glyphs))
	for g := range glyphs {
		ids = append(ids, int(g))
	}
	sort.Ints(ids)
	var widths pdf.Array
	var cmap strings.Builder
	cmap.WriteString("/CIDInit /ProcSet findresource begin 12 dict begin begincmap\n/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n/CMapName /Adobe-Identity-UCS def /CMapType 2 def\n1 begincodespacerange <0000> <FFFF> endcodespacerange\n")
	for i := 0; i < len(ids); i += 100 {
		end := i + 100
		if end > len(ids) {
			end = len(ids)
		}
		fmt.Fprintf(&cmap, "%d beginbfchar\n", end-i)
		for _, g := range ids[i:end] {
			fmt.Fprintf(&cmap, "<%04X> <%s>\n", g, utf16Hex(glyphs[sfnt.GlyphIndex(g)]))
		}
		cmap.WriteString("endbfchar\n")
	}
	cmap.WriteString("endcmap CMapName currentdict /CMap defineresource pop end end\n")
	for _, g := range ids {
		adv, err := f.GlyphAdvance(&buf, sfnt.GlyphIndex(g), fixed.I(int(upem)), 0)
		if err != nil {
			return pdf.Ref{}, nil, err
		}
		widths = append(widths, int64(g), pdf.Array{int64(float64(adv) / 64 * 1000 / upem)})
	}
	// only the glyphs used, under a subset name (pdffonts: "sub yes")
	program, err := subsetTTF(serifTTF, ids)
	if err != nil {
		return pdf.Ref{}, nil, fmt.Errorf("pades: font subset: %w", err)
	}
	name := pdf.Name(subsetTag(ids) + "+LiberationSerif")
	fontFile := u.Add(&pdf.Stream{Dict: pdf.Dict{"Filter": pdf.Name("FlateDecode"), "Length1": int64(len(program))}, Data: deflate(program)})
	descDict := pdf.Dict{
		"Type": pdf.Name("FontDescriptor"), "FontName": name,
		"Flags": int64(34), "FontBBox": pdf.Array{int64(-543), int64(-303), int64(1278), int64(981)},
		"ItalicAngle": int64(0), "Ascent": int64(891), "Descent": int64(-216), "CapHeight": int64(662),
		"StemV": int64(80), "FontFile2": fontFile,
	}
	if cidSet {
		// one bit per CID (= glyph id, Identity) the program holds, the high bit first
		present, err := glyphsPresent(program, ids)
		if err != nil {
			return pdf.Ref{}, nil, fmt.Errorf("pades: font subset: %w", err)
		}
		set := make([]byte, present[len(present)-1]/8+1)
		for _, g := range present {
			set[g/8] |= 0x80 >> uint(g%8)
		}
		descDict["CIDSet"] = u.Add(&pdf.Stream{Dict: pdf.Dict{"Filter": pdf.Name("FlateDecode")}, Data: deflate(set)})
	}
	desc := u.Add(descDict)
	cid := u.Add(pdf.Dict{
		"Type": pdf.Name("Font"), "Subtype": pdf.Name("CIDFontType2"), "BaseFont": name,
		"CIDSystemInfo":  pdf.Dict{"Registry": pdf.String("Adobe"), "Ordering": pdf.String("Identity"), "Supplement": int64(0)},
		"FontDescriptor": desc, "CIDToGIDMap": pdf.Name("Identity"), "W": widths, "DW": int64(1000),
	})
	toUni := u.Add(&pdf.Stream{Dict: pdf.Dict{"Filter": pdf.Name("FlateDecode")}, Data: deflate([]byte(cmap.String()))})
	font := u.Add(pdf.Dict{
		"Type": pdf.Name("Font"), "Subtype": pdf.Name("Type0"), "BaseFont": name,
		"Encoding": pdf.Name("Identity-H"), "DescendantFonts": pdf.Array{cid}, "ToUnicode": toUni,
	})
	enc := func(s string) string {
		var b strings.Builder
		for _, r := range s {
			g, _ := f.GlyphIndex(&buf, r)
			fmt.Fprintf(&b, "%04X", int(g))
		}
		return b.String()
	}
	return font, enc, nil
}

func utf16Hex(r rune) string {
	if r < 0x10000 {
		return fmt.Sprintf("%04X", r)
	}
	r -= 0x10000
	return fmt.Sprintf("%04X%04X", 0xD800+(r>>10), 0xDC00+(r&0x3FF))
}

// imageXObject writes a PNG as an image in the colour space the document's output
// intent allows (RGB unless a PDF/A intent says CMYK or gray), its alpha channel as a
// soft mask, or, in a PDF/A-1 document (no transparency), as a 1-bit explicit /Mask
// with the kept pixels flattened against white.
func imageXObject(u *pdf.Update, pngData []byte, pa pdfaProfile) (pdf.Ref, float64, float64, error) {
	img, err := png.Decode(bytes.NewReader(pngData))
	if err != nil {
		return pdf.Ref{}, 0, 0, err
	}
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	if w*h > 25_000_000 {
		return pdf.Ref{}, 0, 0, fmt.Errorf("image of %dx%d pixels is too large", w, h)
	}
	flatten := pa.noTransparency()
	comps := pa.components
	if comps != 1 && comps != 4 {
		comps = 3
	}
	pix := make([]byte, 0, w*h*comps)
	alpha := make([]byte, 0, w*h)
	// mask is the explicit 1-bit mask of PDF/A-1: rows padded to whole bytes, a set
	// bit masks the pixel out (ISO 32000-1, 8.9.6.2-3).
	stride := (w + 7) / 8
	var mask []byte
	if flatten {
		mask = make([]byte, stride*h)
	}
	hasAlpha := false
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, a := img.At(x, y).RGBA()
			if a != 0xffff {
				hasAlpha = true
			}
			switch {
			case flatten:
				// premultiplied colour over white: c·a + white·(1−a)
				r, g, bl = r+0xffff-a, g+0xffff-a, bl+0xffff-a
				if a < 0x8000 {
					i := (y-b.Min.Y)*stride + (x-b.Min.X)/8
					mask[i] |= 0x80 >> uint((x-b.Min.X)%8)
				}
			case a > 0 && a < 0xffff:
				// un-premultiply
				r, g, bl = r*0xffff/a, g*0xffff/a, bl*0xffff/a
			}
			pix = appendColour(pix, comps, byte(r>>8), byte(g>>8), byte(bl>>8))
			alpha = append(alpha, byte(a>>8))
		}
	}
	cs := map[int]pdf.Name{1: "DeviceGray", 3: "DeviceRGB", 4: "DeviceCMYK"}[comps]
	d := pdf.Dict{
		"Type": pdf.Name("XObject"), "Subtype": pdf.Name("Image"),
		"Width": int64(w), "Height": int64(h), "ColorSpace": cs,
		"BitsPerComponent": int64(8), "Filter": pdf.Name("FlateDecode"),
	}
	switch {
	case hasAlpha && flatten:
		d["Mask"] = u.Add(&pdf.Stream{Dict: pdf.Dict{
			"Type": pdf.Name("XObject"), "Subtype": pdf.Name("Image"),
			"Width": int64(w), "Height": int64(h), "ImageMask": true,
			"BitsPerComponent": int64(1), "Filter": pdf.Name("FlateDecode"),
		}, Data: deflate(mask)})
	case hasAlpha:
		d["SMask"] = u.Add(&pdf.Stream{Dict: pdf.Dict{
			"Type": pdf.Name("XObject"), "Subtype": pdf.Name("Image"),
			"Width": int64(w), "Height": int64(h), "ColorSpace": pdf.Name("DeviceGray"),
			"BitsPerComponent": int64(8), "Filter": pdf.Name("FlateDecode"),
		}, Data: deflate(alpha)})
	}
	return u.Add(&pdf.Stream{Dict: d, Data: deflate(pix)}), float64(w), float64(h), nil
}

// appendColour appends an 8-bit RGB colour as comps components: RGB as is, gray as
// its luma (ITU-R BT.601), CMYK by the naive complement with black extracted (the
// output intent's profile then renders it; seals and signatures are flat colours).
func appendColour(pix []byte, comps int, r, g, b byte) []byte {
	switch comps {
	case 1:
		return append(pix, byte((299*int(r)+587*int(g)+114*int(b))/1000))
	case 4:
		c, m, y := 255-int(r), 255-int(g), 255-int(b)
		k := min(c, m, y)
		if k == 255 {
			return append(pix, 0, 0, 0, 255)
		}
		s := 255 - k
		return append(pix, byte((c-k)*255/s), byte((m-k)*255/s), byte((y-k)*255/s), byte(k))
	}
	return append(pix, r, g, b)
}

// sealTrueSize reads the PNG's pHYs resolution to give the seal's width in points.
func sealTrueSize(pngData []byte, pxWidth float64) float64 {
	const defaultMM = 36.0
	i := bytes.Index(pngData, []byte("pHYs"))
	if i >= 0 && i+4+9 <= len(pngData) {
		ppu := binary.BigEndian.Uint32(pngData[i+4:])
		if unit := pngData[i+12]; unit == 1 && ppu > 0 {
			return pxWidth / float64(ppu) * 1000 / 25.4 * 72
		}
	}
	return defaultMM / 25.4 * 72
}

func deflate(b []byte) []byte {
	var out bytes.Buffer
	zw, _ := zlib.NewWriterLevel(&out, zlib.BestSpeed)
	zw.Write(b)
	zw.Close()
	return out.Bytes()
}

func f2(v float64) string {
	s := fmt.Sprintf("%.3f", v)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	if s == "" || s == "-0" {
		return "0"
	}
	return s
}

func minf(a, b float64) float64 {
	if a < b {
		return a
	}
	return b
}

func maxf(a, b float64) float64 {
	if a > b {
		return a
	}
	return b
}

// pdfDate formats t as a PDF date, D:YYYYMMDDHHmmSS+HH'mm'.
func pdfDate(t time.Time) string {
	_, off := t.Zone()
	sign := '+'
	if off < 0 {
		sign = '-'
		off = -off
	}
	return fmt.Sprintf("D:%s%c%02d'%02d'", t.Format("20060102150405"), sign, off/3600, off%3600/60)
}

// clearOfText moves a text block placed at the top right down, and then makes it
// smaller, until it covers none of the page's text: the block of an attachment or a
// copy must not be laid over "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM" or the number line.
// It stays in the top third of the page as the reader sees it; when no place there is
// free it keeps the top right corner.
func (a *Appearance) clearOfText(rd *pdf.Reader, page pdf.Dict, box [4]float64, rot int64, fs float64) ([4]float64, float64) {
	first := func(size float64) [4]float64 {
		w, h := a.textSize(size)
		return topRight(box, rot, w, h, 28)
	}
	busy := textBoxes(rd, page)
	if len(busy) == 0 {
		return first(fs), fs
	}
	height := box[3] - box[1]
	if rot == 90 || rot == 270 {
		height = box[2] - box[0]
	}
	for _, size := range []float64{fs, fs * 0.9, fs * 0.8} {
		w, h := a.textSize(size)
		for down := 0.0; down+h+28 <= height/3; down += 2 {
			r := topRight(box, rot, w, h+down, 28)
			// topRight grew the box downwards by down: keep its lowest h points
			switch rot {
			case 0:
				r[3] = r[1] + h
			case 180:
				r[1] = r[3] - h
			case 90:
				r[0] = r[2] - h
			case 270:
				r[2] = r[0] + h
			}
			if keepsClear(busy, r) {
				return r, size
			}
		}
	}
	return first(fs), fs
}
