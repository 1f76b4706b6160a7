package app

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/kyso-vn/kyso/hsm/remote"
	"github.com/kyso-vn/kyso/pkg/fault"
	"github.com/kyso-vn/kyso/pkg/pki"
	"github.com/kyso-vn/kyso/pkg/store"
	"github.com/kyso-vn/kyso/pkg/wire"
)

// Statuses of a remote signature after prepare. Submitting is the moment the request
// is handed to the provider; waiting is the holder's turn; the others end it without a
// signature.
const (
	StatusSubmitting = "submitting"
	StatusWaiting    = "waiting"
	StatusRefused    = store.PendingRefused
	StatusTimedOut   = store.PendingTimedOut
	StatusFailed     = store.PendingFailed
)

// Remote is remote signing: the holder's key is on a SIM card (ETSI TS 102 204) or with
// a cloud signing service (CSC API), and the holder confirms each signature on the
// phone. Tickets live in the pending signature's state, so any replica, or this one
// after a restart, finishes what was submitted.
type Remote struct {
	// Providers are the configured services by their configured names.
	Providers map[string]remote.Provider
	// Timeout is the holder's answer time (0: the provider's default).
	Timeout time.Duration
	// Backoff paces the polls of each ticket; its Clock is the time the completer and
	// WaitRemote wait in (nil: the system clock).
	Backoff remote.Backoff
	// Scan is how often the completer reads the store for waiting tickets (default 1 s).
	Scan time.Duration
	// SubmitTimeout bounds one submission to the provider with its retries (default
	// 1 min). A request still submitting well after it was cut off by a crash.
	SubmitTimeout time.Duration
	// Log receives the completer's outcomes (nil: discarded). Never given a secret.
	Log *slog.Logger
}

// RemoteError is why a remote signature ended without a signature, shaped like a
// problem detail so that clients branch on Type.
type RemoteError = wire.RemoteError

// Progress counts the documents of a batch that are signed.
type Progress = wire.Progress

// remoteState is what a remote pending signature keeps besides the prepared layout.
type remoteState struct {
	Provider string `json:"provider"`
	Holder   string `json:"holder"`
	Display  string `json:"display_text"`
	Cert     []byte `json:"certificate"`
	Actor    string `json:"actor"`
	// RequestID is the request's ID at the provider (AP_TransID, CSC clientData),
	// fixed before it is sent so that an operator can match an interrupted one.
	RequestID string `json:"request_id,omitempty"`
	// SubmitAt is when the submission began (status submitting).
	SubmitAt time.Time `json:"submit_at,omitzero"`
	// Ticket is nil while the document queues behind an earlier one of its batch.
	Ticket *remote.Ticket `json:"ticket,omitempty"`
	// Index is this document's digest in Ticket.Request.Digests.
	Index int `json:"index"`
	// Batch lists the pending ids signed for one holder in one go, in order.
	Batch []string     `json:"batch,omitempty"`
	Error *RemoteError `json:"error,omitempty"`
}

// RemoteRequest asks a remote holder to sign one or more documents.
type RemoteRequest struct {
	// Documents are prepared as Prepare would; all for the same holder and certificate.
	Documents   []PrepareRequest
	Provider    string // a configured provider's name
	Holder      string // MSISDN or CSC credential id
	DisplayText string
}

// ErrNoProvider is a provider name that is not configured.
var ErrNoProvider = errors.New("service: no such remote signing provider")

// ErrUntrustedHolder is a holder certificate that does not chain to the trust anchors:
// the holder is not asked to sign with it.
var ErrUntrustedHolder = errors.New("service: the holder's certificate is not valid under the configured trust anchors")

// errInterrupted ends a request that was cut off between "submitting" and the stored
// ticket. See PrepareRemote.
var errInterrupted = errors.New("service: remote signature interrupted before the provider confirmed receipt; not re-submitted because the holder may already have been asked")

