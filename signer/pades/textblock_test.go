package pades

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/kyso-vn/kyso/internal/testenv"
)

// TestTextBlockClearOfHeader: an attachment's text block placed by default goes to
// the top right of page 1 where the page has no text: on a công văn whose header
// fills the top right ("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", the motto, the date
// line) it moves down (or shrinks) until it covers none of it, and stays in the top
// third of the page.
func TestTextBlockClearOfHeader(t *testing.T) {
	opts, key := orgOptions(t)
	opts.Appearance = &Appearance{Lines: []string{"Ủy ban nhân dân tỉnh Ninh Thuận", "Số: 05/UBND-VP", "2025-03-05T14:30:15+07:00"}}
	in := testenv.CongVanPDF(t)
	out, err := signBytes(t, in, key, opts)
	if err != nil {
		t.Fatal(err)
	}
	rd := openBytes(t, out)
	_, rect, ok := LastVisibleSignature(rd)
	if !ok {
		t.Fatal("no visible text block")
	}
	pages, _ := rd.Pages()
	gs, err := pageGlyphs(rd, rd.Dict(pages[0]))
	if err != nil || len(gs) == 0 {
		t.Fatalf("page text: %d glyphs, %v", len(gs), err)
	}
	for _, g := range gs {
		if g.text == " " {
			continue
		}
		if g.x < rect[2] && rect[0] < g.x1 && g.y-0.25*g.size < rect[3] && rect[1] < g.y+0.9*g.size {
			t.Fatalf("the text block %v covers %q at (%.0f, %.0f)", rect, g.text, g.x, g.y)
		}
	}
	if rect[1] < 842*2/3 || rect[0] < 595/2 {
		t.Errorf("the text block %v is not at the top right", rect)
	}
	t.Logf("text block at %v", rect)
	if d := os.Getenv("KYSO_KEEP_RENDER"); d != "" {
		_ = os.WriteFile(filepath.Join(d, "attachment.pdf"), out, 0o644)
	}
	if j := judge(t, writeTemp(t, "attachment.pdf", out)); !j.valid {
		t.Errorf("pdfsig: %s", j.pdfsig)
	}
}
