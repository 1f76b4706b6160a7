// Package remote signs digests with keys a person holds elsewhere: a SIM card behind a
// mobile signature service (ETSI TS 102 204, the government CA's SIM PKI) or a cloud
// signing service (Cloud Signature Consortium API v2: VNPT SmartCA, Viettel MySign and
// Kyso's own /csc/v2). Ký số từ xa: the holder confirms on the phone, which can take
// minutes, so a signature is a Request submitted to a Provider, a Ticket that can be
// stored (JSON) and polled again by another process after a restart, and a Result.
//
// Key adapts a Provider to hsm.Key for the one signing pipeline: SignContext submits,
// polls with a bounded back-off, gives up when its context ends, and leaves no
// goroutine behind. Neither TS 102 204 nor CSC v2 has a message that withdraws a
// request from the phone, so a cancelled wait only stops polling; the request expires
// on the provider at the Ticket's deadline.
//
// Errors a caller branches on are the sentinels below, wrapped in *Error with the
// provider's own code and text. ErrUnreachable is the only one worth retrying, and a
// submission is retried only when it provably never left this process (SafeToResubmit):
// a holder must never see the same request twice.
//
// This package must never import api/, app, gin or gorm (it reads CMS with signer/cms, the foundation).
package remote

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
	"time"
)

// Errors a caller branches on.
var (
	// ErrPending: the holder has not answered yet; poll again later.
	ErrPending = errors.New("remote: waiting for the holder to confirm")
	// ErrRefused: the holder refused (cancelled on the phone, denied in the app).
	ErrRefused = errors.New("remote: the holder refused to sign")
	// ErrTimeout: the holder did not answer before the request expired.
	ErrTimeout = errors.New("remote: the holder did not answer in time")
	// ErrUnknownHolder: the provider knows no such phone number or credential.
	ErrUnknownHolder = errors.New("remote: unknown holder")
	// ErrUnreachable: the provider could not be reached or failed on its side; a poll
	// may be retried, a submission only when SafeToResubmit says so.
	ErrUnreachable = errors.New("remote: signing provider unreachable")
	// ErrProviderRejected: the provider refused the request itself (bad parameters,
	// blocked card, revoked certificate, wrong credentials); retrying cannot help.
	ErrProviderRejected = errors.New("remote: signing provider rejected the request")
	// ErrBadSignature: the provider answered a signature that does not verify with the
	// holder's certificate.
	ErrBadSignature = errors.New("remote: signature from the provider does not verify")
)

// Error is a provider's answer that ended a request, with the protocol's own code.
type Error struct {
	Provider string // "mss" or "csc"
	Op       string // the protocol operation: "MSS_Signature", "signatures/signHash", …
	Kind     error  // one of the sentinels above
	Code     string // the provider's status or error code ("401", "access_denied")
	Message  string // the provider's text, for people
	// NotSent is true when the request provably never reached the provider (the
	// connection was refused), so submitting it again cannot show the holder twice.
	NotSent bool
	Err     error // the underlying cause, if any
}