// PrepareRemote prepares every document, submits the digests to the provider (one
// confirmation for all when it signs batches, otherwise the first now and the others
// after it) and returns the pending signatures in the waiting state. A provider that
// cannot be reached fails the call; the request is sent again only when it provably
// never left this process.
//
// The holder's certificate comes from the provider where it tells it (CSC
// credentials/info; remote.Certifier), otherwise from the request, and must chain to
// the trust anchors before any phone rings.
//
// Durability of the submission: the rows are stored as "submitting", with the
// request's ID, BEFORE the provider is called, and become "waiting" with the ticket
// after. A crash in between leaves a submitting row, which the completer (RunRemote)
// ends as failed ("remote/interrupted") once the submission's time (SubmitTimeout)
// is surely over. It is never re-submitted and never resumed: neither TS 102 204
// (MSS_StatusReq needs the MSSP_TransID of the lost answer) nor CSC v2 (the SAD or
// the approval handle of the lost answer) can find a transaction by the client's own
// request ID, and sending it again could ring the phone twice for one signature. The
// error names the request ID so that an operator can reconcile with the provider.
func (s *Service) PrepareRemote(ctx context.Context, req RemoteRequest) ([]*Pending, error) {
	if s.Remote == nil {
		return nil, fault.Errorf(fault.Invalid, "remote signing is not configured")
	}
	prov, ok := s.Remote.Providers[req.Provider]
	if !ok {
		return nil, fault.Wrap(fault.Invalid, ErrNoProvider, fmt.Sprintf("no remote signing provider %q is configured", req.Provider))
	}
	if req.Holder == "" || len(req.Documents) == 0 {
		return nil, fault.Errorf(fault.Invalid, "a holder and at least one document are required")
	}
	if err := s.holderCertificate(ctx, prov, &req); err != nil {
		return nil, err
	}
	var (
		views  []*Pending
		states []*pendingState
	)
	for _, d := range req.Documents {
		v, err := s.Prepare(ctx, d)
		if err != nil {
			s.abandon(ctx, views, err)
			return nil, err
		}
		_, st, err := s.loadPending(ctx, v.ID)
		if err != nil {
			return nil, err
		}
		views, states = append(views, v), append(states, st)
	}
	ids := make([]string, len(views))
	for i, v := range views {
		ids[i] = v.ID
	}
	first := req.Documents[0]
	// One confirmation covers as many documents as the provider signs in one request.
	per := 1
	if b, ok := prov.(remote.Batcher); ok && len(views) > 1 {
		if n, err := b.MaxBatch(ctx, req.Holder); err == nil && n >= len(views) {
			per = len(views)
		}
	}
	var digests [][]byte
	for _, v := range views[:per] {
		digests = append(digests, v.Digest)
	}
	r, err := s.newRemoteRequest(req.Holder, views[0].Algorithm, digests, req.DisplayText)
	if err != nil {
		s.abandon(ctx, views, err)
		return nil, err
	}
	// Store the intent first: the submitted ones as submitting, the others queued.
	now := s.now()
	for i, v := range views {
		rs := &remoteState{Provider: req.Provider, Holder: req.Holder, Display: req.DisplayText,
			Cert: first.Certificate.Raw, Actor: req.Documents[i].actor()}
		if len(views) > 1 {
			rs.Batch = ids
		}
		to := StatusWaiting
		if i < per {
			rs.RequestID, rs.SubmitAt, rs.Index, to = r.ID, now, i, StatusSubmitting
		}
		states[i].Remote = rs
		if err := s.moveRemote(ctx, v.ID, states[i], statusPending, to); err != nil {
			s.abandon(ctx, views, err)
			return nil, err
		}
		v.Status = to
	}
	sctx, cancel := context.WithTimeout(ctx, s.Remote.submitTimeout())
	ticket, err := s.submitRemote(sctx, prov, r)
	cancel()
	if err != nil {
		s.abandon(ctx, views, err)
		return nil, err
	}
	for i, v := range views {
		rs := states[i].Remote
		if i < per {
			rs.Ticket, rs.SubmitAt = &ticket, time.Time{}
			if err := s.moveRemote(ctx, v.ID, states[i], StatusSubmitting, StatusWaiting); err != nil {
				return nil, err
			}
		}
		v.Status = StatusWaiting
		v.Provider, v.Holder, v.Error, v.Batch = rs.Provider, rs.Holder, rs.Error, rs.Batch
	}
	return views, nil
}

