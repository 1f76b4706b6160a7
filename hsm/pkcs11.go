//go:build cgo

package hsm

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/subtle"
	"crypto/x509"
	"encoding/asn1"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/miekg/pkcs11"
)

// modules holds every loaded PKCS#11 module, one per path, shared by the whole process:
// a module may be initialised only once per process, and login state is per process
// and token.
var modules = struct {
	sync.Mutex
	byPath map[string]*p11Module
}{byPath: map[string]*p11Module{}}

type p11Module struct {
	path string
	refs int // guarded by modules.Mutex

	// mu is read-held by every operation on the module and write-held only while the
	// module is finalised and initialised again.
	mu  sync.RWMutex
	ctx *pkcs11.Ctx
	gen uint64 // bumped by each re-initialisation
	// ownInit is false when someone else in the process initialised the module first;
	// then finalising it is theirs to do.
	ownInit bool

	recoverMu sync.Mutex // one recovery at a time on this module

	tokensMu sync.Mutex
	tokens   []*p11Token
}

// loginAttempts counts C_Login calls with the user PIN, so tests can show that a wrong
// PIN cost exactly one try.
var loginAttempts atomic.Int64

func acquireModule(path string, log *slog.Logger) (*p11Module, error) {
	modules.Lock()
	defer modules.Unlock()
	if m := modules.byPath[path]; m != nil {
		m.refs++
		return m, nil
	}
	ctx := pkcs11.New(path)
	if ctx == nil {
		return nil, fmt.Errorf("hsm: pkcs11: cannot load module %s", path)
	}
	err := ctx.Initialize()
	if err != nil && !isP11(err, pkcs11.CKR_CRYPTOKI_ALREADY_INITIALIZED) {
		ctx.Destroy()
		return nil, fmt.Errorf("hsm: pkcs11: initialising module %s: %w", path, err)
	}
	m := &p11Module{path: path, refs: 1, ctx: ctx, ownInit: err == nil}
	modules.byPath[path] = m
	log.Info("pkcs11: module loaded", "module", path)
	return m, nil
}

func (m *p11Module) release() {
	modules.Lock()
	defer modules.Unlock()
	m.refs--
	if m.refs > 0 {
		return
	}
	delete(modules.byPath, m.path)
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.ownInit {
		_ = m.ctx.Finalize()
	}
	m.ctx.Destroy()
}

// reinitialise finalises and initialises the module again, unless another caller did
// so since gen was read. SoftHSM2, for one, sees a token deleted and created again
// only after this.
func (m *p11Module) reinitialise(gen uint64, log *slog.Logger) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.gen != gen {
		return nil
	}
	_ = m.ctx.Finalize()
	m.gen++
	if err := m.ctx.Initialize(); err != nil && !isP11(err, pkcs11.CKR_CRYPTOKI_ALREADY_INITIALIZED) {
		return fmt.Errorf("hsm: pkcs11: initialising module %s again: %w", m.path, err)
	}
	m.ownInit = true
	log.Warn("pkcs11: module initialised again", "module", m.path)
	return nil
}

// tokenSelector is the part of a URI that picks a token.
type tokenSelector struct {
	label, serial, manufacturer, model string
	slotID                             *uint
	slotDescription, slotManufacturer  string
}

func (s tokenSelector) String() string {
	var parts []string
	add := func(k, v string) {
		if v != "" {
			parts = append(parts, fmt.Sprintf("%s=%q", k, v))
		}
	}
	add("token", s.label)
	add("serial", s.serial)
	add("manufacturer", s.manufacturer)
	add("model", s.model)
	if s.slotID != nil {
		add("slot-id", fmt.Sprint(*s.slotID))
	}
	add("slot-description", s.slotDescription)
	add("slot-manufacturer", s.slotManufacturer)
	if len(parts) == 0 {
		return "any token"
	}
	return strings.Join(parts, " ")
}

