package pki

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"time"
)

// Collector gathers the validation data a PAdES B-LT signature carries in its DSS: for
// every certificate of a chain but the self-signed root, an OCSP response from the
// responder its AIA names, and the CRLs its distribution points name. A certificate
// for which neither can be had fails the collection: a B-LT signature without its
// revocation data would only look long-term.
type Collector struct {
	OCSP *OCSPClient
	CRLs *CRLFetcher
	// MapURL, when set, rewrites each responder and CRL address (a private mirror, or
	// the test services' ports).
	MapURL func(string) string
	// Now is the validation time (default time.Now).
	Now func() time.Time
}

// ValidationData returns DER OCSP responses and CRLs for chain (leaf first).
func (c *Collector) ValidationData(ctx context.Context, chain []*x509.Certificate) (ocsps, crls [][]byte, err error) {
	now := time.Now()
	if c.Now != nil {
		now = c.Now()
	}
	mapURL := func(u string) string {
		if c.MapURL != nil {
			return c.MapURL(u)
		}
		return u
	}
	for i, cert := range chain {
		if bytes.Equal(cert.RawIssuer, cert.RawSubject) {
			continue
		}
		if i+1 >= len(chain) {
			return nil, nil, fmt.Errorf("pki: the issuer of %q is not in the chain", cert.Subject.CommonName)
		}
		issuer := chain[i+1]
		var errs []error
		got := false
		if c.OCSP != nil {
			for _, u := range cert.OCSPServer {
				resp, err := c.OCSP.Query(ctx, mapURL(u), cert, issuer, now)
				if err != nil {
					errs = append(errs, err)
					continue
				}
				ocsps = append(ocsps, resp.Raw)
				got = true
				break
			}
		}
		if c.CRLs != nil {
			for _, u := range cert.CRLDistributionPoints {
				crl, err := c.CRLs.Fetch(ctx, mapURL(u), issuer, now)
				if err != nil {
					errs = append(errs, err)
					continue
				}
				crls = append(crls, crl.Raw)
				got = true
				break
			}
		}
		if !got {
			if len(errs) == 0 {
				errs = append(errs, errors.New("it names no OCSP responder and no CRL"))
			}
			return nil, nil, fmt.Errorf("pki: no revocation data for %q: %w", cert.Subject.CommonName, errors.Join(errs...))
		}
	}
	return ocsps, crls, nil
}
