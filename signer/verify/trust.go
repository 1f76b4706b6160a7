package verify

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
	"golang.org/x/crypto/ocsp"

	"github.com/kyso-vn/kyso/pkg/pki"
	"github.com/kyso-vn/kyso/signer/cms"
	"github.com/kyso-vn/kyso/signer/pdf"
)

// dssData is the document security store's validation data.
type dssData struct {
	present bool
	certs   []*x509.Certificate
	ocsps   [][]byte
	crls    [][]byte
}

const (
	maxDSSItems    = 10000
	maxDSSItemSize = 4 << 20
)

// hasDSS tells whether the catalog has a /DSS dictionary (what readDSS(rd).present
// says, without decoding the validation data, which a large CRL makes costly).
func hasDSS(rd *pdf.Reader) bool {
	cat, _, err := rd.Catalog()
	return err == nil && rd.Dict(cat["DSS"]) != nil
}

// readDSS reads /DSS of the catalog: /Certs, /OCSPs and /CRLs streams.
func readDSS(rd *pdf.Reader) *dssData {
	out := &dssData{}
	cat, _, err := rd.Catalog()
	if err != nil {
		return out
	}
	dss := rd.Dict(cat["DSS"])
	if dss == nil {
		return out
	}
	out.present = true
	read := func(key pdf.Name) [][]byte {
		var list [][]byte
		for i, o := range rd.Array(dss[key]) {
			if i >= maxDSSItems {
				break
			}
			so, err := rd.Resolve(o)
			if err != nil {
				continue
			}
			s, ok := so.(*pdf.Stream)
			if !ok {
				continue
			}
			b, err := s.Decode(maxDSSItemSize)
			if err != nil {
				continue
			}
			list = append(list, b)
		}
		return list
	}
	for _, der := range read("Certs") {
		if c, err := x509.ParseCertificate(der); err == nil {
			out.certs = append(out.certs, c)
		}
	}
	out.ocsps = read("OCSPs")
	out.crls = read("CRLs")
	return out
}

// parseAdbeRevocation reads Adobe's RevocationInfoArchival attribute:
// SEQUENCE { crl [0] EXPLICIT SEQUENCE OF CertificateList OPTIONAL,
// ocsp [1] EXPLICIT SEQUENCE OF OCSPResponse OPTIONAL, otherRevInfo [2] … }.
func parseAdbeRevocation(a cms.Attribute) (ocsps, crls [][]byte) {
	if len(a.Values) == 0 {
		return nil, nil
	}
	s := cryptobyte.String(a.Values[0])
	var seq cryptobyte.String
	if !s.ReadASN1(&seq, cbasn1.SEQUENCE) {
		return nil, nil
	}
	readList := func(tag int) [][]byte {
		var exp, inner cryptobyte.String
		var present bool
		if !seq.ReadOptionalASN1(&exp, &present, cbasn1.Tag(tag).Constructed().ContextSpecific()) || !present {
			return nil
		}
		if !exp.ReadASN1(&inner, cbasn1.SEQUENCE) {
			return nil
		}
		var out [][]byte
		for !inner.Empty() && len(out) < maxDSSItems {
			var el cryptobyte.String
			if !inner.ReadASN1Element(&el, cbasn1.SEQUENCE) {
				break
			}
			out = append(out, bytes.Clone(el))
		}
		return out
	}
	crls = readList(0)
	ocsps = readList(1)
	return ocsps, crls
}

// certInfo describes a certificate for the report.
func certInfo(c *x509.Certificate) *CertInfo {
	if c == nil {
		return nil
	}
	sum := sha256.Sum256(c.Raw)
	return &CertInfo{Subject: pki.DisplayName(c.Subject), Issuer: pki.DisplayName(c.Issuer),
		Serial: strings.ToUpper(c.SerialNumber.Text(16)), NotBefore: c.NotBefore.UTC(), NotAfter: c.NotAfter.UTC(),
		SHA256: hex.EncodeToString(sum[:]), Identifiers: pki.Identifiers(c.Subject)}
}

