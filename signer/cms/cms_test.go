package cms_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/digitorus/pkcs7"
	"github.com/kyso-vn/kyso/signer/cms"
)

func digestOf(h crypto.Hash, data []byte) []byte {
	hh := h.New()
	hh.Write(data)
	return hh.Sum(nil)
}

// signingTime lies inside the minted certificates' validity, which digitorus/pkcs7
// checks.
var signingTime = time.Now().UTC().Truncate(time.Second)

func spec(p *testPKI, h crypto.Hash, pss bool, profile cms.Profile) cms.SignerInfoSpec {
	s := cms.SignerInfoSpec{
		Certificate: p.leaf, Chain: []*x509.Certificate{p.inter, p.root},
		Hash: h, PSS: pss, Profile: profile,
	}
	if profile == cms.ProfileCAdES {
		s.SigningTime = signingTime
	}
	return s
}

// TestRoundTrip signs with every supported key × hash × padding, then parses and
// verifies with this package and cross-checks with github.com/digitorus/pkcs7.
func TestRoundTrip(t *testing.T) {
	content := []byte("Quyết định số 05/QĐ-UBND — nội dung văn bản")
	for _, kind := range []string{"RSA-2048", "RSA-3072", "RSA-4096", "P-256", "P-384", "P-521"} {
		p := newPKI(t, kind)
		for _, h := range []crypto.Hash{crypto.SHA256, crypto.SHA384, crypto.SHA512} {
			for _, pss := range []bool{false, true} {
				if pss && !strings.HasPrefix(kind, "RSA") {
					continue
				}
				for _, profile := range []cms.Profile{cms.ProfilePAdES, cms.ProfileCAdES} {
					name := fmt.Sprintf("%s/%s/pss=%v/%s", kind, h, pss, profile)
					t.Run(name, func(t *testing.T) {
						der, err := cms.Sign(context.Background(), p.leafKey, spec(p, h, pss, profile), digestOf(h, content))
						if err != nil {
							t.Fatal(err)
						}
						sd, err := cms.Parse(der)
						if err != nil {
							t.Fatal(err)
						}
						res, err := sd.VerifyContent(bytes.NewReader(content))
						if err != nil {
							t.Fatal(err)
						}
						if !res.Certificate.Equal(p.leaf) || res.Hash != h || res.SigningCertificate != "v2" {
							t.Errorf("result: cert %s hash %s signing-certificate %q", res.Certificate.Subject, res.Hash, res.SigningCertificate)
						}
						wantAlg := "with RSA"
						if pss {
							wantAlg = "RSASSA-PSS"
						} else if strings.HasPrefix(kind, "P-") {
							wantAlg = "ECDSA"
						}
						if !strings.Contains(res.SignatureAlgorithm, wantAlg) {
							t.Errorf("algorithm %q, want %q", res.SignatureAlgorithm, wantAlg)
						}
						want := []asn1.ObjectIdentifier{cms.OIDAttrContentType, cms.OIDAttrMessageDigest, cms.OIDAttrSigningCertificateV2}
						if profile == cms.ProfileCAdES {
							want = append(want, cms.OIDAttrSigningTime)
						}
						if len(res.SignedAttributes) != len(want) {
							t.Errorf("signed attributes %v, want %v", res.SignedAttributes, want)
						}
						for _, oid := range want {
							if !res.HasSignedAttribute(oid) {
								t.Errorf("signed attribute %s missing", oid)
							}
						}
						if profile == cms.ProfileCAdES && !res.SigningTime.Equal(signingTime) {
							t.Errorf("signing time %v", res.SigningTime)
						}
						if len(sd.Certificates) != 3 || sd.Content != nil || !sd.ContentType.Equal(cms.OIDData) {
							t.Errorf("%d certificates, content %v, type %s", len(sd.Certificates), sd.Content != nil, sd.ContentType)
						}
						p7, err := pkcs7.Parse(der)
						if err != nil {
							t.Fatalf("digitorus/pkcs7 cannot parse our output: %v", err)
						}
						if !pss { // neither pkcs7 library knows RSA-PSS
							p7.Content = content
							if err := p7.Verify(); err != nil {
								t.Errorf("digitorus/pkcs7 does not verify our output: %v", err)
							}
						}
					})
				}
			}
		}
	}
}

