package pades

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
)

// subsetTTF makes a TrueType font that holds only the outlines of the glyphs used
// (and the components of composite glyphs), keeping every glyph id, so that an
// Identity-H font with CIDToGIDMap /Identity draws the same: a text block embeds a
// few kilobytes instead of the whole 384 KiB Liberation Serif. The glyphs after the
// highest one used are dropped; those below it that are not used keep an empty
// outline. The tables kept are the ones a PDF TrueType font program needs (ISO
// 32000-1, 9.9): head, hhea, hmtx, maxp, loca, glyf, cvt, fpgm, prep.
func subsetTTF(font []byte, used []int) ([]byte, error) {
	tables, err := ttfTables(font)
	if err != nil {
		return nil, err
	}
	for _, t := range []string{"head", "hhea", "hmtx", "maxp", "loca", "glyf"} {
		if _, ok := tables[t]; !ok {
			return nil, fmt.Errorf("font: no %s table", t)
		}
	}
	head, hhea, maxp := tables["head"], tables["hhea"], tables["maxp"]
	if len(head) < 54 || len(hhea) < 36 || len(maxp) < 6 {
		return nil, errors.New("font: short head, hhea or maxp")
	}
	numGlyphs := int(binary.BigEndian.Uint16(maxp[4:]))
	longLoca := binary.BigEndian.Uint16(head[50:]) == 1
	loca, glyf := tables["loca"], tables["glyf"]
	offset := func(g int) (int, int, bool) {
		if g < 0 || g >= numGlyphs {
			return 0, 0, false
		}
		var a, b int
		if longLoca {
			if 4*g+8 > len(loca) {
				return 0, 0, false
			}
			a, b = int(binary.BigEndian.Uint32(loca[4*g:])), int(binary.BigEndian.Uint32(loca[4*g+4:]))
		} else {
			if 2*g+4 > len(loca) {
				return 0, 0, false
			}
			a, b = 2*int(binary.BigEndian.Uint16(loca[2*g:])), 2*int(binary.BigEndian.Uint16(loca[2*g+2:]))
		}
		if a > b || b > len(glyf) {
			return 0, 0, false
		}
		return a, b, true
	}
	// the glyphs kept: .notdef, the ones used, and composite components (bounded)
	keep := map[int]bool{0: true}
	queue := append([]int(nil), used...)
	for steps := 0; len(queue) > 0 && steps < 100_000; steps++ {
		g := queue[0]
		queue = queue[1:]
		if keep[g] && g != 0 || g < 0 || g >= numGlyphs {
			continue
		}
		keep[g] = true
		a, b, ok := offset(g)
		if !ok || b-a < 10 || int16(binary.BigEndian.Uint16(glyf[a:])) >= 0 {
			continue
		}
		// a composite glyph: its components
		p := a + 10
		for p+4 <= b {
			flags := binary.BigEndian.Uint16(glyf[p:])
			queue = append(queue, int(binary.BigEndian.Uint16(glyf[p+2:])))
			p += 4
			if flags&0x1 != 0 {
				p += 4
			} else {
				p += 2
			}
			switch {
			case flags&0x8 != 0:
				p += 2
			case flags&0x40 != 0:
				p += 4
			case flags&0x80 != 0:
				p += 8
			}
			if flags&0x20 == 0 {
				break
			}
		}
	}
	last := 0
	for g := range keep {
		last = max(last, g)
	}
	n := last + 1
	var newGlyf []byte
	newLoca := make([]byte, 4*(n+1))
	for g := 0; g < n; g++ {
		binary.BigEndian.PutUint32(newLoca[4*g:], uint32(len(newGlyf)))
		if !keep[g] {
			continue
		}
		if a, b, ok := offset(g); ok {
			newGlyf = append(newGlyf, glyf[a:b]...)
			for len(newGlyf)%4 != 0 {
				newGlyf = append(newGlyf, 0)
			}
		}
	}
	binary.BigEndian.PutUint32(newLoca[4*n:], uint32(len(newGlyf)))
	// hmtx: one long metric per glyph kept
	hm := tables["hmtx"]
	nh := int(binary.BigEndian.Uint16(hhea[34:]))
	if nh == 0 || 4*nh > len(hm) {
		return nil, errors.New("font: bad hmtx")
	}
	newHmtx := make([]byte, 4*n)
	for g := 0; g < n; g++ {
		var adv, lsb uint16
		switch {
		case g < nh:
			adv, lsb = binary.BigEndian.Uint16(hm[4*g:]), binary.BigEndian.Uint16(hm[4*g+2:])
		default:
			adv = binary.BigEndian.Uint16(hm[4*(nh-1):])
			if i := 4*nh + 2*(g-nh); i+2 <= len(hm) {
				lsb = binary.BigEndian.Uint16(hm[i:])
			}
		}
		binary.BigEndian.PutUint16(newHmtx[4*g:], adv)
		binary.BigEndian.PutUint16(newHmtx[4*g+2:], lsb)
	}
	newHead := append([]byte(nil), head...)
	binary.BigEndian.PutUint16(newHead[50:], 1) // long loca
	binary.BigEndian.PutUint32(newHead[8:], 0)  // checkSumAdjustment, set below
	newHhea := append([]byte(nil), hhea...)
	binary.BigEndian.PutUint16(newHhea[34:], uint16(n))
	newMaxp := append([]byte(nil), maxp...)
	binary.BigEndian.PutUint16(newMaxp[4:], uint16(n))
	out := map[string][]byte{"head": newHead, "hhea": newHhea, "hmtx": newHmtx, "maxp": newMaxp, "loca": newLoca, "glyf": newGlyf}
	for _, t := range []string{"cvt ", "fpgm", "prep"} {
		if b, ok := tables[t]; ok {
			out[t] = b
		}
	}
	return writeTTF(out), nil
}

