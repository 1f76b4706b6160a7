package pki

import (
	"context"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/kyso-vn/kyso/signer/cms"
)

// IssuerFetcher finds a certificate's missing issuers on the network, from its
// authority information access (caIssuers) URLs.
type IssuerFetcher interface {
	FetchIssuers(ctx context.Context, cert *x509.Certificate) ([]*x509.Certificate, error)
}

// AIAFetcher downloads the certificates a certificate's caIssuers URLs name (RFC 5280
// 4.2.2.1: one DER certificate, or a certs-only CMS "p7c"), over HTTP only, with the
// same timeout as OCSP and CRL requests, and keeps what it found by URL. Only
// certificates that actually issued cert are returned (Issuer): the network never adds
// a certificate that is not a link of the chain, and never an anchor. Safe for
// concurrent use.
//
// The URLs come from certificates nobody has vouched for yet (that is why the issuer
// is missing), so by default the fetcher connects to public addresses only: a document
// cannot make a server ask its own loopback, private or link-local network (the check
// is on the address dialled, so DNS cannot route around it).
type AIAFetcher struct {
	// HTTPClient, when set, is used as it is (its own dialer decides).
	HTTPClient *http.Client
	// Timeout bounds one download (DefaultRevocationTimeout when zero).
	Timeout time.Duration
	// AllowPrivate lets the default client connect to loopback, private and
	// link-local addresses (tests, an intranet CA).
	AllowPrivate bool

	mu    sync.Mutex
	cache map[string][]*x509.Certificate // by URL
}

// maxAIAURLs bounds the URLs asked for one certificate; maxAIACache the URLs kept.
const (
	maxAIAURLs  = 4
	maxAIACache = 1024
)

// publicClient connects to public addresses only.
var publicClient = &http.Client{Transport: &http.Transport{
	Proxy: nil,
	DialContext: (&net.Dialer{Timeout: 10 * time.Second, Control: func(_, address string, _ syscall.RawConn) error {
		host, _, err := net.SplitHostPort(address)
		if err != nil {
			return err
		}
		ip, err := netip.ParseAddr(host)
		if err != nil {
			return err
		}
		ip = ip.Unmap()
		if ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() || ip.IsUnspecified() || ip.IsMulticast() {
			return fmt.Errorf("pki: aia: %s is not a public address", ip)
		}
		return nil
	}}).DialContext,
	MaxIdleConns: 16, IdleConnTimeout: 30 * time.Second,
}}

// FetchIssuers returns the issuers of cert found at its caIssuers URLs. The error is
// the last download's failure when none was found.
func (f *AIAFetcher) FetchIssuers(ctx context.Context, cert *x509.Certificate) ([]*x509.Certificate, error) {
	var lastErr error
	var out []*x509.Certificate
	n := 0
	for _, u := range cert.IssuingCertificateURL {
		if !strings.HasPrefix(strings.ToLower(u), "http://") && !strings.HasPrefix(strings.ToLower(u), "https://") {
			continue // ldap: and the like are not asked
		}
		if n++; n > maxAIAURLs {
			break
		}
		certs, err := f.fetch(ctx, u)
		if err != nil {
			lastErr = err
			continue
		}
		out = append(out, Issuers(cert, certs)...)
		if len(out) > 0 {
			return out, nil
		}
	}
	return nil, lastErr
}

func (f *AIAFetcher) fetch(ctx context.Context, url string) ([]*x509.Certificate, error) {
	f.mu.Lock()
	cached, ok := f.cache[url]
	f.mu.Unlock()
	if ok {
		return cached, nil
	}
	timeout := f.Timeout
	if timeout <= 0 {
		timeout = DefaultRevocationTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, &Error{Op: "aia", URL: url, Kind: ErrNoChain, Err: err}
	}
	client := f.HTTPClient
	if client == nil {
		client = publicClient
		if f.AllowPrivate {
			client = http.DefaultClient
		}
	}
	data, err := do(client, req)
	if err != nil {
		return nil, &Error{Op: "aia", URL: url, Kind: ErrNoChain, Err: err}
	}
	certs, err := parseIssuerCerts(data)
	if err != nil {
		return nil, &Error{Op: "aia", URL: url, Kind: ErrNoChain, Err: err}
	}
	f.mu.Lock()
	if f.cache == nil || len(f.cache) >= maxAIACache {
		f.cache = map[string][]*x509.Certificate{} // bounded: start again when full
	}
	f.cache[url] = certs
	f.mu.Unlock()
	return certs, nil
}

// parseIssuerCerts reads what a caIssuers URL serves: DER or PEM certificates, or a
// certs-only SignedData.
func parseIssuerCerts(data []byte) ([]*x509.Certificate, error) {
	if certs, err := ParseCertificates(data); err == nil {
		return certs, nil
	}
	sd, err := cms.Parse(data)
	if err != nil {
		return nil, err
	}
	return sd.Certificates, nil
}
