package pades

import (
	"bytes"
	"fmt"
	"image"
	"image/png"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kyso-vn/kyso/internal/testenv"
	"github.com/kyso-vn/kyso/internal/testpki"
)

// pixelBox is what a colour covers on a rendered page: its bounding box and count.
type pixelBox struct {
	minX, minY, maxX, maxY, n int
}

func (b pixelBox) w() int { return b.maxX - b.minX + 1 }
func (b pixelBox) h() int { return b.maxY - b.minY + 1 }

func colourBox(img image.Image, is func(r, g, b uint32) bool) pixelBox {
	bd := img.Bounds()
	pb := pixelBox{minX: math.MaxInt, minY: math.MaxInt, maxX: -1, maxY: -1}
	for y := bd.Min.Y; y < bd.Max.Y; y++ {
		for x := bd.Min.X; x < bd.Max.X; x++ {
			r, g, b, _ := img.At(x, y).RGBA()
			if is(r>>8, g>>8, b>>8) {
				pb.n++
				pb.minX, pb.minY = min(pb.minX, x), min(pb.minY, y)
				pb.maxX, pb.maxY = max(pb.maxX, x), max(pb.maxY, y)
			}
		}
	}
	return pb
}

func isRed(r, g, b uint32) bool  { return r > 150 && g < 100 && b < 100 }
func isBlue(r, g, b uint32) bool { return b > 120 && r < 100 && g < 100 }

// renderPage renders page 1 at dpi with pdftoppm.
func renderPage(t *testing.T, path string, dpi int) image.Image {
	t.Helper()
	prefix := filepath.Join(t.TempDir(), "page")
	if out, err := exec.Command(testenv.Tool(t, "pdftoppm", "poppler-utils"), "-r", fmt.Sprint(dpi), "-png", "-f", "1", "-l", "1", "-singlefile", path, prefix).CombinedOutput(); err != nil {
		t.Fatalf("pdftoppm: %v\n%s", err, out)
	}
	f, err := os.Open(prefix + ".png")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// checkSealWhole asserts, from the pixels of a page rendered at dpi, that the seal is
// drawn whole at its true size (sealPt points wide) and lies over the left third of
// the leader's blue signature image, vertically centred on it.
func checkSealWhole(t *testing.T, img image.Image, dpi int, sealPt float64) {
	t.Helper()
	scale := float64(dpi) / 72 * sealPt / 200 // px of the page per px of the seal PNG
	sealPNG, _ := png.Decode(bytes.NewReader(testenv.SealPNG()))
	want := colourBox(sealPNG, isRed)
	red, blue := colourBox(img, isRed), colourBox(img, isBlue)
	if red.n == 0 || blue.n == 0 {
		t.Fatalf("red %d px, blue %d px: seal or signature missing", red.n, blue.n)
	}
	wantN := float64(want.n) * scale * scale
	if r := float64(red.n) / wantN; r < 0.85 || r > 1.15 {
		t.Errorf("the seal's red area is %d px, %.0f%% of the PNG's %.0f px at that scale: not whole", red.n, 100*r, wantN)
	}
	wantW := float64(want.w()) * scale
	if math.Abs(float64(red.w())-wantW) > 3 || math.Abs(float64(red.h())-wantW) > 3 {
		t.Errorf("the seal shows %dx%d px, want %.0fx%.0f (true size, uncut)", red.w(), red.h(), wantW, wantW)
	}
	// the seal's right edge one third into the signature image; centred on it
	third := float64(blue.minX) + float64(blue.w())/3
	if d := float64(red.maxX) - third; math.Abs(d) > 4 {
		t.Errorf("the seal's right edge is at x=%d, the left third of the signature ends at %.0f", red.maxX, third)
	}
	if red.minX >= blue.minX || red.maxX >= blue.maxX {
		t.Errorf("the seal (x %d..%d) does not lie over the left side of the signature (x %d..%d)", red.minX, red.maxX, blue.minX, blue.maxX)
	}
	cy, sy := float64(blue.minY+blue.maxY)/2, float64(red.minY+red.maxY)/2
	if math.Abs(cy-sy) > 4 {
		t.Errorf("the seal is centred at y=%.0f, the signature at y=%.0f", sy, cy)
	}
	t.Logf("seal %dx%d px (%d red px, want %.0f), signature x %d..%d", red.w(), red.h(), red.n, wantN, blue.minX, blue.maxX)
}

// TestSealWhole: the leader signs with the signature image, the clerk lays the seal
// over it at its true size, on pages turned 0, 90, 180 and 270 degrees; the rendered
// page shows the whole seal over the left third of the signature, and poppler says
// both signatures are valid.
func TestSealWhole(t *testing.T) {
	p := testpki.Committed(t)
	const dpi, sealPt = 72, 100.0
	for _, rot := range []int{0, 90, 180, 270} {
		t.Run(fmt.Sprint(rot), func(t *testing.T) {
			// 240×60 pt as the reader sees the page: the 3:1 image is fitted in its
			// middle, so the left third of the image is not the left third of the
			// rectangle
			rect := [4]float64{300, 100, 540, 160}
			if rot == 90 || rot == 270 {
				rect = [4]float64{300, 100, 360, 340}
			}
			leader, err := signBytes(t, blankPDF(rot), p.Leader.Key, Options{Certificate: p.Leader.Cert, Chain: p.Leader.Chain,
				Appearance: &Appearance{Rect: rect, Image: testenv.SignaturePNG()}})
			if err != nil {
				t.Fatal(err)
			}
			page, at, ok := LastVisibleSignature(openBytes(t, leader))
			if !ok || at != rect {
				t.Fatalf("the leader's signature: page %d at %v (%v)", page, at, ok)
			}
			under, ok := LastSignatureImage(openBytes(t, leader))
			if !ok || under != [4]float64{30, 0, 180, 60} {
				t.Fatalf("the leader's image lies at %v (%v), want [30 0 180 60]", under, ok)
			}
			issued, err := signBytes(t, leader, p.Org.Key, Options{Certificate: p.Org.Cert, Chain: p.Org.Chain,
				Appearance: &Appearance{Page: page, Rect: at, Under: under, Seal: testenv.SealPNG(), SealSize: sealPt}})
			if err != nil {
				t.Fatal(err)
			}
			path := writeTemp(t, "issued.pdf", issued)
			out, _ := exec.Command(testenv.Tool(t, "pdfsig", "poppler-utils"), "-nocert", path).CombinedOutput()
			if n := strings.Count(string(out), "Signature is Valid."); n != 2 {
				t.Fatalf("want 2 valid signatures:\n%s", out)
			}
			if d := os.Getenv("KYSO_KEEP_RENDER"); d != "" {
				exec.Command("pdftoppm", "-r", "72", "-png", "-singlefile", path, filepath.Join(d, fmt.Sprintf("seal-%d", rot))).Run()
			}
			checkSealWhole(t, renderPage(t, path, dpi), dpi, sealPt)
		})
	}
}