// chainResult is the outcome of building the signer's chain.
type chainResult struct {
	chain []*x509.Certificate // leaf first, anchor last; nil when none
	sub   SubIndication       // empty when the chain is valid at the time asked
	err   error
}

// buildChain builds a chain from leaf to one of the anchors, using the other
// certificates only as intermediates, valid at t (pki's builder). When no chain is
// valid at t but one exists at a time the leaf was valid, that chain is returned with
// OUT_OF_BOUNDS_NO_POE (or NOT_YET_VALID when t is before the leaf's validity).
func buildChain(leaf *x509.Certificate, others []*x509.Certificate, anchors []*x509.Certificate, t time.Time) chainResult {
	if len(anchors) == 0 {
		return chainResult{sub: NoCertificateChainFound, err: errors.New("verify: no trust anchors configured (--trust)")}
	}
	chains, err := pki.NewTrustStore(anchors...).BuildChain(leaf, others, t, pki.ChainOptions{ValidityFallback: true, LegacySHA1: true})
	switch {
	case err == nil:
		return chainResult{chain: chains[0]}
	case len(chains) > 0:
		sub := OutOfBoundsNoPOE
		if t.Before(leaf.NotBefore) {
			sub = NotYetValid
		}
		return chainResult{chain: chains[0], sub: sub, err: fmt.Errorf("verify: certificate not valid at %s: %w", t.UTC().Format(time.RFC3339), pki.ChainCause(err))}
	}
	return chainResult{sub: NoCertificateChainFound, err: fmt.Errorf("verify: no chain to a trust anchor: %w", pki.ChainCause(err))}
}

// maxAIADepth bounds how many missing issuers, one above the other, AIA may supply.
const maxAIADepth = 4

// chain builds leaf's chain at t from the certificates at hand and the configured
// chain material (Options.Intermediates); when there is none and the verification may
// use the network, it fetches the missing issuers from the AIA caIssuers URLs (the
// leaf's, then the fetched certificates', up to maxAIADepth) and tries again. Fetched
// certificates are only ever intermediates.
func (v *pdfVerifier) chain(ctx context.Context, leaf *x509.Certificate, pool []*x509.Certificate, t time.Time) (chainResult, []string) {
	pool = append(append([]*x509.Certificate{}, pool...), v.opts.Intermediates...)
	cr := buildChain(leaf, pool, v.opts.Anchors, t)
	if cr.sub != NoCertificateChainFound || v.opts.Offline || v.opts.Issuers == nil || len(v.opts.Anchors) == 0 {
		return cr, nil
	}
	var notes []string
	cur, fetched := leaf, 0
	for range 2 * maxAIADepth {
		if bytes.Equal(cur.RawIssuer, cur.RawSubject) || fetched == maxAIADepth {
			break
		}
		if is := pki.Issuers(cur, pool); len(is) > 0 {
			cur = is[0] // present: look further up
			continue
		}
		if len(cur.IssuingCertificateURL) == 0 {
			break
		}
		fetched++
		got, err := v.opts.Issuers.FetchIssuers(ctx, cur)
		if err != nil || len(got) == 0 {
			if err != nil {
				notes = append(notes, "the missing issuer could not be fetched: "+err.Error())
			}
			break
		}
		notes = append(notes, fmt.Sprintf("the issuer %q was fetched from %s (AIA)", got[0].Subject.CommonName, strings.Join(cur.IssuingCertificateURL, ", ")))
		pool = append(pool, got...)
		cur = got[0]
	}
	return buildChain(leaf, pool, v.opts.Anchors, t), notes
}

