//go:build cgo

package hsm

import (
	"context"
	"crypto/x509"
	"fmt"
	"log/slog"
	"strings"
	"sync"

	"github.com/miekg/pkcs11"

	"github.com/kyso-vn/kyso/pkg/fault"
)

// Module is a PKCS#11 module held loaded by a caller that looks at its tokens over
// time (the desktop agent lists them every second and sees them come and go). It is
// the same process-wide module keys are opened on: one loader per process. Close
// releases the caller's hold; the module is finalised when no key uses it either.
type Module struct {
	m     *p11Module
	opts  Options
	close sync.Once
}

// OpenModule loads the module at path, which must be on opts.AllowedModules when that
// is set. Keys opened with OpenKey take opts (logger, sessions, PIN-try guard).
func OpenModule(path string, opts Options) (*Module, error) {
	p, err := modulePath(&PKCS11URI{ModulePath: path}, opts)
	if err != nil {
		return nil, err
	}
	m, err := acquireModule(p, opts.logger())
	if err != nil {
		return nil, err
	}
	return &Module{m: m, opts: opts}, nil
}

// Path is the module's path.
func (m *Module) Path() string { return m.m.path }

// Reinitialize finalises and initialises the module again, so that it sees tokens
// created or re-inserted since (SoftHSM2 reads its token directory only then). It does
// nothing while a key is open on the module: the key's login would go with it.
func (m *Module) Reinitialize() error {
	m.m.tokensMu.Lock()
	busy := len(m.m.tokens) > 0
	m.m.tokensMu.Unlock()
	if busy {
		return nil
	}
	m.m.mu.RLock()
	gen := m.m.gen
	m.m.mu.RUnlock()
	// Quietly: a watcher does this every second.
	return m.m.reinitialise(gen, slog.New(slog.DiscardHandler))
}

// Tokens lists the initialised tokens present in the module's slots.
func (m *Module) Tokens() ([]TokenInfo, error) {
	mod := m.m
	mod.mu.RLock()
	defer mod.mu.RUnlock()
	slots, err := mod.ctx.GetSlotList(true)
	if err != nil {
		return nil, withKind(fault.Unavailable, fmt.Errorf("hsm: pkcs11: listing slots of %s: %w", mod.path, err))
	}
	var out []TokenInfo
	for _, slot := range slots {
		ti, err := mod.ctx.GetTokenInfo(slot)
		if err != nil || ti.Flags&pkcs11.CKF_TOKEN_INITIALIZED == 0 {
			continue // pulled out between the two calls, or blank
		}
		out = append(out, tokenInfo(mod.path, slot, ti))
	}
	return out, nil
}

func tokenInfo(path string, slot uint, ti pkcs11.TokenInfo) TokenInfo {
	return TokenInfo{
		Module: path, Slot: slot, Label: strings.TrimSpace(ti.Label), Serial: strings.TrimSpace(ti.SerialNumber),
		Manufacturer: strings.TrimSpace(ti.ManufacturerID), Model: strings.TrimSpace(ti.Model),
		PINLocked:   ti.Flags&pkcs11.CKF_USER_PIN_LOCKED != 0,
		PINFinalTry: ti.Flags&pkcs11.CKF_USER_PIN_FINAL_TRY != 0,
		PINCountLow: ti.Flags&pkcs11.CKF_USER_PIN_COUNT_LOW != 0,
	}
}

// Token reads the state of the token in slot now (not from an earlier listing): a
// caller about to hand it a PIN checks PINAtRisk on this.
func (m *Module) Token(slot uint) (TokenInfo, error) {
	mod := m.m
	mod.mu.RLock()
	defer mod.mu.RUnlock()
	ti, err := mod.ctx.GetTokenInfo(slot)
	if err != nil {
		return TokenInfo{}, withKind(fault.Unavailable, fmt.Errorf("%w in slot %d of module %s (%v)", ErrTokenNotFound, slot, mod.path, err))
	}
	return tokenInfo(mod.path, slot, ti), nil
}

// Certificates reads the certificate objects of the token in slot in a public
// session: no login, no PIN. Objects that do not parse as X.509 are left out.
func (m *Module) Certificates(slot uint) ([]CertObject, error) {
	mod := m.m
	mod.mu.RLock()
	defer mod.mu.RUnlock()
	c := mod.ctx
	s, err := c.OpenSession(slot, pkcs11.CKF_SERIAL_SESSION)
	if err != nil {
		return nil, withKind(fault.Unavailable, fmt.Errorf("hsm: pkcs11: opening a session in slot %d of %s: %w", slot, mod.path, err))
	}
	defer func() { _ = c.CloseSession(s) }()
	hs, err := findAll(c, s, pkcs11.CKO_CERTIFICATE, "", nil, 0)
	if err != nil {
		return nil, fmt.Errorf("hsm: pkcs11: listing certificates in slot %d of %s: %w", slot, mod.path, err)
	}
	var out []CertObject
	for _, h := range hs {
		a, err := c.GetAttributeValue(s, h, []*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_VALUE, nil), pkcs11.NewAttribute(pkcs11.CKA_LABEL, nil), pkcs11.NewAttribute(pkcs11.CKA_ID, nil),
		})
		if err != nil || len(a) != 3 {
			continue
		}
		cert, err := x509.ParseCertificate(a[0].Value)
		if err != nil {
			continue
		}
		o := CertObject{Label: string(a[1].Value), ID: a[2].Value, Cert: cert}
		if len(o.ID) > 0 {
			for _, class := range []uint{pkcs11.CKO_PUBLIC_KEY, pkcs11.CKO_PRIVATE_KEY} {
				if keys, err := findAll(c, s, class, "", o.ID, 1); err == nil && len(keys) > 0 {
					o.KeyVisible = true
					break
				}
			}
		}
		out = append(out, o)
	}
	return out, nil
}

// OpenKey opens the private key ref names on this module, logging in with pin (one
// C_Login, or none when the token is logged in already in this process with the same
// PIN). The PIN stays in the key for its lifetime and is never logged or returned.
func (m *Module) OpenKey(ctx context.Context, ref KeyRef, pin Secret) (*PKCS11Key, error) {
	if pin.IsZero() {
		return nil, withKind(fault.Invalid, fmt.Errorf("hsm: pkcs11: no PIN for token %q: %w", ref.Token, ErrPINIncorrect))
	}
	return openPKCS11(ctx, ref.uri(m.m.path, pin), m.opts)
}

// Close releases the caller's hold on the module.
func (m *Module) Close() error {
	m.close.Do(m.m.release)
	return nil
}

// uri is the URI of the key in module, with pin; it never leaves the package.
func (r KeyRef) uri(module string, pin Secret) *PKCS11URI {
	u := &PKCS11URI{ModulePath: module, Token: r.Token, Serial: r.Serial, Type: TypePrivate, PINValue: pin}
	if len(r.ID) > 0 {
		u.ID = r.ID
	} else {
		u.Object = r.Label
	}
	return u
}
