package app

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/kyso-vn/kyso/pkg/fault"
	"github.com/kyso-vn/kyso/pkg/pki"
)

// The check of a signer's certificate before the token is asked (issue #17): every
// signature of the workflow (approve, issue, and the organisation's others) is made
// only with a certificate that is valid now, chains to the configured anchors and is
// not revoked — decided before any PIN is asked, any number planned or any key used,
// so that a leader with an expired certificate is told so at once instead of leaving a
// draft approved that no clerk can issue. The chain found is the one the signature
// embeds (issue #19): the certificates the token or key files hold, the configured
// chain material (the built-in Vietnamese list's CAs, a key's chain files), and, when
// the network may be used, the issuers the certificates' AIA caIssuers URLs name.
//
// Revocation is asked online (OCSP, then CRL) with the configured clients unless the
// service is offline. When no server answers, the signature is refused with
// CodeCertRevocationUnknown (kind Unavailable: HTTP 503, exit 1) and nothing is
// signed: a signature made with a certificate revoked meanwhile would be worthless, and
// the leader can try again in a minute. An operator who knowingly signs without the
// online check sets revocation.offline (kyso serve) or --offline (the CLI).

// Codes of a refused signer's certificate (fault kind Forbidden, but
// CodeCertRevocationUnknown, which is Unavailable).
const (
	CodeCertExpired           = "certificate/expired"
	CodeCertNotYetValid       = "certificate/not-yet-valid"
	CodeCertRevoked           = "certificate/revoked"
	CodeCertNoChain           = "certificate/no-chain"
	CodeCertKeyUsage          = "certificate/key-usage"
	CodeCertNoAnchors         = "certificate/no-anchors"
	CodeCertRevocationUnknown = "certificate/revocation-unknown"
)

// Refusal is a refusal told in Vietnamese (the default, as the verifier's reports)
// and in English. It is the Cause of the fault.Error whose Detail is the Vietnamese
// text; Localized picks the language a surface was asked for.
type Refusal struct {
	Vietnamese, English string
	Cause               error
}

func (r *Refusal) Error() string {
	if r.Cause == nil {
		return r.English
	}
	return r.English + ": " + r.Cause.Error()
}

func (r *Refusal) Unwrap() error { return r.Cause }

// refuse makes the fault of a refusal in both languages.
func refuse(kind fault.Kind, code, vi, en string, cause error) error {
	return fault.WithCode(&fault.Error{Kind: kind, Detail: vi, Cause: &Refusal{Vietnamese: vi, English: en, Cause: cause}}, code)
}

// Localized is err's detail for people in lang ("en" for English, anything else
// Vietnamese) when err carries both, and fault.DetailOf(err) otherwise.
func Localized(err error, lang string) string {
	var r *Refusal
	if errors.As(err, &r) {
		if strings.HasPrefix(strings.ToLower(lang), "en") {
			return r.English
		}
		return r.Vietnamese
	}
	return fault.DetailOf(err)
}

// maxAIAFetches bounds the missing issuers fetched for one certificate, one above the
// other.
const maxAIAFetches = 4

// revocationTimeout bounds each online revocation question of the check.
const revocationTimeout = 10 * time.Second

// checkSigner decides whether cert may sign now, given the certificates that came
// with it, and returns the chain the signature embeds: cert's issuers up to and
// including the anchor. See the comment at the top of this file.
func (s *Service) checkSigner(ctx context.Context, cert *x509.Certificate, given []*x509.Certificate) ([]*x509.Certificate, error) {
	if cert == nil {
		return nil, fault.New(fault.Invalid, "the signer's certificate is required")
	}
	if len(s.Verify.Anchors) == 0 {
		return nil, refuse(fault.Forbidden, CodeCertNoAnchors,
			"Chưa cấu hình chứng thư gốc tin cậy nào, nên không chứng thư ký nào được tin cậy.",
			"No trust anchors are configured, so no signer's certificate is trusted.", nil)
	}
	now := s.now()
	if err := validNow(cert, now, true); err != nil {
		return nil, err
	}
	pool := append(append([]*x509.Certificate{}, given...), s.Verify.Intermediates...)
	ts := pki.NewTrustStore(s.Verify.Anchors...)
	opts := pki.ChainOptions{KeyUsageAnyOf: pki.SignatureKeyUsage}
	chains, err := ts.BuildChain(cert, pool, now, opts)
	if errors.Is(err, pki.ErrNoChain) && !s.Verify.Offline {
		if more := s.fetchIssuers(ctx, cert, pool); len(more) > 0 {
			pool = append(pool, more...)
			chains, err = ts.BuildChain(cert, pool, now, opts)
		}
	}
	if err != nil || len(chains) == 0 {
		return nil, chainRefusal(cert, pool, ts, now, err)
	}
	chain := chains[0]
	if !s.Verify.Offline {
		if err := s.checkRevocation(ctx, chain); err != nil {
			return nil, err
		}
	}
	return chain[1:], nil
}

