package hsm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
)

// Open opens the key uri names: "pkcs11:" (RFC 7512, see PKCS11URI) or "softkey:" (a
// demo key file, see SoftKeyURI). The key implements io.Closer; close it to release
// the token's sessions and, with the last key, the module.
func Open(ctx context.Context, uri string, opts Options) (Key, error) {
	scheme, _, ok := strings.Cut(uri, ":")
	if !ok {
		return nil, fmt.Errorf("%w: no scheme (want pkcs11: or softkey:)", ErrBadURI)
	}
	switch strings.ToLower(scheme) {
	case "pkcs11":
		return OpenPKCS11(ctx, uri, opts)
	case "softkey":
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		return OpenSoftwareDemoKey(uri)
	}
	return nil, fmt.Errorf("%w: scheme %q is neither pkcs11 nor softkey", ErrBadURI, scheme)
}

// provider opens keys of both schemes with fixed options and closes them all on Close.
type provider struct {
	opts Options
	mu   sync.Mutex
	keys []io.Closer
}

// NewProvider returns a Provider for pkcs11: and softkey: URIs that keeps the keys it
// opened and closes them with itself (a server holds one for its lifetime).
func NewProvider(opts Options) Provider { return &provider{opts: opts} }

func (p *provider) Open(ctx context.Context, uri string) (Key, error) {
	k, err := Open(ctx, uri, p.opts)
	if err != nil {
		return nil, err
	}
	if c, ok := k.(io.Closer); ok {
		p.mu.Lock()
		p.keys = append(p.keys, c)
		p.mu.Unlock()
	}
	return k, nil
}

func (p *provider) Close() error {
	p.mu.Lock()
	keys := p.keys
	p.keys = nil
	p.mu.Unlock()
	var errs []error
	for _, k := range keys {
		errs = append(errs, k.Close())
	}
	return errors.Join(errs...)
}
