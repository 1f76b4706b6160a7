package pades

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"io"
	"math/big"
	"testing"
	"time"
)

// BenchmarkSignSmall measures the pipeline's own cost per document: a 20 KiB PDF
// signed with an in-memory P-256 key, whose signature costs microseconds, so what is
// left is parsing, hashing, the CMS and the layout.
func BenchmarkSignSmall(b *testing.B) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "bench"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	cert, _ := x509.ParseCertificate(der)
	in := pdfWithStream(20 << 10)
	opts := Options{Certificate: cert, Time: time.Now()}
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if err := Sign(context.Background(), key, bytes.NewReader(in), int64(len(in)), io.Discard, opts); err != nil {
			b.Fatal(err)
		}
	}
}

// pdfWithStream is a one-page PDF whose page content stream holds n bytes.
func pdfWithStream(n int) []byte {
	var b bytes.Buffer
	off := make([]int, 5)
	b.WriteString("%PDF-1.7\n")
	content := bytes.Repeat([]byte("% filler\n"), n/9)
	objs := []string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R >>",
		fmt.Sprintf("<< /Length %d >>\nstream\n%s\nendstream", len(content), content),
	}
	for i, o := range objs {
		off[i+1] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	x := b.Len()
	b.WriteString("xref\n0 5\n0000000000 65535 f\r\n")
	for i := 1; i <= 4; i++ {
		fmt.Fprintf(&b, "%010d 00000 n\r\n", off[i])
	}
	fmt.Fprintf(&b, "trailer\n<< /Size 5 /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", x)
	return b.Bytes()
}
