// Command genpdf writes a valid one-page PDF of about -size MiB (an uncompressed
// image stream of random bytes), for the large-file benchmarks.
package main

import (
	"bufio"
	"crypto/rand"
	"flag"
	"fmt"
	"io"
	"os"
)

func main() {
	size := flag.Int64("size", 200, "size in MiB")
	kib := flag.Int64("kib", 0, "size in KiB (overrides -size)")
	out := flag.String("o", "large.pdf", "output file")
	flag.Parse()
	n := *size << 20
	if *kib > 0 {
		n = *kib << 10
	}
	if err := write(*out, n); err != nil {
		fmt.Fprintln(os.Stderr, "genpdf:", err)
		os.Exit(1)
	}
}

func write(path string, n int64) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	w := &countWriter{w: bufio.NewWriterSize(f, 1<<20)}
	var offs [6]int64
	fmt.Fprint(w, "%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
	side := int64(1)
	for side*side*3 < n {
		side++
	}
	data := side * side * 3
	obj := func(i int, body string) {
		offs[i] = w.n
		fmt.Fprintf(w, "%d 0 obj\n%s\nendobj\n", i, body)
	}
	obj(1, "<< /Type /Catalog /Pages 2 0 R >>")
	obj(2, "<< /Type /Pages /Kids [3 0 R] /Count 1 >>")
	obj(3, "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /XObject << /Im1 5 0 R >> >> /Contents 4 0 R >>")
	content := "q 500 0 0 500 47 171 cm /Im1 Do Q"
	obj(4, fmt.Sprintf("<< /Length %d >>\nstream\n%s\nendstream", len(content), content))
	offs[5] = w.n
	fmt.Fprintf(w, "5 0 obj\n<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceRGB /BitsPerComponent 8 /Length %d >>\nstream\n", side, side, data)
	if _, err := io.CopyN(w, rand.Reader, data); err != nil {
		return err
	}
	fmt.Fprint(w, "\nendstream\nendobj\n")
	xref := w.n
	fmt.Fprint(w, "xref\n0 6\n0000000000 65535 f\r\n")
	for i := 1; i <= 5; i++ {
		fmt.Fprintf(w, "%010d 00000 n\r\n", offs[i])
	}
	fmt.Fprintf(w, "trailer\n<< /Size 6 /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", xref)
	return w.w.(*bufio.Writer).Flush()
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
