package cades_test

import (
	"bytes"
	"context"
	"crypto"
	"encoding/asn1"
	"errors"
	"io"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/digitorus/timestamp"
	"github.com/kyso-vn/kyso/internal/testenv"
	"github.com/kyso-vn/kyso/internal/testpki"
	"github.com/kyso-vn/kyso/signer/cades"
	"github.com/kyso-vn/kyso/signer/cms"
)

// tsa is an RFC 3161 authority on the test PKI's TSA key, built with
// github.com/digitorus/timestamp (independent of our CMS code).
type tsa struct {
	c     *testpki.Cert
	calls atomic.Int32
	fail  bool
}

func (a *tsa) Timestamp(ctx context.Context, digest []byte, hash crypto.Hash) ([]byte, error) {
	a.calls.Add(1)
	if a.fail {
		return nil, errors.New("tsa: service unavailable")
	}
	ts := timestamp.Timestamp{
		HashAlgorithm: hash, HashedMessage: digest, Time: time.Now(),
		Policy: asn1.ObjectIdentifier{2, 999, 2, 1}, Nonce: big.NewInt(7),
		AddTSACertificate: true, Certificates: a.c.Chain,
	}
	resp, err := ts.CreateResponseWithOpts(a.c.Cert, a.c.Key, crypto.SHA256)
	if err != nil {
		return nil, err
	}
	parsed, err := timestamp.ParseResponse(resp)
	if err != nil {
		return nil, err
	}
	return parsed.RawToken, nil
}

func specFor(c *testpki.Cert, pss bool) cms.SignerInfoSpec {
	return cms.SignerInfoSpec{Certificate: c.Cert, Chain: c.Chain, PSS: pss}
}

func openssl(t *testing.T, args ...string) (string, error) {
	t.Helper()
	out, err := exec.Command(testenv.Tool(t, "openssl", "openssl"), args...).CombinedOutput()
	return string(out), err
}

// TestSignFileOpenSSLAccepts signs files with the committed test PKI and has
// `openssl cms -verify` judge the .p7s against the test root, then our verifier.
func TestSignFileOpenSSLAccepts(t *testing.T) {
	p := testpki.Committed(t)
	dir := t.TempDir()
	in := filepath.Join(dir, "công văn.docx")
	content := bytes.Repeat([]byte("Ủy ban nhân dân tỉnh Ninh Thuận — công văn số 05/UBND-VP\n"), 2000)
	if err := os.WriteFile(in, content, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		cert  *testpki.Cert
		pss   bool
		ts    bool
		level string
	}{
		{"leader RSA B-B", p.Leader, false, false, "B-B"},
		{"personal ECDSA B-T", p.PersonalEC, false, true, "B-T"},
		{"organisation RSA-PSS B-T", p.Org, true, true, "B-T"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_")+".p7s")
			var ts cms.Timestamper
			if tc.ts {
				ts = &tsa{c: p.TSA}
			}
			if err := cades.SignFile(context.Background(), tc.cert.Key, specFor(tc.cert, tc.pss), in, out, ts); err != nil {
				t.Fatal(err)
			}
			msg, err := openssl(t, "cms", "-verify", "-binary", "-inform", "DER", "-in", out, "-content", in,
				"-CAfile", p.Path(testpki.FileRootCA), "-purpose", "any", "-out", os.DevNull)
			if err != nil || !strings.Contains(msg, "Verification successful") {
				t.Fatalf("openssl refused the .p7s: %v\n%s", err, msg)
			}
			res, err := cades.VerifyFile(out, in)
			if err != nil {
				t.Fatal(err)
			}
			if res.Level != tc.level || len(res.Missing) != 0 {
				t.Errorf("level %q missing %v, want %s", res.Level, res.Missing, tc.level)
			}
			if !res.Signature.Certificate.Equal(tc.cert.Cert) || time.Since(res.Signature.SigningTime) > time.Minute {
				t.Errorf("signer %s at %v", res.Signature.Certificate.Subject, res.Signature.SigningTime)
			}
			if tc.ts && (len(res.Timestamps) != 1 || !res.Timestamps[0].Signer.Certificate.Equal(p.TSA.Cert)) {
				t.Errorf("timestamps: %d", len(res.Timestamps))
			}
		})
	}
}