// holderCertificate sets the documents' certificate from the provider when it tells
// it (a differing certificate in the request is refused), and checks that it chains
// to the trust anchors at the current time.
func (s *Service) holderCertificate(ctx context.Context, prov remote.Provider, req *RemoteRequest) error {
	if c, ok := prov.(remote.Certifier); ok {
		cert, chain, err := c.HolderCertificate(ctx, req.Holder)
		if err != nil {
			return fmt.Errorf("service: remote signature: %w", err)
		}
		for i := range req.Documents {
			d := &req.Documents[i]
			if d.Certificate != nil && !d.Certificate.Equal(cert) {
				return fault.Errorf(fault.Invalid, "the certificate given is not the one of credential %q at provider %q", req.Holder, req.Provider)
			}
			d.Certificate, d.Chain = cert, chain
		}
	}
	cert := req.Documents[0].Certificate
	if cert == nil {
		return fault.Errorf(fault.Invalid, "the signer's certificate is required")
	}
	if len(s.Verify.Anchors) == 0 {
		return fault.Wrap(fault.Invalid, ErrUntrustedHolder, "the holder's certificate cannot be checked: no trust anchors are configured")
	}
	trust := pki.NewTrustStore(s.Verify.Anchors...)
	// the configuration's chain material too: Prepare's full check (signercheck.go)
	// follows, and embeds the chain it finds
	pool := append(append([]*x509.Certificate{}, req.Documents[0].Chain...), s.Verify.Intermediates...)
	if _, err := trust.BuildChain(cert, pool, s.now(), pki.ChainOptions{}); err != nil {
		return fault.Wrap(fault.Invalid, ErrUntrustedHolder, fmt.Sprintf("the holder's certificate %q is not valid under the configured trust anchors: %v", cert.Subject.CommonName, pki.ChainCause(err)))
	}
	return nil
}

// moveRemote stores st under the status `to`, from `from` (compare and set).
func (s *Service) moveRemote(ctx context.Context, id string, st *pendingState, from, to string) error {
	raw, err := json.Marshal(st)
	if err != nil {
		return err
	}
	return s.Store.UpdatePending(ctx, id, from, to, raw)
}

// abandon ends prepared signatures whose submission failed, so that nothing waits.
func (s *Service) abandon(ctx context.Context, views []*Pending, cause error) {
	for _, v := range views {
		_ = s.endRemote(context.WithoutCancel(ctx), v.ID, v.Status, cause)
	}
}

func (r *Remote) submitTimeout() time.Duration {
	if r.SubmitTimeout > 0 {
		return r.SubmitTimeout
	}
	return time.Minute
}

func (s *Service) newRemoteRequest(holder, algorithm string, digests [][]byte, display string) (remote.Request, error) {
	opts, err := wire.SignerOpts(algorithm)
	if err != nil {
		return remote.Request{}, err
	}
	r, err := remote.NewRequest(remote.NewRequestID(), holder, digests, opts, display)
	if err != nil {
		return remote.Request{}, fault.Errorf(fault.Invalid, "%v", err)
	}
	r.Timeout = s.Remote.Timeout
	return r, nil
}

// submitRemote sends r, again only while it provably never left this process.
func (s *Service) submitRemote(ctx context.Context, prov remote.Provider, r remote.Request) (remote.Ticket, error) {
	const attempts = 3
	for i := 1; ; i++ {
		t, err := prov.Submit(ctx, r)
		if err == nil {
			return t, nil
		}
		if i == attempts || !remote.SafeToResubmit(err) {
			return remote.Ticket{}, fmt.Errorf("service: remote signature: %w", err)
		}
		if err := s.remoteClock().Sleep(ctx, time.Duration(i)*500*time.Millisecond); err != nil {
			return remote.Ticket{}, err
		}
	}
}

// endStatus maps why a wait ended to the status and problem callers see.
func endStatus(err error) (string, *RemoteError) {
	e := &RemoteError{Detail: err.Error()}
	switch {
	case errors.Is(err, remote.ErrRefused):
		e.Type, e.Title = "remote/refused", "The holder refused to sign."
		return StatusRefused, e
	case errors.Is(err, remote.ErrTimeout):
		e.Type, e.Title = "remote/timed-out", "The holder did not answer in time."
		return StatusTimedOut, e
	case errors.Is(err, remote.ErrUnknownHolder):
		e.Type, e.Title = "remote/unknown-holder", "The provider does not know this holder."
	case errors.Is(err, remote.ErrUnreachable):
		e.Type, e.Title = "remote/unreachable", "The signing provider could not be reached."
	case errors.Is(err, remote.ErrProviderRejected):
		e.Type, e.Title = "remote/rejected", "The signing provider rejected the request."
	case errors.Is(err, errInterrupted):
		e.Type, e.Title = "remote/interrupted", "The request was interrupted before the provider confirmed it; it was not sent again."
	case errors.Is(err, remote.ErrBadSignature):
		e.Type, e.Title = "remote/bad-signature", "The provider's signature does not verify with the holder's certificate."
	default:
		e.Type, e.Title = "remote/failed", "The signature could not be completed."
	}
	return StatusFailed, e
}

