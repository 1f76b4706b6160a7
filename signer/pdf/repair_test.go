package pdf

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// TestRepair: a revision whose trailer says /Prev 0 cannot be read strictly; Repair
// reads it the way viewers do, the later definition of an object winning.
func TestRepair(t *testing.T) {
	base := []byte("%PDF-1.7\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n2 0 obj\n<< /Type /Pages /Kids [3 0 R] /Count 1 >>\nendobj\n3 0 obj\n<< /Type /Page /Parent 2 0 R /MediaBox [0 0 10 10] >>\nendobj\n")
	xref := len(base)
	var b bytes.Buffer
	b.Write(base)
	fmt.Fprintf(&b, "xref\n0 4\n0000000000 65535 f\r\n%010d 00000 n\r\n%010d 00000 n\r\n%010d 00000 n\r\n", 9, bytes.Index(base, []byte("2 0 obj")), bytes.Index(base, []byte("3 0 obj")))
	fmt.Fprintf(&b, "trailer\n<< /Size 4 /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", xref)
	// an update that rewrites the page, with a broken /Prev
	off := b.Len()
	b.WriteString("3 0 obj\n<< /Type /Page /Parent 2 0 R /MediaBox [0 0 20 20] >>\nendobj\n")
	x2 := b.Len()
	fmt.Fprintf(&b, "xref\n3 1\n%010d 00000 n\r\ntrailer\n<< /Size 4 /Root 1 0 R /Prev 0 >>\nstartxref\n%d\n%%%%EOF\n", off, x2)
	data := b.Bytes()
	if _, err := Open(bytes.NewReader(data), int64(len(data))); !errors.Is(err, ErrDamaged) {
		t.Fatalf("strict read of a /Prev 0 file: %v", err)
	}
	r, err := Repair(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	pages, err := r.Pages()
	if err != nil || len(pages) != 1 {
		t.Fatalf("pages %v %v", pages, err)
	}
	if box := r.Array(r.Dict(pages[0])["MediaBox"]); len(box) != 4 || box[2] != int64(20) {
		t.Errorf("the later definition of the page does not win: %v", box)
	}
	for _, bad := range []string{"", "%PDF-1.7\nnothing here", "not a pdf"} {
		if _, err := Repair(strings.NewReader(bad), int64(len(bad))); err == nil {
			t.Errorf("repaired %q", bad)
		}
	}
}
