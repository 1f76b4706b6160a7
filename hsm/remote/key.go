package remote

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/kyso-vn/kyso/hsm"
)

// Backoff paces the polls of a waiting request. The zero value is the default.
type Backoff struct {
	// First is the wait before the first poll: a person needs seconds to read the
	// phone, and FiCom's MSS guideline asks for no earlier query (default 5 s).
	First time.Duration
	// Interval is the wait after the first poll (default 2 s); it doubles after each
	// poll up to Max (default 10 s).
	Interval, Max time.Duration
	// Grace is how long after the Ticket's deadline polling goes on, for a provider
	// that reports an expiry late (default 10 s). Then the wait ends with ErrTimeout.
	Grace time.Duration
	// Clock measures the waits and the deadline (nil: the system clock).
	Clock Clock
}

func (b Backoff) withDefaults() Backoff {
	if b.First <= 0 {
		b.First = 5 * time.Second
	}
	if b.Interval <= 0 {
		b.Interval = 2 * time.Second
	}
	if b.Max <= 0 {
		b.Max = 10 * time.Second
	}
	if b.Max < b.Interval {
		b.Max = b.Interval
	}
	if b.Grace <= 0 {
		b.Grace = 10 * time.Second
	}
	return b
}

// Wait polls t until the holder answers, the request fails, the Ticket's deadline (plus
// Grace) passes (ErrTimeout) or ctx ends (ctx's error). It runs in the caller's
// goroutine. ErrUnreachable from a poll is retried (a status query changes nothing on
// the provider); any other error ends the wait. It serves a resumed Ticket as well as a
// fresh one.
func Wait(ctx context.Context, p Provider, t Ticket, b Backoff) (*Result, error) {
	if len(t.Signatures) > 0 {
		return &Result{Signatures: t.Signatures}, nil
	}
	b = b.withDefaults()
	clock := ClockOrSystem(b.Clock)
	delay := b.First
	if since := clock.Now().Sub(t.Submitted); !t.Submitted.IsZero() && since > 0 {
		// A resumed ticket has waited already: do not hold the first poll back again.
		delay = max(0, delay-since)
	}
	next := b.Interval
	var lastErr error
	for {
		if err := clock.Sleep(ctx, delay); err != nil {
			return nil, err
		}
		res, err := p.Poll(ctx, t)
		switch {
		case err == nil:
			return res, nil
		case ctx.Err() != nil:
			return nil, ctx.Err()
		case errors.Is(err, ErrPending):
			lastErr = nil
		case errors.Is(err, ErrUnreachable):
			lastErr = err
		default:
			return nil, err
		}
		if !t.Deadline.IsZero() && clock.Now().After(t.Deadline.Add(b.Grace)) {
			e := &Error{Provider: t.Provider, Op: "wait", Kind: ErrTimeout,
				Message: fmt.Sprintf("no answer by %s", t.Deadline.Format(time.RFC3339))}
			if lastErr != nil {
				e.Err = lastErr
			}
			return nil, e
		}
		delay, next = next, min(2*next, b.Max)
	}
}

// Key is a remote holder's key as an hsm.Key: each signature is a Request to the
// holder's phone, waited for in the caller's goroutine.
type Key struct {
	Provider Provider
	// Holder is the phone number or credential ID; Cert and Chain come from the
	// provider (MSS_Registration, credentials/info) or the trust store.
	Holder string
	Cert   *x509.Certificate
	Issuer []*x509.Certificate
	// DisplayText is shown on the phone for every signature of this key.
	DisplayText string
	// Timeout is how long the holder has (0: the provider's default).
	Timeout time.Duration
	Backoff Backoff
	// Submits is how many times a submission that never left this process is tried
	// (default 3).
	Submits int
	// OnSubmit, when set, is called with each Ticket as soon as the provider accepts
	// it, so the caller can store it and resume the wait after a restart. An error
	// ends the signature (the request then expires unanswered on the provider).
	OnSubmit func(context.Context, Ticket) error
}

var _ hsm.Key = (*Key)(nil)

// Public is the certificate's public key.
func (k *Key) Public() crypto.PublicKey {
	if k.Cert == nil {
		return nil
	}
	return k.Cert.PublicKey
}

// Certificate is the holder's certificate.
func (k *Key) Certificate() *x509.Certificate { return k.Cert }

// Chain is the issuer certificates, nearest first.
func (k *Key) Chain() []*x509.Certificate { return k.Issuer }

// Sign is SignContext without a deadline of its own: the provider's timeout bounds it.
func (k *Key) Sign(_ io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	return k.SignContext(context.Background(), digest, opts)
}

// SignContext asks the holder to sign digest and waits for the answer. The signature
// is verified with the certificate before it is returned.
func (k *Key) SignContext(ctx context.Context, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	sigs, err := k.SignDigests(ctx, [][]byte{digest}, opts, nil)
	if err != nil {
		return nil, err
	}
	return sigs[0], nil
}