// findSlot returns the one slot whose token matches; the caller read-holds m.mu.
func (m *p11Module) findSlot(sel tokenSelector) (uint, pkcs11.TokenInfo, error) {
	slots, err := m.ctx.GetSlotList(true)
	if err != nil {
		return 0, pkcs11.TokenInfo{}, fmt.Errorf("hsm: pkcs11: listing slots of %s: %w", m.path, err)
	}
	var found []uint
	var infos []pkcs11.TokenInfo
	for _, slot := range slots {
		if sel.slotID != nil && *sel.slotID != slot {
			continue
		}
		ti, err := m.ctx.GetTokenInfo(slot)
		if err != nil {
			continue // the token went away between the two calls
		}
		if sel.label != "" && ti.Label != sel.label || sel.serial != "" && ti.SerialNumber != sel.serial ||
			sel.manufacturer != "" && ti.ManufacturerID != sel.manufacturer || sel.model != "" && ti.Model != sel.model {
			continue
		}
		if ti.Flags&pkcs11.CKF_TOKEN_INITIALIZED == 0 {
			continue
		}
		if sel.slotDescription != "" || sel.slotManufacturer != "" {
			si, err := m.ctx.GetSlotInfo(slot)
			if err != nil || sel.slotDescription != "" && si.SlotDescription != sel.slotDescription ||
				sel.slotManufacturer != "" && si.ManufacturerID != sel.slotManufacturer {
				continue
			}
		}
		found = append(found, slot)
		infos = append(infos, ti)
	}
	switch len(found) {
	case 0:
		return 0, pkcs11.TokenInfo{}, fmt.Errorf("%w %s in module %s", ErrTokenNotFound, sel, m.path)
	case 1:
		return found[0], infos[0], nil
	}
	labels := make([]string, len(infos))
	for i, ti := range infos {
		labels[i] = fmt.Sprintf("%q (serial %s)", ti.Label, ti.SerialNumber)
	}
	return 0, pkcs11.TokenInfo{}, fmt.Errorf("hsm: pkcs11: %d tokens match %s: %s; name one by token or serial", len(found), sel, strings.Join(labels, ", "))
}

// p11Token is the process's use of one token: its login and its session pool, shared
// by every key opened on it.
type p11Token struct {
	mod   *p11Module
	sel   tokenSelector
	label string
	pin   Secret
	log   *slog.Logger
	refs  int           // guarded by mod.tokensMu
	sem   chan struct{} // one slot per open or lent session

	mu       sync.Mutex
	slot     uint
	gen      uint64 // the module generation slot and sessions belong to
	epoch    uint64 // bumped when the sessions are dropped
	idle     []pkcs11.SessionHandle
	anchor   pkcs11.SessionHandle // holds the login: never lent, so closing lent sessions never logs out
	loggedIn bool
	verified bool  // the PIN was accepted once in this process
	broken   error // a PIN error: the token is never logged in to again
}

// errStale marks sessions of a module generation that has gone.
var errStale = errors.New("hsm: pkcs11: module was initialised again")

// acquireToken finds the token sel names and shares it with other keys on it, logging
// in the first time.
func acquireToken(ctx context.Context, m *p11Module, sel tokenSelector, pin Secret, opts Options) (*p11Token, error) {
	m.mu.RLock()
	slot, ti, err := m.findSlot(sel)
	gen := m.gen
	m.mu.RUnlock()
	if err != nil {
		return nil, err
	}
	m.tokensMu.Lock()
	for _, t := range m.tokens {
		t.mu.Lock()
		same := t.slot == slot && t.gen == gen
		broken := t.broken
		t.mu.Unlock()
		if !same {
			continue
		}
		if broken != nil {
			m.tokensMu.Unlock()
			return nil, broken
		}
		if t.pin.IsZero() != pin.IsZero() {
			m.tokensMu.Unlock()
			return nil, fmt.Errorf("hsm: pkcs11: token %q is open in this process both with and without a PIN; close the other keys first", ti.Label)
		}
		if subtle.ConstantTimeCompare([]byte(t.pin.Reveal()), []byte(pin.Reveal())) != 1 {
			m.tokensMu.Unlock()
			// The token is logged in already, so C_Login cannot check this PIN; taking it
			// would let any PIN through (crypto11's flaw).
			return nil, fmt.Errorf("hsm: pkcs11: token %q is in use in this process with another PIN: %w", ti.Label, ErrPINIncorrect)
		}
		t.refs++
		m.tokensMu.Unlock()
		return t, nil
	}
	t := &p11Token{
		mod: m, sel: sel, label: ti.Label, pin: pin, log: opts.logger(), refs: 1,
		sem: make(chan struct{}, opts.maxSessions()), slot: slot, gen: gen,
	}
	m.tokens = append(m.tokens, t)
	m.tokensMu.Unlock()
	// Log in now, so that a wrong PIN fails Open rather than the first signature.
	s, epoch, err := t.acquire(ctx)
	if err != nil {
		t.release()
		return nil, err
	}
	t.put(s, epoch, nil)
	return t, nil
}