// completeChain is the chain a signature outside the workflow (kyso sign, POST
// /v1/sign) embeds: the chain to an anchor when one is found among the certificates
// given and the configuration's chain material, else the issuers found there. It
// refuses nothing: such a signature has no trust rule of its own (signercheck's
// checks are the workflow's), but it carries what a verifier needs.
func (s *Service) completeChain(cert *x509.Certificate, given []*x509.Certificate) []*x509.Certificate {
	pool := append(append([]*x509.Certificate{}, given...), s.Verify.Intermediates...)
	if len(s.Verify.Anchors) > 0 {
		chains, err := pki.NewTrustStore(s.Verify.Anchors...).BuildChain(cert, pool, s.now(), pki.ChainOptions{})
		if err == nil && len(chains) > 0 {
			return chains[0][1:]
		}
	}
	out := append([]*x509.Certificate{}, given...)
	for _, c := range pki.IssuerPath(cert, pool)[1:] {
		if !slices.ContainsFunc(out, c.Equal) {
			out = append(out, c)
		}
	}
	return out
}

// validNow refuses a certificate outside its validity at now.
func validNow(c *x509.Certificate, now time.Time, signer bool) error {
	whose, whoseEN := "Chứng thư số của người ký", "The signer's certificate"
	if !signer {
		whose, whoseEN = "Chứng thư số của CA cấp", "The issuing CA's certificate"
	}
	name := certName(c)
	switch {
	case now.After(c.NotAfter):
		at := c.NotAfter.In(vietnam)
		return refuse(fault.Forbidden, CodeCertExpired,
			fmt.Sprintf("%s %q đã hết hạn ngày %s; không ký được bằng chứng thư này. Hãy gia hạn hoặc dùng chứng thư còn hiệu lực.", whose, name, at.Format("02/01/2006")),
			fmt.Sprintf("%s %q expired on %s; it cannot sign. Renew it or use a valid certificate.", whoseEN, name, at.Format("2006-01-02")), nil)
	case now.Before(c.NotBefore):
		at := c.NotBefore.In(vietnam)
		return refuse(fault.Forbidden, CodeCertNotYetValid,
			fmt.Sprintf("%s %q chưa có hiệu lực (có hiệu lực từ %s); không ký được bằng chứng thư này lúc này.", whose, name, at.Format("15:04 02/01/2006")),
			fmt.Sprintf("%s %q is not valid yet (valid from %s); it cannot sign now.", whoseEN, name, at.Format(time.RFC3339)), nil)
	}
	return nil
}