// endRemote moves a pending signature from `from` to its end status with the reason.
func (s *Service) endRemote(ctx context.Context, id, from string, cause error) error {
	_, st, err := s.loadPending(ctx, id)
	if err != nil {
		return err
	}
	status, prob := endStatus(cause)
	if st.Remote == nil {
		st.Remote = &remoteState{}
	}
	st.Remote.Error = prob
	raw, _ := json.Marshal(st)
	// the end and the voiding of a number reserved for an issue are one transaction
	return s.Store.EndPending(ctx, id, from, status, raw, prob.Title, "kyso")
}

// remoteProgress counts the signed documents of a batch.
func (s *Service) remoteProgress(ctx context.Context, batch []string) *Progress {
	if len(batch) == 0 {
		return nil
	}
	p := &Progress{Total: len(batch)}
	for _, id := range batch {
		if ps, err := s.Store.GetPending(ctx, id); err == nil && ps.Status == statusCompleted {
			p.Done++
		}
	}
	return p
}

// WaitRemote blocks until the remote signature id ends (completed, refused, timed out,
// failed) or ctx ends, and returns its state. The completer does the work; this only
// watches the store, so an abandoned wait leaves nothing running.
func (s *Service) WaitRemote(ctx context.Context, id string) (*Pending, error) {
	for {
		v, err := s.GetPending(ctx, Principal{}, id) // the caller was checked by WaitSignature
		if err != nil {
			return nil, err
		}
		if v.Status != StatusWaiting && v.Status != StatusSubmitting && v.Status != statusCompleting {
			return v, nil
		}
		if err := s.remoteClock().Sleep(ctx, 200*time.Millisecond); err != nil {
			return v, err
		}
	}
}

// RunRemote is the completer: one goroutine, the caller's, until ctx ends. It reads
// the waiting tickets from the store (so it resumes what a stopped process left),
// polls each with the provider's back-off, and completes or ends the signatures.
func (s *Service) RunRemote(ctx context.Context) error {
	if s.Remote == nil {
		return nil
	}
	scan := s.Remote.Scan
	if scan <= 0 {
		scan = time.Second
	}
	c := &completer{s: s, next: map[string]pollPace{}}
	for {
		c.round(ctx)
		if err := s.remoteClock().Sleep(ctx, scan); err != nil {
			return nil
		}
	}
}

type pollPace struct {
	at       time.Time
	interval time.Duration
}

type completer struct {
	s    *Service
	next map[string]pollPace // by ticket ref: when to poll it next
}

func (c *completer) log() *slog.Logger {
	if c.s.Remote.Log != nil {
		return c.s.Remote.Log
	}
	return slog.New(slog.DiscardHandler)
}

