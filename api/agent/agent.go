// Package agent is the logic of kyso-agent, the desktop agent leaders and clerks sign
// with on their USB token (Decree 30/2020 roles: approve, issue, appendix, copy,
// incoming). It finds the tokens of the configured PKCS#11 modules and notices them
// come and go (Watcher, through hsm: the process's one PKCS#11 loader); fetches a signing request prepared on a paired Kyso server
// (POST /v1/signatures), shows it on a small page served on 127.0.0.1, asks for the
// PIN there, signs the digest on the token and sends the signature to
// POST /v1/signatures/{id}/complete (Agent, Server); and answers web pages of allowed
// origins only, over HTTP and a WebSocket, once paired.
//
// The PIN lives in memory, as an hsm.Secret, for the one login it serves: it is never
// written, logged, returned or sent anywhere but to the token. A wrong PIN costs
// exactly one C_Login; the prompt locks after Config.MaxPINFailures wrong PINs for a
// job or a web origin, and the agent never gives a token more than that many wrong
// PINs between two good ones (pinGuard), nor any PIN when the token says it is locked
// or at its final try.
//
// A job's page, its progress and the PIN form answer only the browser that traded the
// job's session (handed to the web page in the fragment of the job's URL) for a
// cookie: other local processes see nothing of a job (Server).
//
// Without cgo hsm finds no token and the agent says so in its log. The package must
// never import api/, cmd/, app, pkg/store or gorm: it talks to the server only over
// the HTTP API.
package agent

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kyso-vn/kyso/hsm"
	"github.com/kyso-vn/kyso/pkg/fault"
)

// Errors of a confirmation a caller (the page) branches on. Each carries its fault
// kind, from which the page chooses its words (pageMessage).
var (
	// ErrPromptLocked: too many wrong PINs for this job or this web origin; the agent
	// refuses to try the token until the lock ends (see *LockedError for when).
	ErrPromptLocked = fault.New(fault.RateLimited, "agent: PIN prompt locked after too many wrong PINs")
	// ErrWrongPIN: the token refused the PIN (one C_Login was spent).
	ErrWrongPIN = fault.New(fault.Invalid, "agent: wrong PIN")
	// ErrTokenAtRisk: the token itself is locked, or has one try left, or the agent has
	// given it Config.MaxPINFailures wrong PINs since it last accepted one: the agent
	// will not spend another; the holder checks the PIN with the vendor's tool (a good
	// PIN there clears the token's count) or unlocks the token with the SO PIN.
	ErrTokenAtRisk = fault.WithCode(fault.New(fault.Forbidden, "agent: the token is locked, has one PIN try left, or was given too many wrong PINs"), "token-at-risk")
	// ErrNoCertificate: no token present holds the certificate the requests need.
	ErrNoCertificate = fault.New(fault.NotFound, "agent: the certificate the request needs is not on any token present")
	// ErrBadJob: the request ids do not make a job (none, too many, repeated, or
	// naming different certificates).
	ErrBadJob = fault.New(fault.Invalid, "agent: bad signing job")
	// ErrJobState: the job is not waiting for a confirmation.
	ErrJobState = fault.New(fault.Conflict, "agent: the job is not waiting for confirmation")
)

// LockedError says until when the prompt is locked.
type LockedError struct{ Until time.Time }

func (e *LockedError) Error() string {
	return fmt.Sprintf("agent: PIN prompt locked until %s after too many wrong PINs", e.Until.Format(time.TimeOnly))
}

// Unwrap makes errors.Is(err, ErrPromptLocked) true.
func (e *LockedError) Unwrap() error { return ErrPromptLocked }

// WrongPINError says how many tries the agent still allows before it locks.
type WrongPINError struct{ Left int }

func (e *WrongPINError) Error() string {
	return fmt.Sprintf("agent: wrong PIN; %d tries left before the agent locks its prompt", e.Left)
}

// Unwrap makes errors.Is(err, ErrWrongPIN) true.
func (e *WrongPINError) Unwrap() error { return ErrWrongPIN }

// pinGuard counts wrong PINs per job and per web origin, each locking the prompt for
// lockout after max of them in a row, and per token: the wrong PINs the agent gave
// the token since it last accepted one. That count is not forgiven by time: only a
// good login resets it — the agent's own, or another program's, seen as the token's
// CKF_USER_PIN_COUNT_LOW cleared on a token that has been seen to set it (a token
// that never sets it cannot tell) — so the agent never spends more than max of the
// token's own tries, however long an attacker or a forgetful person goes on.
type pinGuard struct {
	max     int
	lockout time.Duration
	now     func() time.Time

	mu     sync.Mutex
	counts map[string]*pinCount   // "job:ID", "origin:ORIGIN"
	tokens map[string]*tokenCount // Token.Key()
}