// TestSignFileStreams signs a 64 MiB file: allocation during signing must stay far
// below the file size, proving the file is hashed as a stream.
func TestSignFileStreams(t *testing.T) {
	p := testpki.Committed(t)
	dir := t.TempDir()
	in, out := filepath.Join(dir, "big.bin"), filepath.Join(dir, "big.p7s")
	f, err := os.Create(in)
	if err != nil {
		t.Fatal(err)
	}
	chunk := bytes.Repeat([]byte{0x5a}, 1<<20)
	for i := 0; i < 64; i++ {
		chunk[0] = byte(i)
		f.Write(chunk)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	if err := cades.SignFile(context.Background(), p.PersonalEC.Key, specFor(p.PersonalEC, false), in, out, nil); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	allocated := after.TotalAlloc - before.TotalAlloc
	t.Logf("signing a 64 MiB file allocated %d KiB", allocated>>10)
	if allocated > 2<<20 {
		t.Errorf("signing allocated %d bytes for a 64 MiB file; it is not streaming", allocated)
	}
	if _, err := cades.VerifyFile(out, in); err != nil {
		t.Fatal(err)
	}
}

// pattern is n bytes of a repeating pattern, made as they are read: a stream that is
// in no file and never whole in memory.
type pattern struct{ n int64 }

func (p *pattern) Read(b []byte) (int, error) {
	if p.n <= 0 {
		return 0, io.EOF
	}
	b = b[:min(int64(len(b)), p.n)]
	for i := range b {
		b[i] = byte(p.n - int64(i))
	}
	p.n -= int64(len(b))
	return len(b), nil
}

// TestSignStreamsFromReader: Sign takes the content from an io.Reader (the API's
// upload, a pipe) and hashes it as it comes: 64 MiB allocate far less than 64 MiB,
// and the signature verifies over the same stream.
func TestSignStreamsFromReader(t *testing.T) {
	p := testpki.Committed(t)
	const size = 64 << 20
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	der, err := cades.Sign(context.Background(), p.PersonalEC.Key, specFor(p.PersonalEC, false), &pattern{n: size}, nil)
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	if allocated := after.TotalAlloc - before.TotalAlloc; allocated > 2<<20 {
		t.Errorf("signing a %d-byte stream allocated %d bytes; it is not streaming", size, allocated)
	}
	if _, err := cades.VerifyDetached(der, &pattern{n: size}); err != nil {
		t.Fatalf("the signature does not verify over the same stream: %v", err)
	}
	if _, err := cades.VerifyDetached(der, &pattern{n: size - 1}); err == nil {
		t.Fatal("the signature verifies over a shorter stream")
	}
}

// TestSignFileNothingUnlessComplete: every failure leaves the output path as it was
// (absent, or the previous file) and no temporary file behind.
func TestSignFileNothingUnlessComplete(t *testing.T) {
	p := testpki.Committed(t)
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	cases := []struct {
		name   string
		ctx    context.Context
		signer crypto.Signer
		spec   cms.SignerInfoSpec
		ts     cms.Timestamper
		sameIO bool
	}{
		{"TSA down", context.Background(), p.Leader.Key, specFor(p.Leader, false), &tsa{c: p.TSA, fail: true}, false},
		{"token removed", context.Background(), wrongSigner{p.Leader.Key}, specFor(p.Leader, false), nil, false},
		{"key of another certificate", context.Background(), p.Clerk.Key, specFor(p.Leader, false), nil, false},
		{"cancelled", cancelled, p.Leader.Key, specFor(p.Leader, false), nil, false},
		{"PAdES profile", context.Background(), p.Leader.Key, cms.SignerInfoSpec{Certificate: p.Leader.Cert, Profile: cms.ProfilePAdES}, nil, false},
		{"output is the input", context.Background(), p.Leader.Key, specFor(p.Leader, false), nil, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			in, out := filepath.Join(dir, "in.txt"), filepath.Join(dir, "out.p7s")
			os.WriteFile(in, []byte("content"), 0o600)
			os.WriteFile(out, []byte("previous"), 0o600)
			target := out
			if tc.sameIO {
				target = in
			}
			if err := cades.SignFile(tc.ctx, tc.signer, tc.spec, in, target, tc.ts); err == nil {
				t.Fatal("signing succeeded")
			} else if !strings.HasPrefix(err.Error(), "cades: ") {
				t.Errorf("error %q lacks the package prefix", err)
			}
			if got, _ := os.ReadFile(out); string(got) != "previous" {
				t.Errorf("output changed to %q", got)
			}
			if got, _ := os.ReadFile(in); string(got) != "content" {
				t.Errorf("input changed to %q", got)
			}
			entries, _ := os.ReadDir(dir)
			if len(entries) != 2 {
				t.Errorf("left behind: %v", entries)
			}
		})
	}
}

// wrongSigner fails the way a removed token does.
type wrongSigner struct{ crypto.Signer }

func (w wrongSigner) Sign(io.Reader, []byte, crypto.SignerOpts) ([]byte, error) {
	return nil, errors.New("pkcs11: token removed")
}

func TestVerifyDetachedFailures(t *testing.T) {
	p := testpki.Committed(t)
	ctx := context.Background()
	content := []byte("bản gốc")
	digest := func(b []byte) []byte { d := crypto.SHA256.New(); d.Write(b); return d.Sum(nil) }
	cadesSpec := specFor(p.Leader, false)
	cadesSpec.Hash, cadesSpec.Profile, cadesSpec.SigningTime = crypto.SHA256, cms.ProfileCAdES, time.Now()
	good, err := cms.Sign(ctx, p.Leader.Key, cadesSpec, digest(content))
	if err != nil {
		t.Fatal(err)
	}
	padesSpec := cadesSpec
	padesSpec.Profile, padesSpec.SigningTime = cms.ProfilePAdES, time.Time{}
	noTime, err := cms.Sign(ctx, p.Leader.Key, padesSpec, digest(content))
	if err != nil {
		t.Fatal(err)
	}
	attachedSpec := cadesSpec
	attachedSpec.EncapsulatedContent = content
	attached, err := cms.Sign(ctx, p.Leader.Key, attachedSpec, digest(content))
	if err != nil {
		t.Fatal(err)
	}

	if _, err := cades.VerifyDetached(good, bytes.NewReader([]byte("bản sửa"))); !errors.Is(err, cms.ErrDigestMismatch) {
		t.Errorf("changed content: %v", err)
	}
	if _, err := cades.VerifyDetached(attached, bytes.NewReader(content)); !errors.Is(err, cms.ErrFormat) {
		t.Errorf("attached signature: %v", err)
	}
	if _, err := cades.VerifyDetached(good[:len(good)/2], bytes.NewReader(content)); !errors.Is(err, cms.ErrFormat) {
		t.Errorf("truncated: %v", err)
	}
	res, err := cades.VerifyDetached(noTime, bytes.NewReader(content))
	if err != nil {
		t.Fatal(err)
	}
	if res.Level != "" || len(res.Missing) != 1 || res.Missing[0] != "signing-time" {
		t.Errorf("PAdES-profile CMS as CAdES: level %q missing %v", res.Level, res.Missing)
	}
}
