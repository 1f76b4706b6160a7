package pkitest

import (
	"testing"

	"github.com/kyso-vn/kyso/internal/testpki"
)

// Services are the test TSA, OCSP responder and CRL servers over the committed test
// PKI, as a signing or verification test needs them all (PAdES B-T to B-LTA).
type Services struct {
	TSA  *TSA
	OCSP *OCSPResponder
	// SubCRL and RootCRL serve the committed sub CA and root CRLs.
	SubCRL, RootCRL *CRLServer
}

// StartServices starts every service over p (testpki.Load of certs-testdata).
func StartServices(t testing.TB, p *testpki.TestPKI, tsa ...TSAOptions) *Services {
	t.Helper()
	return &Services{
		TSA:     StartTSA(t, p.TSA.Cert, p.TSA.Key, p.TSA.Chain, tsa...),
		OCSP:    StartOCSP(t, OCSPOptions{Dir: p.Dir}),
		SubCRL:  StartCRLServer(t, p.SubCRL),
		RootCRL: StartCRLServer(t, p.RootCRL),
	}
}

// RewriteURL maps the fixed URLs written into the committed certificates
// (testpki.OCSPURL, SubCRLURL, RootCRLURL) to the running services, and leaves any
// other URL alone. Give it to pki.Checker.RewriteURL.
func (s *Services) RewriteURL(u string) string {
	switch u {
	case testpki.OCSPURL:
		return s.OCSP.URL
	case testpki.SubCRLURL:
		return s.SubCRL.URL
	case testpki.RootCRLURL:
		return s.RootCRL.URL
	}
	return u
}
