package pades

import (
	"fmt"
	"strconv"
	"strings"
)

// ParseRect reads a rectangle "x1,y1,x2,y2" in points, as Appearance.Rect takes it;
// "" is the zero rectangle (the default place). Every surface that takes a rectangle
// as text (kyso sign --rect, the API, kyso-agent sign --rect) reads it here.
func ParseRect(s string) ([4]float64, error) {
	var r [4]float64
	if s == "" {
		return r, nil
	}
	parts := strings.Split(s, ",")
	if len(parts) != 4 {
		return r, fmt.Errorf("rectangle %q: want x1,y1,x2,y2", s)
	}
	for i, p := range parts {
		v, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil {
			return r, fmt.Errorf("rectangle %q: %v", s, err)
		}
		r[i] = v
	}
	return r, nil
}
