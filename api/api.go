// Package api is Kyso's HTTP API: gin handlers, API-key authentication and roles, the
// per-address limit for the public, streamed uploads, RFC 9457 problem+json errors,
// Prometheus metrics and the OpenAPI 3.1 document.
//
// Handlers are thin: decode → validate → authorize → call a service → render. The
// services are declared here, on the HTTP side, as the small interfaces the handlers
// need, in the use-cases' types; *app.Service implements them all and cmd/kyso passes
// it in. A route whose service is not wired answers 501 with a stable problem type
// rather than a made-up result.
//
// This is the only package that maps errors to HTTP statuses (problem.go, from the
// fault kind). It must never import gorm, PKCS#11 code, the store or cmd/.
package api

import (
	"context"
	"io"
	"time"

	"github.com/kyso-vn/kyso/app"
	"github.com/kyso-vn/kyso/pkg/wire"
	"github.com/kyso-vn/kyso/signer/verify"
)

// The API's vocabulary is the use-cases': app declares the records and requests, the
// API renders them. The names below keep the handlers' spelling.
type (
	Role                  = app.Role
	Principal             = app.Principal
	KeyInfo               = app.KeyInfo
	CertificateInfo       = app.CertificateInfo
	Stats                 = app.Stats
	StatsQuery            = app.StatsQuery
	RegisterBook          = app.RegisterBook
	RegisterBookQuery     = app.RegisterBookQuery
	RegisterEntry         = app.RegisterEntry
	Document              = app.Document
	SignRequest           = app.SignRequest
	SignResult            = app.SignResult
	ExtendResult          = app.ExtendResult
	UnvalidatedSignature  = app.UnvalidatedSignature
	DocumentRecord        = app.DocumentRecord
	Verification          = app.Verification
	VerdictRecord         = app.VerdictRecord
	SignatureVerification = app.SignatureVerification
	VersionRecord         = app.VersionRecord
	NewDocument           = app.NewDocument
	DocumentQuery         = app.DocumentQuery
	AgencyRecord          = app.AgencyRecord
	RegisterRecord        = app.RegisterRecord
	RegisterNumber        = app.RegisterNumber
	NewRegister           = app.NewRegister
	NewClient             = app.NewClient
	PrepareRequest        = app.SignatureRequest
	IssueRequest          = app.IssueOrder
	LifecycleRequest      = app.LifecycleRequest
	WithdrawalRecord      = app.WithdrawalRecord
	Pending               = wire.Pending
	Completion            = wire.Completion
	RemoteError           = wire.RemoteError
	Progress              = wire.Progress
)

// The roles. Public is every caller without an API key: it may only verify.
const (
	RoleAdmin  = app.RoleAdmin
	RoleSystem = app.RoleSystem
	RoleClerk  = app.RoleClerk
	RoleLeader = app.RoleLeader
	RolePublic = app.RolePublic
)

// Roles lists every role.
var Roles = app.Roles

// MayUseKey answers "may principal p sign with key k" (see app.MayUseKey).
func MayUseKey(p Principal, k KeyInfo) bool { return app.MayUseKey(p, k) }

// The services the handlers call, as the small interfaces they need; *app.Service
// implements every one. Their errors are *fault.Error values made where the refusal
// happened; problem.go renders them from their kind. Any other error is a 500 whose
// cause is logged, never shown.

// Clients authenticates API keys.
type Clients interface {
	// LookupByKeyHash returns the client holding the key whose HashAPIKey is hash; an
	// unknown or revoked key is fault.Unauthenticated.
	LookupByKeyHash(ctx context.Context, hash string) (Principal, error)
}

// ClientRegistry creates and revokes API clients (admin only). actor is the admin
// doing it, for the audit trail.
type ClientRegistry interface {
	// RegisterClient records a client (its name unique, its agencies, clearance and
	// bound certificates) with the hash of its key; the key itself is shown to the
	// caller once and never stored.
	RegisterClient(ctx context.Context, actor Principal, nc NewClient, keyHash string) (Principal, error)
	// RevokeClient makes the client's key unusable; unknown ids are fault.NotFound.
	RevokeClient(ctx context.Context, actor Principal, id string) error
}

// Keys lists the server-side signing keys and their grants.
type Keys interface {
	ListKeys(ctx context.Context) ([]KeyInfo, error)
}

// KeyGrants changes who may sign with a key (admin only). principal is a client id or
// name, or "role:<role>"; an unknown key, or a grant that does not exist, is
// fault.NotFound.
type KeyGrants interface {
	GrantKey(ctx context.Context, actor Principal, key, principal string) error
	RevokeGrant(ctx context.Context, actor Principal, key, principal string) error
}

// Certificates lists the certificates in use.
type Certificates interface {
	// Certificates lists those of the agencies p acts for.
	Certificates(ctx context.Context, p Principal) ([]CertificateInfo, error)
}

// StatsSource reports a period's statistics.
type StatsSource interface {
	// Stats counts what p may see (its agencies, its clearance).
	Stats(ctx context.Context, p Principal, q StatsQuery) (Stats, error)
}

// Readiness is one dependency /readyz checks: the store, a key provider.
type Readiness interface {
	Ready(ctx context.Context) error
}

// Check names a Readiness. Key, when set, is the signing key the check stands for, so
// that its failures count in kyso_key_provider_errors_total.
type Check struct {
	Name string
	Key  string
	Readiness
}

// Signer signs a document with a server-side key. The handler has already checked
// that the principal may use req.Key.
type Signer interface {
	SignDocument(ctx context.Context, p Principal, req SignRequest, doc Document, out io.Writer) (SignResult, error)
}

// Extender raises an uploaded signed PDF to B-LT or B-LTA (level; "" is B-LTA) with
// the server's revocation sources and timestamp authority, writing the whole
// extended document to out. A signature whose validation data cannot be gathered
// is named in the result, and the others are extended; when none can be, it is
// fault.Unavailable and nothing is written.
type Extender interface {
	ExtendDocument(ctx context.Context, p Principal, level string, doc Document, out io.Writer) (ExtendResult, error)
}

// Verifier checks the signatures of a document at the time now. The report is the one
// `kyso verify` prints (signer/verify's versioned JSON report), so the API and the CLI
// answer alike.
type Verifier interface {
	VerifyDocument(ctx context.Context, doc Document, now time.Time) (*verify.Report, error)
}

// The use-cases implement every service the API declares; cmd/kyso passes them in.
var (
	_ Clients          = (*app.Service)(nil)
	_ ClientRegistry   = (*app.Service)(nil)
	_ Keys             = (*app.Service)(nil)
	_ KeyGrants        = (*app.Service)(nil)
	_ Certificates     = (*app.Service)(nil)
	_ StatsSource      = (*app.Service)(nil)
	_ Documents        = (*app.Service)(nil)
	_ Agencies         = (*app.Service)(nil)
	_ Signer           = (*app.Service)(nil)
	_ Verifier         = (*app.Service)(nil)
	_ Signatures       = (*app.Service)(nil)
	_ RemoteSignatures = (*app.Service)(nil)
	_ Issuer           = (*app.Service)(nil)
	_ Registers        = (*app.Service)(nil)
	_ RegisterBooks    = (*app.Service)(nil)
	_ Readiness        = (*app.Service)(nil)
)