// round ends what a stopped process left submitting, then handles every waiting row
// once: submit the queued whose turn it is, poll the tickets that are due. Rows that
// share a ticket (a batch) are polled once.
func (c *completer) round(ctx context.Context) {
	c.endInterrupted(ctx)
	c.resumeCompleting(ctx)
	rows, err := c.s.Store.ListPendingByStatus(ctx, StatusWaiting)
	if err != nil {
		if ctx.Err() == nil {
			c.log().Warn("remote: reading waiting signatures", "err", err)
		}
		return
	}
	type group struct {
		ticket remote.Ticket
		rs     []*remoteState
		ids    []string
		states []*pendingState
	}
	groups := map[string]*group{}
	var order []string
	for _, row := range rows {
		st, err := decodePending(&row)
		if err != nil || st.Remote == nil {
			continue
		}
		rs := st.Remote
		if rs.Ticket == nil {
			c.submitQueued(ctx, row.ID, st)
			continue
		}
		key := rs.Provider + "\x00" + rs.Ticket.Ref
		g, ok := groups[key]
		if !ok {
			g = &group{ticket: *rs.Ticket}
			groups[key] = g
			order = append(order, key)
		}
		g.rs, g.ids, g.states = append(g.rs, rs), append(g.ids, row.ID), append(g.states, st)
	}
	live := map[string]bool{}
	for _, key := range order {
		live[key] = true
		if ctx.Err() != nil {
			return
		}
		g := groups[key]
		if !c.due(key, g.ticket) {
			continue
		}
		prov, ok := c.s.Remote.Providers[g.rs[0].Provider]
		if !ok {
			for _, id := range g.ids {
				_ = c.s.endRemote(ctx, id, StatusWaiting, fmt.Errorf("%w: provider %q is no longer configured", remote.ErrProviderRejected, g.rs[0].Provider))
			}
			continue
		}
		res, err := prov.Poll(ctx, g.ticket)
		switch {
		case ctx.Err() != nil:
			return
		case errors.Is(err, remote.ErrPending), errors.Is(err, remote.ErrUnreachable):
			// A status query changes nothing on the provider: ask again later, until
			// the holder's time (and a grace) is over.
			if c.s.remoteClock().Now().After(g.ticket.Deadline.Add(c.grace())) && !g.ticket.Deadline.IsZero() {
				for _, id := range g.ids {
					_ = c.s.endRemote(ctx, id, StatusWaiting, &remote.Error{Provider: g.ticket.Provider, Op: "wait",
						Kind: remote.ErrTimeout, Message: "no answer by " + g.ticket.Deadline.Format(time.RFC3339)})
				}
				delete(c.next, key)
			}
			continue
		case err != nil:
			for _, id := range g.ids {
				_ = c.s.endRemote(ctx, id, StatusWaiting, err)
			}
			delete(c.next, key)
			continue
		}
		delete(c.next, key)
		cert, err := x509.ParseCertificate(g.rs[0].Cert)
		if err != nil {
			c.log().Error("remote: stored certificate", "err", err)
			continue
		}
		sigs, err := remote.Signatures(res, g.ticket.Request, cert.PublicKey)
		for i, id := range g.ids {
			if err != nil {
				_ = c.s.endRemote(ctx, id, StatusWaiting, err)
				continue
			}
			c.finish(ctx, id, g.states[i], sigs[g.rs[i].Index])
		}
	}
	for key := range c.next {
		if !live[key] {
			delete(c.next, key)
		}
	}
}

func (c *completer) grace() time.Duration {
	if g := c.s.Remote.Backoff.Grace; g > 0 {
		return g
	}
	return 10 * time.Second
}

// due says whether a ticket's next poll has come, and schedules the one after it:
// first after Backoff.First from submission, then doubling from Interval up to Max.
func (c *completer) due(key string, t remote.Ticket) bool {
	b := c.s.Remote.Backoff
	first, interval, maxi := b.First, b.Interval, b.Max
	if first <= 0 {
		first = 5 * time.Second
	}
	if interval <= 0 {
		interval = 2 * time.Second
	}
	if maxi < interval {
		maxi = max(interval, 10*time.Second)
	}
	p, ok := c.next[key]
	if !ok {
		p = pollPace{at: t.Submitted.Add(first), interval: interval}
	}
	now := c.s.remoteClock().Now()
	if now.Before(p.at) {
		c.next[key] = p
		return false
	}
	c.next[key] = pollPace{at: now.Add(p.interval), interval: min(2*p.interval, maxi)}
	return true
}

// finish claims the row (compare and swap, so that one replica completes it) and
// embeds the signature exactly as Complete does.
func (c *completer) finish(ctx context.Context, id string, st *pendingState, sig []byte) {
	s := c.s
	if err := s.Store.UpdatePending(ctx, id, StatusWaiting, statusCompleting, nil); err != nil {
		return // another replica has it
	}
	rs := st.Remote
	v, err := s.complete(ctx, id, st, CompleteRequest{Signature: sig, Actor: rs.Actor,
		KeyURI: "remote:" + rs.Provider + ":" + rs.Holder})
	if err != nil {
		c.log().Error("remote: completing", "pending_id", id, "err", err)
		_ = s.endRemote(context.WithoutCancel(ctx), id, statusCompleting, err)
		return
	}
	c.log().Info("remote signature completed", "pending_id", id, "document_id", st.documentID, "version", v.Seq)
}

