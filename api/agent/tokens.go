package agent

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/kyso-vn/kyso/hsm"
	"github.com/kyso-vn/kyso/pkg/fault"
	"github.com/kyso-vn/kyso/pkg/pki"
)

// Kind tells a person's certificate from an organisation's.
type Kind string

// The kinds of certificate on a token.
const (
	Personal     Kind = "personal"
	Organisation Kind = "organisation"
)

var (
	oidOrganizationIdentifier = asn1.ObjectIdentifier{2, 5, 4, 97}
	oidGivenName              = asn1.ObjectIdentifier{2, 5, 4, 42}
	oidSurname                = asn1.ObjectIdentifier{2, 5, 4, 4}
	oidUID                    = asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 1}
)

// KindOf decides whether cert is an organisation's or a person's:
//
//   - organizationIdentifier (2.5.4.97, ETSI EN 319 412-1, where Vietnamese CAs put
//     the agency's identifier code or tax code) makes it an organisation's;
//   - else a personal name (givenName, surname, or a UID such as "CCCD:…"/"CMND:…",
//     the citizen identity number) makes it a person's;
//   - else an O whose value is also the CN (the agency signing as itself) makes it an
//     organisation's;
//   - anything else is a person's, the safe default: a personal certificate asks for
//     the person's own confirmation.
func KindOf(cert *x509.Certificate) Kind {
	personal := false
	for _, a := range cert.Subject.Names {
		switch {
		case a.Type.Equal(oidOrganizationIdentifier):
			return Organisation
		case a.Type.Equal(oidGivenName), a.Type.Equal(oidSurname):
			personal = true
		case a.Type.Equal(oidUID):
			if v, ok := a.Value.(string); ok && (strings.HasPrefix(v, "CCCD:") || strings.HasPrefix(v, "CMND:") || strings.HasPrefix(v, "HC:")) {
				personal = true
			}
		}
	}
	if !personal && slices.Contains(cert.Subject.Organization, cert.Subject.CommonName) {
		return Organisation
	}
	return Personal
}

// Certificate is a certificate found on a token, as the agent shows it.
type Certificate struct {
	Label     string    `json:"label"`
	ID        string    `json:"id"` // CKA_ID, hex
	Holder    string    `json:"holder"`
	Subject   string    `json:"subject"`
	Issuer    string    `json:"issuer"`
	Serial    string    `json:"serial"`
	NotBefore time.Time `json:"not_before"`
	NotAfter  time.Time `json:"not_after"`
	Kind      Kind      `json:"kind"`
	// SHA256 is the certificate's SHA-256, base64url without padding, as the server's
	// certificate_sha256.
	SHA256 string `json:"sha256"`
	// HasKey: a key with the certificate's CKA_ID is visible on the token without
	// login (hsm.CertObject.KeyVisible).
	HasKey bool `json:"has_key"`
	// Warnings are what a person should know before signing with it (expired, not
	// yet valid, no chain), as of the last poll.
	Warnings []Warning         `json:"warnings,omitempty"`
	Cert     *x509.Certificate `json:"-"`
	// Chain holds the certificates that issued this one, nearest first, from the
	// token's CA certificates and the configured chain files.
	Chain []*x509.Certificate `json:"-"`
	// DER is the certificate then Chain, each base64 DER: what a web page sends the
	// server to prepare a signature with this certificate.
	DER []string `json:"certificate"`
}

// Token is a token present in a module's slot.
type Token struct {
	Module       string        `json:"module"`
	ModuleName   string        `json:"module_name"`
	Slot         uint          `json:"slot"`
	Label        string        `json:"label"`
	Serial       string        `json:"serial"`
	Manufacturer string        `json:"manufacturer"`
	Model        string        `json:"model"`
	PINLocked    bool          `json:"pin_locked"`
	PINFinalTry  bool          `json:"pin_final_try"`
	PINCountLow  bool          `json:"pin_count_low"` // a wrong PIN since the last good one
	Certificates []Certificate `json:"certificates"`
}

// Key names a token by module and serial, which survives a change of slot.
func (t Token) Key() string { return t.Module + "|" + t.Serial + "|" + t.Label }