// checkSignerUsage checks the key usage (digitalSignature or nonRepudiation) and,
// when the certificate restricts it, the extended key usage. Accepted for signing
// documents: any, RFC 9336 document signing, e-mail protection and client
// authentication (what Vietnamese CAs issue), Adobe's and Microsoft's document signing.
func checkSignerUsage(c *x509.Certificate) error {
	if c.KeyUsage != 0 && c.KeyUsage&(x509.KeyUsageDigitalSignature|x509.KeyUsageContentCommitment) == 0 {
		return errors.New("verify: the signer certificate's key usage allows neither digitalSignature nor nonRepudiation")
	}
	if len(c.ExtKeyUsage) == 0 && len(c.UnknownExtKeyUsage) == 0 {
		return nil
	}
	for _, u := range c.ExtKeyUsage {
		switch u {
		case x509.ExtKeyUsageAny, x509.ExtKeyUsageEmailProtection, x509.ExtKeyUsageClientAuth:
			return nil
		}
	}
	for _, u := range c.UnknownExtKeyUsage {
		if u.Equal(cms.OIDEKUDocumentSigning) || u.Equal(cms.OIDEKUAdobeAuthenticDocuments) || u.Equal(cms.OIDEKUMicrosoftDocumentSigning) {
			return nil
		}
	}
	return errors.New("verify: the signer certificate's extended key usage does not allow signing documents")
}

// revocationOutcome is the signer certificate's revocation status.
type revocationOutcome struct {
	res    *pki.RevocationResult
	source string
	err    error
}

// checkRevocation asks, in order: the data in the document at the proof-of-existence
// time, the same data at the validation time, then the network unless offline.
func (v *pdfVerifier) checkRevocation(ctx context.Context, cert, issuer *x509.Certificate, ocsps, crls [][]byte, poe time.Time) revocationOutcome {
	return checkRevocation(ctx, v.opts, v.at, cert, issuer, ocsps, crls, poe, v.dss)
}

func checkRevocation(ctx context.Context, opts Options, at time.Time, cert, issuer *x509.Certificate, ocsps, crls [][]byte, poe time.Time, dss *dssData) revocationOutcome {
	var errs []error
	for _, t := range []time.Time{poe, at} {
		if t.IsZero() {
			continue
		}
		c := &pki.Checker{OCSPResponses: ocsps, CRLs: crls, Offline: true, Now: func() time.Time { return t }}
		res, err := c.Check(ctx, cert, issuer)
		if err == nil {
			src := "cms"
			if dss != nil && (containsBytes(dss.ocsps, res.OCSP) || containsBytes(dss.crls, res.CRL)) {
				src = "dss"
			}
			return revocationOutcome{res: res, source: src}
		}
		errs = append(errs, err)
	}
	if opts.Offline {
		return revocationOutcome{err: fmt.Errorf("verify: revocation unknown (offline, no usable data in the document): %w", errors.Join(errs...))}
	}
	timeout := opts.RevocationTimeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	res, err := opts.Revocation.Check(ctx, cert, issuer)
	if err != nil {
		return revocationOutcome{err: fmt.Errorf("verify: revocation unknown: %w", err)}
	}
	return revocationOutcome{res: res, source: res.Source}
}

func containsBytes(list [][]byte, b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, x := range list {
		if bytes.Equal(x, b) {
			return true
		}
	}
	return false
}

// hasRevocationDataFor tells whether the DSS holds revocation data that verifies for
// cert, whoever its issuer among the known certificates (trust is not asked here: this
// is about the PAdES level, what the document carries).
func hasRevocationDataFor(dss *dssData, cert *x509.Certificate, pool []*x509.Certificate) bool {
	if dss == nil || cert == nil {
		return false
	}
	for _, iss := range pki.Issuers(cert, pool) {
		for _, o := range dss.ocsps {
			// freshness is not asked: only whether the data is about cert
			if _, err := ocsp.ParseResponseForCert(o, cert, iss); err == nil {
				return true
			}
		}
		for _, c := range dss.crls {
			if _, err := pki.ParseCRL(c, iss); err == nil {
				return true
			}
		}
	}
	return false
}
