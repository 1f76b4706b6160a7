// Package wire is the contract of the prepare/complete exchange between Kyso's server
// and the keys outside it (the desktop agent's USB token, a remote signer, another
// system): the pending signature as clients see it, the names of the signature
// algorithms and hashes, the certificate hash that says which certificate must sign,
// and the completion a client sends back. The API renders these types, the use-cases
// build them and the agent reads them; nobody keeps a copy.
//
// It is a leaf: no HTTP framework, no store.
package wire

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"strings"
	"time"

	"github.com/kyso-vn/kyso/pkg/fault"
)

// The statuses of a pending signature.
const (
	StatusPending    = "pending"    // waiting for the signature over Digest
	StatusCompleting = "completing" // a completion is being stored
	StatusCompleted  = "completed"  // signed; SignedVersion is the document's new version
	// Remote signatures only.
	StatusWaiting  = "waiting"   // the holder has been asked
	StatusRefused  = "refused"   // the holder said no
	StatusTimedOut = "timed_out" // the holder did not answer in time
	StatusFailed   = "failed"    // the provider failed; Error says why
)

// Pending is a prepared signature as callers see it (GET /v1/signatures/{id}): what
// the key must sign (Digest, with Algorithm), what the signer is shown, and until when.
type Pending struct {
	ID         string    `json:"id"`
	Status     string    `json:"status"`
	Digest     []byte    `json:"digest"`    // what the key signs
	Algorithm  string    `json:"algorithm"` // e.g. RSA-PKCS1v15-SHA-256, RSA-PSS-SHA-256, ECDSA-SHA-256
	Hash       string    `json:"hash"`      // SHA-256, SHA-384, SHA-512
	ExpiresAt  time.Time `json:"expires_at"`
	DocumentID int64     `json:"document_id"`
	Role       string    `json:"role"`
	// What the signer is shown: the document's summary, number and agency.
	Summary    string `json:"summary,omitempty"`
	Number     string `json:"number,omitempty"`
	Agency     string `json:"agency,omitempty"`
	Signer     string `json:"signer"`                   // the certificate's subject
	CertSHA256 string `json:"certificate_sha256"`       // which certificate must sign (CertificateHash)
	Version    int    `json:"signed_version,omitempty"` // set once completed
	// Remote signatures only: who was asked, why it ended without a signature, and
	// the documents signed with it in one go.
	Provider string       `json:"provider,omitempty"`
	Holder   string       `json:"holder,omitempty"`
	Error    *RemoteError `json:"error,omitempty"`
	Batch    []string     `json:"batch,omitempty"`
	Progress *Progress    `json:"progress,omitempty"`
}

// RemoteError is why a remote signature ended without a signature, shaped like a
// problem: Type is a stable URI (…/problems/remote/refused, …).
type RemoteError struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Detail string `json:"detail,omitempty"`
}

// Progress counts the signed documents of a batch.
type Progress struct {
	Done  int `json:"done"`
	Total int `json:"total"`
}

// Completion is what the key produced (POST /v1/signatures/{id}/complete): a raw
// signature over the digest, or a whole CMS SignedData made elsewhere. Exactly one is
// set; in JSON both are standard base64.
type Completion struct {
	Signature []byte `json:"signature,omitempty"`
	CMS       []byte `json:"cms,omitempty"`
}

// AlgorithmName names how pub signs with opts: "RSA-PKCS1v15-SHA-256",
// "RSA-PSS-SHA-384", "ECDSA-SHA-256".
func AlgorithmName(pub crypto.PublicKey, opts crypto.SignerOpts) string {
	h := HashName(opts.HashFunc())
	switch pub.(type) {
	case *rsa.PublicKey:
		if _, pss := opts.(*rsa.PSSOptions); pss {
			return "RSA-PSS-" + h
		}
		return "RSA-PKCS1v15-" + h
	}
	return "ECDSA-" + h
}

// SignerOpts turns an Algorithm back into the options to sign its digest with (what
// the desktop agent and remote signers do). An unknown name is fault.Invalid.
func SignerOpts(algorithm string) (crypto.SignerOpts, error) {
	hashes := map[string]crypto.Hash{"SHA-256": crypto.SHA256, "SHA-384": crypto.SHA384, "SHA-512": crypto.SHA512}
	for _, prefix := range []string{"RSA-PSS-", "RSA-PKCS1v15-", "ECDSA-"} {
		name, ok := strings.CutPrefix(algorithm, prefix)
		if !ok {
			continue
		}
		h, ok := hashes[name]
		if !ok {
			break
		}
		if prefix == "RSA-PSS-" {
			return &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: h}, nil
		}
		return h, nil
	}
	return nil, fault.Errorf(fault.Invalid, "unknown signature algorithm %q", algorithm)
}

// HashName is the name of h in an Algorithm: "SHA-256", "SHA-384", "SHA-512".
func HashName(h crypto.Hash) string {
	switch h {
	case crypto.SHA256:
		return "SHA-256"
	case crypto.SHA384:
		return "SHA-384"
	case crypto.SHA512:
		return "SHA-512"
	}
	return h.String()
}

// CertificateHash is Pending.CertSHA256 of c: the SHA-256 of its DER in unpadded
// base64url.
func CertificateHash(c *x509.Certificate) string {
	sum := sha256.Sum256(c.Raw)
	return base64.RawURLEncoding.EncodeToString(sum[:])
}