// close drops the reference of a key and its module reference.
func (t *p11Token) close() {
	t.release()
	t.mod.release()
}

// release drops one reference; the last closes the sessions, which logs out. The
// module reference is the caller's to drop.
func (t *p11Token) release() {
	m := t.mod
	m.tokensMu.Lock()
	t.refs--
	last := t.refs == 0
	if last {
		m.tokens = slices.DeleteFunc(m.tokens, func(x *p11Token) bool { return x == t })
	}
	m.tokensMu.Unlock()
	if !last {
		return
	}
	m.mu.RLock()
	t.mu.Lock()
	t.forget()
	t.mu.Unlock()
	m.mu.RUnlock()
}

// forget closes the idle sessions and the login anchor (when they still belong to the
// module's current generation; a finalised module took them with it) and marks the
// token logged out. The caller holds t.mu and read-holds t.mod.mu.
func (t *p11Token) forget() {
	if t.gen == t.mod.gen {
		for _, s := range t.idle {
			_ = t.mod.ctx.CloseSession(s)
		}
		if t.anchor != 0 {
			_ = t.mod.ctx.CloseSession(t.anchor)
		}
	}
	t.idle, t.anchor, t.loggedIn = nil, 0, false
}

// acquire lends a session, waiting for one while MaxSessions are lent. On success the
// caller read-holds t.mod.mu and a semaphore slot until put.
func (t *p11Token) acquire(ctx context.Context) (pkcs11.SessionHandle, uint64, error) {
	if err := ctx.Err(); err != nil {
		return 0, 0, err
	}
	select {
	case t.sem <- struct{}{}:
	case <-ctx.Done():
		return 0, 0, ctx.Err()
	}
	m := t.mod
	m.mu.RLock()
	h, epoch, err := t.take()
	if err != nil {
		m.mu.RUnlock()
		<-t.sem
		return 0, epoch, err
	}
	return h, epoch, nil
}

// take pops an idle session or opens one, logging in when the token is not; the caller
// read-holds t.mod.mu.
func (t *p11Token) take() (pkcs11.SessionHandle, uint64, error) {
	m := t.mod
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.broken != nil {
		return 0, 0, t.broken
	}
	if t.gen != m.gen {
		return 0, t.epoch, errStale
	}
	if n := len(t.idle); n > 0 {
		h := t.idle[n-1]
		t.idle = t.idle[:n-1]
		return h, t.epoch, nil
	}
	if !t.loggedIn && !t.pin.IsZero() {
		if t.anchor == 0 {
			a, err := m.ctx.OpenSession(t.slot, pkcs11.CKF_SERIAL_SESSION)
			if err != nil {
				return 0, t.epoch, fmt.Errorf("hsm: pkcs11: opening a session on token %q: %w", t.label, err)
			}
			t.anchor = a
		}
		if err := t.login(t.anchor); err != nil {
			_ = m.ctx.CloseSession(t.anchor)
			t.anchor = 0
			return 0, t.epoch, err
		}
	}
	h, err := m.ctx.OpenSession(t.slot, pkcs11.CKF_SERIAL_SESSION)
	if err != nil {
		return 0, t.epoch, fmt.Errorf("hsm: pkcs11: opening a session on token %q: %w", t.label, err)
	}
	return h, t.epoch, nil
}

// login logs the user in on h; the caller holds t.mu and read-holds t.mod.mu.
func (t *p11Token) login(h pkcs11.SessionHandle) error {
	m := t.mod
	loginAttempts.Add(1)
	err := m.ctx.Login(h, pkcs11.CKU_USER, t.pin.Reveal())
	if isP11(err, pkcs11.CKR_USER_ALREADY_LOGGED_IN) && !t.verified {
		// Someone else in the process logged in: our PIN is unchecked. Check it.
		_ = m.ctx.Logout(h)
		loginAttempts.Add(1)
		err = m.ctx.Login(h, pkcs11.CKU_USER, t.pin.Reveal())
	}
	if err != nil && !isP11(err, pkcs11.CKR_USER_ALREADY_LOGGED_IN) {
		if perr := pinError(err, t.label); perr != nil {
			t.broken = perr
			t.log.Error("pkcs11: login refused; not trying this PIN again", "token", t.label, "error", perr)
			return perr
		}
		return fmt.Errorf("hsm: pkcs11: logging in to token %q: %w", t.label, err)
	}
	t.loggedIn, t.verified = true, true
	t.log.Info("pkcs11: logged in", "token", t.label)
	return nil
}

