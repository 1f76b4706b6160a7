package pki_test

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/kyso-vn/kyso/internal/testenv"
	"github.com/kyso-vn/kyso/internal/testpki"
	"github.com/kyso-vn/kyso/pkg/pki"
	"github.com/kyso-vn/kyso/pkg/pki/pkitest"
	"github.com/kyso-vn/kyso/signer/cms"
)

var genTime = time.Date(2025, 3, 5, 7, 30, 15, 0, time.UTC)

func mintToken(t testing.TB, tsa *testpki.Cert, hash crypto.Hash, imprint []byte) []byte {
	t.Helper()
	token, err := pkitest.MintToken(tsa.Cert, tsa.Key, tsa.Chain, hash, imprint, genTime)
	if err != nil {
		t.Fatal(err)
	}
	return token
}

func TestParseTimestampToken(t *testing.T) {
	p := committed(t)
	ecPKI := testpki.New(t, testpki.Options{KeyType: testpki.ECDSAP384})
	ecTSA := ecPKI.Issue(t, testpki.Spec{Kind: testpki.TSA})
	d256 := sha256.Sum256([]byte("văn bản"))
	d512 := sha512.Sum512([]byte("văn bản"))
	good := mintToken(t, p.TSA, crypto.SHA256, d256[:])
	tampered := bytes.Clone(good)
	i := bytes.Index(tampered, d256[:])
	tampered[i] ^= 0x01
	sigFlipped := bytes.Clone(good)
	sigFlipped[len(sigFlipped)-10] ^= 0x01

	tests := []struct {
		name    string
		token   []byte
		hash    crypto.Hash
		imprint []byte
		signer  *testpki.Cert
		wantErr error
	}{
		{"RSA TSA, SHA-256", good, crypto.SHA256, d256[:], p.TSA, nil},
		{"RSA TSA, SHA-512 imprint", mintToken(t, p.TSA, crypto.SHA512, d512[:]), crypto.SHA512, d512[:], p.TSA, nil},
		{"ECDSA P-384 TSA", mintToken(t, ecTSA, crypto.SHA256, d256[:]), crypto.SHA256, d256[:], ecTSA, nil},
		{"imprint altered after signing", tampered, 0, nil, nil, pki.ErrTimestampInvalid},
		{"signature altered", sigFlipped, 0, nil, nil, pki.ErrTimestampInvalid},
		{"signed by a personal certificate", mintToken(t, p.Leader, crypto.SHA256, d256[:]), 0, nil, nil, pki.ErrTimestampInvalid},
		{"not DER", []byte("hello"), 0, nil, nil, pki.ErrTimestampInvalid},
		{"trailing data", append(bytes.Clone(good), 0), 0, nil, nil, pki.ErrTimestampInvalid},
		// signer/cms reads BER (documents carry it); a fresh token from a TSA must be DER.
		{"BER, indefinite length", indefinite(t, good), 0, nil, nil, pki.ErrTimestampInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ti, err := pki.ParseTimestampToken(tt.token)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !ti.GenTime.Equal(genTime) || ti.Accuracy != time.Second || !ti.Policy.Equal(pkitest.TSAPolicy) || ti.SerialNumber == nil {
				t.Errorf("genTime %v accuracy %v policy %v serial %v", ti.GenTime, ti.Accuracy, ti.Policy, ti.SerialNumber)
			}
			if err := ti.CheckImprint(tt.hash, tt.imprint); err != nil {
				t.Error(err)
			}
			if err := ti.CheckData([]byte("văn bản")); err != nil {
				t.Error(err)
			}
			if err := ti.CheckData([]byte("văn bản đã sửa")); !errors.Is(err, pki.ErrTSAMismatch) {
				t.Errorf("other data: err = %v, want ErrTSAMismatch", err)
			}
			if !ti.Signer.Equal(tt.signer.Cert) || len(ti.Certificates) != 3 {
				t.Errorf("signer %q, %d certificates; want the TSA and its chain", ti.Signer.Subject.CommonName, len(ti.Certificates))
			}
		})
	}
}