func (e *Error) Error() string {
	s := e.Kind.Error() + " (" + e.Provider + " " + e.Op
	if e.Code != "" {
		s += " " + e.Code
	}
	s += ")"
	if e.Message != "" {
		s += ": " + e.Message
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *Error) Unwrap() []error {
	if e.Err == nil {
		return []error{e.Kind}
	}
	return []error{e.Kind, e.Err}
}

// SafeToResubmit reports whether a failed Submit may be sent again: only when the
// provider was unreachable and the request never left this process.
func SafeToResubmit(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Kind == ErrUnreachable && e.NotSent
}

// Request asks a holder to sign one or more digests.
type Request struct {
	// ID identifies the request for the caller and the provider (TS 102 204
	// AP_TransID, CSC clientData); unique per request, at most 64 characters.
	ID string `json:"id"`
	// Holder is the phone number (MSISDN, "+84…" or "84…") for TS 102 204, or the
	// credential ID for CSC.
	Holder string `json:"holder"`
	// Digests are the hashes to sign, all made with Hash. More than one only where
	// the provider signs a batch with one confirmation (see Batcher).
	Digests [][]byte    `json:"digests"`
	Hash    crypto.Hash `json:"hash"`
	// PSS asks for RSASSA-PSS instead of PKCS#1 v1.5, with a salt of SaltLength
	// bytes (0: as long as the hash).
	PSS        bool `json:"pss,omitempty"`
	SaltLength int  `json:"salt_length,omitempty"`
	// DisplayText is shown to the holder on the phone: say which document.
	DisplayText string `json:"display_text"`
	// Timeout is how long the holder has to answer (0: the provider's default).
	Timeout time.Duration `json:"timeout,omitempty"`
}

// Ticket is a submitted request. It is plain data: store it (JSON) and Poll it from
// any process, before or after a restart, with a Provider configured the same way.
type Ticket struct {
	Provider string  `json:"provider"`
	Request  Request `json:"request"`
	// Ref is the provider's transaction reference (MSSP_TransID, CSC handle).
	Ref string `json:"ref"`
	// Submitted is when the provider accepted the request; Deadline is when the holder
	// can no longer answer it.
	Submitted time.Time `json:"submitted"`
	Deadline  time.Time `json:"deadline"`
	// Signatures holds the answer when the provider gave it with the submission (a
	// CSC credential that needs no out-of-band approval). Signatures are not secret.
	Signatures [][]byte `json:"signatures,omitempty"`
}

// Result is the holder's answer.
type Result struct {
	// Signatures are the raw signatures over Request.Digests, in order. Empty when the
	// provider answered a CMS instead.
	Signatures [][]byte
	// CMS is a DER CMS SignedData when the provider wraps the signature (TS 102 204
	// PKCS7 format); use RawSignature to get the bare signature out of it.
	CMS []byte
}

// Provider is a remote signing service.
type Provider interface {
	// Name is the protocol's short name, stored in Tickets ("mss", "csc").
	Name() string
	// Submit sends the request to the holder. An error wraps one of the sentinels.
	Submit(ctx context.Context, r Request) (Ticket, error)
	// Poll asks once for the answer: ErrPending while the holder has not answered.
	Poll(ctx context.Context, t Ticket) (*Result, error)
}

// Batcher is a Provider that signs several digests with one confirmation.
type Batcher interface {
	// MaxBatch is how many digests one request for holder may carry.
	MaxBatch(ctx context.Context, holder string) (int, error)
}

// Certifier is a Provider that tells a holder's certificate itself (CSC
// credentials/info), so that the caller need not be trusted to name it. The caller
// still checks that it chains to its trust anchors.
type Certifier interface {
	// HolderCertificate is the holder's certificate and its chain, nearest issuer first.
	HolderCertificate(ctx context.Context, holder string) (*x509.Certificate, []*x509.Certificate, error)
}

// checkDigests refuses digests that do not fit hash, before a holder sees anything.
func checkDigests(r Request) error {
	switch r.Hash {
	case crypto.SHA256, crypto.SHA384, crypto.SHA512:
	default:
		return fmt.Errorf("remote: hash %v not allowed (SHA-256, SHA-384, SHA-512)", r.Hash)
	}
	if len(r.Digests) == 0 {
		return errors.New("remote: no digest to sign")
	}
	for i, d := range r.Digests {
		if len(d) != r.Hash.Size() {
			return fmt.Errorf("remote: digest %d is %d bytes, %v needs %d", i, len(d), r.Hash, r.Hash.Size())
		}
	}
	if r.Holder == "" {
		return errors.New("remote: no holder")
	}
	if r.ID == "" || len(r.ID) > 64 {
		return errors.New("remote: a request needs an ID of 1 to 64 characters")
	}
	return nil
}

// saltLength is the PSS salt length a Request asks for.
func (r Request) saltLength() int {
	if r.SaltLength > 0 {
		return r.SaltLength
	}
	return r.Hash.Size()
}

// NewRequest is a Request for digests signed as opts says (a crypto.Hash, or
// *rsa.PSSOptions), checked before any holder sees it: the server's two-phase path
// builds one from pades.Prepared's SignedAttrsDigest and SignatureOpts, Submits it and
// stores the Ticket.
func NewRequest(id, holder string, digests [][]byte, opts crypto.SignerOpts, displayText string) (Request, error) {
	h, pss, salt, err := hashAndPSS(opts)
	if err != nil {
		return Request{}, err
	}
	r := Request{ID: id, Holder: holder, Digests: digests, Hash: h, PSS: pss, SaltLength: salt, DisplayText: displayText}
	if err := checkDigests(r); err != nil {
		return Request{}, err
	}
	return r, nil
}

// hashAndPSS splits SignerOpts into the serialisable fields of a Request: the hash,
// whether PSS, and the salt length (0 for the hash's length, which
// PSSSaltLengthAuto means here too, as verifiers expect).
func hashAndPSS(opts crypto.SignerOpts) (crypto.Hash, bool, int, error) {
	if opts == nil {
		return 0, false, 0, errors.New("remote: no signer options")
	}
	if pss, ok := opts.(*rsa.PSSOptions); ok {
		salt := pss.SaltLength
		if salt < 0 {
			salt = 0
		}
		return pss.Hash, true, salt, nil
	}
	return opts.HashFunc(), false, 0, nil
}
