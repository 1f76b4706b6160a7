package testenv

import (
	"bytes"
	"fmt"
)

// PDFFromObjects is a PDF 1.7 file holding objs as objects 1, 2, … (object 1 the
// catalog) with a correct classic cross-reference table: the smallest well-formed
// input for tests that sign, verify or store a document.
func PDFFromObjects(objs []string) []byte {
	var b bytes.Buffer
	b.WriteString("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
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
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(objs)+1, xref)
	return b.Bytes()
}

// StreamObject is a stream object holding content, its /Length set.
func StreamObject(content string) string {
	return fmt.Sprintf("<< /Length %d >>\nstream\n%s\nendstream", len(content), content)
}

// OnePagePDF is a one-page A4 PDF showing text in Helvetica.
func OnePagePDF(text string) []byte {
	return PDFFromObjects([]string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
		StreamObject("BT /F1 14 Tf 72 760 Td (" + text + ") Tj ET"),
		"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
	})
}

// LockedFormPDF is a one-page form with three text fields, "so" (number), "ngay"
// (date) and "ghichu" (note), and two empty signature fields, "LanhDao" (the
// leader's) and "VanThu" (the clerk's), whose /Lock entries are leaderLock and
// clerkLock written as PDF dictionaries ("" for none), e.g.
// `<< /Type /SigFieldLock /Action /Include /Fields [(so) (ngay)] >>`: the document of
// FieldMDP tests.
func LockedFormPDF(leaderLock, clerkLock string) []byte {
	lock := func(l string) string {
		if l == "" {
			return ""
		}
		return " /Lock " + l
	}
	text := func(name string, y int) string {
		return fmt.Sprintf("<< /Type /Annot /Subtype /Widget /FT /Tx /T (%s) /F 4 /Rect [72 %d 272 %d] /P 3 0 R /DA (/Helv 10 Tf 0 g) >>", name, y, y+20)
	}
	sig := func(name string, x int, l string) string {
		return fmt.Sprintf("<< /Type /Annot /Subtype /Widget /FT /Sig /T (%s) /F 4 /Rect [%d 100 %d 160] /P 3 0 R%s >>", name, x, x+200, lock(l))
	}
	return PDFFromObjects([]string{
		"<< /Type /Catalog /Pages 2 0 R /AcroForm << /Fields [5 0 R 6 0 R 7 0 R 8 0 R 9 0 R] /DA (/Helv 0 Tf 0 g) /DR << /Font << /Helv 10 0 R >> >> >> >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R /Resources << /Font << /F1 10 0 R >> >> /Annots [5 0 R 6 0 R 7 0 R 8 0 R 9 0 R] >>",
		StreamObject("BT /F1 14 Tf 72 700 Td (QUYET DINH ve viec phe duyet ke hoach nam 2025) Tj ET"),
		text("so", 760),
		text("ngay", 730),
		text("ghichu", 400),
		sig("LanhDao", 72, leaderLock),
		sig("VanThu", 320, clerkLock),
		"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
	})
}
