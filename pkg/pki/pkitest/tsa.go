// Package pkitest starts the PKI services tests need, on loopback, torn down with
// t.Cleanup: the project's own RFC 3161 timestamp server (with faults to inject), the
// real `openssl ocsp` responder over the test PKI, and a CRL server.
//
// Test-only: nothing outside _test.go files and test helpers may import it. It is the
// only place under pkg/pki with HTTP-server code.
package pkitest

import (
	"crypto"
	"crypto/x509"
	"encoding/asn1"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/digitorus/timestamp"
)

// TSAPolicy is the policy the test TSA stamps under (ISO example arc: not a real one).
var TSAPolicy = asn1.ObjectIdentifier{2, 999, 2, 1}

// Fault makes the test TSA misbehave, for client tests.
type Fault int

const (
	// NoFault answers correctly.
	NoFault Fault = iota
	// FaultHTTP500 answers HTTP 500 with no body.
	FaultHTTP500
	// FaultRejected answers status rejection (badAlg).
	FaultRejected
	// FaultWrongImprint timestamps another digest than the one asked.
	FaultWrongImprint
	// FaultWrongNonce answers with another nonce.
	FaultWrongNonce
	// FaultNoNonce leaves the nonce out.
	FaultNoNonce
	// FaultGarbage answers bytes that are no timestamp reply.
	FaultGarbage
)

// TSAOptions shape the test TSA; change them at any time with (*TSA).Set.
type TSAOptions struct {
	// Delay holds each answer back (for timeout tests); the wait ends early when the
	// client goes away.
	Delay time.Duration
	Fault Fault
	// Clock gives genTime (default time.Now): a TSA in the past or the future.
	Clock func() time.Time
	// Hash signs the token (default SHA-256).
	Hash crypto.Hash
}

// TSA is a running test timestamp server.
type TSA struct {
	URL      string
	cert     *x509.Certificate
	key      crypto.Signer
	chain    []*x509.Certificate
	requests atomic.Int64
	mu       sync.Mutex
	opts     TSAOptions
}

// StartTSA starts an RFC 3161 server on 127.0.0.1 signing with cert and key; chain
// (issuer first) goes into each token with the TSA certificate.
func StartTSA(t testing.TB, cert *x509.Certificate, key crypto.Signer, chain []*x509.Certificate, opts ...TSAOptions) *TSA {
	t.Helper()
	s := &TSA{cert: cert, key: key, chain: chain}
	if len(opts) > 0 {
		s.opts = opts[0]
	}
	srv := httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(srv.Close)
	s.URL = srv.URL + "/tsa"
	return s
}

// Set replaces the options for the requests that follow.
func (s *TSA) Set(o TSAOptions) {
	s.mu.Lock()
	s.opts = o
	s.mu.Unlock()
}

// Requests is how many requests the server received.
func (s *TSA) Requests() int { return int(s.requests.Load()) }

func (s *TSA) serve(w http.ResponseWriter, r *http.Request) {
	s.requests.Add(1)
	s.mu.Lock()
	o := s.opts
	s.mu.Unlock()
	// The body is read before waiting: only then does net/http notice a client that
	// hangs up, and end r.Context().
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if r.Method != http.MethodPost || err != nil {
		http.Error(w, "POST a timestamp request", http.StatusBadRequest)
		return
	}
	if o.Delay > 0 {
		select {
		case <-time.After(o.Delay):
		case <-r.Context().Done():
			return
		}
	}
	req, err := timestamp.ParseRequest(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var reply []byte
	switch o.Fault {
	case FaultHTTP500:
		w.WriteHeader(http.StatusInternalServerError)
		return
	case FaultGarbage:
		reply = []byte("this is not a timestamp reply")
	case FaultRejected:
		reply, err = timestamp.CreateErrorResponse(timestamp.Rejection, timestamp.BadAlgorithm)
	default:
		now := time.Now
		if o.Clock != nil {
			now = o.Clock
		}
		nonce := req.Nonce
		imprint := req.HashedMessage
		switch o.Fault {
		case FaultWrongImprint:
			imprint = append([]byte{}, imprint...)
			imprint[0] ^= 0xff
		case FaultWrongNonce:
			nonce = new(big.Int).Add(req.Nonce, big.NewInt(1))
		case FaultNoNonce:
			nonce = nil
		}
		reply, err = MintReply(s.cert, s.key, s.chain, req.HashAlgorithm, imprint, nonce, now(), o.Hash)
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/timestamp-reply")
	_, _ = w.Write(reply)
}

// MintReply builds a granted TimeStampResp over imprint (made with hash) at genTime,
// signed with key under TSAPolicy using signHash (SHA-256 when zero). It is what the
// test TSA answers; fuzz seeds and offline tests call it directly.
func MintReply(cert *x509.Certificate, key crypto.Signer, chain []*x509.Certificate, hash crypto.Hash, imprint []byte, nonce *big.Int, genTime time.Time, signHash crypto.Hash) ([]byte, error) {
	if signHash == 0 {
		signHash = crypto.SHA256
	}
	ts := timestamp.Timestamp{
		HashAlgorithm:     hash,
		HashedMessage:     imprint,
		Time:              genTime.UTC().Truncate(time.Second),
		Accuracy:          time.Second,
		Nonce:             nonce,
		Policy:            TSAPolicy,
		AddTSACertificate: true,
		Certificates:      chain,
	}
	return ts.CreateResponseWithOpts(cert, key, signHash)
}

// MintToken is MintReply's token alone (the TimeStampToken inside the reply).
func MintToken(cert *x509.Certificate, key crypto.Signer, chain []*x509.Certificate, hash crypto.Hash, imprint []byte, genTime time.Time) ([]byte, error) {
	reply, err := MintReply(cert, key, chain, hash, imprint, big.NewInt(1), genTime, 0)
	if err != nil {
		return nil, err
	}
	var resp struct {
		Status asn1.RawValue
		Token  asn1.RawValue
	}
	if _, err := asn1.Unmarshal(reply, &resp); err != nil {
		return nil, err
	}
	return resp.Token.FullBytes, nil
}