// chainRefusal says why no chain was built: a CA out of its validity, a key usage
// that does not allow signing, or — naming it — the issuer certificate that could be
// found neither with the signer's certificate, nor in the configuration, nor by AIA.
func chainRefusal(cert *x509.Certificate, pool []*x509.Certificate, ts *pki.TrustStore, now time.Time, err error) error {
	name := certName(cert)
	var ce *pki.ChainError
	errors.As(err, &ce)
	switch {
	case errors.Is(err, pki.ErrExpired), errors.Is(err, pki.ErrNotYetValid):
		if ce != nil && ce.Cert != nil {
			if verr := validNow(ce.Cert, now, ce.Cert.Equal(cert)); verr != nil {
				return verr
			}
		}
	case errors.Is(err, pki.ErrKeyUsage):
		return refuse(fault.Forbidden, CodeCertKeyUsage,
			fmt.Sprintf("Chứng thư số %q không dùng để ký (mục đích sử dụng khóa không cho phép ký số).", name),
			fmt.Sprintf("The certificate %q is not for signing (its key usage allows no digital signature).", name), pki.ChainCause(err))
	}
	path := pki.IssuerPath(cert, pool)
	top := path[len(path)-1]
	if bytes.Equal(top.RawIssuer, top.RawSubject) || ts.IsAnchor(top) || len(pki.Issuers(top, ts.Anchors())) > 0 {
		// the path ends in a root that is no anchor, or a CA is at hand whose use fails
		return refuse(fault.Forbidden, CodeCertNoChain,
			fmt.Sprintf("Chứng thư số %q không dẫn tới chứng thư gốc tin cậy nào (%v); không ký được bằng chứng thư này.", name, pki.ChainCause(err)),
			fmt.Sprintf("The certificate %q does not chain to a trust anchor (%v); it cannot sign.", name, pki.ChainCause(err)), pki.ChainCause(err))
	}
	missing := top.Issuer.String()
	return refuse(fault.Forbidden, CodeCertNoChain,
		fmt.Sprintf("Không dựng được chuỗi chứng thư của %q tới chứng thư gốc tin cậy: thiếu chứng thư của CA cấp %q. "+
			"Hãy cung cấp chứng thư CA này (--chain, hoặc tệp chuỗi trong cấu hình); không ký được khi chưa có.", name, missing),
		fmt.Sprintf("No chain from %q to a trust anchor: the issuer certificate %q is missing. "+
			"Give that CA certificate (--chain, or a chain file in the configuration); nothing is signed without it.", name, missing),
		pki.ChainCause(err))
}

// fetchIssuers fetches by AIA the issuers missing above cert in pool: the first
// missing one, then its own, up to maxAIAFetches.
func (s *Service) fetchIssuers(ctx context.Context, cert *x509.Certificate, pool []*x509.Certificate) []*x509.Certificate {
	f := s.Verify.Issuers
	if f == nil {
		f = &pki.AIAFetcher{Timeout: s.Verify.RevocationTimeout}
	}
	var got []*x509.Certificate
	cur := cert
	for fetched := 0; fetched < maxAIAFetches && !bytes.Equal(cur.RawIssuer, cur.RawSubject); {
		all := append(append([]*x509.Certificate{}, pool...), got...)
		if is := pki.Issuers(cur, all); len(is) > 0 {
			cur = is[0]
			continue
		}
		if pki.Issuers(cur, s.Verify.Anchors) != nil || len(cur.IssuingCertificateURL) == 0 {
			break
		}
		fetched++
		more, err := f.FetchIssuers(ctx, cur)
		if err != nil || len(more) == 0 {
			break
		}
		got = append(got, more...)
		cur = more[0]
	}
	return got
}

// checkRevocation asks whether any certificate of chain (leaf first, anchor last) is
// revoked now.
func (s *Service) checkRevocation(ctx context.Context, chain []*x509.Certificate) error {
	rc := s.Verify.Revocation
	if rc == nil {
		rc = &pki.Checker{OCSP: &pki.OCSPClient{}, CRL: &pki.CRLFetcher{}, Now: s.now}
	}
	timeout := s.Verify.RevocationTimeout
	if timeout <= 0 {
		timeout = revocationTimeout
	}
	for i := 0; i+1 < len(chain); i++ {
		c := chain[i]
		cctx, cancel := context.WithTimeout(ctx, timeout)
		res, err := rc.Check(cctx, c, chain[i+1])
		cancel()
		name := certName(c)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return refuse(fault.Unavailable, CodeCertRevocationUnknown,
				fmt.Sprintf("Không kiểm tra được tình trạng thu hồi của chứng thư %q (máy chủ OCSP/CRL không trả lời); chưa ký gì. Hãy thử lại sau.", name),
				fmt.Sprintf("The revocation status of %q could not be checked (no OCSP or CRL server answered); nothing was signed. Try again later.", name), err)
		}
		if res.Status == pki.StatusRevoked {
			at := res.RevokedAt.In(vietnam)
			return refuse(fault.Forbidden, CodeCertRevoked,
				fmt.Sprintf("Chứng thư số %q đã bị thu hồi ngày %s; không ký được bằng chứng thư này.", name, at.Format("02/01/2006")),
				fmt.Sprintf("The certificate %q was revoked on %s; it cannot sign.", name, at.Format("2006-01-02")), nil)
		}
	}
	return nil
}

// certName names a certificate for people: its common name, else its subject.
func certName(c *x509.Certificate) string {
	if c.Subject.CommonName != "" {
		return c.Subject.CommonName
	}
	return c.Subject.String()
}
