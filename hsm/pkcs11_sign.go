//go:build cgo

package hsm

import (
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"

	"github.com/miekg/pkcs11"
)

// PKCS11Key is a private key on a PKCS#11 token. It is safe for concurrent use; Close
// releases its share of the token and module.
type PKCS11Key struct {
	tok        *p11Token
	uri        *PKCS11URI
	pub        crypto.PublicKey
	cert       *x509.Certificate
	chain      []*x509.Certificate
	alwaysAuth bool
	log        *slog.Logger

	mu          sync.Mutex
	handle      pkcs11.ObjectHandle
	handleEpoch uint64
	handleGen   uint64
	closed      bool
}

var _ Key = (*PKCS11Key)(nil)

// OpenPKCS11 opens the private key the URI names, with its certificate and chain when
// the token holds them.
func OpenPKCS11(ctx context.Context, uri string, opts Options) (*PKCS11Key, error) {
	u, err := ParsePKCS11URI(uri)
	if err != nil {
		return nil, err
	}
	return openPKCS11(ctx, u, opts)
}

func openPKCS11(ctx context.Context, u *PKCS11URI, opts Options) (*PKCS11Key, error) {
	if u.Type != "" && u.Type != TypePrivate {
		return nil, fmt.Errorf("hsm: pkcs11: type=%s names no signing key; use type=private or leave type out", u.Type)
	}
	tok, err := openToken(ctx, u, opts)
	if err != nil {
		return nil, err
	}
	k := &PKCS11Key{tok: tok, uri: u, log: opts.logger()}
	s, epoch, err := tok.acquire(ctx)
	if err != nil {
		tok.close()
		return nil, err
	}
	err = k.load(s, epoch)
	tok.put(s, epoch, err)
	if err != nil {
		tok.close()
		return nil, err
	}
	return k, nil
}

// Public returns the key's public key.
func (k *PKCS11Key) Public() crypto.PublicKey { return k.pub }

// Certificate returns the key's certificate from the token, or nil.
func (k *PKCS11Key) Certificate() *x509.Certificate { return k.cert }

// Chain returns the issuers the token holds for the certificate, nearest first.
func (k *PKCS11Key) Chain() []*x509.Certificate { return k.chain }

// String names the key without its PIN.
func (k *PKCS11Key) String() string { return k.uri.String() }

// AlwaysAuthenticate reports whether the token asks for the PIN before each signature
// (CKA_ALWAYS_AUTHENTICATE); the key then logs in with CKU_CONTEXT_SPECIFIC each time.
func (k *PKCS11Key) AlwaysAuthenticate() bool { return k.alwaysAuth }

// Sign is SignContext without a deadline; rand is unused (the token has its own).
func (k *PKCS11Key) Sign(_ io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	return k.SignContext(context.Background(), digest, opts)
}

// SignContext signs digest on the token. A lost session, a token removed and inserted
// again or re-created, or a module that was reset is recovered once, transparently:
// the signature was not made, so trying again is safe. A wrong PIN is not retried.
func (k *PKCS11Key) SignContext(ctx context.Context, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	mech, err := mechanismFor(k.pub, digest, opts)
	if err != nil {
		return nil, err
	}
	k.mu.Lock()
	closed := k.closed
	k.mu.Unlock()
	if closed {
		return nil, errors.New("hsm: pkcs11: key is closed")
	}
	sig, epoch, err := k.signOnce(ctx, mech)
	if err != nil && recoverable(err) && ctx.Err() == nil {
		k.log.Warn("pkcs11: session or token lost; recovering and trying once more", "token", k.tok.label, "error", err)
		if rerr := k.recover(ctx, epoch); rerr != nil {
			return nil, fmt.Errorf("hsm: pkcs11: token %q lost (%v) and not recovered: %w", k.tok.label, err, rerr)
		}
		sig, _, err = k.signOnce(ctx, mech)
	}
	if err != nil {
		if cerr := ctx.Err(); cerr != nil && errors.Is(err, cerr) {
			return nil, cerr
		}
		return nil, fmt.Errorf("hsm: pkcs11: signing with token %q: %w", k.tok.label, err)
	}
	return mech.finish(sig)
}

