package main

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"io"
	"strings"
	"sync"

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

// certificates reads the key's certificate and the other certificates that come with
// it without opening the key: from the files given, from a softkey's PEM files, or
// from a token's public objects (no login, no PIN). ok is false when they cannot be
// read so; the caller then opens the key first, as before.
func (k cliKey) certificates() (cert *x509.Certificate, chain []*x509.Certificate, ok bool) {
	var found []*x509.Certificate
	switch {
	case k.cert != "":
		certs, err := pki.ReadCertificatesFile(k.cert)
		if err != nil {
			return nil, nil, false
		}
		found = certs
	case strings.HasPrefix(strings.ToLower(k.uri), "softkey:"):
		u, err := hsm.ParseSoftKeyURI(k.uri)
		if err != nil {
			return nil, nil, false
		}
		for _, path := range []string{u.Cert, u.Path} {
			if path == "" {
				continue
			}
			if certs, err := pki.ReadCertificatesFile(path); err == nil {
				found = append(found, certs...)
			}
		}
	case strings.HasPrefix(strings.ToLower(k.uri), "pkcs11:"):
		found = tokenCertificates(k.uri)
	}
	if len(found) == 0 {
		return nil, nil, false
	}
	cert, chain = found[0], found[1:]
	if k.chain != "" {
		certs, err := pki.ReadCertificatesFile(k.chain)
		if err != nil {
			return nil, nil, false
		}
		chain = certs
	}
	return cert, chain, true
}

// tokenCertificates reads the certificates of the token a pkcs11: URI names in a
// public session, the key's own first (by CKA_ID, else by label); none when the
// token, or the key's certificate, is not found so.
func tokenCertificates(uri string) []*x509.Certificate {
	u, err := hsm.ParsePKCS11URI(uri)
	if err != nil || u.ModulePath == "" {
		return nil
	}
	m, err := hsm.OpenModule(u.ModulePath, hsm.Options{})
	if err != nil {
		return nil
	}
	defer m.Close()
	tokens, err := m.Tokens()
	if err != nil {
		return nil
	}
	for _, t := range tokens {
		if (u.Token != "" && t.Label != u.Token) || (u.Serial != "" && t.Serial != u.Serial) {
			continue
		}
		objs, err := m.Certificates(t.Slot)
		if err != nil {
			return nil
		}
		var own *x509.Certificate
		var others []*x509.Certificate
		for _, o := range objs {
			if own == nil && ((u.ID != nil && bytes.Equal(o.ID, u.ID)) || (u.ID == nil && u.Object != "" && o.Label == u.Object)) {
				own = o.Cert
				continue
			}
			others = append(others, o.Cert)
		}
		if own == nil {
			return nil
		}
		return append([]*x509.Certificate{own}, others...)
	}
	return nil
}

// lazyKey is a key whose certificates were read without its PIN and which opens —
// logs in to its token — only at its first signature, so that every check of the
// workflow (the signer's certificate valid, chained and unrevoked; the document's
// state; who may sign) runs before the PIN is used (issue #17).
type lazyKey struct {
	k       cliKey
	cert    *x509.Certificate
	chain   []*x509.Certificate
	mu      sync.Mutex
	key     hsm.Key
	openErr error
}

func (l *lazyKey) Public() crypto.PublicKey { return l.cert.PublicKey }

func (l *lazyKey) Certificate() *x509.Certificate { return l.cert }

func (l *lazyKey) Chain() []*x509.Certificate { return l.chain }

func (l *lazyKey) Sign(_ io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	return l.SignContext(context.Background(), digest, opts)
}

func (l *lazyKey) SignContext(ctx context.Context, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	key, err := l.open(ctx)
	if err != nil {
		return nil, err
	}
	return key.SignContext(ctx, digest, opts)
}

// open opens the key once; its certificate must be the one checked.
func (l *lazyKey) open(ctx context.Context) (hsm.Key, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.key == nil && l.openErr == nil {
		key, err := l.k.open(ctx)
		switch {
		case err != nil:
			l.openErr = err
		case key.Certificate() == nil || !key.Certificate().Equal(l.cert):
			closeKey(key)
			l.openErr = &exitError{code: 1, err: errors.New("the key's certificate is not the one checked before it was opened")}
		default:
			l.key = key
		}
	}
	return l.key, l.openErr
}

// Close closes the key if it was opened.
func (l *lazyKey) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.key != nil {
		closeKey(l.key)
		l.key = nil
	}
	return nil
}

// openLazyWithStore is openWithStore with the key opened at its first signature when
// its certificates can be read without it (certificates), and at once otherwise.
func (k *cliKey) openLazyWithStore(ctx context.Context, sf *storeFlags) (key hsm.Key, st *store.Store, release func(), err error) {
	cert, chain, ok := k.certificates()
	if !ok {
		return k.openWithStore(ctx, sf)
	}
	lk := &lazyKey{k: *k, cert: cert, chain: chain}
	if st, err = sf.open(ctx); err != nil {
		return nil, nil, nil, err
	}
	return lk, st, func() { st.Close(); lk.Close() }, nil
}
