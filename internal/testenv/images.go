package testenv

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"math"
)

// SignaturePNG draws a blue handwritten-like stroke on a transparent background, as
// the leader's signature image of Decree 30/2020 (300×100 px).
func SignaturePNG() []byte {
	return drawPNG(300, 100, color.NRGBA{0, 0, 200, 255}, func(x, y int) bool {
		return math.Abs(float64(y)-(50+30*math.Sin(float64(x)/20))) < 3
	})
}

// SealPNG draws a red ring seal on a transparent background (200×200 px).
func SealPNG() []byte {
	return drawPNG(200, 200, color.NRGBA{220, 0, 0, 255}, func(x, y int) bool {
		d := math.Hypot(float64(x-100), float64(y-100))
		return (d > 85 && d < 97) || (d > 55 && d < 60)
	})
}

func drawPNG(w, h int, c color.NRGBA, on func(x, y int) bool) []byte {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			if on(x, y) {
				img.Set(x, y, c)
			}
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		panic(err) // encoding an in-memory image cannot fail
	}
	return b.Bytes()
}
