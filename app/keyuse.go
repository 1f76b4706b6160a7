package app

import (
	"context"
	"crypto"
	"encoding/hex"
	"io"

	"github.com/kyso-vn/kyso/hsm"
	"github.com/kyso-vn/kyso/pkg/fault"
	"github.com/kyso-vn/kyso/pkg/store"
)

// Every use of a server-side key is audited before the key is asked: who (the
// principal, or the person on the command line), which key (its URI), what digest,
// which document if any, and through which surface (api, csc, cli, agent). A use that
// cannot be audited is not made. The readiness probe's signature over a fixed digest
// is the one use not recorded: it signs no document and runs every few seconds.

type useKey struct{}

// keyUse is who is using a key, for what document.
type keyUse struct {
	by      Principal
	docID   int64
	docHash string
}

// withUse tells the keys used under ctx who uses them, for which document.
func withUse(ctx context.Context, p Principal, docID int64, docHash string) context.Context {
	return context.WithValue(ctx, useKey{}, keyUse{by: p, docID: docID, docHash: docHash})
}

// WithCaller tells the server keys used under ctx (Key, SignPDF, SignCAdES) who uses
// them, for the audit trail. A surface that calls those directly sets it.
func WithCaller(ctx context.Context, p Principal) context.Context {
	if u, ok := ctx.Value(useKey{}).(keyUse); ok && u.by.ID == p.ID && u.by.Role == p.Role {
		return ctx
	}
	return withUse(ctx, p, 0, "")
}

// auditedKey audits each signature of a server key, then signs through keyFailures.
type auditedKey struct {
	hsm.Key
	s   *Service
	k   *ServerKey
	use *keyUse // the caller bound when the key was handed out (Key), if any
}

// useOf is k as the signing code uses it: audited when the service has a store. A
// service without one (`kyso sign` with the person's own key file or token, no
// document store) has no trail to write to, and signs through keyFailures alone.
func (s *Service) useOf(k *ServerKey) hsm.Key {
	if s.Store == nil {
		return keyFailures{k.Key, k.Name}
	}
	return auditedKey{Key: k.Key, s: s, k: k}
}

func (a auditedKey) SignContext(ctx context.Context, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	u, ok := ctx.Value(useKey{}).(keyUse)
	if !ok && a.use != nil {
		u = *a.use
	}
	actor, surface := AuditActor(u.by), u.by.Surface
	if local(u.by) {
		actor, surface = "local operator (kyso on the command line)", SurfaceCLI
		if u.by.Name != "" {
			actor = u.by.Name
		}
	}
	if surface == "" {
		surface = "app"
	}
	hash := ""
	if opts != nil && opts.HashFunc() != 0 {
		hash = opts.HashFunc().String()
	}
	if _, err := a.s.Store.Audit(context.WithoutCancel(ctx), store.Event{Actor: actor, Action: ActionKeyUse, DocumentID: u.docID,
		DocumentHash: u.docHash, KeyURI: a.k.URI, Detail: map[string]any{"key": a.k.Name, "digest": hex.EncodeToString(digest),
			"hash": hash, "surface": surface, "client_id": u.by.ID}}); err != nil {
		return nil, fault.Wrap(fault.Unavailable, err, "the use of the key could not be audited, so the key was not used")
	}
	return keyFailures{a.Key, a.k.Name}.SignContext(ctx, digest, opts)
}

func (a auditedKey) Sign(_ io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	return a.SignContext(context.Background(), digest, opts)
}