func TestCompleteRefusesWrongSignature(t *testing.T) {
	for _, kind := range []string{"RSA-2048", "P-256"} {
		t.Run(kind, func(t *testing.T) {
			p := newPKI(t, kind)
			other := newPKI(t, map[string]string{"RSA-2048": "RSA-3072", "P-256": "P-384"}[kind])
			pend, err := cms.Prepare(spec(p, crypto.SHA256, false, cms.ProfilePAdES), digestOf(crypto.SHA256, []byte("x")))
			if err != nil {
				t.Fatal(err)
			}
			good, err := p.leafKey.Sign(rand.Reader, pend.SignedAttrsDigest(), pend.SignatureOpts())
			if err != nil {
				t.Fatal(err)
			}
			flipped := bytes.Clone(good)
			flipped[len(flipped)/2] ^= 1
			wrongKey, _ := other.leafKey.Sign(rand.Reader, pend.SignedAttrsDigest(), pend.SignatureOpts())
			otherDigest, _ := p.leafKey.Sign(rand.Reader, digestOf(crypto.SHA256, []byte("y")), pend.SignatureOpts())
			for name, sig := range map[string][]byte{
				"flipped bit": flipped, "other key": wrongKey, "other digest": otherDigest,
				"empty": nil, "truncated": good[:len(good)-1],
			} {
				if _, err := pend.Complete(sig); !errors.Is(err, cms.ErrSignatureInvalid) {
					t.Errorf("%s: Complete = %v, want ErrSignatureInvalid", name, err)
				}
			}
			if _, err := pend.Complete(good); err != nil {
				t.Errorf("good signature refused: %v", err)
			}
		})
	}
}

func TestSignAsksTheKeyOnce(t *testing.T) {
	p := newPKI(t, "RSA-2048")
	tsa := newTSA(t, p, "P-256")
	digest := digestOf(crypto.SHA256, []byte("doc"))
	s := spec(p, crypto.SHA256, true, cms.ProfilePAdES)

	plain := &countingSigner{Signer: p.leafKey}
	if _, err := cms.SignWithTimestamp(context.Background(), plain, s, digest, tsa); err != nil {
		t.Fatal(err)
	}
	if plain.calls.Load() != 1 || tsa.calls.Load() != 1 {
		t.Errorf("signer asked %d times, TSA %d times; want 1 and 1", plain.calls.Load(), tsa.calls.Load())
	}

	withCtx := contextCountingSigner{&countingSigner{Signer: p.leafKey}}
	if _, err := cms.Sign(context.Background(), withCtx, s, digest); err != nil {
		t.Fatal(err)
	}
	if withCtx.ctxCalls.Load() != 1 || withCtx.calls.Load() != 0 {
		t.Errorf("SignContext %d times, Sign %d times; want 1 and 0", withCtx.ctxCalls.Load(), withCtx.calls.Load())
	}

	broken := &countingSigner{Signer: p.leafKey, corrupt: true}
	tsa.calls.Store(0)
	if _, err := cms.SignWithTimestamp(context.Background(), broken, s, digest, tsa); !errors.Is(err, cms.ErrSignatureInvalid) {
		t.Errorf("corrupting signer: %v, want ErrSignatureInvalid", err)
	}
	if broken.calls.Load() != 1 || tsa.calls.Load() != 0 {
		t.Errorf("after a bad signature: signer asked %d times (want 1, no retry), TSA %d (want 0)", broken.calls.Load(), tsa.calls.Load())
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	cancelled := contextCountingSigner{&countingSigner{Signer: p.leafKey}}
	if _, err := cms.Sign(ctx, cancelled, s, digest); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: %v", err)
	}

	other := newPKI(t, "RSA-3072")
	if _, err := cms.Sign(context.Background(), other.leafKey, s, digest); err == nil {
		t.Error("a key that does not match the certificate was used")
	}
}

