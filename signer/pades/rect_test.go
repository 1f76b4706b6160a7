package pades

import "testing"

// TestParseRect: the one reader of "x1,y1,x2,y2" for every surface.
func TestParseRect(t *testing.T) {
	for _, c := range []struct {
		in   string
		want [4]float64
		ok   bool
	}{
		{"", [4]float64{}, true},
		{"330,120,510,190", [4]float64{330, 120, 510, 190}, true},
		{" 1.5, 2 ,3,4 ", [4]float64{1.5, 2, 3, 4}, true},
		{"1,2,3", [4]float64{}, false},
		{"1,2,3,x", [4]float64{}, false},
		{"1,2,3,4,5", [4]float64{}, false},
	} {
		got, err := ParseRect(c.in)
		if (err == nil) != c.ok || (c.ok && got != c.want) {
			t.Errorf("%q: %v %v", c.in, got, err)
		}
	}
}
