package verify

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/kyso-vn/kyso/internal/vntime"
	"github.com/kyso-vn/kyso/pkg/fault"
)

// Cryptographic constraints with dates, as EU DSS's default validation policy has them
// (constraint.xml, AlgoExpirationDate, after ETSI TS 119 312): an algorithm is
// acceptable for a signature made before its cutoff, and "made before" must be proven
// by a proof of existence — a signature timestamp or a later document timestamp. Past
// the cutoff with no such proof, the signature is INDETERMINATE /
// CRYPTO_CONSTRAINTS_FAILURE_NO_POE; its integrity is still checked and reported.
//
// The algorithms are named as the table names them: digests "MD5", "SHA-1",
// "SHA-224", "SHA-256", "SHA-384", "SHA-512"; keys by class "RSA-1024" (1024–1535 bits),
// "RSA-1536" (1536–1899), "RSA-2048" (1900–2999), "RSA-3072" (3000 and more),
// "ECDSA-224", "ECDSA-256", "ECDSA-384", "ECDSA-521", "Ed25519". Every signature's
// digest and key are judged, and for each certificate of its chain below the anchor,
// the digest of the certificate's signature and its issuer's key.

// CryptoRule is one algorithm's constraint.
type CryptoRule struct {
	// Cutoff is the first day the algorithm is no longer accepted for new
	// signatures; zero: no cutoff.
	Cutoff time.Time
	// Refused: never accepted, whatever the time.
	Refused bool
}

// CryptoPolicy maps algorithm names to their rules. An algorithm it does not name is
// accepted (signer/cms has already refused the ones it cannot check).
type CryptoPolicy map[string]CryptoRule

func day(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

// DefaultCryptoPolicy is EU DSS's default policy for the legacy algorithms (MD5 2005,
// SHA-1 2009, SHA-224 2023, RSA-1024 2009, RSA-1536 2016, ECDSA-224 2016); SHA-2 from
// SHA-256 up, RSA from 1900 bits, ECDSA from P-256 and Ed25519 have no cutoff.
func DefaultCryptoPolicy() CryptoPolicy {
	return CryptoPolicy{
		"MD5":       {Cutoff: day(2005, 1, 1)},
		"SHA-1":     {Cutoff: day(2009, 1, 1)},
		"SHA-224":   {Cutoff: day(2023, 1, 1)},
		"SHA-256":   {},
		"SHA-384":   {},
		"SHA-512":   {},
		"RSA-1024":  {Cutoff: day(2009, 1, 1)},
		"RSA-1536":  {Cutoff: day(2016, 1, 1)},
		"RSA-2048":  {},
		"RSA-3072":  {},
		"ECDSA-224": {Cutoff: day(2016, 1, 1)},
		"ECDSA-256": {},
		"ECDSA-384": {},
		"ECDSA-521": {},
		"Ed25519":   {},
	}
}

// ParseCryptoPolicy overrides the defaults with settings of the form name: value,
// value a date (YYYY-MM-DD, the first day refused), "none" (no cutoff) or "refused".
// The error names the setting (under key, e.g. "verify.crypto").
func ParseCryptoPolicy(key string, settings map[string]string) (CryptoPolicy, error) {
	p := DefaultCryptoPolicy()
	for name, v := range settings {
		if _, ok := p[name]; !ok {
			known := make([]string, 0, len(p))
			for k := range p {
				known = append(known, k)
			}
			slices.Sort(known)
			return nil, fault.Errorf(fault.Invalid, "%s.%s: unknown algorithm (known: %s)", key, name, strings.Join(known, ", "))
		}
		switch v = strings.TrimSpace(v); v {
		case "none", "":
			p[name] = CryptoRule{}
		case "refused":
			p[name] = CryptoRule{Refused: true}
		default:
			t, err := time.Parse("2006-01-02", v)
			if err != nil {
				return nil, fault.Errorf(fault.Invalid, "%s.%s: %q is not a date (YYYY-MM-DD), none or refused", key, name, v)
			}
			p[name] = CryptoRule{Cutoff: t}
		}
	}
	return p, nil
}

func hashAlgName(h crypto.Hash) string {
	switch h {
	case crypto.MD5:
		return "MD5"
	case crypto.SHA1:
		return "SHA-1"
	case crypto.SHA224:
		return "SHA-224"
	case crypto.SHA256:
		return "SHA-256"
	case crypto.SHA384:
		return "SHA-384"
	case crypto.SHA512:
		return "SHA-512"
	}
	return ""
}

func keyAlgName(pub crypto.PublicKey) string {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		switch bits := k.N.BitLen(); {
		case bits < 1536:
			return "RSA-1024"
		case bits < 1900:
			return "RSA-1536"
		case bits < 3000:
			return "RSA-2048"
		default:
			return "RSA-3072"
		}
	case *ecdsa.PublicKey:
		switch bits := k.Curve.Params().BitSize; {
		case bits < 256:
			return "ECDSA-224"
		case bits < 384:
			return "ECDSA-256"
		case bits < 521:
			return "ECDSA-384"
		default:
			return "ECDSA-521"
		}
	case ed25519.PublicKey:
		return "Ed25519"
	}
	return ""
}