// TestPendingSurvivesRestart stores the state between prepare and complete as bytes,
// as the service does across a restart, and completes from the restored copy.
func TestPendingSurvivesRestart(t *testing.T) {
	for _, tc := range []struct {
		kind string
		pss  bool
	}{{"RSA-2048", true}, {"P-384", false}} {
		t.Run(tc.kind, func(t *testing.T) {
			p := newPKI(t, tc.kind)
			content := []byte("văn bản đến")
			pend, err := cms.Prepare(spec(p, crypto.SHA384, tc.pss, cms.ProfileCAdES), digestOf(crypto.SHA384, content))
			if err != nil {
				t.Fatal(err)
			}
			state, err := pend.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			var restored cms.Pending
			if err := restored.UnmarshalBinary(state); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(restored.SignedAttrsDigest(), pend.SignedAttrsDigest()) {
				t.Fatal("restored state signs a different digest")
			}
			sig, err := p.leafKey.Sign(rand.Reader, restored.SignedAttrsDigest(), restored.SignatureOpts())
			if err != nil {
				t.Fatal(err)
			}
			der, err := restored.Complete(sig)
			if err != nil {
				t.Fatal(err)
			}
			sd, err := cms.Parse(der)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := sd.VerifyContent(bytes.NewReader(content)); err != nil {
				t.Fatal(err)
			}
			for name, bad := range map[string][]byte{
				"garbage":     []byte("{"),
				"version":     bytes.Replace(state, []byte(`"v":1`), []byte(`"v":9`), 1),
				"sha1":        bytes.Replace(state, []byte(fmt.Sprintf(`"hash":%d`, crypto.SHA384)), []byte(fmt.Sprintf(`"hash":%d`, crypto.SHA1)), 1),
				"unknownhash": bytes.Replace(state, []byte(fmt.Sprintf(`"hash":%d`, crypto.SHA384)), []byte(`"hash":99`), 1),
				"oid":         bytes.Replace(state, []byte(`"1.2.840.113549.1.7.1"`), []byte(`"1..2"`), 1),
			} {
				var q cms.Pending
				if err := q.UnmarshalBinary(bad); err == nil {
					t.Errorf("%s: corrupted state accepted", name)
				}
			}
		})
	}
}

func TestRawECDSASignatureAccepted(t *testing.T) {
	p := newPKI(t, "P-256")
	pend, err := cms.Prepare(spec(p, crypto.SHA256, false, cms.ProfilePAdES), digestOf(crypto.SHA256, []byte("x")))
	if err != nil {
		t.Fatal(err)
	}
	asn1Sig, err := p.leafKey.Sign(rand.Reader, pend.SignedAttrsDigest(), crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	var rs struct{ R, S *big.Int }
	if _, err := asn1.Unmarshal(asn1Sig, &rs); err != nil {
		t.Fatal(err)
	}
	raw := make([]byte, 64)
	rs.R.FillBytes(raw[:32])
	rs.S.FillBytes(raw[32:])
	der, err := pend.Complete(raw)
	if err != nil {
		t.Fatal(err)
	}
	sd, err := cms.Parse(der)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sd.Verify(digestOf(crypto.SHA256, []byte("x")), crypto.SHA256); err != nil {
		t.Fatal(err)
	}
}

func TestSigningPolicy(t *testing.T) {
	rsaPKI := newPKI(t, "RSA-2048")
	digest := digestOf(crypto.SHA256, []byte("x"))
	cases := []struct {
		name        string
		mutate      func(*cms.SignerInfoSpec)
		digest      []byte
		unsupported bool
	}{
		{"SHA-1", func(s *cms.SignerInfoSpec) { s.Hash = crypto.SHA1 }, nil, true},
		{"MD5", func(s *cms.SignerInfoSpec) { s.Hash = crypto.MD5 }, nil, true},
		{"no hash", func(s *cms.SignerInfoSpec) { s.Hash = 0 }, nil, true},
		{"RSA-1024", func(s *cms.SignerInfoSpec) { s.Certificate = newPKI(t, "RSA-1024").leaf }, nil, true},
		{"P-224", func(s *cms.SignerInfoSpec) { s.Certificate = newPKI(t, "P-224").leaf }, nil, true},
		{"PSS with ECDSA", func(s *cms.SignerInfoSpec) { s.Certificate = newPKI(t, "P-256").leaf; s.PSS = true }, nil, true},
		{"PAdES with signing time", func(s *cms.SignerInfoSpec) { s.SigningTime = time.Now() }, nil, false},
		{"CAdES without signing time", func(s *cms.SignerInfoSpec) { s.Profile = cms.ProfileCAdES }, nil, false},
		{"no profile", func(s *cms.SignerInfoSpec) { s.Profile = 0 }, nil, false},
		{"no certificate", func(s *cms.SignerInfoSpec) { s.Certificate = nil }, nil, false},
		{"short digest", func(s *cms.SignerInfoSpec) {}, digest[:20], false},
		{"duplicate managed attribute", func(s *cms.SignerInfoSpec) {
			s.ExtraSignedAttrs = []cms.Attribute{{Type: cms.OIDAttrMessageDigest, Values: [][]byte{{4, 0}}}}
		}, nil, false},
		{"attribute value not DER", func(s *cms.SignerInfoSpec) {
			s.ExtraSignedAttrs = []cms.Attribute{{Type: asn1.ObjectIdentifier{1, 2, 3}, Values: [][]byte{{4, 5, 0}}}}
		}, nil, false},
		{"encapsulated content with the wrong digest", func(s *cms.SignerInfoSpec) { s.EncapsulatedContent = []byte("y") }, nil, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := spec(rsaPKI, crypto.SHA256, false, cms.ProfilePAdES)
			tc.mutate(&s)
			d := digest
			if tc.digest != nil {
				d = tc.digest
			}
			_, err := cms.Prepare(s, d)
			if err == nil {
				t.Fatal("accepted")
			}
			if errors.Is(err, cms.ErrUnsupportedAlgorithm) != tc.unsupported {
				t.Errorf("error %v: unsupported = %v, want %v", err, !tc.unsupported, tc.unsupported)
			}
			if !strings.HasPrefix(err.Error(), "cms: ") {
				t.Errorf("error %q lacks the package prefix", err)
			}
		})
	}
}

