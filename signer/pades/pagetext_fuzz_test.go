package pades

import (
	"bytes"
	"fmt"
	"testing"
)

// textPDF is a one-page PDF whose content stream and font's ToUnicode map are given.
func textPDF(content, cmap []byte) []byte {
	var b bytes.Buffer
	b.WriteString("%PDF-1.7\n")
	objs := []string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
		"<< /Type /Font /Subtype /Type0 /BaseFont /X /Encoding /Identity-H /DescendantFonts [7 0 R] /ToUnicode 6 0 R >>",
		fmt.Sprintf("<< /Length %d >>\nstream\n%s\nendstream", len(content), content),
		fmt.Sprintf("<< /Length %d >>\nstream\n%s\nendstream", len(cmap), cmap),
		"<< /Type /Font /Subtype /CIDFontType2 /BaseFont /X /W [1 [500 600] 3 10 400] /DW 1000 >>",
	}
	off := make([]int, len(objs)+1)
	for i, o := range objs {
		off[i+1] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	x := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f\r\n", len(objs)+1)
	for i := 1; i <= len(objs); i++ {
		fmt.Fprintf(&b, "%010d 00000 n\r\n", off[i])
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(objs)+1, x)
	return b.Bytes()
}

const fuzzCMap = "/CIDInit /ProcSet findresource begin 1 begincodespacerange <0000> <FFFF> endcodespacerange\n" +
	"3 beginbfchar <0001> <0053> <0002> <1ED1> <0003> <003A> endbfchar\n1 beginbfrange <0010> <0012> [<006E> <0067> <00E0>] endbfrange\nendcmap"

// FuzzPageText reads text from a page whose content stream and ToUnicode map come
// from the fuzzer: the extractor and FindBlanks must never panic nor run unbounded.
func FuzzPageText(f *testing.F) {
	f.Add([]byte("BT /F1 13 Tf 1 0 0 1 72 700 Tm <000100020003> Tj [(x) -200 <0001>] TJ T* (a) ' 1 2 (b) \" ET q 1 0 0 1 5 5 cm Q"), []byte(fuzzCMap))
	f.Add([]byte("BI /W 1 /H 1 ID \x00\x01EI BT /F1 12 Tf 0 1 -1 0 0 0 Tm <0001> Tj ET /Fm1 Do [[[[("), []byte("beginbfrange <FFFF> <0000> <0041> endbfrange"))
	f.Fuzz(func(t *testing.T, content, cmap []byte) {
		if len(content) > 1<<16 || len(cmap) > 1<<16 {
			return
		}
		doc := textPDF(content, cmap)
		rd := openBytes(t, doc)
		pages, err := rd.Pages()
		if err != nil {
			return
		}
		if _, err := pageGlyphs(rd, rd.Dict(pages[0])); err != nil {
			return
		}
		_, _ = FindBlanks(rd)
	})
}
