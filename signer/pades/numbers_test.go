package pades

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/kyso-vn/kyso/pkg/fault"
	"github.com/kyso-vn/kyso/signer/pdf"
)

// pagePDF is a one-page PDF whose page dictionary carries extra (written as is) and
// whose one signature field's widget has the rectangle rect.
func pagePDF(extra, rect string) []byte {
	objs := []string{
		"<< /Type /Catalog /Pages 2 0 R /AcroForm << /Fields [4 0 R] >> >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /Annots [4 0 R] " + extra + " >>",
		"<< /Type /Annot /Subtype /Widget /FT /Sig /T (ky) /F 4 /P 3 0 R /Rect " + rect + " >>",
	}
	var b bytes.Buffer
	b.WriteString("%PDF-1.7\n")
	offs := make([]int, len(objs))
	for i, o := range objs {
		offs[i] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(objs)+1)
	for _, o := range offs {
		fmt.Fprintf(&b, "%010d 00000 n \n", o)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(objs)+1, xref)
	return b.Bytes()
}

// inputError tells an error about the input (a fault of a kind other than Internal,
// or one of the engines' input errors, which the use-cases map to a 4xx) from a bug.
func inputError(err error) bool {
	if k := fault.KindOf(err); k != fault.Internal {
		return true
	}
	for _, e := range []error{ErrNotAllowed, ErrField, ErrOptions, pdf.ErrNotPDF, pdf.ErrDamaged, pdf.ErrEncrypted, pdf.ErrUnsupportedFilter} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// TestAbsurdNumbers: numbers that are not what they claim, where the writer and the
// appearance read them, are refused as a bad document (a 422), never a write of a
// keyword (a 500).
func TestAbsurdNumbers(t *testing.T) {
	opts, key := orgOptions(t)
	for _, c := range []struct {
		name, extra, rect string
		visibleBad        bool // refused with a visible signature
		invisibleBad      bool // refused with an invisible one
	}{
		{"huge rotation", "/MediaBox [0 0 595 842] /Rotate 9999999999999999999", "[0 0 0 0]", true, false},
		{"rotation not a multiple of 90", "/MediaBox [0 0 595 842] /Rotate 45", "[0 0 0 0]", true, false},
		{"rotation a name", "/MediaBox [0 0 595 842] /Rotate /Up", "[0 0 0 0]", true, false},
		{"negative rotation", "/MediaBox [0 0 595 842] /Rotate -90", "[0 0 0 0]", false, false},
		{"box beyond a double", "/MediaBox [0 0 1e309 842]", "[0 0 0 0]", true, false},
		{"box of 250 digits", "/MediaBox [0 0 " + strings.Repeat("9", 250) + " 842]", "[0 0 0 0]", true, false},
		{"box a string", "/MediaBox [0 0 (wide) 842]", "[0 0 0 0]", true, false},
		{"box of 30 digits", "/MediaBox [0 0 " + strings.Repeat("9", 30) + " 842]", "[0 0 0 0]", true, false},
		{"widget rect beyond a double", "/MediaBox [0 0 595 842]", "[0 0 1e309 100]", true, true},
		{"widget rect with an exponent", "/MediaBox [0 0 595 842]", "[0 0 1e30 100]", true, true},
		{"widget rect absurd", "/MediaBox [0 0 595 842]", "[0 0 1" + strings.Repeat("0", 30) + " 100]", true, false},
		{"widget rect past the largest real", "/MediaBox [0 0 595 842]", "[0 0 1" + strings.Repeat("0", 45) + " 100]", true, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			doc := pagePDF(c.extra, c.rect)
			for _, visible := range []bool{true, false} {
				o := opts
				o.Field = "ky"
				want := c.invisibleBad
				if visible {
					o.Appearance = &Appearance{Lines: []string{"Số: 05/UBND-VP"}}
					want = c.visibleBad
				}
				out, err := signBytes(t, doc, key, o)
				switch {
				case err == nil && want:
					t.Errorf("visible %v: signed; want a bad-document error", visible)
				case err != nil && !want:
					t.Errorf("visible %v: %v", visible, err)
				case err != nil && (fault.KindOf(err) != fault.BadDocument || !errors.Is(err, pdf.ErrDamaged)):
					t.Errorf("visible %v: %v (kind %v), want a BadDocument fault", visible, err, fault.KindOf(err))
				case err != nil && len(out) > 0:
					t.Errorf("visible %v: %d bytes written with the error", visible, len(out))
				}
			}
		})
	}
	// a rectangle the caller gives that is no place on a page is the caller's error
	o := opts
	o.Appearance = &Appearance{Rect: [4]float64{0, 0, 1e300, 10}, Lines: []string{"x"}}
	if _, err := signBytes(t, pagePDF("/MediaBox [0 0 595 842]", "[0 0 0 0]"), key, o); !errors.Is(err, ErrOptions) {
		t.Errorf("rect 1e300 from the caller: %v, want ErrOptions", err)
	}
}

// FuzzSignPage signs a generated one-page PDF whose page dictionary and widget
// rectangle come from the fuzzer, visibly and not: it must never panic, and every
// error must be about the input (a fault kind other than Internal, or an input error
// of the engines), never a bug.
func FuzzSignPage(f *testing.F) {
	f.Add("/MediaBox [0 0 595 842] /Rotate 90", "[10 10 200 60]", true)
	f.Add("/MediaBox [0 0 1e309 842]", "[0 0 0 0]", false)
	f.Add("/Rotate 9999999999999999999 /CropBox [-5 -5 600 900]", "[0 0 1e30 5]", true)
	f.Add("/MediaBox [0 0 595.5 842.25] /UserUnit 2", "[1 2 3]", true)
	opts, key := orgOptions(f)
	f.Fuzz(func(t *testing.T, extra, rect string, visible bool) {
		if len(extra) > 4096 || len(rect) > 1024 {
			return
		}
		o := opts
		o.Field = "ky"
		if visible {
			o.Appearance = &Appearance{Lines: []string{"Số: 05/UBND-VP"}}
		}
		doc := pagePDF(extra, rect)
		var out bytes.Buffer
		err := Sign(t.Context(), key, bytes.NewReader(doc), int64(len(doc)), &out, o)
		if err != nil && !inputError(err) {
			t.Fatalf("page %q rect %q visible %v: %v (kind %v)", extra, rect, visible, err, fault.KindOf(err))
		}
	})
}