// TestExtraSignedAttrs carries a caller's attribute (a signature policy identifier
// stand-in) through signing and parsing.
func TestExtraSignedAttrs(t *testing.T) {
	p := newPKI(t, "P-256")
	attr, err := cms.NewAttribute(asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 2, 15}, asn1.ObjectIdentifier{2, 16, 704, 1})
	if err != nil {
		t.Fatal(err)
	}
	s := spec(p, crypto.SHA256, false, cms.ProfilePAdES)
	s.ExtraSignedAttrs = []cms.Attribute{attr}
	der, err := cms.Sign(context.Background(), p.leafKey, s, digestOf(crypto.SHA256, nil))
	if err != nil {
		t.Fatal(err)
	}
	sd, err := cms.Parse(der)
	if err != nil {
		t.Fatal(err)
	}
	res, err := sd.Verify(digestOf(crypto.SHA256, nil), crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	got, ok := res.SignerInfo.SignedAttribute(attr.Type)
	if !ok || !bytes.Equal(got.Values[0], attr.Values[0]) {
		t.Errorf("extra attribute lost: %v", got)
	}
}

// TestCompleteFollowsCertificates: Prepare keeps the parsed certificate for Complete,
// but a state whose certificate list was replaced afterwards is judged by the new
// list, never by the kept copy.
func TestCompleteFollowsCertificates(t *testing.T) {
	p := newPKI(t, "RSA-2048")
	other := newPKI(t, "RSA-3072")
	pend, err := cms.Prepare(spec(p, crypto.SHA256, false, cms.ProfilePAdES), digestOf(crypto.SHA256, []byte("x")))
	if err != nil {
		t.Fatal(err)
	}
	sig, err := p.leafKey.Sign(rand.Reader, pend.SignedAttrsDigest(), pend.SignatureOpts())
	if err != nil {
		t.Fatal(err)
	}
	pend.Certificates[0] = other.leaf.Raw
	if c, err := pend.Certificate(); err != nil || !bytes.Equal(c.Raw, other.leaf.Raw) {
		t.Fatalf("Certificate after replacing the list = %v, %v; want the new certificate", c, err)
	}
	if _, err := pend.Complete(sig); !errors.Is(err, cms.ErrSignatureInvalid) {
		t.Fatalf("Complete with a replaced certificate = %v, want ErrSignatureInvalid", err)
	}
	pend.Certificates[0] = p.leaf.Raw
	if _, err := pend.Complete(sig); err != nil {
		t.Fatalf("Complete with the original certificate: %v", err)
	}
}
