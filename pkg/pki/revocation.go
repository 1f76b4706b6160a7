package pki

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	neturl "net/url"
	"sync"
	"time"

	"golang.org/x/crypto/ocsp"
)

// RevocationStatus is what a revocation source says about a certificate.
type RevocationStatus int

const (
	StatusUnknown RevocationStatus = iota
	StatusGood
	StatusRevoked
)

func (s RevocationStatus) String() string {
	switch s {
	case StatusGood:
		return "good"
	case StatusRevoked:
		return "revoked"
	}
	return "unknown"
}

// RevocationResult is a verified answer about one certificate.
type RevocationResult struct {
	Status RevocationStatus
	// RevokedAt and Reason (RFC 5280 CRLReason) are set when Status is StatusRevoked.
	// A signature made (and proven by a timestamp) before RevokedAt stays valid.
	RevokedAt time.Time
	Reason    int
	// Source is "ocsp" or "crl"; URL is where it came from, empty for data at hand.
	Source string
	URL    string
	// ThisUpdate and NextUpdate bound the answer's freshness.
	ThisUpdate, NextUpdate time.Time
	// OCSP or CRL is the raw verified evidence, for embedding in a PAdES DSS.
	OCSP, CRL []byte
}

// RevocationChecker tells whether a certificate is revoked.
type RevocationChecker interface {
	// Check returns a verified answer about cert, issued by issuer. When no source
	// answers, the error is ErrRevocationUnknown joined with each source's failure.
	Check(ctx context.Context, cert, issuer *x509.Certificate) (*RevocationResult, error)
}

var _ RevocationChecker = (*Checker)(nil)

// Checker checks revocation from data at hand first (a document's DSS or CMS), then,
// unless Offline, OCSP from the certificate's AIA, then CRLs from its distribution
// points. Safe for concurrent use once configured.
type Checker struct {
	// OCSPResponses and CRLs are DER revocation data at hand; they are verified like
	// fetched data and are the only source when Offline.
	OCSPResponses [][]byte
	CRLs          [][]byte
	// Offline forbids the network.
	Offline bool
	// OCSP and CRL are the network clients (zero-value clients when nil); share them
	// between Checkers to share their caches.
	OCSP *OCSPClient
	CRL  *CRLFetcher
	// RewriteURL, when set, maps each AIA/CDP URL before it is asked; tests point the
	// test PKI's fixed 127.0.0.1 URLs at the ports their responders got.
	RewriteURL func(string) string
	// Now is the time answers must be current at (time.Now when nil).
	Now func() time.Time

	once sync.Once
}

func (c *Checker) init() {
	c.once.Do(func() {
		if c.OCSP == nil {
			c.OCSP = &OCSPClient{}
		}
		if c.CRL == nil {
			c.CRL = &CRLFetcher{}
		}
		if c.Now == nil {
			c.Now = time.Now
		}
		if c.RewriteURL == nil {
			c.RewriteURL = func(u string) string { return u }
		}
	})
}

// Check implements RevocationChecker. An OCSP "unknown" answer moves on to the next
// source; "good" and "revoked" answers end the search.
func (c *Checker) Check(ctx context.Context, cert, issuer *x509.Certificate) (*RevocationResult, error) {
	c.init()
	now := c.Now()
	var failures []error
	for _, raw := range c.OCSPResponses {
		resp, err := VerifyOCSPResponse(raw, cert, issuer, now)
		if err != nil {
			// Data at hand about other certificates is normal (a DSS holds many).
			continue
		}
		if r := fromOCSP(resp, ""); r.Status != StatusUnknown {
			return r, nil
		}
	}
	for _, raw := range c.CRLs {
		crl, err := ParseCRL(raw, issuer)
		if err != nil {
			continue
		}
		if err := crl.Current(now); err != nil {
			failures = append(failures, err)
			continue
		}
		return fromCRL(crl, cert, ""), nil
	}
	if c.Offline {
		failures = append(failures, ErrOffline)
		return nil, &Error{Op: "revocation", Kind: ErrRevocationUnknown, Err: errors.Join(failures...)}
	}
	for _, u := range firstN(cert.OCSPServer, maxURLsPerKind) {
		url := c.RewriteURL(u)
		if err := fetchable(url); err != nil {
			failures = append(failures, err)
			continue
		}
		resp, err := c.OCSP.Query(ctx, url, cert, issuer, now)
		if err != nil {
			failures = append(failures, err)
			continue
		}
		r := fromOCSP(resp, url)
		if r.Status != StatusUnknown {
			return r, nil
		}
		failures = append(failures, fmt.Errorf("pki: ocsp %s: responder does not know serial %x", url, cert.SerialNumber))
	}
	for _, u := range firstN(cert.CRLDistributionPoints, maxURLsPerKind) {
		url := c.RewriteURL(u)
		if err := fetchable(url); err != nil {
			failures = append(failures, err)
			continue
		}
		crl, err := c.CRL.Fetch(ctx, url, issuer, now)
		if err != nil {
			failures = append(failures, err)
			continue
		}
		return fromCRL(crl, cert, url), nil
	}
	if len(failures) == 0 {
		failures = append(failures, errors.New("the certificate names no OCSP responder or CRL"))
	}
	return nil, &Error{Op: "revocation", Kind: ErrRevocationUnknown, Err: errors.Join(failures...)}
}

func fromOCSP(resp *ocsp.Response, url string) *RevocationResult {
	r := &RevocationResult{Source: "ocsp", URL: url, ThisUpdate: resp.ThisUpdate, NextUpdate: resp.NextUpdate, OCSP: resp.Raw}
	switch resp.Status {
	case ocsp.Good:
		r.Status = StatusGood
	case ocsp.Revoked:
		r.Status, r.RevokedAt, r.Reason = StatusRevoked, resp.RevokedAt, resp.RevocationReason
	}
	return r
}

func fromCRL(crl *CRL, cert *x509.Certificate, url string) *RevocationResult {
	r := &RevocationResult{Status: StatusGood, Source: "crl", URL: url, ThisUpdate: crl.List.ThisUpdate, NextUpdate: crl.List.NextUpdate, CRL: crl.Raw}
	if e := crl.Lookup(cert.SerialNumber); e != nil {
		r.Status, r.RevokedAt, r.Reason = StatusRevoked, e.RevocationTime, e.ReasonCode
	}
	return r
}

// maxURLsPerKind bounds how many OCSP and how many CRL URLs of one certificate are
// asked, so a certificate listing hundreds cannot hold a verification for hundreds of
// timeouts.
const maxURLsPerKind = 3

func firstN(urls []string, n int) []string { return urls[:min(len(urls), n)] }

// fetchable refuses URLs other than http and https: the URLs come from certificates a
// document carries, and a verifying server must not be steered to other schemes.
func fetchable(raw string) error {
	u, err := neturl.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("pki: revocation URL %q is not an http(s) URL", raw)
	}
	return nil
}
