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

	"github.com/miekg/pkcs11"
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
	SHA256 string            `json:"sha256"`
	Cert   *x509.Certificate `json:"-"`
	// Chain holds the other certificates on the token that issued this one, nearest
	// first.
	Chain []*x509.Certificate `json:"-"`
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
// It loads each module itself with github.com/miekg/pkcs11 (the hsm package exports no
// slot listing) and reads certificates in public sessions: it never logs in.
type Watcher struct {
	modules  []Module
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

	mu     sync.Mutex
	ctxs   map[string]*pkcs11.Ctx
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
	return &Watcher{modules: modules, log: log, interval: interval, ctxs: map[string]*pkcs11.Ctx{}, certs: map[string]cachedCerts{}, lastErr: map[string]string{},
		subs: map[chan struct{}]struct{}{}, ready: make(chan struct{}), idle: make(chan struct{}, 1)}
}

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
var ErrBusy = errors.New("agent: another signing is in progress")

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
			a[i].PINLocked != b[i].PINLocked || a[i].PINFinalTry != b[i].PINFinalTry {
			return false
		}
	}
	return true
}

func (w *Watcher) ctxFor(m Module) (*pkcs11.Ctx, error) {
	if c := w.ctxs[m.Path]; c != nil {
		return c, nil
	}
	c := pkcs11.New(m.Path)
	if c == nil {
		return nil, fmt.Errorf("agent: cannot load PKCS#11 module %s", m.Path)
	}
	if err := c.Initialize(); err != nil && !isP11(err, pkcs11.CKR_CRYPTOKI_ALREADY_INITIALIZED) {
		c.Destroy()
		return nil, fmt.Errorf("agent: initialising %s: %w", m.Path, err)
	}
	w.ctxs[m.Path] = c
	return c, nil
}

func isP11(err error, code uint) bool {
	var e pkcs11.Error
	return errors.As(err, &e) && uint(e) == code
}

// scan lists the tokens of one module with their certificates; the caller holds idle.
func (w *Watcher) scan(m Module) ([]Token, error) {
	c, err := w.ctxFor(m)
	if err != nil {
		return nil, err
	}
	if m.Reinitialize {
		_ = c.Finalize()
		if err := c.Initialize(); err != nil && !isP11(err, pkcs11.CKR_CRYPTOKI_ALREADY_INITIALIZED) {
			return nil, fmt.Errorf("agent: initialising %s again: %w", m.Path, err)
		}
	}
	slots, err := c.GetSlotList(true)
	if isP11(err, pkcs11.CKR_CRYPTOKI_NOT_INITIALIZED) {
		// Another user of the module in this process finalised it.
		if err = c.Initialize(); err == nil {
			slots, err = c.GetSlotList(true)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("agent: listing slots of %s: %w", m.Path, err)
	}
	name := m.Name
	if name == "" {
		name = filepath.Base(m.Path)
	}
	var out []Token
	for _, slot := range slots {
		ti, err := c.GetTokenInfo(slot)
		if err != nil || ti.Flags&pkcs11.CKF_TOKEN_INITIALIZED == 0 {
			continue // pulled out between the two calls, or blank
		}
		t := Token{
			Module: m.Path, ModuleName: name, Slot: slot, Label: strings.TrimSpace(ti.Label),
			Serial: strings.TrimSpace(ti.SerialNumber), Manufacturer: strings.TrimSpace(ti.ManufacturerID),
			Model: strings.TrimSpace(ti.Model), PINLocked: ti.Flags&pkcs11.CKF_USER_PIN_LOCKED != 0,
			PINFinalTry: ti.Flags&pkcs11.CKF_USER_PIN_FINAL_TRY != 0,
		}
		cached, ok := w.certs[t.Key()]
		if !ok || cached.polls >= certRefresh {
			certs, err := readCertificates(c, slot)
			if err != nil {
				w.log.Warn("agent: reading certificates", "token", t.Label, "error", err)
			}
			cached = cachedCerts{certs: certs}
		}
		cached.polls++
		w.certs[t.Key()] = cached
		t.Certificates = cached.certs
		out = append(out, t)
	}
	return out, nil
}

// readCertificates reads the certificates of the token in slot in a public session.
func readCertificates(c *pkcs11.Ctx, slot uint) ([]Certificate, error) {
	s, err := c.OpenSession(slot, pkcs11.CKF_SERIAL_SESSION)
	if err != nil {
		return nil, err
	}
	defer c.CloseSession(s)
	if err := c.FindObjectsInit(s, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_CERTIFICATE)}); err != nil {
		return nil, err
	}
	var handles []pkcs11.ObjectHandle
	for {
		hs, _, err := c.FindObjects(s, 32)
		if err != nil {
			_ = c.FindObjectsFinal(s)
			return nil, err
		}
		if len(hs) == 0 {
			break
		}
		handles = append(handles, hs...)
	}
	if err := c.FindObjectsFinal(s); err != nil {
		return nil, err
	}
	type obj struct {
		label, id string
		cert      *x509.Certificate
	}
	var all []obj
	for _, h := range handles {
		attrs, err := c.GetAttributeValue(s, h, []*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_VALUE, nil), pkcs11.NewAttribute(pkcs11.CKA_LABEL, nil), pkcs11.NewAttribute(pkcs11.CKA_ID, nil),
		})
		if err != nil || len(attrs) != 3 {
			continue
		}
		cert, err := x509.ParseCertificate(attrs[0].Value)
		if err != nil {
			continue
		}
		all = append(all, obj{label: string(attrs[1].Value), id: hex.EncodeToString(attrs[2].Value), cert: cert})
	}
	var out []Certificate
	for _, o := range all {
		if o.cert.IsCA {
			continue // the chain the token carries, not a signing certificate
		}
		ci := Certificate{
			Label: o.label, ID: o.id, Holder: o.cert.Subject.CommonName, Subject: o.cert.Subject.String(),
			Issuer: o.cert.Issuer.CommonName, Serial: strings.ToUpper(o.cert.SerialNumber.Text(16)),
			NotBefore: o.cert.NotBefore, NotAfter: o.cert.NotAfter, Kind: KindOf(o.cert), SHA256: certSHA256(o.cert), Cert: o.cert,
		}
		for cur := o.cert; ; {
			var next *x509.Certificate
			for _, p := range all {
				if p.cert.IsCA && cur.CheckSignatureFrom(p.cert) == nil && !p.cert.Equal(cur) {
					next = p.cert
					break
				}
			}
			if next == nil || len(ci.Chain) > 8 {
				break
			}
			ci.Chain = append(ci.Chain, next)
			cur = next
		}
		out = append(out, ci)
	}
	slices.SortFunc(out, func(a, b Certificate) int { return strings.Compare(a.ID+a.Label, b.ID+b.Label) })
	return out, nil
}

