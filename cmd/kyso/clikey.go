package main

import (
	"context"
	"errors"

	"github.com/spf13/cobra"

	"github.com/kyso-vn/kyso/app"
	"github.com/kyso-vn/kyso/hsm"
	"github.com/kyso-vn/kyso/pkg/pki"
	"github.com/kyso-vn/kyso/pkg/store"
)

// cliKey names the key a command signs with: its URI and, when its token holds
// none, the files of its certificate and issuer chain.
type cliKey struct{ uri, cert, chain string }

func (k *cliKey) add(cmd *cobra.Command, whose string) {
	cmd.Flags().StringVar(&k.uri, "key", "", whose+" key URI (pkcs11: or softkey:)")
	cmd.Flags().StringVar(&k.cert, "cert", "", "its certificate, when the token holds none")
	cmd.Flags().StringVar(&k.chain, "chain", "", "issuer certificates (PEM), nearest first")
}

// open opens the key with its certificate and chain: from the files given, else from
// the token. A key that cannot be opened is exit 1; certificates that cannot be
// read, or none at all, exit 2. Close it with closeKey.
func (k cliKey) open(ctx context.Context) (hsm.Key, error) {
	hk, err := hsm.Open(ctx, k.uri, hsm.Options{})
	if err != nil {
		return nil, &exitError{code: 1, err: err}
	}
	cert, chain := hk.Certificate(), hk.Chain()
	err = func() error {
		if k.cert != "" {
			certs, err := pki.ReadCertificatesFile(k.cert)
			if err != nil {
				return err
			}
			cert = certs[0]
		}
		if k.chain != "" {
			certs, err := pki.ReadCertificatesFile(k.chain)
			if err != nil {
				return err
			}
			chain = certs
		}
		if cert == nil {
			return errors.New("no certificate: the key has none on its token; give --cert")
		}
		return nil
	}()
	if err != nil {
		closeKey(hk)
		return nil, &exitError{code: 2, err: err}
	}
	return app.WithCertificates(hk, cert, chain), nil
}

// openWithStore opens the key (open), and then the store: what a document's signing
// step needs. release closes both. The key comes first so that a wrong key or
// certificate fails before the store is touched.
func (k *cliKey) openWithStore(ctx context.Context, sf *storeFlags) (key hsm.Key, st *store.Store, release func(), err error) {
	if key, err = k.open(ctx); err != nil {
		return nil, nil, nil, err
	}
	// sf.open's error carries its exit code: 2 for a store configuration that is not
	// valid, 1 when the store cannot be reached.
	if st, err = sf.open(ctx); err != nil {
		closeKey(key)
		return nil, nil, nil, err
	}
	return key, st, func() { st.Close(); closeKey(key) }, nil
}

// redactedURI is the key URI as the audit trail records it: without a PIN.
func redactedURI(uri string) string {
	if u, err := hsm.ParsePKCS11URI(uri); err == nil {
		return u.String()
	}
	if u, err := hsm.ParseSoftKeyURI(uri); err == nil {
		return u.String()
	}
	return "(unparsable key URI)"
}