// put returns a lent session: kept for reuse after success, closed after an error (a
// failed operation may leave the session in a state the next user would trip on).
func (t *p11Token) put(h pkcs11.SessionHandle, epoch uint64, opErr error) {
	m := t.mod
	t.mu.Lock()
	if opErr == nil && epoch == t.epoch && t.gen == m.gen {
		t.idle = append(t.idle, h)
	} else if t.gen == m.gen {
		_ = m.ctx.CloseSession(h)
	}
	t.mu.Unlock()
	m.mu.RUnlock()
	<-t.sem
}

// dropSessions forgets every pooled session of epoch (lent ones are closed as they
// come back) and the login, so that the next take opens and logs in afresh; it reports
// false when another caller did so since epoch. The caller read-holds t.mod.mu.
func (t *p11Token) dropSessions(epoch uint64) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.epoch != epoch && t.gen == t.mod.gen {
		return false
	}
	t.forget()
	t.epoch++
	return true
}

func pinError(err error, label string) error {
	var e pkcs11.Error
	if !errors.As(err, &e) {
		return nil
	}
	switch e {
	case pkcs11.CKR_PIN_INCORRECT, pkcs11.CKR_PIN_INVALID, pkcs11.CKR_PIN_LEN_RANGE:
		return fmt.Errorf("hsm: pkcs11: token %q refused the PIN (%v): %w", label, err, ErrPINIncorrect)
	case pkcs11.CKR_PIN_LOCKED:
		return fmt.Errorf("hsm: pkcs11: token %q: %w", label, ErrPINLocked)
	}
	return nil
}

// recoverable reports whether err means the session, login or object handle was lost
// (token removed, re-inserted or re-created; module reset) rather than a refusal.
func recoverable(err error) bool {
	if errors.Is(err, errStale) {
		return true
	}
	var e pkcs11.Error
	if !errors.As(err, &e) {
		return false
	}
	switch e {
	case pkcs11.CKR_SESSION_HANDLE_INVALID, pkcs11.CKR_SESSION_CLOSED, pkcs11.CKR_TOKEN_NOT_PRESENT,
		pkcs11.CKR_DEVICE_REMOVED, pkcs11.CKR_USER_NOT_LOGGED_IN, pkcs11.CKR_OBJECT_HANDLE_INVALID,
		pkcs11.CKR_KEY_HANDLE_INVALID, pkcs11.CKR_CRYPTOKI_NOT_INITIALIZED, pkcs11.CKR_TOKEN_NOT_RECOGNIZED,
		pkcs11.CKR_SLOT_ID_INVALID, pkcs11.CKR_DEVICE_ERROR:
		return true
	}
	return false
}

func isP11(err error, code uint) bool {
	var e pkcs11.Error
	return errors.As(err, &e) && uint(e) == code
}

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

// openToken checks the module against the allow-list, loads it and finds the token.
func openToken(ctx context.Context, u *PKCS11URI, opts Options) (*p11Token, error) {
	path, err := modulePath(u, opts)
	if err != nil {
		return nil, err
	}
	pin, err := u.pin()
	if err != nil {
		return nil, err
	}
	m, err := acquireModule(path, opts.logger())
	if err != nil {
		return nil, err
	}
	if err := checkLibrary(m, u); err != nil {
		m.release()
		return nil, err
	}
	sel := tokenSelector{
		label: u.Token, serial: u.Serial, manufacturer: u.Manufacturer, model: u.Model,
		slotID: u.SlotID, slotDescription: u.SlotDescription, slotManufacturer: u.SlotManufacturer,
	}
	tok, err := acquireToken(ctx, m, sel, pin, opts)
	if err != nil {
		m.release()
		return nil, err
	}
	return tok, nil
}