// certSHA256 is the form of certificate_sha256 the server uses.
func certSHA256(c *x509.Certificate) string {
	sum := sha256.Sum256(c.Raw)
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// sameCertHash compares a certificate_sha256 given as base64url (the server's form),
// standard base64 or hex with a certificate.
func sameCertHash(given string, c *x509.Certificate) bool {
	sum := sha256.Sum256(c.Raw)
	for _, dec := range []func(string) ([]byte, error){base64.RawURLEncoding.DecodeString, base64.StdEncoding.DecodeString, hex.DecodeString} {
		if b, err := dec(strings.TrimSpace(given)); err == nil && len(b) == len(sum) {
			return string(b) == string(sum[:])
		}
	}
	return false
}

// Watcher keeps the list of tokens present in the configured modules, polling their
// slots, and tells subscribers when a token is plugged in or pulled out.
//
// It holds each module through hsm (the process's one PKCS#11 loader, shared with the
// keys it opens) and reads certificates in public sessions: listing never logs in.
type Watcher struct {
	modules  []Module
	allowed  []string // the modules' paths: the only ones hsm may load for the agent
	log      *slog.Logger
	interval time.Duration

	// idle is held (a token in the channel) while a poll runs, and by a signer for as
	// long as it has a key open, so that a module is never finalised under an open key.
	idle chan struct{}

	// certs caches what was read of each token present (guarded by idle): reading a
	// smart card's certificates every second would keep it busy.
	certs map[string]cachedCerts
	// lastErr is each module's last error, logged once rather than every second.
	lastErr map[string]string

	mods map[string]*hsm.Module // guarded by idle

	// issuers are the certificates of the configured chain files (UseChain), with
	// which the chains of the tokens' certificates are completed.
	issuers []*x509.Certificate
	now     func() time.Time

	mu     sync.Mutex
	tokens []Token
	gen    uint64
	subs   map[chan struct{}]struct{}
	ready  chan struct{}
}

type cachedCerts struct {
	certs []Certificate
	polls int
}

// certRefresh is how many polls a token's certificates are kept before being read
// again (a token keeps its key but may get a renewed certificate while plugged in).
const certRefresh = 10

// NewWatcher returns a watcher of modules polling every interval (default 1s).
func NewWatcher(modules []Module, interval time.Duration, log *slog.Logger) *Watcher {
	if interval <= 0 {
		interval = time.Second
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var allowed []string
	for _, m := range modules {
		allowed = append(allowed, m.Path)
	}
	return &Watcher{modules: modules, allowed: allowed, log: log, interval: interval, mods: map[string]*hsm.Module{}, certs: map[string]cachedCerts{}, lastErr: map[string]string{},
		subs: map[chan struct{}]struct{}{}, ready: make(chan struct{}), idle: make(chan struct{}, 1), now: time.Now}
}

// UseChain completes the tokens' certificates' chains with issuers (the configured
// chain files) from the next poll on. Call it before Run.
func (w *Watcher) UseChain(issuers []*x509.Certificate) { w.issuers = issuers }

// Issuers are the configured chain files' certificates.
func (w *Watcher) Issuers() []*x509.Certificate { return w.issuers }

// Run polls until ctx ends, then unloads the modules.
func (w *Watcher) Run(ctx context.Context) {
	defer w.Close()
	t := time.NewTicker(w.interval)
	defer t.Stop()
	w.Poll()
	close(w.ready)
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			w.Poll()
		}
	}
}

// Ready is closed after the first poll.
func (w *Watcher) Ready() <-chan struct{} { return w.ready }

// Tokens returns the tokens of the last poll and its generation, which grows at each
// change.
func (w *Watcher) Tokens() ([]Token, uint64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.tokens), w.gen
}

// Subscribe returns a channel that receives after each change, and its cancel.
func (w *Watcher) Subscribe() (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	w.mu.Lock()
	w.subs[ch] = struct{}{}
	w.mu.Unlock()
	return ch, func() {
		w.mu.Lock()
		delete(w.subs, ch)
		w.mu.Unlock()
	}
}

// ErrBusy: another signing holds the tokens.
var ErrBusy = fault.New(fault.Conflict, "agent: another signing is in progress")

// Hold keeps polls from finalising modules until release is called; a signer holds it
// while it has a key open. It waits for a running poll or signer until ctx ends, and
// then fails with ErrBusy.
func (w *Watcher) Hold(ctx context.Context) (release func(), err error) {
	select {
	case w.idle <- struct{}{}:
		return func() { <-w.idle }, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("%w (%v)", ErrBusy, ctx.Err())
	}
}

