package agent

import (
	"bytes"
	"crypto/x509"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/kyso-vn/kyso/pkg/fault"
	"github.com/kyso-vn/kyso/pkg/pki"
)

// Warning is something a person should know about a certificate before signing with
// it, in Vietnamese and English.
type Warning struct {
	Code string `json:"code"` // WarnExpired, WarnNotYetValid, WarnNoChain
	VI   string `json:"vi"`
	EN   string `json:"en"`
}

// The warnings' codes.
const (
	WarnExpired     = "expired"
	WarnNotYetValid = "not-yet-valid"
	WarnNoChain     = "no-chain"
)

// In is the warning's text in lang ("en" or Vietnamese).
func (w Warning) In(lang string) string {
	if lang == "en" {
		return w.EN
	}
	return w.VI
}

// CertificateTimeError: the certificate is expired or not yet valid at the signing
// time, so the agent does not sign with it: the signature would not be valid for
// anyone, and the token's PIN is not asked for.
type CertificateTimeError struct {
	Holder  string
	Warning Warning
}

func (e *CertificateTimeError) Error() string {
	return fmt.Sprintf("agent: not signing with the certificate of %s: %s / %s", e.Holder, e.Warning.EN, e.Warning.VI)
}

// ErrCertificateNotValid is what every *CertificateTimeError is (errors.Is).
var ErrCertificateNotValid = fault.WithCode(fault.New(fault.Invalid, "agent: the certificate is expired or not yet valid"), "certificate-not-valid")

// Unwrap makes errors.Is(err, ErrCertificateNotValid) true and gives it its kind.
func (e *CertificateTimeError) Unwrap() error { return ErrCertificateNotValid }

func vnDate(t time.Time) string { return t.In(vietnam).Format("02/01/2006") }

// timeWarning is the warning for cert at now, if it is outside its validity.
func timeWarning(cert *x509.Certificate, now time.Time) (Warning, bool) {
	switch {
	case now.After(cert.NotAfter):
		return Warning{Code: WarnExpired,
			VI: "Chứng thư số đã hết hạn ngày " + vnDate(cert.NotAfter) + ": không ký được bằng chứng thư này.",
			EN: "The certificate expired on " + cert.NotAfter.In(vietnam).Format("2006-01-02") + ": it cannot sign."}, true
	case now.Before(cert.NotBefore):
		return Warning{Code: WarnNotYetValid,
			VI: "Chứng thư số chưa có hiệu lực (từ ngày " + vnDate(cert.NotBefore) + "): chưa ký được bằng chứng thư này.",
			EN: "The certificate is not valid until " + cert.NotBefore.In(vietnam).Format("2006-01-02") + ": it cannot sign yet."}, true
	}
	return Warning{}, false
}

// CheckValidAt refuses a certificate that is expired or not yet valid at now.
func CheckValidAt(c Certificate, now time.Time) error {
	if w, bad := timeWarning(c.Cert, now); bad {
		return &CertificateTimeError{Holder: c.Holder, Warning: w}
	}
	return nil
}

// ChainError: the issuer of a certificate in the chain is nowhere to be found.
type ChainError struct {
	Missing string // the missing issuer's name (RFC 2253)
	Of      string // the certificate whose issuer it is
}

func (e *ChainError) Error() string {
	return fmt.Sprintf("agent: no certificate chain: the issuer %q of %q is on neither the token, the chain files nor the "+
		"built-in Vietnamese trust list, nor at the certificate's AIA address; give it with --chain FILE.pem or chain_files "+
		"in the configuration / không dựng được chuỗi chứng thư: thiếu chứng thư của nơi cấp %q", e.Missing, e.Of, e.Missing)
}

// ErrNoChain is what every *ChainError is (errors.Is).
var ErrNoChain = fault.WithCode(fault.New(fault.Invalid, "agent: no certificate chain"), "no-chain")

// Unwrap makes errors.Is(err, ErrNoChain) true.
func (e *ChainError) Unwrap() error { return ErrNoChain }

// chainFrom orders the issuers of cert found in pool, nearest first, up to and
// without a self-signed root (recipients trust their own anchors; a root the file
// carries is trusted by no one). It fails with a *ChainError naming the first issuer
// that pool lacks.
func chainFrom(cert *x509.Certificate, pool []*x509.Certificate) ([]*x509.Certificate, error) {
	path := pki.IssuerPath(cert, pool)
	top := path[len(path)-1]
	if !bytes.Equal(top.RawIssuer, top.RawSubject) {
		return nil, &ChainError{Missing: pki.DisplayName(top.Issuer), Of: pki.DisplayName(top.Subject)}
	}
	chain := path[1:]
	if len(chain) > 0 {
		chain = chain[:len(chain)-1] // the root
	}
	return chain, nil
}

