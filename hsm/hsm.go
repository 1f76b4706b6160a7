// Package hsm hands out crypto.Signers for keys held in PKCS#11 modules (HSMs and USB
// tokens), in remote signing services (SIM PKI, CSC API) and, for demos only, in
// software key files.
//
// Every key is named by a URI: "pkcs11:" (RFC 7512) or "softkey:" (a demo key file).
// The small core is Key, a crypto.Signer that also takes a context (a remote signer may
// wait minutes for a person and must stop when the caller goes away) and carries the
// certificate the provider holds for it.
//
// This package must never import signer/, api/, pkg/service or anything HTTP-facing.
package hsm

import (
	"context"
	"crypto"
	"crypto/x509"
	"io"
)

// Key is a signing key handed out by a provider.
type Key interface {
	crypto.Signer
	// SignContext signs digest like crypto.Signer.Sign, and gives up when ctx ends.
	// opts is a crypto.Hash (RSA PKCS#1 v1.5, ECDSA) or *rsa.PSSOptions (RSA-PSS).
	SignContext(ctx context.Context, digest []byte, opts crypto.SignerOpts) ([]byte, error)
	// Certificate is the key's certificate, or nil when the provider holds none.
	Certificate() *x509.Certificate
	// Chain is the issuer certificates the provider holds for the key, nearest first;
	// possibly empty.
	Chain() []*x509.Certificate
}

// Provider opens keys named by URIs of one scheme.
type Provider interface {
	// Open resolves uri to a key. It never logs or returns the PIN.
	Open(ctx context.Context, uri string) (Key, error)
	io.Closer
}