// TestTimestampInteropWithOpenSSL checks the parser against tokens OpenSSL makes (with
// the ESS signing-certificate v1 and v2 attributes), and the test TSA's tokens against
// `openssl ts -verify`, so neither side only agrees with itself.
func TestTimestampInteropWithOpenSSL(t *testing.T) {
	openssl := testenv.Tool(t, "openssl", "openssl")
	p := committed(t)
	digest := sha256.Sum256([]byte("Quyết định số 05/QĐ-UBND"))
	// Precision 3 makes OpenSSL write genTime with milliseconds, which encoding/asn1
	// alone would refuse.
	for _, tc := range []struct{ essAlg, precision string }{{"sha1", "3"}, {"sha256", "0"}} {
		t.Run("openssl ts -reply, ESS "+tc.essAlg+", precision "+tc.precision, func(t *testing.T) {
			dir := t.TempDir()
			cfg := "[ tsa ]\ndefault_tsa = t\n[ t ]\nserial = " + filepath.Join(dir, "serial") +
				"\ncrypto_device = builtin\nsigner_digest = sha256\ndefault_policy = 2.999.2.1\n" +
				"digests = sha256, sha384, sha512\naccuracy = secs:1\ness_cert_id_alg = " + tc.essAlg +
				"\nclock_precision_digits = " + tc.precision + "\n"
			writeFile(t, filepath.Join(dir, "ts.cnf"), cfg)
			writeFile(t, filepath.Join(dir, "serial"), "01\n")
			run(t, openssl, "ts", "-query", "-digest", hex.EncodeToString(digest[:]), "-sha256", "-cert", "-out", filepath.Join(dir, "req.tsq"))
			run(t, openssl, "ts", "-reply", "-config", filepath.Join(dir, "ts.cnf"), "-queryfile", filepath.Join(dir, "req.tsq"),
				"-signer", p.Path("tsa.pem"), "-inkey", p.Path("tsa.key"), "-chain", p.Path(testpki.FileChain),
				"-token_out", "-out", filepath.Join(dir, "token.der"))
			token, err := os.ReadFile(filepath.Join(dir, "token.der"))
			if err != nil {
				t.Fatal(err)
			}
			ti, err := pki.ParseTimestampToken(token)
			if err != nil {
				t.Fatal(err)
			}
			if err := ti.CheckImprint(crypto.SHA256, digest[:]); err != nil || !ti.Signer.Equal(p.TSA.Cert) {
				t.Errorf("imprint: %v; signer %q", err, ti.Signer.Subject.CommonName)
			}
			if d := time.Since(ti.GenTime); d < -time.Minute || d > time.Minute {
				t.Errorf("genTime %v is not now", ti.GenTime)
			}
		})
	}
	t.Run("token without certificates, TSA certificate given", func(t *testing.T) {
		dir := t.TempDir()
		writeFile(t, filepath.Join(dir, "ts.cnf"), "[ tsa ]\ndefault_tsa = t\n[ t ]\nserial = "+filepath.Join(dir, "serial")+
			"\ncrypto_device = builtin\nsigner_digest = sha256\ndefault_policy = 2.999.2.1\ndigests = sha256\ness_cert_id_alg = sha256\n")
		writeFile(t, filepath.Join(dir, "serial"), "01\n")
		// No -cert: certReq is false, so the token carries no certificate.
		run(t, openssl, "ts", "-query", "-digest", hex.EncodeToString(digest[:]), "-sha256", "-out", filepath.Join(dir, "req.tsq"))
		run(t, openssl, "ts", "-reply", "-config", filepath.Join(dir, "ts.cnf"), "-queryfile", filepath.Join(dir, "req.tsq"),
			"-signer", p.Path("tsa.pem"), "-inkey", p.Path("tsa.key"), "-token_out", "-out", filepath.Join(dir, "token.der"))
		token, err := os.ReadFile(filepath.Join(dir, "token.der"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := pki.ParseTimestampToken(token); !errors.Is(err, pki.ErrTimestampInvalid) {
			t.Errorf("without the TSA certificate: err = %v, want ErrTimestampInvalid", err)
		}
		if _, err := pki.ParseTimestampToken(token, p.Leader.Cert); !errors.Is(err, pki.ErrTimestampInvalid) {
			t.Errorf("with the wrong certificate: err = %v, want ErrTimestampInvalid", err)
		}
		ti, err := pki.ParseTimestampToken(token, p.Leader.Cert, p.TSA.Cert)
		if err != nil || !ti.Signer.Equal(p.TSA.Cert) || len(ti.Certificates) != 0 {
			t.Fatalf("with the TSA certificate given: %v", err)
		}
	})
	t.Run("openssl ts -verify on the test TSA's token", func(t *testing.T) {
		dir := t.TempDir()
		token := mintToken(t, p.TSA, crypto.SHA256, digest[:])
		writeFile(t, filepath.Join(dir, "token.der"), string(token))
		out := run(t, openssl, "ts", "-verify", "-digest", hex.EncodeToString(digest[:]), "-token_in", "-in", filepath.Join(dir, "token.der"),
			"-CAfile", p.Path(testpki.FileRootCA), "-untrusted", p.Path(testpki.FileSubCA))
		if !bytes.Contains(out, []byte("Verification: OK")) {
			t.Errorf("openssl ts -verify: %s", out)
		}
		other := sha256.Sum256([]byte("another document"))
		cmd := exec.Command(openssl, "ts", "-verify", "-digest", hex.EncodeToString(other[:]), "-token_in", "-in", filepath.Join(dir, "token.der"),
			"-CAfile", p.Path(testpki.FileRootCA), "-untrusted", p.Path(testpki.FileSubCA))
		if out, err := cmd.CombinedOutput(); err == nil {
			t.Errorf("openssl accepted the token for another digest: %s", out)
		}
	})
}

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}

func run(t *testing.T, name string, args ...string) []byte {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
	return out
}

// FuzzParseTimestampToken feeds the parser mutations of real tokens (RSA and ECDSA
// TSAs). It must never panic, and whatever it accepts must be self-consistent.
func FuzzParseTimestampToken(f *testing.F) {
	p := committed(f)
	ec := testpki.New(f, testpki.Options{KeyType: testpki.ECDSAP256})
	ecTSA := ec.Issue(f, testpki.Spec{Kind: testpki.TSA})
	d := sha256.Sum256([]byte("seed"))
	f.Add(mintToken(f, p.TSA, crypto.SHA256, d[:]))
	f.Add(mintToken(f, ecTSA, crypto.SHA256, d[:]))
	f.Add([]byte{0x30, 0x80, 0x00, 0x00})
	f.Fuzz(func(t *testing.T, data []byte) {
		ti, err := pki.ParseTimestampToken(data)
		if err != nil {
			var pe *pki.Error
			if !errors.As(err, &pe) {
				t.Fatalf("error of type %T: %v", err, err)
			}
			return
		}
		if ti.Signer == nil || pki.CheckTSACertificate(ti.Signer) != nil {
			t.Fatal("accepted a token without a fit TSA certificate")
		}
		if err := ti.CheckImprint(ti.HashAlgorithm, ti.HashedMessage); err != nil {
			t.Fatal(err)
		}
	})
}

// indefinite re-encodes the outer SEQUENCE of der with an indefinite length (BER).
func indefinite(t testing.TB, der []byte) []byte {
	t.Helper()
	if len(der) < 2 || der[0] != 0x30 {
		t.Fatal("not a SEQUENCE")
	}
	hdr := 2
	if der[1]&0x80 != 0 {
		hdr += int(der[1] & 0x7f)
	}
	out := append([]byte{0x30, 0x80}, der[hdr:]...)
	return append(out, 0, 0)
}

// TestTokenStrictnessIsTheClients: the BER token the TSA client refuses is one
// signer/cms reads, so the refusal is the client's DER rule, not a parse failure.
func TestTokenStrictnessIsTheClients(t *testing.T) {
	p := committed(t)
	d := sha256.Sum256([]byte("văn bản"))
	ber := indefinite(t, mintToken(t, p.TSA, crypto.SHA256, d[:]))
	if _, err := cms.ParseTimestampToken(ber); err != nil {
		t.Fatalf("cms refuses the BER token: %v", err)
	}
	if _, err := pki.ParseTimestampToken(ber); !errors.Is(err, pki.ErrTimestampInvalid) {
		t.Fatalf("pki: err = %v, want ErrTimestampInvalid", err)
	}
}