func modulePath(u *PKCS11URI, opts Options) (string, error) {
	if u.ModulePath == "" {
		if u.ModuleName != "" {
			return "", fmt.Errorf("%w: module-name is not supported; give module-path", ErrBadURI)
		}
		return "", fmt.Errorf("%w: no module-path", ErrBadURI)
	}
	if !filepath.IsAbs(u.ModulePath) {
		return "", fmt.Errorf("%w: module-path %q is not absolute", ErrBadURI, u.ModulePath)
	}
	path := filepath.Clean(u.ModulePath)
	if len(opts.AllowedModules) == 0 {
		return path, nil
	}
	for _, a := range opts.AllowedModules {
		if filepath.Clean(a) == path {
			return path, nil
		}
	}
	return "", fmt.Errorf("%w: %s is not in the configured list", ErrModuleNotAllowed, path)
}

func checkLibrary(m *p11Module, u *PKCS11URI) error {
	if u.LibraryManufacturer == "" && u.LibraryDescription == "" && u.LibraryVersion == "" {
		return nil
	}
	m.mu.RLock()
	info, err := m.ctx.GetInfo()
	m.mu.RUnlock()
	if err != nil {
		return fmt.Errorf("hsm: pkcs11: reading module info: %w", err)
	}
	version := fmt.Sprintf("%d.%d", info.LibraryVersion.Major, info.LibraryVersion.Minor)
	if u.LibraryManufacturer != "" && strings.TrimRight(info.ManufacturerID, " ") != u.LibraryManufacturer ||
		u.LibraryDescription != "" && strings.TrimRight(info.LibraryDescription, " ") != u.LibraryDescription ||
		u.LibraryVersion != "" && version != u.LibraryVersion && fmt.Sprint(info.LibraryVersion.Major) != u.LibraryVersion {
		return fmt.Errorf("%w: module %s is %q %q %s, not what the URI names", ErrTokenNotFound, m.path,
			info.ManufacturerID, info.LibraryDescription, version)
	}
	return nil
}

// load finds the private key, its public key, certificate and chain; the caller holds
// session s of epoch.
func (k *PKCS11Key) load(s pkcs11.SessionHandle, epoch uint64) error {
	ctx := k.tok.mod.ctx
	h, err := findOne(ctx, s, pkcs11.CKO_PRIVATE_KEY, k.uri.Object, k.uri.ID)
	if err != nil {
		return fmt.Errorf("hsm: pkcs11: token %q: %w", k.tok.label, err)
	}
	attrs, err := ctx.GetAttributeValue(s, h, []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, nil),
		pkcs11.NewAttribute(pkcs11.CKA_ID, nil),
		pkcs11.NewAttribute(pkcs11.CKA_LABEL, nil),
	})
	if err != nil {
		return fmt.Errorf("hsm: pkcs11: reading key attributes: %w", err)
	}
	keyType, id, label := ulong(attrs[0].Value), attrs[1].Value, string(attrs[2].Value)
	// Tokens that do not know CKA_ALWAYS_AUTHENTICATE refuse to read it; that means false.
	alwaysAuth := false
	if a, err := ctx.GetAttributeValue(s, h, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_ALWAYS_AUTHENTICATE, nil)}); err == nil {
		alwaysAuth = len(a[0].Value) == 1 && a[0].Value[0] != 0
	}
	pub, err := publicKeyOf(ctx, s, h, keyType, id, label)
	if err != nil {
		return fmt.Errorf("hsm: pkcs11: token %q key %q: %w", k.tok.label, label, err)
	}
	if k.pub != nil {
		if !publicKeysEqual(k.pub, pub) {
			return fmt.Errorf("hsm: pkcs11: token %q key %q is not the key opened before (its public key changed)", k.tok.label, label)
		}
	} else {
		cert, chain, err := certificatesOf(ctx, s, id, label)
		if err != nil {
			return fmt.Errorf("hsm: pkcs11: token %q key %q: %w", k.tok.label, label, err)
		}
		if cert != nil && !publicKeysEqual(cert.PublicKey, pub) {
			return fmt.Errorf("hsm: pkcs11: token %q key %q does not match its certificate %q", k.tok.label, label, cert.Subject)
		}
		// Set once, before the key is shared; later loads only check.
		k.pub, k.cert, k.chain, k.alwaysAuth = pub, cert, chain, alwaysAuth
	}
	k.mu.Lock()
	k.handle, k.handleEpoch, k.handleGen = h, epoch, k.tok.mod.gen
	k.mu.Unlock()
	return nil
}