func ttfTables(font []byte) (map[string][]byte, error) {
	if len(font) < 12 {
		return nil, errors.New("font: too short")
	}
	n := int(binary.BigEndian.Uint16(font[4:]))
	if 12+16*n > len(font) || n > 100 {
		return nil, errors.New("font: bad table directory")
	}
	out := map[string][]byte{}
	for i := 0; i < n; i++ {
		r := font[12+16*i:]
		off, ln := int(binary.BigEndian.Uint32(r[8:])), int(binary.BigEndian.Uint32(r[12:]))
		if off < 0 || ln < 0 || off+ln > len(font) {
			return nil, fmt.Errorf("font: table %q out of the file", r[:4])
		}
		out[string(r[:4])] = font[off : off+ln]
	}
	return out, nil
}

func ttfChecksum(b []byte) uint32 {
	var sum uint32
	for i := 0; i < len(b); i += 4 {
		var w [4]byte
		copy(w[:], b[i:])
		sum += binary.BigEndian.Uint32(w[:])
	}
	return sum
}

// writeTTF lays out a TrueType file: the directory sorted by tag, tables 4-aligned,
// their checksums and head's checkSumAdjustment.
func writeTTF(tables map[string][]byte) []byte {
	tags := make([]string, 0, len(tables))
	for t := range tables {
		tags = append(tags, t)
	}
	sort.Strings(tags)
	n := len(tags)
	es := 0
	for 1<<(es+1) <= n {
		es++
	}
	hdr := make([]byte, 12+16*n)
	binary.BigEndian.PutUint32(hdr, 0x00010000)
	binary.BigEndian.PutUint16(hdr[4:], uint16(n))
	binary.BigEndian.PutUint16(hdr[6:], uint16(16<<es))
	binary.BigEndian.PutUint16(hdr[8:], uint16(es))
	binary.BigEndian.PutUint16(hdr[10:], uint16(16*n-16<<es))
	out := hdr
	headAt := -1
	for i, t := range tags {
		b := tables[t]
		r := hdr[12+16*i:]
		copy(r, t)
		binary.BigEndian.PutUint32(r[4:], ttfChecksum(b))
		binary.BigEndian.PutUint32(r[8:], uint32(len(out)))
		binary.BigEndian.PutUint32(r[12:], uint32(len(b)))
		if t == "head" {
			headAt = len(out)
		}
		out = append(out, b...)
		for len(out)%4 != 0 {
			out = append(out, 0)
		}
	}
	copy(out, hdr)
	if headAt >= 0 {
		binary.BigEndian.PutUint32(out[headAt+8:], 0xB1B0AFBA-ttfChecksum(out))
	}
	return out
}

// subsetTag is the six capital letters that name a subset (ISO 32000-1, 9.6.4),
// taken from the glyphs it holds, so the same glyphs give the same name.
func subsetTag(used []int) string {
	h := sha256.New()
	for _, g := range used {
		var b [4]byte
		binary.BigEndian.PutUint32(b[:], uint32(g))
		h.Write(b[:])
	}
	sum := h.Sum(nil)
	tag := make([]byte, 6)
	for i := range tag {
		tag[i] = 'A' + sum[i]%26
	}
	return string(tag)
}

// glyphsPresent lists the glyph ids a subset program holds: .notdef, the ones used
// (an empty glyph such as the space included) and every glyph with an outline (the
// components of composite glyphs). A CIDSet must name exactly these.
func glyphsPresent(program []byte, used []int) ([]int, error) {
	tables, err := ttfTables(program)
	if err != nil {
		return nil, err
	}
	maxp, loca := tables["maxp"], tables["loca"]
	if len(maxp) < 6 {
		return nil, errors.New("font: short maxp")
	}
	n := int(binary.BigEndian.Uint16(maxp[4:]))
	if len(loca) < 4*(n+1) {
		return nil, errors.New("font: short loca")
	}
	present := map[int]bool{0: true}
	for _, g := range used {
		present[g] = true
	}
	for g := 0; g < n; g++ {
		if binary.BigEndian.Uint32(loca[4*g+4:]) > binary.BigEndian.Uint32(loca[4*g:]) {
			present[g] = true
		}
	}
	out := make([]int, 0, len(present))
	for g := range present {
		out = append(out, g)
	}
	sort.Ints(out)
	return out, nil
}