// submitQueued sends a batch document that waits for its turn: once every earlier
// document of its batch has ended, so that the phone shows one request at a time. It
// goes through "submitting" as PrepareRemote does, which also claims the row, so that
// two replicas do not both ask the holder.
func (c *completer) submitQueued(ctx context.Context, id string, st *pendingState) {
	s, rs := c.s, st.Remote
	at := slices.Index(rs.Batch, id)
	if at > 0 {
		prev, err := s.Store.GetPending(ctx, rs.Batch[at-1])
		if err == nil && slices.Contains([]string{StatusWaiting, StatusSubmitting, statusCompleting, statusPending}, prev.Status) {
			return
		}
	}
	prov, ok := s.Remote.Providers[rs.Provider]
	if !ok {
		_ = s.endRemote(ctx, id, StatusWaiting, fmt.Errorf("%w: provider %q is no longer configured", remote.ErrProviderRejected, rs.Provider))
		return
	}
	r, err := s.newRemoteRequest(rs.Holder, st.Shown.Algorithm, [][]byte{st.Prepared.SignedAttrsDigest()}, rs.Display)
	if err != nil {
		_ = s.endRemote(ctx, id, StatusWaiting, err)
		return
	}
	rs.RequestID, rs.SubmitAt, rs.Index = r.ID, s.now(), 0
	if err := s.moveRemote(ctx, id, st, StatusWaiting, StatusSubmitting); err != nil {
		return // another replica has it
	}
	sctx, cancel := context.WithTimeout(ctx, s.Remote.submitTimeout())
	t, err := s.submitRemote(sctx, prov, r)
	cancel()
	if err != nil {
		_ = s.endRemote(context.WithoutCancel(ctx), id, StatusSubmitting, err)
		return
	}
	rs.Ticket, rs.SubmitAt = &t, time.Time{}
	if err := s.moveRemote(context.WithoutCancel(ctx), id, st, StatusSubmitting, StatusWaiting); err != nil {
		c.log().Error("remote: storing ticket", "pending_id", id, "err", err)
	}
}

// interruptedAfter is how long past its SubmitTimeout a submitting row is surely
// abandoned: the live submission writes its outcome right after its deadline.
const interruptedAfter = 2 * time.Second

// endInterrupted ends the requests that a stopped process left submitting (see
// PrepareRemote): failed, never sent again.
func (c *completer) endInterrupted(ctx context.Context) {
	rows, err := c.s.Store.ListPendingByStatus(ctx, StatusSubmitting)
	if err != nil {
		if ctx.Err() == nil {
			c.log().Warn("remote: reading submitting signatures", "err", err)
		}
		return
	}
	cutoff := c.s.now().Add(-c.s.Remote.submitTimeout() - interruptedAfter)
	for _, row := range rows {
		var st pendingState
		if json.Unmarshal(row.State, &st) != nil || st.Remote == nil || st.Remote.SubmitAt.After(cutoff) {
			continue
		}
		rs := st.Remote
		cause := fmt.Errorf("%w (provider %q, holder %q, request %s, submission began %s)", errInterrupted,
			rs.Provider, rs.Holder, rs.RequestID, rs.SubmitAt.UTC().Format(time.RFC3339))
		if err := c.s.endRemote(ctx, row.ID, StatusSubmitting, cause); err == nil {
			c.log().Warn("remote: interrupted submission ended, not re-submitted", "pending_id", row.ID, "request_id", rs.RequestID)
		}
	}
}

// resumeCompleting puts back to waiting a remote signature left "completing" past the
// grace: a crash cut off its completion, which wrote no version (the version and the
// end of the pending signature share one transaction). Its ticket is then polled
// again; a provider that still holds the answer gives the same signature, one that
// does not ends the request with its reason. The phone is not asked again.
func (c *completer) resumeCompleting(ctx context.Context) {
	rows, err := c.s.Store.ListPendingByStatus(ctx, statusCompleting)
	if err != nil {
		if ctx.Err() == nil {
			c.log().Warn("remote: reading completing signatures", "err", err)
		}
		return
	}
	for _, row := range rows {
		var st pendingState
		if !c.s.cutOff(row) || json.Unmarshal(row.State, &st) != nil || st.Remote == nil || st.Remote.Ticket == nil {
			continue
		}
		if err := c.s.Store.UpdatePending(ctx, row.ID, statusCompleting, StatusWaiting, nil); err == nil {
			c.log().Warn("remote: completion cut off, polling the ticket again", "pending_id", row.ID)
		}
	}
}

// remoteClock is the time remote signatures are waited in (Remote.Backoff.Clock).
func (s *Service) remoteClock() remote.Clock {
	if s.Remote == nil {
		return remote.SystemClock
	}
	return remote.ClockOrSystem(s.Remote.Backoff.Clock)
}