// findOne finds the single object of class matching label and id (either may be
// empty); more than one is an error, as signing with a guess is worse than refusing.
func findOne(ctx *pkcs11.Ctx, s pkcs11.SessionHandle, class uint, label string, id []byte) (pkcs11.ObjectHandle, error) {
	hs, err := findAll(ctx, s, class, label, id, 2)
	if err != nil {
		return 0, err
	}
	what := describe(label, id)
	switch len(hs) {
	case 0:
		return 0, fmt.Errorf("%w %s", ErrKeyNotFound, what)
	case 1:
		return hs[0], nil
	}
	return 0, fmt.Errorf("hsm: pkcs11: several objects match %s; name one by object and id", what)
}

func describe(label string, id []byte) string {
	switch {
	case label != "" && id != nil:
		return fmt.Sprintf("object=%q id=%x", label, id)
	case label != "":
		return fmt.Sprintf("object=%q", label)
	case id != nil:
		return fmt.Sprintf("id=%x", id)
	}
	return "(no object or id given)"
}

func findAll(ctx *pkcs11.Ctx, s pkcs11.SessionHandle, class uint, label string, id []byte, max int) ([]pkcs11.ObjectHandle, error) {
	tmpl := []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_CLASS, class)}
	if label != "" {
		tmpl = append(tmpl, pkcs11.NewAttribute(pkcs11.CKA_LABEL, label))
	}
	if id != nil {
		tmpl = append(tmpl, pkcs11.NewAttribute(pkcs11.CKA_ID, id))
	}
	return find(ctx, s, tmpl, max)
}

func find(ctx *pkcs11.Ctx, s pkcs11.SessionHandle, tmpl []*pkcs11.Attribute, max int) ([]pkcs11.ObjectHandle, error) {
	if err := ctx.FindObjectsInit(s, tmpl); err != nil {
		return nil, err
	}
	var out []pkcs11.ObjectHandle
	for {
		hs, _, err := ctx.FindObjects(s, 64)
		if err != nil {
			_ = ctx.FindObjectsFinal(s)
			return nil, err
		}
		out = append(out, hs...)
		if len(hs) == 0 || (max > 0 && len(out) >= max) {
			break
		}
	}
	if err := ctx.FindObjectsFinal(s); err != nil {
		return nil, err
	}
	return out, nil
}

var (
	oidP256 = asn1.ObjectIdentifier{1, 2, 840, 10045, 3, 1, 7}
	oidP384 = asn1.ObjectIdentifier{1, 3, 132, 0, 34}
	oidP521 = asn1.ObjectIdentifier{1, 3, 132, 0, 35}
)

// publicKeyOf reads an RSA key's public half from the private key object (RSA
// private keys carry modulus and exponent), and an EC key's from its public key object
// or, failing that, its certificate, found by CKA_ID, else by label.
func publicKeyOf(ctx *pkcs11.Ctx, s pkcs11.SessionHandle, priv pkcs11.ObjectHandle, keyType uint, id []byte, label string) (crypto.PublicKey, error) {
	switch keyType {
	case pkcs11.CKK_RSA:
		a, err := ctx.GetAttributeValue(s, priv, []*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_MODULUS, nil),
			pkcs11.NewAttribute(pkcs11.CKA_PUBLIC_EXPONENT, nil),
		})
		if err != nil {
			return nil, fmt.Errorf("reading the RSA modulus: %w", err)
		}
		e := new(big.Int).SetBytes(a[1].Value)
		if !e.IsInt64() || e.Int64() > 1<<31-1 || e.Int64() < 3 {
			return nil, errors.New("RSA public exponent out of range")
		}
		return &rsa.PublicKey{N: new(big.Int).SetBytes(a[0].Value), E: int(e.Int64())}, nil
	case pkcs11.CKK_EC:
		pubs, err := findPair(ctx, s, pkcs11.CKO_PUBLIC_KEY, id, label)
		if err != nil {
			return nil, err
		}
		if len(pubs) > 0 {
			a, err := ctx.GetAttributeValue(s, pubs[0], []*pkcs11.Attribute{
				pkcs11.NewAttribute(pkcs11.CKA_EC_PARAMS, nil),
				pkcs11.NewAttribute(pkcs11.CKA_EC_POINT, nil),
			})
			if err != nil {
				return nil, fmt.Errorf("reading the EC point: %w", err)
			}
			return ecPublicKey(a[0].Value, a[1].Value)
		}
		certs, err := findPair(ctx, s, pkcs11.CKO_CERTIFICATE, id, label)
		if err != nil {
			return nil, err
		}
		if len(certs) > 0 {
			c, err := readCert(ctx, s, certs[0])
			if err != nil {
				return nil, err
			}
			if pub, ok := c.PublicKey.(*ecdsa.PublicKey); ok {
				return pub, nil
			}
		}
		return nil, errors.New("EC key has neither a public key object nor a certificate with its id")
	}
	return nil, fmt.Errorf("key type 0x%x is not RSA or EC", keyType)
}