// Poll lists the tokens once, unless a signer holds the modules.
func (w *Watcher) Poll() {
	select {
	case w.idle <- struct{}{}:
	default:
		return
	}
	defer func() { <-w.idle }()
	var found []Token
	for _, m := range w.modules {
		toks, err := w.scan(m)
		if err != nil {
			if w.lastErr[m.Path] != err.Error() {
				w.log.Warn("agent: listing tokens", "module", m.Path, "error", err)
				w.lastErr[m.Path] = err.Error()
			}
			continue
		}
		delete(w.lastErr, m.Path)
		found = append(found, toks...)
	}
	for k := range w.certs {
		if !slices.ContainsFunc(found, func(t Token) bool { return t.Key() == k }) {
			delete(w.certs, k)
		}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if sameTokens(w.tokens, found) {
		return
	}
	w.log.Info("agent: tokens changed", "tokens", len(found))
	w.tokens = found
	w.gen++
	for ch := range w.subs {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

func sameTokens(a, b []Token) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Key() != b[i].Key() || a[i].Slot != b[i].Slot || len(a[i].Certificates) != len(b[i].Certificates) ||
			a[i].PINLocked != b[i].PINLocked || a[i].PINFinalTry != b[i].PINFinalTry || a[i].PINCountLow != b[i].PINCountLow {
			return false
		}
		for j := range a[i].Certificates {
			// A certificate that expires while plugged in is a change the page shows.
			if len(a[i].Certificates[j].Warnings) != len(b[i].Certificates[j].Warnings) {
				return false
			}
		}
	}
	return true
}

// Close finalises and unloads the modules; Run calls it when its context ends.
func (w *Watcher) Close() {
	w.idle <- struct{}{}
	defer func() { <-w.idle }()
	w.unload()
}

// certificates returns the signing certificates of token t, read with read when t is
// new or its cache is old; the caller holds idle.
func (w *Watcher) certificates(t Token, read func() ([]hsm.CertObject, error)) []Certificate {
	cached, ok := w.certs[t.Key()]
	if !ok || cached.polls >= certRefresh {
		objs, err := read()
		if err != nil {
			w.log.Warn("agent: reading certificates", "token", t.Label, "error", err)
		}
		cached = cachedCerts{certs: signingCertificates(objs, w.issuers)}
	}
	cached.polls++
	w.certs[t.Key()] = cached
	now := w.now()
	out := slices.Clone(cached.certs)
	for i := range out {
		out[i].Warnings = warningsOf(out[i], append(slices.Clone(cached.certs[i].Chain), w.issuers...), now)
	}
	return out
}

// signingCertificates describes the end-entity certificates among objs, each with the
// chain the other (CA) certificates on the token and issuers give it.
func signingCertificates(all []hsm.CertObject, issuers []*x509.Certificate) []Certificate {
	cas := slices.Clone(issuers)
	for _, o := range all {
		if o.Cert.IsCA {
			cas = append(cas, o.Cert)
		}
	}
	var out []Certificate
	for _, o := range all {
		if o.Cert.IsCA {
			continue // the chain the token carries, not a signing certificate
		}
		ci := Certificate{
			Label: o.Label, ID: hex.EncodeToString(o.ID), Holder: o.Cert.Subject.CommonName, Subject: pki.DisplayName(o.Cert.Subject),
			Issuer: o.Cert.Issuer.CommonName, Serial: strings.ToUpper(o.Cert.SerialNumber.Text(16)),
			NotBefore: o.Cert.NotBefore, NotAfter: o.Cert.NotAfter, Kind: KindOf(o.Cert), SHA256: certSHA256(o.Cert), Cert: o.Cert,
			HasKey: o.KeyVisible,
		}
		if path := pki.IssuerPath(o.Cert, cas); len(path) > 1 {
			ci.Chain = path[1:]
		}
		for _, c := range append([]*x509.Certificate{o.Cert}, ci.Chain...) {
			ci.DER = append(ci.DER, base64.StdEncoding.EncodeToString(c.Raw))
		}
		out = append(out, ci)
	}
	slices.SortFunc(out, func(a, b Certificate) int { return strings.Compare(a.ID+a.Label, b.ID+b.Label) })
	return out
}

// load returns the module at m.Path, loading it through hsm the first time; the caller
// holds idle.
func (w *Watcher) load(m Module) (*hsm.Module, error) {
	if l := w.mods[m.Path]; l != nil {
		return l, nil
	}
	// MaxSessions 2: the agent signs one request at a time. GuardPINTries: the PINs
	// the agent hands a token are typed by a person, unchecked.
	l, err := hsm.OpenModule(m.Path, hsm.Options{AllowedModules: w.allowed, MaxSessions: 2, GuardPINTries: true, Logger: w.log})
	if err != nil {
		return nil, err
	}
	w.mods[m.Path] = l
	return l, nil
}

// scan lists the tokens of one module with their certificates; the caller holds idle.
func (w *Watcher) scan(m Module) ([]Token, error) {
	mod, err := w.load(m)
	if err != nil {
		return nil, err
	}
	if m.Reinitialize {
		if err := mod.Reinitialize(); err != nil {
			return nil, err
		}
	}
	infos, err := mod.Tokens()
	if err != nil {
		return nil, err
	}
	name := m.Name
	if name == "" {
		name = filepath.Base(m.Path)
	}
	var out []Token
	for _, ti := range infos {
		t := tokenOf(ti, name)
		t.Certificates = w.certificates(t, func() ([]hsm.CertObject, error) { return mod.Certificates(ti.Slot) })
		out = append(out, t)
	}
	return out, nil
}

func tokenOf(ti hsm.TokenInfo, moduleName string) Token {
	return Token{
		Module: ti.Module, ModuleName: moduleName, Slot: ti.Slot, Label: ti.Label, Serial: ti.Serial,
		Manufacturer: ti.Manufacturer, Model: ti.Model,
		PINLocked: ti.PINLocked, PINFinalTry: ti.PINFinalTry, PINCountLow: ti.PINCountLow,
	}
}

// unload releases the modules; the caller holds idle.
func (w *Watcher) unload() {
	for p, l := range w.mods {
		_ = l.Close()
		delete(w.mods, p)
	}
}

// module is the loaded module of t; the caller holds idle (Hold).
func (w *Watcher) module(t Token) (*hsm.Module, error) {
	for _, m := range w.modules {
		if m.Path == t.Module {
			return w.load(m)
		}
	}
	return nil, fault.Errorf(fault.Forbidden, "agent: module %s is not configured", t.Module)
}

// TokenNow reads t's state from the token now, not from the last poll: its PIN
// flags may have changed since. The caller holds the watcher (Hold).
func (w *Watcher) TokenNow(t Token) (Token, error) {
	mod, err := w.module(t)
	if err != nil {
		return Token{}, err
	}
	ti, err := mod.Token(t.Slot)
	if err != nil {
		return Token{}, err
	}
	if ti.Serial != t.Serial || ti.Label != t.Label {
		return Token{}, fault.Wrap(fault.Unavailable, hsm.ErrTokenNotFound, "agent: the token was pulled out or changed")
	}
	now := tokenOf(ti, t.ModuleName)
	now.Certificates = t.Certificates
	return now, nil
}

// OpenKey opens the private key of certificate c on token t (by its CKA_ID, or its
// label when it has none), logging in with pin: one C_Login, which hsm refuses to make
// when the token says its PIN is locked or at its final try. The caller holds the
// watcher (Hold) until the key is closed, so that no poll re-initialises the module
// under it.
func (w *Watcher) OpenKey(ctx context.Context, t Token, c Certificate, pin hsm.Secret) (*hsm.PKCS11Key, error) {
	id, err := hex.DecodeString(c.ID)
	if err != nil {
		return nil, fault.Errorf(fault.Invalid, "agent: certificate id %q is not hex", c.ID)
	}
	mod, err := w.module(t)
	if err != nil {
		return nil, err
	}
	return mod.OpenKey(ctx, hsm.KeyRef{Token: t.Label, Serial: t.Serial, ID: id, Label: c.Label}, pin)
}

// FindCertificate returns the token and certificate whose SHA-256 (base64url) is sum.
func (w *Watcher) FindCertificate(sum string) (Token, Certificate, bool) {
	toks, _ := w.Tokens()
	for _, t := range toks {
		for _, c := range t.Certificates {
			if c.SHA256 == sum {
				return t, c, true
			}
		}
	}
	return Token{}, Certificate{}, false
}

// ErrAmbiguous: more than one token or certificate matches; the caller names one.
var ErrAmbiguous = errors.New("agent: more than one match")
