package pki

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"math/big"
	"net/http"
	"sync"
	"time"
)

// CRL is a certificate revocation list whose signature verified against its issuer.
type CRL struct {
	List *x509.RevocationList
	// Raw is the DER CRL, for embedding (PAdES DSS).
	Raw []byte
	// revoked indexes the entries by serial (hex), built once: CRLs of big CAs hold
	// hundreds of thousands of entries and are looked up many times.
	revoked map[string]*x509.RevocationListEntry
}

// ParseCRL parses a DER (or PEM) CRL and verifies it against issuer: the CRL's issuer
// name is issuer's subject and its signature verifies with issuer's key. Freshness is
// the caller's (CRL.Current).
func ParseCRL(data []byte, issuer *x509.Certificate) (*CRL, error) {
	if block, _ := pem.Decode(data); block != nil && block.Type == "X509 CRL" {
		data = block.Bytes
	}
	list, err := x509.ParseRevocationList(data)
	if err != nil {
		return nil, &Error{Op: "crl", Kind: ErrCRLInvalid, Err: err}
	}
	if !bytes.Equal(list.RawIssuer, issuer.RawSubject) {
		return nil, newErr("crl", "", ErrCRLInvalid, "issued by %q, not %q", list.Issuer, issuer.Subject)
	}
	if err := list.CheckSignatureFrom(issuer); err != nil {
		return nil, &Error{Op: "crl", Kind: ErrCRLInvalid, Err: err}
	}
	c := &CRL{List: list, Raw: bytes.Clone(data), revoked: make(map[string]*x509.RevocationListEntry, len(list.RevokedCertificateEntries))}
	for i := range list.RevokedCertificateEntries {
		e := &list.RevokedCertificateEntries[i]
		c.revoked[e.SerialNumber.Text(16)] = e
	}
	return c, nil
}

// Lookup returns the entry of serial, or nil when the CRL does not list it.
func (c *CRL) Lookup(serial *big.Int) *x509.RevocationListEntry {
	return c.revoked[serial.Text(16)]
}

// Current reports an error unless the CRL is in force at now: thisUpdate not in the
// future and nextUpdate, when present, not past.
func (c *CRL) Current(now time.Time) error {
	if c.List.ThisUpdate.After(now.Add(maxClockSkew)) {
		return newErr("crl", "", ErrCRLInvalid, "thisUpdate %s is in the future", c.List.ThisUpdate.UTC().Format(time.RFC3339))
	}
	if !c.List.NextUpdate.IsZero() && now.After(c.List.NextUpdate) {
		return newErr("crl", "", ErrCRLInvalid, "stale: nextUpdate %s has passed", c.List.NextUpdate.UTC().Format(time.RFC3339))
	}
	return nil
}

// CRLFetcher downloads CRLs and keeps verified ones until their nextUpdate. Safe for
// concurrent use.
type CRLFetcher struct {
	HTTPClient *http.Client
	// Timeout bounds one download (DefaultRevocationTimeout when zero).
	Timeout time.Duration

	mu    sync.Mutex
	cache map[string]*CRL // by URL
}

// Fetch returns the CRL at url, verified against issuer and current at now.
func (f *CRLFetcher) Fetch(ctx context.Context, url string, issuer *x509.Certificate, now time.Time) (*CRL, error) {
	f.mu.Lock()
	cached := f.cache[url]
	f.mu.Unlock()
	if cached != nil && bytes.Equal(cached.List.RawIssuer, issuer.RawSubject) && cached.Current(now) == nil {
		if err := cached.List.CheckSignatureFrom(issuer); err == nil {
			return cached, nil
		}
	}
	timeout := f.Timeout
	if timeout <= 0 {
		timeout = DefaultRevocationTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, &Error{Op: "crl", URL: url, Kind: ErrCRLUnavailable, Err: err}
	}
	client := f.HTTPClient
	if client == nil {
		client = http.DefaultClient
	}
	data, err := do(client, req)
	if err != nil {
		return nil, &Error{Op: "crl", URL: url, Kind: ErrCRLUnavailable, Err: err}
	}
	crl, err := ParseCRL(data, issuer)
	if err == nil {
		err = crl.Current(now)
	}
	if err != nil {
		return nil, withURL(err, url)
	}
	if !crl.List.NextUpdate.IsZero() {
		f.mu.Lock()
		if f.cache == nil {
			f.cache = map[string]*CRL{}
		}
		f.cache[url] = crl
		f.mu.Unlock()
	}
	return crl, nil
}