// warningsOf is what the token list and the page say about c at now, with the
// issuers at hand (the token's CA certificates and the configured chain files).
func warningsOf(c Certificate, issuers []*x509.Certificate, now time.Time) []Warning {
	var ws []Warning
	if w, bad := timeWarning(c.Cert, now); bad {
		ws = append(ws, w)
	}
	var ce *ChainError
	if _, err := chainFrom(c.Cert, issuers); errors.As(err, &ce) {
		ws = append(ws, Warning{Code: WarnNoChain,
			VI: "Thiếu chứng thư của nơi cấp „" + ce.Missing + "“ (không có trên thiết bị, trong tệp chuỗi chứng thư đã cấu hình hay danh sách tin cậy có sẵn): người nhận có thể không kiểm tra được chữ ký, và kyso-agent sign sẽ không ký.",
			EN: "The issuer's certificate \"" + ce.Missing + "\" is on neither the token, the configured chain files nor the built-in trust list: recipients may not be able to check the signature, and kyso-agent sign will not sign."})
	}
	return ws
}

// signingUsage: the certificate may sign documents (no key usage at all, or
// digitalSignature or nonRepudiation).
func signingUsage(c *x509.Certificate) bool {
	return c.KeyUsage == 0 || c.KeyUsage&(x509.KeyUsageDigitalSignature|x509.KeyUsageContentCommitment) != 0
}

// SelectCertificate picks the certificate to sign with: the one with CKA_ID certIDHex
// on the token labelled label (any token, when label is empty and only one is
// present). Without certIDHex, a token with one certificate gives that one; of
// several it prefers, in turn, those with a key on the token, those whose key usage
// allows signing documents, and those valid at now; when that leaves exactly one, it
// is picked, and otherwise the error lists them, with their subjects and ids, in
// Vietnamese and English. Validity is not checked on the certificate returned:
// CheckValidAt says why it cannot sign.
func SelectCertificate(toks []Token, label, certIDHex string, now time.Time) (Token, Certificate, error) {
	var matches []Token
	for _, t := range toks {
		if label == "" || t.Label == label {
			matches = append(matches, t)
		}
	}
	switch {
	case len(matches) == 0 && label == "":
		return Token{}, Certificate{}, fmt.Errorf("agent: no token is plugged in / chưa cắm thiết bị ký số nào")
	case len(matches) == 0:
		return Token{}, Certificate{}, fmt.Errorf("agent: no token labelled %q is plugged in / không thấy thiết bị ký số %q", label, label)
	case len(matches) > 1:
		var labels []string
		for _, t := range matches {
			labels = append(labels, fmt.Sprintf("%q", t.Label))
		}
		return Token{}, Certificate{}, fmt.Errorf("%w: %d tokens are plugged in (%s); name one with --token / đang cắm %d thiết bị, chọn một bằng --token",
			ErrAmbiguous, len(matches), strings.Join(labels, ", "), len(matches))
	}
	t := matches[0]
	if certIDHex != "" {
		for _, c := range t.Certificates {
			if strings.EqualFold(c.ID, certIDHex) {
				return t, c, nil
			}
		}
		return t, Certificate{}, fmt.Errorf("agent: token %q holds no signing certificate with id %q / thiết bị %q không có chứng thư số mã %q",
			t.Label, certIDHex, t.Label, certIDHex)
	}
	certs := t.Certificates
	if len(certs) == 0 {
		return t, Certificate{}, fmt.Errorf("agent: token %q holds no signing certificate / thiết bị %q không có chứng thư số để ký", t.Label, t.Label)
	}
	for _, keep := range []func(Certificate) bool{
		func(c Certificate) bool { return c.HasKey },
		func(c Certificate) bool { return signingUsage(c.Cert) },
		func(c Certificate) bool { _, bad := timeWarning(c.Cert, now); return !bad },
	} {
		// A rule that no certificate passes decides nothing (a token that shows no
		// key without login, say): the candidates stay as they were.
		if kept := slices.DeleteFunc(slices.Clone(certs), func(c Certificate) bool { return !keep(c) }); len(kept) > 0 {
			certs = kept
		}
	}
	if len(certs) == 1 {
		return t, certs[0], nil
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%v: token %q holds %d certificates that can sign; name one with --cert-id / thiết bị %q có %d chứng thư số dùng để ký được, chọn một bằng --cert-id:",
		ErrAmbiguous, t.Label, len(certs), t.Label, len(certs))
	for _, c := range certs {
		fmt.Fprintf(&b, "\n  --cert-id %s  %s  (%s, %s – %s)", c.ID, c.Subject, c.Kind, c.NotBefore.Format("2006-01-02"), c.NotAfter.Format("2006-01-02"))
	}
	return t, Certificate{}, &ambiguousError{msg: b.String()}
}

// ambiguousError keeps the list of SelectCertificate's candidates as its message.
type ambiguousError struct{ msg string }

func (e *ambiguousError) Error() string { return e.msg }
func (e *ambiguousError) Unwrap() error { return ErrAmbiguous }
