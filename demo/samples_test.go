package demo

import (
	"bytes"
	"flag"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/image/font"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/math/fixed"

	"github.com/kyso-vn/kyso/internal/testenv"
)

// -demo.samples writes the sample images and the draft công văn into this directory
// (go test ./demo -run TestSampleFiles -demo.samples); without it the test checks
// that the committed images are what this code draws.
var writeSamples = flag.Bool("demo.samples", false, "write the sample files into demo/")

// TestSampleFiles keeps the shipped samples what this code makes: the two PNGs drawn
// here, byte for byte (PNG encoding of the same image is deterministic), and a draft
// whose first page has the blanks kyso docs approve looks for.
func TestSampleFiles(t *testing.T) {
	face := sampleFace(t)
	images := map[string][]byte{SignatureImage: signatureSample(t, face), SealImage: sealSample(t, face)}
	if *writeSamples {
		for name, b := range images {
			if err := os.WriteFile(name, b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.WriteFile(DraftPDF, testenv.CongVanPDF(t), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for name, want := range images {
		got := must(name)
		if !bytes.Equal(got, want) {
			t.Errorf("%s is not what signatureSample/sealSample draw: run go test ./demo -run TestSampleFiles -demo.samples", name)
		}
		img, err := png.Decode(bytes.NewReader(got))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		// Decree 30 wants a transparent background: the corners are clear.
		if _, _, _, a := img.At(0, 0).RGBA(); a != 0 {
			t.Errorf("%s: the background is not transparent", name)
		}
	}
}

// TestSampleDraftHasBlanks: the draft's first page has "Số: /UBND-VP" with the
// number left blank and the date line with day and month blank, as issuing needs.
func TestSampleDraftHasBlanks(t *testing.T) {
	text := testenv.PageText(t, must(DraftPDF))
	for _, want := range []string{"Số: /UBND-VP", "ngày tháng năm 2026", "TỈNH NINH THUẬN"} {
		if !strings.Contains(text, want) {
			t.Errorf("the sample draft's first page lacks %q:\n%s", want, text)
		}
	}
}

func sampleFace(t *testing.T) *opentype.Font {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testenv.ModuleRoot(), "signer", "pades", "fonts", "LiberationSerif-Regular.ttf"))
	if err != nil {
		t.Fatal(err)
	}
	f, err := opentype.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// signatureSample is a blue handwritten-like stroke, 300×100 px on a transparent
// background, with "MẪU / SAMPLE" written across it.
func signatureSample(t *testing.T, f *opentype.Font) []byte {
	blue := color.NRGBA{0, 40, 190, 255}
	img := image.NewNRGBA(image.Rect(0, 0, 300, 100))
	for x := 20; x < 280; x++ {
		y := 45 + 22*math.Sin(float64(x)/17) + 8*math.Sin(float64(x)/5)
		for dy := -2.0; dy <= 2.0; dy++ {
			img.Set(x, int(y+dy), blue)
		}
	}
	text(t, img, f, 22, "MẪU / SAMPLE", 150, 92, color.NRGBA{0, 40, 190, 200})
	return encode(t, img)
}

// sealSample is a red round seal, 200×200 px on a transparent background: two rings,
// the star of a state seal's centre replaced by "MẪU" and "SAMPLE".
func sealSample(t *testing.T, f *opentype.Font) []byte {
	red := color.NRGBA{210, 0, 0, 255}
	img := image.NewNRGBA(image.Rect(0, 0, 200, 200))
	for y := 0; y < 200; y++ {
		for x := 0; x < 200; x++ {
			d := math.Hypot(float64(x)-99.5, float64(y)-99.5)
			if (d > 88 && d < 97) || (d > 62 && d < 66) {
				img.Set(x, y, red)
			}
		}
	}
	text(t, img, f, 13, "KYSO DEMO", 100, 30, red)
	text(t, img, f, 30, "MẪU", 100, 104, red)
	text(t, img, f, 18, "SAMPLE", 100, 128, red)
	text(t, img, f, 13, "NOT FOR USE", 100, 180, red)
	return encode(t, img)
}

// text draws s centred on x with its baseline at y.
func text(t *testing.T, img draw.Image, f *opentype.Font, size float64, s string, x, y int, c color.Color) {
	t.Helper()
	face, err := opentype.NewFace(f, &opentype.FaceOptions{Size: size, DPI: 72, Hinting: font.HintingNone})
	if err != nil {
		t.Fatal(err)
	}
	defer face.Close()
	d := &font.Drawer{Dst: img, Src: image.NewUniform(c), Face: face}
	w := d.MeasureString(s)
	d.Dot = fixed.Point26_6{X: fixed.I(x) - w/2, Y: fixed.I(y)}
	d.DrawString(s)
}

func encode(t *testing.T, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}
