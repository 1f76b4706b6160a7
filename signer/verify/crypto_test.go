package verify

import (
	"crypto"
	"crypto/x509"
	"strings"
	"testing"
	"time"

	"github.com/kyso-vn/kyso/pkg/pki/vntrust"
)

func vnCert(t *testing.T, fp string) *x509.Certificate {
	t.Helper()
	e, ok := vntrust.Find(fp)
	if !ok {
		t.Fatalf("%s not in the built-in list", fp)
	}
	return e.Certificate
}

// A chain through Ban Cơ yếu's G1 CA "Co quan chung thuc so Chinh phu", whose
// certificate is signed with SHA-1 (2010): under EU DSS's default it fails the
// constraint even with a 2018 timestamp, naming that certificate; a policy dating
// SHA-1 later accepts it with the timestamp, and without one only before the cutoff.
func TestCryptoJudgeG1Chain(t *testing.T) {
	sub, root := vnCert(t, "75e969c0"), vnCert(t, "f7bc8905")
	algs := signatureAlgorithms(crypto.SHA256, sub, []*x509.Certificate{sub, root}, false)
	poe := time.Date(2018, 6, 1, 0, 0, 0, 0, time.UTC)
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)

	v := DefaultCryptoPolicy().judge(algs, poe, now)
	if v.sub != CryptoConstraintsFailureNoPOE || v.alg.name != "SHA-1" || !strings.Contains(v.why().vi, "chữ ký trên chứng thư \"Co quan chung thuc so Chinh phu\"") ||
		!strings.Contains(v.why().en, "since 2009-01-01") {
		t.Errorf("default: %+v %+v", v, v.why())
	}
	vn, err := ParseCryptoPolicy("verify.crypto", map[string]string{"SHA-1": "2020-01-01"})
	if err != nil {
		t.Fatal(err)
	}
	if v := vn.judge(algs, poe, now); v.sub != "" || len(v.byPOE) != 1 {
		t.Errorf("SHA-1 until 2020, timestamp 2018: %+v", v)
	}
	if v := vn.judge(algs, time.Time{}, now); v.sub != CryptoConstraintsFailureNoPOE {
		t.Errorf("SHA-1 until 2020, no timestamp, validated 2026: %+v", v)
	}
	if v := vn.judge(algs, time.Time{}, poe); v.sub != "" {
		t.Errorf("SHA-1 until 2020, validated as at 2018: %+v", v)
	}
	refused, _ := ParseCryptoPolicy("verify.crypto", map[string]string{"SHA-1": "refused"})
	if v := refused.judge(algs, poe, poe); v.sub != CryptoConstraintsFailure {
		t.Errorf("SHA-1 refused: %+v", v)
	}
	for _, bad := range []map[string]string{{"SHA-3": "2020-01-01"}, {"SHA-1": "2020"}} {
		if _, err := ParseCryptoPolicy("verify.crypto", bad); err == nil || !strings.Contains(err.Error(), "verify.crypto.") {
			t.Errorf("%v: %v", bad, err)
		}
	}
}
