// Package api is Kyso's HTTP API: gin handlers, API-key authentication and roles, the
// per-address limit for the public, streamed uploads, RFC 9457 problem+json errors,
// Prometheus metrics and the OpenAPI 3.1 document.
//
// Handlers are thin: decode → validate → authorize → call a service → render. The
// services are declared here, on the HTTP side, as the small interfaces the handlers
// need; cmd/kyso wires the implementations in. A route whose service is not wired
// answers 501 with a stable problem type rather than a made-up result.
//
// This is the only package that maps errors to HTTP statuses (problem.go). It must
// never import gorm, PKCS#11 code or cmd/; services reach it only through the
// interfaces below.
package api

import (
	"context"
	"crypto/x509"
	"errors"
	"io"
	"time"

	"github.com/kyso-vn/kyso/signer/verify"
)

// Role is what a principal may do. A client has exactly one role.
type Role string

// The roles. Public is every caller without an API key: it may only verify.
const (
	RoleAdmin  Role = "admin"  // manages clients, keys, registers and agencies
	RoleSystem Role = "system" // another system: document management, one-stop shop
	RoleClerk  Role = "clerk"  // văn thư: issues documents with the organisation's key
	RoleLeader Role = "leader" // approves with a personal signature
	RolePublic Role = "public" // anyone: verification only, rate-limited per address
)

// Roles lists every role, in the order of the constants above.
var Roles = []Role{RoleAdmin, RoleSystem, RoleClerk, RoleLeader, RolePublic}

// Valid reports whether r is one of Roles.
func (r Role) Valid() bool {
	for _, x := range Roles {
		if r == x {
			return true
		}
	}
	return false
}

// Principal is who is calling: an API client, or the anonymous public.
type Principal struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Role Role   `json:"role"`
}

// Errors a service (through the wiring in cmd/kyso) wraps with %w so the handlers can
// answer with the right status. Any other error is a 500 whose cause is logged, never
// shown.
var (
	// ErrUnknownAPIKey: no client holds the key, or its client is revoked.
	ErrUnknownAPIKey = errors.New("api: unknown or revoked api key")
	// ErrNotFound: the named resource does not exist (or is not visible to the caller).
	ErrNotFound = errors.New("api: not found")
	// ErrInvalidDocument: the upload is not a document the service can handle (not a
	// PDF, a broken PDF, no signature to verify).
	ErrInvalidDocument = errors.New("api: invalid document")
	// ErrExpired: a prepared signature whose time ran out.
	ErrExpired = errors.New("api: expired")
	// ErrKeyUnavailable: the key provider (HSM, token, remote signer) failed.
	ErrKeyUnavailable = errors.New("api: key provider unavailable")
	// ErrUpstreamUnavailable: a timestamp authority, OCSP responder or CRL server
	// did not give a usable answer.
	ErrUpstreamUnavailable = errors.New("api: upstream service unavailable")
	// ErrInvalidRequest: options the service cannot honour as given (a level that
	// needs a timestamp authority on a server without one).
	ErrInvalidRequest = errors.New("api: invalid request")
	// ErrConflict: the request clashes with what is stored (a document already kept
	// under that identifier).
	ErrConflict = errors.New("api: conflict")
	// ErrNotImplemented: an option the API defines that this build cannot do yet.
	ErrNotImplemented = errors.New("api: not implemented")
)

// UserError wraps one of the errors above with a detail written for the caller, e.g.
// UserError(ErrInvalidDocument, "the file is not a PDF"). Only such details reach the
// response; every other error text stays in the log.
func UserError(kind error, detail string) error { return &userError{kind: kind, detail: detail} }

type userError struct {
	kind   error
	detail string
}

func (e *userError) Error() string { return e.kind.Error() + ": " + e.detail }
func (e *userError) Unwrap() error { return e.kind }

// Clients authenticates API keys.
type Clients interface {
	// LookupByKeyHash returns the client holding the key whose HashAPIKey is hash, or
	// an error wrapping ErrUnknownAPIKey.
	LookupByKeyHash(ctx context.Context, hash string) (Principal, error)
}