type tokenCount struct {
	failures   int  // wrong PINs the agent gave since the token last accepted one
	reportsLow bool // the token was seen with CKF_USER_PIN_COUNT_LOW set
}

type pinCount struct {
	failures int
	until    time.Time
	last     time.Time
}

func newPINGuard(max int, lockout time.Duration, now func() time.Time) *pinGuard {
	return &pinGuard{max: max, lockout: lockout, now: now, counts: map[string]*pinCount{}, tokens: map[string]*tokenCount{}}
}

func guardKeys(j *Job) []string { return []string{"job:" + j.ID, "origin:" + j.Origin} }

// check refuses while any of keys is locked.
func (g *pinGuard) check(keys []string) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	var until time.Time
	for _, k := range keys {
		if c := g.counts[k]; c != nil && g.now().Before(c.until) && c.until.After(until) {
			until = c.until
		}
	}
	if !until.IsZero() {
		return &LockedError{Until: until}
	}
	return nil
}

// checkToken decides from the token's state read just now whether it may be given a
// PIN: never when it is locked or at its final try, nor when the agent has given it
// max wrong PINs since it last accepted one.
func (g *pinGuard) checkToken(t Token) error {
	if t.PINLocked || t.PINFinalTry {
		return ErrTokenAtRisk
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	c := g.tokens[t.Key()]
	if c == nil {
		c = &tokenCount{}
		g.tokens[t.Key()] = c
		if t.PINCountLow {
			// Wrong PINs the agent did not give (another program, or before a restart):
			// how many is unknown, so allow one try, not max.
			c.failures = g.max - 1
		}
	}
	switch {
	case t.PINCountLow:
		c.reportsLow = true
	case c.reportsLow:
		c.failures = 0 // the token accepted a PIN since, whoever gave it
	}
	if c.failures >= g.max {
		return fmt.Errorf("%w: %d wrong PINs since it last accepted one", ErrTokenAtRisk, c.failures)
	}
	return nil
}

// fail counts a wrong PIN against keys and the token, and says what is left.
func (g *pinGuard) fail(keys []string, tokenKey string) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.now()
	for k, c := range g.counts {
		if now.Sub(c.last) > 24*time.Hour && now.After(c.until) {
			delete(g.counts, k) // a day-old count is only memory
		}
	}
	tc := g.tokens[tokenKey]
	if tc == nil {
		tc = &tokenCount{}
		g.tokens[tokenKey] = tc
	}
	tc.failures++
	left := g.max - tc.failures
	var locked time.Time
	for _, k := range keys {
		c := g.counts[k]
		if c == nil {
			c = &pinCount{}
			g.counts[k] = c
		}
		c.failures++
		c.last = now
		if c.failures >= g.max {
			c.failures = 0
			c.until = now.Add(g.lockout)
			locked = c.until
		}
		left = min(left, g.max-c.failures)
	}
	switch {
	case !locked.IsZero():
		return &LockedError{Until: locked}
	case left <= 0:
		return fmt.Errorf("%w: %d wrong PINs since it last accepted one", ErrTokenAtRisk, tc.failures)
	}
	return &WrongPINError{Left: left}
}

// succeed forgets the wrong PINs of keys and the token: it accepted a PIN.
func (g *pinGuard) succeed(keys []string, tokenKey string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, k := range keys {
		delete(g.counts, k)
	}
	if tc := g.tokens[tokenKey]; tc != nil {
		tc.failures = 0
	}
}

// Options configure an Agent.
type Options struct {
	Logger *slog.Logger // never receives a PIN or an API key; nil discards
	Now    func() time.Time
	// HTTPClient calls the servers (default: 30 s timeout).
	HTTPClient *http.Client
	// Workers is how many requests of a batch are fetched at once (default 8).
	Workers int
}

// Agent holds the configuration, the tokens present and the signing jobs.
type Agent struct {
	cfg     *Config
	watcher *Watcher
	log     *slog.Logger
	now     func() time.Time
	hc      *http.Client
	workers int
	guard   *pinGuard

	// logins counts C_Login attempts the agent made, so a test can show that a locked
	// prompt never reaches the token.
	logins atomic.Int64

	mu        sync.Mutex
	jobs      map[string]*Job
	pairings  map[string]*pairingRequest
	completed map[string]bool // request ids this agent completed: a replay is refused early
}

