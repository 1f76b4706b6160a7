package cms_test

import (
	"context"
	"crypto"
	"crypto/x509"
	"fmt"
	"strings"
	"testing"

	"github.com/kyso-vn/kyso/signer/cms"
)

// TestEstimateSizeIsAnUpperBound measures EstimateSize against real outputs: it must
// never be below (a PDF placeholder that is too small means asking the key twice),
// and it should not waste much.
func TestEstimateSizeIsAnUpperBound(t *testing.T) {
	for _, kind := range []string{"RSA-2048", "RSA-3072", "RSA-4096", "P-256", "P-384"} {
		p := newPKI(t, kind)
		for _, chain := range []bool{false, true} {
			for _, tsaKind := range []string{"", "RSA-4096", "P-256"} {
				for _, profile := range []cms.Profile{cms.ProfilePAdES, cms.ProfileCAdES} {
					name := fmt.Sprintf("%s/chain=%v/tsa=%s/%s", kind, chain, tsaKind, profile)
					t.Run(name, func(t *testing.T) {
						s := spec(p, crypto.SHA512, false, profile)
						if !chain {
							s.Chain = nil
						}
						var allowance *cms.TimestampAllowance
						var tsa *testTSA
						if tsaKind != "" {
							tsa = newTSA(t, p, tsaKind)
							allowance = &cms.TimestampAllowance{CertificatesDER: tsa.certBytes()}
						}
						est, err := cms.EstimateSize(s, allowance, 0)
						if err != nil {
							t.Fatal(err)
						}
						// ECDSA signature sizes vary; take the largest of a few. RSA
						// signatures are always the modulus size.
						worst, runs := 0, 8
						if strings.HasPrefix(kind, "RSA") {
							runs = 1
						}
						for i := 0; i < runs; i++ {
							var der []byte
							if tsa != nil {
								der, err = cms.SignWithTimestamp(context.Background(), p.leafKey, s, digestOf(crypto.SHA512, []byte{byte(i)}), tsa)
							} else {
								der, err = cms.Sign(context.Background(), p.leafKey, s, digestOf(crypto.SHA512, []byte{byte(i)}))
							}
							if err != nil {
								t.Fatal(err)
							}
							worst = max(worst, len(der))
						}
						t.Logf("estimate %d, largest real %d, slack %d", est, worst, est-worst)
						if est < worst {
							t.Fatalf("estimate %d below a real signature of %d bytes", est, worst)
						}
						limit := 16
						if tsa != nil {
							limit = 6000
						}
						if est-worst > limit {
							t.Errorf("estimate %d wastes %d bytes (limit %d)", est, est-worst, limit)
						}
					})
				}
			}
		}
	}
}

func TestEstimateSizeExtraBytesAndErrors(t *testing.T) {
	p := newPKI(t, "RSA-2048")
	s := spec(p, crypto.SHA256, false, cms.ProfilePAdES)
	a, err := cms.EstimateSize(s, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	b, err := cms.EstimateSize(s, nil, 1000)
	if err != nil || b != a+1000 {
		t.Errorf("extra bytes: %d → %d, %v", a, b, err)
	}
	for name, bad := range map[string]cms.SignerInfoSpec{
		"no certificate": {Hash: crypto.SHA256, Profile: cms.ProfilePAdES},
		"SHA-1":          {Certificate: p.leaf, Hash: crypto.SHA1, Profile: cms.ProfilePAdES},
		"bad chain":      {Certificate: p.leaf, Chain: []*x509.Certificate{p.inter}, Hash: 99, Profile: cms.ProfilePAdES},
	} {
		if _, err := cms.EstimateSize(bad, nil, 0); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := cms.EstimateSize(s, nil, -1); err == nil {
		t.Error("negative extra accepted")
	}
}