// ClientRegistry creates and revokes API clients (admin only). actor is the admin
// doing it, for the audit trail.
type ClientRegistry interface {
	// CreateClient records a client with the hash of its key; the key itself is shown
	// to the caller once and never stored.
	CreateClient(ctx context.Context, actor Principal, name string, role Role, keyHash string) (Principal, error)
	// RevokeClient makes the client's key unusable; unknown ids wrap ErrNotFound.
	RevokeClient(ctx context.Context, actor Principal, id string) error
}

// KeyInfo is a server-side signing key and who may use it.
type KeyInfo struct {
	Name  string
	Owner string
	// Allowed lists client ids or names, or "role:<role>" entries (see MayUseKey).
	Allowed     []string
	Demo        bool
	Certificate *x509.Certificate // nil when not known
}

// Keys lists the server-side signing keys and their grants.
type Keys interface {
	Keys(ctx context.Context) ([]KeyInfo, error)
}

// KeyGrants changes who may sign with a key (admin only). principal is a client id or
// name, or "role:<role>"; an unknown key, or a grant that does not exist, wraps
// ErrNotFound.
type KeyGrants interface {
	GrantKey(ctx context.Context, actor Principal, key, principal string) error
	RevokeGrant(ctx context.Context, actor Principal, key, principal string) error
}

// CertificateInfo is a certificate in use in the province.
type CertificateInfo struct {
	Subject    string     `json:"subject"`
	Issuer     string     `json:"issuer"`
	Serial     string     `json:"serial"`
	SHA256     string     `json:"sha256"`
	Kind       string     `json:"kind"` // organisation, personal
	Form       string     `json:"form"` // usb_token, sim_pki, hsm
	AgencyCode string     `json:"agency_code,omitempty"`
	Owner      string     `json:"owner,omitempty"`
	NotBefore  time.Time  `json:"not_before"`
	NotAfter   time.Time  `json:"not_after"`
	RevokedAt  *time.Time `json:"revoked_at,omitempty"`
}

// Certificates lists the certificates in use.
type Certificates interface {
	Certificates(ctx context.Context) ([]CertificateInfo, error)
}

// Stats is a year's activity, with the year before for comparison.
type Stats struct {
	Year               int              `json:"year"`
	Incoming           int64            `json:"incoming"`
	Outgoing           int64            `json:"outgoing"`
	IncomingPrevYear   int64            `json:"incoming_prev_year"`
	OutgoingPrevYear   int64            `json:"outgoing_prev_year"`
	Signed             int64            `json:"signed"`
	Signatures         int64            `json:"signatures"`
	Certificates       int64            `json:"certificates"`
	CertificatesByKind map[string]int64 `json:"certificates_by_kind"`
	CertificatesByForm map[string]int64 `json:"certificates_by_form"`
}

// StatsSource reports a year's statistics.
type StatsSource interface {
	Stats(ctx context.Context, year int) (Stats, error)
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

// Document is an uploaded file, held in a temporary file for the length of a request.
type Document interface {
	io.ReaderAt
	Size() int64
	Filename() string
	ContentType() string
	SHA256() [32]byte
}

// SignRequest is the options of POST /v1/sign, as in `kyso sign`.
type SignRequest struct {
	Key      string // server-side key name
	Format   string // "pades" (PDF) or "cades" (detached .p7s of any file)
	Level    string // B-B, B-T, B-LT or B-LTA
	Reason   string
	Location string
	Contact  string
	Field    string // signature field to sign into or create
	Page     int    // page of a visible signature, 0 for none
	Store    bool   // keep the signed document in the store instead of returning it
	// With Store: DocumentID gets the signed PDF as its new version, or (0) a new
	// outgoing draft of Agency is made with Summary, Symbol and Type.
	DocumentID                    int64
	Agency, Summary, Symbol, Type string
}

// SignResult says what SignDocument produced.
type SignResult struct {
	ContentType string          // of the bytes written to out
	Document    *DocumentRecord // the stored document (SignRequest.Store); nothing is written to out
}

// Signer signs a document with a server-side key. The handler has already checked
// that the principal may use req.Key.
type Signer interface {
	SignDocument(ctx context.Context, p Principal, req SignRequest, doc Document, out io.Writer) (SignResult, error)
}

// Verifier checks the signatures of a document at the time now. The report is the one
// `kyso verify` prints (signer/verify's versioned JSON report), so the API and the CLI
// answer alike.
type Verifier interface {
	Verify(ctx context.Context, doc Document, now time.Time) (*verify.Report, error)
}
