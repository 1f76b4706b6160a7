package agent

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/kyso-vn/kyso/hsm"
	"github.com/kyso-vn/kyso/pkg/fault"
	"github.com/kyso-vn/kyso/pkg/pki"
	"github.com/kyso-vn/kyso/signer/pades"
)

// Offline is a signature kyso-agent makes without a server (`kyso-agent sign`): the
// one place its choices become the PAdES engine's options, its certificate is
// checked and its chain is built. The command line only fills it in.
type Offline struct {
	Reason, Location string
	// Field is an existing empty signature field to sign into (or to make).
	Field string
	// PSS signs with RSA-PSS (RSA keys).
	PSS bool
	// Page and Rect ("x1,y1,x2,y2" in points) place a visible signature; Image is the
	// handwritten signature's PNG. A Rect or an Image makes the signature visible.
	Page  int
	Rect  string
	Image []byte
	// Issuers complete the certificate's chain besides the token's own CA
	// certificates: the configuration's chain files and --chain.
	Issuers []*x509.Certificate
	// AIA fetches an issuer still missing from the certificate's caIssuers address;
	// nil: none is fetched.
	AIA pki.IssuerFetcher
}

// Check tells a usage error (a malformed rectangle) before any token is asked.
func (o Offline) Check() error {
	_, err := parseRect(o.Rect)
	return err
}

func parseRect(s string) ([4]float64, error) {
	r, err := pades.ParseRect(s)
	if err != nil {
		return r, fault.Errorf(fault.Invalid, "agent: %v", err)
	}
	return r, nil
}

// Chain checks that c can sign at now (CheckValidAt) and builds its chain up to a
// root: from the token's CA certificates, o.Issuers and, for an issuer still
// missing, the certificate's AIA address. It fails, before any PIN is asked, with a
// *CertificateTimeError or a *ChainError naming the missing issuer. The chain
// returned is nearest first, without the root.
func (o Offline) Chain(ctx context.Context, c Certificate, now time.Time) ([]*x509.Certificate, error) {
	if err := CheckValidAt(c, now); err != nil {
		return nil, err
	}
	pool := append(slices.Clone(c.Chain), o.Issuers...)
	for range 4 {
		chain, err := chainFrom(c.Cert, pool)
		var ce *ChainError
		if !errors.As(err, &ce) || o.AIA == nil {
			return chain, err
		}
		top := pki.IssuerPath(c.Cert, pool)
		found, ferr := o.AIA.FetchIssuers(ctx, top[len(top)-1])
		if ferr != nil || len(found) == 0 {
			return nil, err
		}
		pool = append(pool, found...)
	}
	return chainFrom(c.Cert, pool)
}

// Options are the PAdES options of the signature by cert with chain at now (B-B:
// no network, no timestamp).
func (o Offline) Options(cert *x509.Certificate, chain []*x509.Certificate, now time.Time) (pades.Options, error) {
	po := pades.Options{Level: pades.LevelBB, Certificate: cert, Chain: chain, Reason: o.Reason, Location: o.Location,
		Field: o.Field, PSS: o.PSS, Time: now}
	if o.Rect != "" || o.Image != nil {
		rect, err := parseRect(o.Rect)
		if err != nil {
			return po, err
		}
		po.Appearance = &pades.Appearance{Page: max(o.Page, 1), Rect: rect, Image: o.Image}
	}
	return po, nil
}

// Sign signs size bytes of in with key, whose certificate is c, and writes the signed
// PDF to out, with c's chain (Chain). It refuses a key whose certificate is not c.
func (o Offline) Sign(ctx context.Context, key hsm.Key, c Certificate, chain []*x509.Certificate, in io.ReaderAt, size int64, out io.Writer, now time.Time) error {
	if kc := key.Certificate(); kc != nil && !kc.Equal(c.Cert) {
		return fault.Errorf(fault.Invalid, "agent: the key's certificate on the token is not the one chosen (%s)", c.Subject)
	}
	po, err := o.Options(c.Cert, chain, now)
	if err != nil {
		return err
	}
	if err := pades.Sign(ctx, key, in, size, out, po); err != nil {
		return fmt.Errorf("agent: signing: %w", err)
	}
	return nil
}