// SignDigests signs several digests: in one request per batch where the provider signs
// batches (Batcher, one confirmation), otherwise one request per digest. progress, when
// set, is called after each answered request with how many digests are signed so far.
// On an error the signatures made so far are returned with it.
func (k *Key) SignDigests(ctx context.Context, digests [][]byte, opts crypto.SignerOpts, progress func(done, total int)) ([][]byte, error) {
	if k.Cert == nil {
		return nil, errors.New("remote: key has no certificate to check signatures with")
	}
	if _, ok := opts.(*rsa.PSSOptions); ok {
		if _, ok := k.Cert.PublicKey.(*rsa.PublicKey); !ok {
			return nil, errors.New("remote: PSS needs an RSA key")
		}
	}
	batch := 1
	var err error
	if b, ok := k.Provider.(Batcher); ok && len(digests) > 1 {
		if batch, err = b.MaxBatch(ctx, k.Holder); err != nil {
			return nil, err
		}
		batch = max(batch, 1)
	}
	out := make([][]byte, 0, len(digests))
	for start := 0; start < len(digests); start += batch {
		part := digests[start:min(start+batch, len(digests))]
		text := k.DisplayText
		switch {
		case len(part) == len(digests):
		case len(part) == 1:
			text = fmt.Sprintf("%s (%d/%d)", k.DisplayText, start+1, len(digests))
		default:
			text = fmt.Sprintf("%s (%d-%d/%d)", k.DisplayText, start+1, start+len(part), len(digests))
		}
		r, err := NewRequest(NewRequestID(), k.Holder, part, opts, text)
		if err != nil {
			return out, err
		}
		r.Timeout = k.Timeout
		sigs, err := k.sign(ctx, r)
		if err != nil {
			return out, err
		}
		out = append(out, sigs...)
		if progress != nil {
			progress(len(out), len(digests))
		}
	}
	return out, nil
}

func (k *Key) sign(ctx context.Context, r Request) ([][]byte, error) {
	t, err := k.submit(ctx, r)
	if err != nil {
		return nil, err
	}
	if k.OnSubmit != nil {
		if err := k.OnSubmit(ctx, t); err != nil {
			return nil, fmt.Errorf("remote: storing the ticket: %w", err)
		}
	}
	res, err := Wait(ctx, k.Provider, t, k.Backoff)
	if err != nil {
		return nil, err
	}
	return Signatures(res, r, k.Cert.PublicKey)
}

// submit sends r, trying again only while the request never left this process.
func (k *Key) submit(ctx context.Context, r Request) (Ticket, error) {
	tries := k.Submits
	if tries <= 0 {
		tries = 3
	}
	delay := time.Second
	for i := 1; ; i++ {
		t, err := k.Provider.Submit(ctx, r)
		if err == nil || i == tries || !SafeToResubmit(err) {
			return t, err
		}
		if err := ClockOrSystem(k.Backoff.Clock).Sleep(ctx, delay); err != nil {
			return Ticket{}, err
		}
		delay *= 2
	}
}

// Signatures takes the raw signatures out of res (from its CMS when the provider
// answered one) and checks each over r's digests with pub.
func Signatures(res *Result, r Request, pub crypto.PublicKey) ([][]byte, error) {
	sigs := res.Signatures
	if len(sigs) == 0 && res.CMS != nil {
		sig, err := RawSignature(res.CMS)
		if err != nil {
			return nil, err
		}
		sigs = [][]byte{sig}
	}
	if len(sigs) != len(r.Digests) {
		return nil, fmt.Errorf("%w: %d signatures for %d digests", ErrBadSignature, len(sigs), len(r.Digests))
	}
	for i, sig := range sigs {
		if err := verify(pub, r.Digests[i], sig, r); err != nil {
			return nil, fmt.Errorf("%w: signature %d: %v", ErrBadSignature, i, err)
		}
	}
	return sigs, nil
}

func verify(pub crypto.PublicKey, digest, sig []byte, r Request) error {
	switch pub := pub.(type) {
	case *rsa.PublicKey:
		if r.PSS {
			return rsa.VerifyPSS(pub, r.Hash, digest, sig, &rsa.PSSOptions{SaltLength: r.saltLength(), Hash: r.Hash})
		}
		return rsa.VerifyPKCS1v15(pub, r.Hash, digest, sig)
	case *ecdsa.PublicKey:
		if !ecdsa.VerifyASN1(pub, digest, sig) {
			return errors.New("ECDSA verification failed")
		}
		return nil
	}
	return fmt.Errorf("public key type %T", pub)
}

// NewRequestID is a random request ID (AP_TransID must be unique per AP).
func NewRequestID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b) // never fails (crypto/rand, Go 1.24+)
	return "kyso-" + hex.EncodeToString(b)
}