// New returns an agent over cfg and the tokens w sees.
func New(cfg *Config, w *Watcher, o Options) *Agent {
	a := &Agent{cfg: cfg, watcher: w, log: o.Logger, now: o.Now, hc: o.HTTPClient, workers: o.Workers,
		jobs: map[string]*Job{}, pairings: map[string]*pairingRequest{}, completed: map[string]bool{}}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	if a.now == nil {
		a.now = time.Now
	}
	if a.workers <= 0 {
		a.workers = 8
	}
	a.guard = newPINGuard(cfg.MaxPINFailures, cfg.PINLockout, a.now)
	return a
}

// LoginAttempts is how many times the agent has handed a PIN to a token.
func (a *Agent) LoginAttempts() int64 { return a.logins.Load() }

// Watcher is the agent's token watcher.
func (a *Agent) Watcher() *Watcher { return a.watcher }

// Item is one signing request of a job.
type Item struct {
	ID      string   `json:"id"`
	Request *Request `json:"request,omitempty"`
	Status  string   `json:"status"` // ItemListed, ItemSigning, ItemCompleted, ItemFailed
	Error   string   `json:"error,omitempty"`
	err     error
}

// Item states.
const (
	ItemListed    = "listed"
	ItemSigning   = "signing"
	ItemCompleted = "completed"
	ItemFailed    = "failed"
)

func (it *Item) fail(err error) { it.Status, it.Error, it.err = ItemFailed, err.Error(), err }

// Job states.
const (
	JobReview  = "review"  // listed, waiting for the person to pick a certificate and give the PIN
	JobSigning = "signing" // the PIN was accepted; signing and completing
	JobDone    = "done"    // every item finished (some may have failed)
)

// Job is a batch of signing requests confirmed with one PIN entry.
type Job struct {
	ID     string
	Server string
	Origin string
	// Person is the pairing's person (Pairing.Person) the job was listed for; only
	// that pairing sees the job.
	Person  string
	person  string // Pairing.PersonKey
	Created time.Time
	csrf    string
	// session is handed to the web page that listed the job (in the fragment of the
	// page's URL) and nobody else; the agent's page trades it once for an HttpOnly,
	// SameSite=Strict cookie. Without it the page shows nothing of the job.
	session string
	client  *Client

	mu      sync.Mutex
	state   string
	items   []*Item
	cert    string // SHA-256 of the certificate the requests need (one for all)
	claimed bool   // the session was traded for a cookie
	changed chan struct{}
}

// Progress is a job as the page and the web page see it.
type Progress struct {
	JobID     string  `json:"job_id"`
	State     string  `json:"state"`
	Total     int     `json:"total"`
	Completed int     `json:"completed"`
	Failed    int     `json:"failed"`
	Items     []*Item `json:"items"`
}

// Progress returns the job's state and a channel closed at its next change.
func (j *Job) Progress() (Progress, <-chan struct{}) {
	j.mu.Lock()
	defer j.mu.Unlock()
	p := Progress{JobID: j.ID, State: j.state, Total: len(j.items)}
	for _, it := range j.items {
		c := *it
		p.Items = append(p.Items, &c)
		switch it.Status {
		case ItemCompleted:
			p.Completed++
		case ItemFailed:
			p.Failed++
		}
	}
	return p, j.changed
}

// update changes the job under its lock and wakes the watchers of its progress.
func (j *Job) update(f func()) {
	j.mu.Lock()
	f()
	close(j.changed)
	j.changed = make(chan struct{})
	j.mu.Unlock()
}

// of reports whether j was listed through pairing p (same origin, server and person).
func (j *Job) of(p Pairing) bool {
	return j.Origin == p.Origin && j.Server == p.Server && j.person == p.PersonKey()
}

// CertificateSHA256 is the certificate all the job's requests must be signed with.
func (j *Job) CertificateSHA256() string {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.cert
}