// Close finalises and unloads the modules; Run calls it when its context ends.
func (w *Watcher) Close() {
	w.idle <- struct{}{}
	defer func() { <-w.idle }()
	w.mu.Lock()
	defer w.mu.Unlock()
	for p, c := range w.ctxs {
		_ = c.Finalize()
		c.Destroy()
		delete(w.ctxs, p)
	}
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

// SelectCertificate picks the certificate with CKA_ID certIDHex (any, when empty and
// the token holds only one) on the token labelled label (any, when empty and only one
// token is present).
func SelectCertificate(toks []Token, label, certIDHex string) (Token, Certificate, error) {
	var matches []Token
	for _, t := range toks {
		if label == "" || t.Label == label {
			matches = append(matches, t)
		}
	}
	switch {
	case len(matches) == 0:
		return Token{}, Certificate{}, fmt.Errorf("agent: no token labelled %q is plugged in", label)
	case len(matches) > 1:
		return Token{}, Certificate{}, fmt.Errorf("%w: %d tokens match %q; name one with --token", ErrAmbiguous, len(matches), label)
	}
	t := matches[0]
	var certs []Certificate
	for _, c := range t.Certificates {
		if certIDHex == "" || strings.EqualFold(c.ID, certIDHex) {
			certs = append(certs, c)
		}
	}
	switch {
	case len(certs) == 0:
		return t, Certificate{}, fmt.Errorf("agent: token %q holds no signing certificate with id %q", t.Label, certIDHex)
	case len(certs) > 1:
		var ids []string
		for _, c := range certs {
			ids = append(ids, c.ID+" ("+c.Holder+")")
		}
		return t, Certificate{}, fmt.Errorf("%w: token %q holds %s; name one with --cert-id", ErrAmbiguous, t.Label, strings.Join(ids, ", "))
	}
	return t, certs[0], nil
}

// KeyURI is the pkcs11: URI of the private key of c on t, with pin. It holds the PIN:
// give it to hsm.Open and nothing else.
func KeyURI(t Token, c Certificate, pin string) (string, error) { return pkcs11URI(t, c, pin) }