// findPair finds the objects of class that belong with a private key: by its id when
// it has one, else by its label.
func findPair(ctx *pkcs11.Ctx, s pkcs11.SessionHandle, class uint, id []byte, label string) ([]pkcs11.ObjectHandle, error) {
	if len(id) > 0 {
		return findAll(ctx, s, class, "", id, 2)
	}
	return findAll(ctx, s, class, label, nil, 2)
}

func ecPublicKey(params, point []byte) (*ecdsa.PublicKey, error) {
	var oid asn1.ObjectIdentifier
	if rest, err := asn1.Unmarshal(params, &oid); err != nil || len(rest) > 0 {
		return nil, errors.New("EC parameters are not a named curve")
	}
	var curve = map[string]func([]byte) (*ecdsa.PublicKey, error){
		oidP256.String(): func(p []byte) (*ecdsa.PublicKey, error) { return ecdsa.ParseUncompressedPublicKey(p256(), p) },
		oidP384.String(): func(p []byte) (*ecdsa.PublicKey, error) { return ecdsa.ParseUncompressedPublicKey(p384(), p) },
		oidP521.String(): func(p []byte) (*ecdsa.PublicKey, error) { return ecdsa.ParseUncompressedPublicKey(p521(), p) },
	}[oid.String()]
	if curve == nil {
		return nil, fmt.Errorf("EC curve %s is not P-256, P-384 or P-521", oid)
	}
	// PKCS#11 wraps the point in an OCTET STRING; some tokens give it bare.
	var raw []byte
	if rest, err := asn1.Unmarshal(point, &raw); err == nil && len(rest) == 0 {
		point = raw
	}
	pub, err := curve(point)
	if err != nil {
		return nil, fmt.Errorf("EC point: %w", err)
	}
	return pub, nil
}

func readCert(ctx *pkcs11.Ctx, s pkcs11.SessionHandle, h pkcs11.ObjectHandle) (*x509.Certificate, error) {
	a, err := ctx.GetAttributeValue(s, h, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_VALUE, nil)})
	if err != nil {
		return nil, fmt.Errorf("reading a certificate: %w", err)
	}
	c, err := x509.ParseCertificate(a[0].Value)
	if err != nil {
		return nil, fmt.Errorf("parsing a certificate on the token: %w", err)
	}
	return c, nil
}

// certificatesOf returns the key's certificate (by id, else label) and the issuers the
// token holds for it, nearest first.
func certificatesOf(ctx *pkcs11.Ctx, s pkcs11.SessionHandle, id []byte, label string) (*x509.Certificate, []*x509.Certificate, error) {
	hs, err := findPair(ctx, s, pkcs11.CKO_CERTIFICATE, id, label)
	if err != nil {
		return nil, nil, err
	}
	if len(hs) == 0 {
		return nil, nil, nil
	}
	if len(hs) > 1 {
		return nil, nil, fmt.Errorf("several certificates match %s", describe(label, id))
	}
	cert, err := readCert(ctx, s, hs[0])
	if err != nil {
		return nil, nil, err
	}
	all, err := findAll(ctx, s, pkcs11.CKO_CERTIFICATE, "", nil, 0)
	if err != nil {
		return nil, nil, err
	}
	var pool []*x509.Certificate
	for _, h := range all {
		if c, err := readCert(ctx, s, h); err == nil {
			pool = append(pool, c)
		}
	}
	return cert, buildChain(cert, pool), nil
}

func ulong(b []byte) uint {
	switch len(b) {
	case 8:
		return uint(binary.NativeEndian.Uint64(b))
	case 4:
		return uint(binary.NativeEndian.Uint32(b))
	}
	return ^uint(0)
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