func newID(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// CreateJob fetches the requests ids from the paired server and lists them for
// review. A request that is not pending any more (completed: a replay) is refused:
// when none of ids is pending, CreateJob fails with ErrNotPending, ErrExpired or
// ErrUnknownRequest.
func (a *Agent) CreateJob(ctx context.Context, p Pairing, ids []string) (*Job, error) {
	if len(ids) == 0 || len(ids) > 500 {
		return nil, fmt.Errorf("%w: a job takes 1 to 500 request ids, not %d", ErrBadJob, len(ids))
	}
	seen := map[string]bool{}
	for _, id := range ids {
		if seen[id] || id == "" {
			return nil, fmt.Errorf("%w: request id %q is empty or given twice", ErrBadJob, id)
		}
		seen[id] = true
	}
	j := &Job{ID: newID(12), Server: p.Server, Origin: p.Origin, Person: p.Person, person: p.PersonKey(), Created: a.now(), csrf: newID(16), session: newID(32),
		client: NewClient(p.Server, p.APIKey, a.hc), state: JobReview, changed: make(chan struct{})}
	j.items = make([]*Item, len(ids))
	sem := make(chan struct{}, a.workers)
	var wg sync.WaitGroup
	for i, id := range ids {
		it := &Item{ID: id, Status: ItemListed}
		j.items[i] = it
		a.mu.Lock()
		done := a.completed[id]
		a.mu.Unlock()
		if done {
			it.fail(fmt.Errorf("%w: this agent completed it", ErrNotPending))
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			r, err := j.client.Get(ctx, it.ID)
			switch {
			case err != nil:
				it.fail(err)
			case r.Status != "pending":
				it.fail(fmt.Errorf("%w: status %q", ErrNotPending, r.Status))
			default:
				it.Request = r
			}
		}()
	}
	wg.Wait()
	var firstErr error
	for _, it := range j.items {
		if it.Request != nil {
			if j.cert == "" {
				j.cert = it.Request.CertSHA256
			} else if it.Request.CertSHA256 != j.cert {
				return nil, fmt.Errorf("%w: the requests of one job must name one certificate; %s names another", ErrBadJob, it.ID)
			}
			continue
		}
		if firstErr == nil {
			firstErr = it.err
		}
	}
	if j.cert == "" {
		return nil, firstErr
	}
	a.mu.Lock()
	for id, old := range a.jobs {
		// A person looks at a job for minutes; a day-old one is only memory.
		if a.now().Sub(old.Created) > 24*time.Hour {
			delete(a.jobs, id)
		}
	}
	a.jobs[j.ID] = j
	a.mu.Unlock()
	a.log.Info("agent: job listed", "job", j.ID, "server", j.Server, "requests", len(ids))
	return j, nil
}

// Job returns the job with id.
func (a *Agent) Job(id string) (*Job, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	j, ok := a.jobs[id]
	return j, ok
}

// Confirm logs in to the token holding the job's certificate with pin (one C_Login)
// and, once the token accepted it, signs and completes every listed request in the
// background (ctx bounds that work). It returns a *LockedError without touching the
// token while the prompt is locked for the job or its origin; ErrTokenAtRisk without
// touching it when the token, read just before, says its PIN is locked or at its
// final try, or the agent has given it MaxPINFailures wrong PINs since it last
// accepted one; and a *WrongPINError or *LockedError after a wrong PIN.
func (a *Agent) Confirm(ctx context.Context, j *Job, certSHA256 string, pin hsm.Secret) error {
	keys := guardKeys(j)
	if err := a.guard.check(keys); err != nil {
		return err
	}
	// One signing at a time: a second waits a little for the first (or a poll), then
	// is told to come back rather than hang the page.
	hctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	release, err := a.watcher.Hold(hctx)
	cancel()
	if err != nil {
		return err
	}
	held := true
	defer func() {
		if held {
			release()
		}
	}()
	j.mu.Lock()
	state, want := j.state, j.cert
	j.mu.Unlock()
	if state != JobReview {
		return ErrJobState
	}
	if certSHA256 != want {
		return fmt.Errorf("%w: the requests name another certificate than the one picked", ErrNoCertificate)
	}
	// Checked again under the hold: a confirmation that waited may come after a lock.
	if err := a.guard.check(keys); err != nil {
		return err
	}
	tok, cert, ok := a.watcher.FindCertificate(certSHA256)
	if !ok {
		return ErrNoCertificate
	}
	// Before the PIN: a signature by an expired certificate is valid for no one.
	if err := CheckValidAt(cert, a.now()); err != nil {
		a.log.Warn("agent: not signing with a certificate outside its validity", "job", j.ID, "certificate", cert.Holder, "warning", err)
		return err
	}
	// The token's own state now, not as the last poll saw it.
	if tok, err = a.watcher.TokenNow(tok); err != nil {
		return fmt.Errorf("%w: %w", ErrNoCertificate, err)
	}
	if err := a.guard.checkToken(tok); err != nil {
		a.log.Warn("agent: PIN not tried: the token is at risk of locking", "token", tok.Label, "job", j.ID, "origin", j.Origin)
		return err
	}
	if pin.IsZero() {
		return &WrongPINError{Left: a.cfg.MaxPINFailures}
	}
	a.logins.Add(1)
	key, err := a.watcher.OpenKey(ctx, tok, cert, pin)
	if err != nil {
		if errors.Is(err, hsm.ErrPINIncorrect) {
			a.log.Warn("agent: the token refused the PIN", "token", tok.Label, "job", j.ID, "origin", j.Origin)
			return a.guard.fail(keys, tok.Key())
		}
		if errors.Is(err, hsm.ErrPINLocked) || errors.Is(err, hsm.ErrPINFinalTry) {
			return fmt.Errorf("%w: %w", ErrTokenAtRisk, err)
		}
		return fmt.Errorf("agent: opening the key on token %q: %w", tok.Label, err)
	}
	a.guard.succeed(keys, tok.Key())
	if kc := key.Certificate(); kc == nil || !sameCertHash(want, kc) {
		closeKey(key)
		return fmt.Errorf("%w: the key's certificate on token %q is not the one the requests name", ErrNoCertificate, tok.Label)
	}
	j.update(func() { j.state = JobSigning })
	a.log.Info("agent: signing", "job", j.ID, "token", tok.Label, "certificate", cert.Holder)
	held = false
	go func() {
		defer release()
		defer closeKey(key)
		a.signAll(ctx, j, key)
	}()
	return nil
}

func closeKey(k hsm.Key) {
	if c, ok := k.(io.Closer); ok {
		_ = c.Close()
	}
}

// signAll signs each listed request's digest and completes it on the server.
func (a *Agent) signAll(ctx context.Context, j *Job, key hsm.Key) {
	j.mu.Lock()
	items := j.items
	j.mu.Unlock()
	for _, it := range items {
		if it.Request == nil || it.Status != ItemListed {
			continue
		}
		j.update(func() { it.Status = ItemSigning })
		err := a.signOne(ctx, j, key, it.Request)
		j.update(func() {
			if err != nil {
				it.fail(err)
				return
			}
			it.Status = ItemCompleted
		})
		if err != nil {
			a.log.Warn("agent: request not completed", "job", j.ID, "request", it.ID, "error", err)
		}
	}
	j.update(func() { j.state = JobDone })
	p, _ := j.Progress()
	a.log.Info("agent: job done", "job", j.ID, "completed", p.Completed, "failed", p.Failed)
}

func (a *Agent) signOne(ctx context.Context, j *Job, key hsm.Key, r *Request) error {
	if !sameCertHash(r.CertSHA256, key.Certificate()) {
		return fmt.Errorf("%w: request %s names another certificate", ErrNoCertificate, r.ID)
	}
	opts, err := SignerOpts(r.Algorithm)
	if err != nil {
		return err
	}
	if len(r.Digest) != opts.HashFunc().Size() {
		return fmt.Errorf("agent: request %s: a %d-byte digest for %s", r.ID, len(r.Digest), r.Algorithm)
	}
	sig, err := key.SignContext(ctx, r.Digest, opts)
	if err != nil {
		return fmt.Errorf("agent: signing request %s: %w", r.ID, err)
	}
	// Check before sending: a token that signs wrongly should be caught here, with a
	// clear message, rather than by the server's refusal.
	if err := checkSignature(key.Certificate().PublicKey, r.Digest, sig, opts); err != nil {
		return fmt.Errorf("agent: the token's signature for request %s does not verify: %w", r.ID, err)
	}
	done, err := j.client.Complete(ctx, r.ID, sig)
	if err != nil {
		return err
	}
	if done.Status != "completed" {
		return fmt.Errorf("%w: the server says %q after completion", ErrServer, done.Status)
	}
	a.mu.Lock()
	a.completed[r.ID] = true
	a.mu.Unlock()
	return nil
}

func checkSignature(pub crypto.PublicKey, digest, sig []byte, opts crypto.SignerOpts) error {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if pss, ok := opts.(*rsa.PSSOptions); ok {
			return rsa.VerifyPSS(k, pss.Hash, digest, sig, pss)
		}
		return rsa.VerifyPKCS1v15(k, opts.HashFunc(), digest, sig)
	case *ecdsa.PublicKey:
		if !ecdsa.VerifyASN1(k, digest, sig) {
			return errors.New("ECDSA signature invalid")
		}
		return nil
	}
	return fmt.Errorf("unsupported public key %T", pub)
}
