package pki

import (
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"net/http"
	"sync"
	"time"

	"golang.org/x/crypto/ocsp"
)

// DefaultRevocationTimeout bounds one OCSP or CRL request when a client's Timeout is
// zero.
const DefaultRevocationTimeout = 10 * time.Second

// maxClockSkew is how far a responder's clock may run ahead of ours.
const maxClockSkew = 5 * time.Minute

// OCSPClient asks OCSP responders (RFC 6960, POST) and caches good answers per
// (issuer, serial) until their nextUpdate. Safe for concurrent use.
type OCSPClient struct {
	HTTPClient *http.Client
	// Timeout bounds one request (DefaultRevocationTimeout when zero).
	Timeout time.Duration
	// MaxCacheEntries bounds the cache (4096 when zero).
	MaxCacheEntries int

	mu    sync.Mutex
	cache map[ocspKey]*ocsp.Response
}

type ocspKey struct {
	issuer [32]byte // SHA-256 of the issuer's SubjectPublicKeyInfo
	serial string
}

func keyFor(cert, issuer *x509.Certificate) ocspKey {
	return ocspKey{issuer: sha256.Sum256(issuer.RawSubjectPublicKeyInfo), serial: cert.SerialNumber.Text(16)}
}

// Query asks the responder at url for cert's status and returns the response once it
// is verified (VerifyOCSPResponse) for time now. A cached response still fresh at now
// is returned without asking; the response is shared, so callers must not modify it.
func (c *OCSPClient) Query(ctx context.Context, url string, cert, issuer *x509.Certificate, now time.Time) (*ocsp.Response, error) {
	key := keyFor(cert, issuer)
	c.mu.Lock()
	cached := c.cache[key]
	c.mu.Unlock()
	if cached != nil && !cached.NextUpdate.IsZero() && now.Before(cached.NextUpdate) && !now.Before(cached.ThisUpdate.Add(-maxClockSkew)) {
		return cached, nil
	}
	// SHA-1 CertIDs are what every responder understands (RFC 5019); the hash only
	// names the certificate, it protects nothing.
	reqDER, err := ocsp.CreateRequest(cert, issuer, &ocsp.RequestOptions{Hash: crypto.SHA1})
	if err != nil {
		return nil, &Error{Op: "ocsp", URL: url, Kind: ErrOCSPInvalid, Err: err}
	}
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = DefaultRevocationTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	raw, err := post(ctx, c.HTTPClient, url, "application/ocsp-request", "application/ocsp-response", reqDER)
	if err != nil {
		return nil, &Error{Op: "ocsp", URL: url, Kind: ErrOCSPUnavailable, Err: err}
	}
	resp, err := VerifyOCSPResponse(raw, cert, issuer, now)
	if err != nil {
		return nil, withURL(err, url)
	}
	if !resp.NextUpdate.IsZero() {
		c.put(key, resp)
	}
	return resp, nil
}

func (c *OCSPClient) put(key ocspKey, resp *ocsp.Response) {
	c.mu.Lock()
	defer c.mu.Unlock()
	max := c.MaxCacheEntries
	if max <= 0 {
		max = 4096
	}
	if c.cache == nil {
		c.cache = map[ocspKey]*ocsp.Response{}
	}
	if len(c.cache) >= max {
		// Dropping an arbitrary entry is enough: an evicted answer is asked again.
		for k := range c.cache {
			delete(c.cache, k)
			break
		}
	}
	c.cache[key] = resp
}

// VerifyOCSPResponse parses a DER OCSP response about cert and checks it: signed by
// issuer itself, or by a delegated responder certificate that issuer signed, that has
// the OCSPSigning EKU and that is valid at now; about cert's serial; and current at now
// (thisUpdate not in the future, nextUpdate, when present, not past). Revoked and
// unknown statuses are answers, not errors: read resp.Status.
func VerifyOCSPResponse(raw []byte, cert, issuer *x509.Certificate, now time.Time) (*ocsp.Response, error) {
	resp, err := ocsp.ParseResponseForCert(raw, cert, issuer)
	if err != nil {
		return nil, &Error{Op: "ocsp", Kind: ErrOCSPInvalid, Err: err}
	}
	if resp.Certificate != nil && !resp.Certificate.Equal(issuer) {
		// x/crypto/ocsp checked the signatures (response by the responder, responder
		// by the issuer) but not that the issuer authorised it to answer (RFC 6960
		// 4.2.2.2).
		r := resp.Certificate
		authorised := false
		for _, eku := range r.ExtKeyUsage {
			authorised = authorised || eku == x509.ExtKeyUsageOCSPSigning
		}
		if !authorised {
			return nil, newErr("ocsp", "", ErrOCSPInvalid, "responder %q lacks the OCSPSigning extended key usage", r.Subject.CommonName)
		}
		if now.Before(r.NotBefore) || now.After(r.NotAfter) {
			return nil, newErr("ocsp", "", ErrOCSPInvalid, "responder certificate %q not valid at %s", r.Subject.CommonName, now.UTC().Format(time.RFC3339))
		}
	}
	if resp.SerialNumber == nil || resp.SerialNumber.Cmp(cert.SerialNumber) != 0 {
		return nil, newErr("ocsp", "", ErrOCSPInvalid, "response is about serial %x, not %x", resp.SerialNumber, cert.SerialNumber)
	}
	if resp.ThisUpdate.After(now.Add(maxClockSkew)) {
		return nil, newErr("ocsp", "", ErrOCSPInvalid, "thisUpdate %s is in the future", resp.ThisUpdate.UTC().Format(time.RFC3339))
	}
	if !resp.NextUpdate.IsZero() && now.After(resp.NextUpdate) {
		return nil, newErr("ocsp", "", ErrOCSPInvalid, "stale: nextUpdate %s has passed", resp.NextUpdate.UTC().Format(time.RFC3339))
	}
	return resp, nil
}

// withURL records where a failure came from on this package's *Error.
func withURL(err error, url string) error {
	var pe *Error
	if errors.As(err, &pe) {
		pe.URL = url
	}
	return err
}