func certSigHash(c *x509.Certificate) crypto.Hash {
	switch c.SignatureAlgorithm {
	case x509.MD5WithRSA:
		return crypto.MD5
	case x509.SHA1WithRSA, x509.ECDSAWithSHA1, x509.DSAWithSHA1:
		return crypto.SHA1
	case x509.SHA256WithRSA, x509.ECDSAWithSHA256, x509.SHA256WithRSAPSS, x509.DSAWithSHA256:
		return crypto.SHA256
	case x509.SHA384WithRSA, x509.ECDSAWithSHA384, x509.SHA384WithRSAPSS:
		return crypto.SHA384
	case x509.SHA512WithRSA, x509.ECDSAWithSHA512, x509.SHA512WithRSAPSS:
		return crypto.SHA512
	}
	return 0
}

// usedAlgorithm is one algorithm a signature relies on, and where.
type usedAlgorithm struct {
	name  string
	where msg
}

// signatureAlgorithms lists what the signature relies on: its digest (and, for
// adbe.pkcs7.sha1, the SHA-1 of the document), its key, and its chain's signatures.
func signatureAlgorithms(h crypto.Hash, signer *x509.Certificate, chain []*x509.Certificate, sha1Doc bool) []usedAlgorithm {
	var out []usedAlgorithm
	add := func(name string, where msg) {
		if name != "" {
			out = append(out, usedAlgorithm{name, where})
		}
	}
	if sha1Doc {
		add("SHA-1", msg{"giá trị băm của văn bản, adbe.pkcs7.sha1", "the document digest, adbe.pkcs7.sha1"})
	}
	add(hashAlgName(h), msg{"hàm băm của chữ ký", "the signature's digest"})
	if signer != nil {
		add(keyAlgName(signer.PublicKey), msg{"khóa của người ký", "the signer's key"})
	}
	for i := 0; i+1 < len(chain); i++ {
		cn := chain[i].Subject.CommonName
		add(hashAlgName(certSigHash(chain[i])), msg{fmt.Sprintf("chữ ký trên chứng thư %q", cn), fmt.Sprintf("the signature on the certificate %q", cn)})
		add(keyAlgName(chain[i+1].PublicKey), msg{fmt.Sprintf("khóa đã ký chứng thư %q", cn), fmt.Sprintf("the key that signed the certificate %q", cn)})
	}
	return out
}

// cryptoVerdict is the judgement of a signature's algorithms.
type cryptoVerdict struct {
	sub    SubIndication // "" when acceptable
	alg    usedAlgorithm
	cutoff time.Time
	// byPOE is set when an algorithm past its cutoff is accepted because a proof of
	// existence predates the cutoff.
	byPOE []string
}

// judge applies the policy at validation time at with proof of existence poe (zero:
// none). The first failing algorithm decides.
func (p CryptoPolicy) judge(algs []usedAlgorithm, poe, at time.Time) cryptoVerdict {
	var v cryptoVerdict
	for _, a := range algs {
		r, ok := p[a.name]
		switch {
		case !ok:
		case r.Refused:
			if v.sub == "" {
				v.sub, v.alg = CryptoConstraintsFailure, a
			}
		case r.Cutoff.IsZero() || at.Before(r.Cutoff):
		case !poe.IsZero() && poe.Before(r.Cutoff):
			v.byPOE = append(v.byPOE, a.name)
		default:
			if v.sub == "" {
				v.sub, v.alg, v.cutoff = CryptoConstraintsFailureNoPOE, a, r.Cutoff
			}
		}
	}
	return v
}

// why is the verdict in both languages.
func (v cryptoVerdict) why() msg {
	if v.sub == CryptoConstraintsFailure {
		return msg{
			fmt.Sprintf("Chữ ký nguyên vẹn, nhưng thuật toán %s (%s) không được chấp nhận theo chính sách kiểm tra", v.alg.name, v.alg.where.vi),
			fmt.Sprintf("The signature is intact, but %s (%s) is not accepted by the validation policy", v.alg.name, v.alg.where.en),
		}
	}
	d := enDate(v.cutoff)
	return msg{
		fmt.Sprintf("Chữ ký nguyên vẹn, nhưng %s không còn được chấp nhận từ %s và không có gì chứng minh chữ ký được tạo trước thời điểm đó (%s)", v.alg.name, viDate(v.cutoff), v.alg.where.vi),
		fmt.Sprintf("The signature is intact, but %s is no longer accepted since %s and nothing proves it was signed earlier (%s)", v.alg.name, d, v.alg.where.en),
	}
}

var ict = vntime.Zone

// viDate writes a date as Vietnamese documents do, in Vietnam's time: ngày 05/03/2025.
func viDate(t time.Time) string { return "ngày " + t.In(ict).Format("02/01/2006") }

// enDate is the same day as ISO 8601: 2025-03-05.
func enDate(t time.Time) string { return t.In(ict).Format("2006-01-02") }