func (k *PKCS11Key) signOnce(ctx context.Context, mech *mechanism) ([]byte, uint64, error) {
	t := k.tok
	s, epoch, err := t.acquire(ctx)
	if err != nil {
		return nil, epoch, err
	}
	sig, err := k.signWith(s, epoch, mech)
	t.put(s, epoch, err)
	return sig, epoch, err
}

func (k *PKCS11Key) signWith(s pkcs11.SessionHandle, epoch uint64, mech *mechanism) ([]byte, error) {
	ctx := k.tok.mod.ctx
	k.mu.Lock()
	h, fresh := k.handle, k.handleEpoch == epoch && k.handleGen == k.tok.mod.gen
	k.mu.Unlock()
	if !fresh {
		// The token lost its sessions since the handle was found: it may be another
		// token now. Find the key again and check it is the same key.
		if err := k.load(s, epoch); err != nil {
			return nil, err
		}
		k.mu.Lock()
		h = k.handle
		k.mu.Unlock()
	}
	if err := ctx.SignInit(s, []*pkcs11.Mechanism{mech.p11}, h); err != nil {
		return nil, err
	}
	if k.alwaysAuth {
		loginAttempts.Add(1)
		if err := ctx.Login(s, pkcs11.CKU_CONTEXT_SPECIFIC, k.tok.pin.Reveal()); err != nil {
			if perr := pinError(err, k.tok.label); perr != nil {
				k.tok.mu.Lock()
				k.tok.broken = perr
				k.tok.mu.Unlock()
				return nil, perr
			}
			return nil, fmt.Errorf("context-specific login: %w", err)
		}
	}
	return ctx.Sign(s, mech.input)
}

// recover drops the token's sessions and finds the token and key again; when the token
// cannot be found or used, it initialises the module again first (SoftHSM2 and some
// drivers see a new or re-inserted token only then).
func (k *PKCS11Key) recover(ctx context.Context, failedEpoch uint64) error {
	t, m := k.tok, k.tok.mod
	m.recoverMu.Lock()
	defer m.recoverMu.Unlock()
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.RLock()
	gen := m.gen
	if !t.dropSessions(failedEpoch) {
		m.mu.RUnlock()
		return nil // another goroutine recovered the token already
	}
	err := k.relocate()
	m.mu.RUnlock()
	if err == nil || !recoverable(err) && !errors.Is(err, ErrTokenNotFound) {
		return err
	}
	k.log.Warn("pkcs11: token not usable; initialising the module again", "token", t.label, "error", err)
	if err := m.reinitialise(gen, k.log); err != nil {
		return err
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	return k.relocate()
}

// relocate finds the token's slot again, logs in and finds the key; the caller
// read-holds the module and holds its recovery lock.
func (k *PKCS11Key) relocate() error {
	t, m := k.tok, k.tok.mod
	slot, _, err := m.findSlot(t.sel)
	if err != nil {
		return err
	}
	t.mu.Lock()
	if t.gen != m.gen || t.slot != slot {
		t.forget()
		t.epoch++
	}
	t.slot, t.gen = slot, m.gen
	t.mu.Unlock()
	h, epoch, err := t.take()
	if err != nil {
		return err
	}
	err = k.load(h, epoch)
	t.mu.Lock()
	if err == nil && epoch == t.epoch {
		t.idle = append(t.idle, h)
	} else {
		_ = m.ctx.CloseSession(h)
		if recoverable(err) {
			t.forget()
		}
	}
	t.mu.Unlock()
	return err
}

// Close releases the key's share of its token and module.
func (k *PKCS11Key) Close() error {
	k.mu.Lock()
	closed := k.closed
	k.closed = true
	k.mu.Unlock()
	if !closed {
		k.tok.close()
	}
	return nil
}
