package cms_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"testing"

	"github.com/kyso-vn/kyso/signer/cms"
)

// BenchmarkPrepareComplete is one signature through both phases with an in-memory
// RSA-2048 key: what a batch pays per document besides hashing it.
func BenchmarkPrepareComplete(b *testing.B) {
	p := newPKI(b, "RSA-2048")
	s := spec(p, crypto.SHA256, false, cms.ProfilePAdES)
	digest := digestOf(crypto.SHA256, []byte("document"))
	b.ReportAllocs()
	for b.Loop() {
		pend, err := cms.Prepare(s, digest)
		if err != nil {
			b.Fatal(err)
		}
		sig, err := p.leafKey.Sign(rand.Reader, pend.SignedAttrsDigest(), pend.SignatureOpts())
		if err != nil {
			b.Fatal(err)
		}
		if _, err := pend.Complete(sig); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseVerify parses and verifies a B-T signature with a chain, timestamp
// included: the CMS share of verifying a small signed PDF.
func BenchmarkParseVerify(b *testing.B) {
	p := newPKI(b, "RSA-2048")
	tsa := newTSA(b, p, "RSA-2048")
	content := []byte("document")
	der, err := cms.SignWithTimestamp(context.Background(), p.leafKey, spec(p, crypto.SHA256, false, cms.ProfilePAdES), digestOf(crypto.SHA256, content), tsa)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		sd, err := cms.Parse(der)
		if err != nil {
			b.Fatal(err)
		}
		res, err := sd.VerifyContent(bytes.NewReader(content))
		if err != nil {
			b.Fatal(err)
		}
		if _, err := res.SignerInfo.SignatureTimestamps(); err != nil {
			b.Fatal(err)
		}
	}
}
