package store

import (
	"time"

	"github.com/kyso-vn/kyso/pkg/docid"
)

// Direction says whether a document leaves the agency (văn bản đi) or arrives (văn bản
// đến); registers have the same two kinds.
type Direction string

const (
	Outgoing Direction = "outgoing"
	Incoming Direction = "incoming"
)

// Status is a document's place in the workflow: draft → approved (leader signed) →
// issued (numbered, organisation signature); incoming documents are received
// (registered with an arrival number) or returned (trả lại: kept with the verdict
// that refused them, never numbered, Decree 30/2020 Art. 21.2).
type Status string

const (
	StatusDraft    Status = "draft"
	StatusApproved Status = "approved"
	StatusIssued   Status = "issued"
	StatusReceived Status = "received"
	StatusReturned Status = "returned"
)

// Urgency ("độ khẩn") of a document.
type Urgency string

const (
	UrgencyNormal     Urgency = ""
	UrgencyUrgent     Urgency = "urgent"      // Khẩn
	UrgencyVeryUrgent Urgency = "very_urgent" // Thượng khẩn
	UrgencyFlash      Urgency = "flash"       // Hỏa tốc
)

// Confidentiality ("độ mật") of a document.
type Confidentiality string

const (
	Unclassified Confidentiality = ""
	Confidential Confidentiality = "confidential" // Mật
	Secret       Confidentiality = "secret"       // Tối mật
	TopSecret    Confidentiality = "top_secret"   // Tuyệt mật
)

// Agency is one version of an agency's identifier code entry.
type Agency struct {
	ID         int64
	Code       string
	Name       string
	ParentCode string
	ValidFrom  time.Time
	ValidTo    *time.Time
}

func (Agency) TableName() string { return "agencies" }

// Register is a numbering series ("sổ đăng ký"): an agency's outgoing or incoming
// register, or a separate series (secret documents, an advisory council) named by Series.
type Register struct {
	ID         int64
	AgencyCode string
	Kind       Direction
	Series     string
	Name       string
	CreatedAt  time.Time
}

func (Register) TableName() string { return "registers" }

// Document is a document's metadata row.
type Document struct {
	ID        int64
	Direction Direction
	Status    Status
	Type      string `gorm:"column:doc_type"` // QĐ, CV (công văn), TTr, BC, …
	Summary   string // trích yếu
	// SummaryFold is Summary folded for search (foldText).
	SummaryFold string `json:"-"`
	AgencyCode  string // the issuing agency
	HolderCode  string // the agency whose store and registers keep it
	// Number, LegalYear and Symbol are the issuing agency's number and symbol; Number
	// is 0 until assigned.
	Number    int
	LegalYear int
	Symbol    string
	// Series is the register series the document is numbered in ("" the main one):
	// chosen when it is stored, from its type and confidentiality (app, from the
	// registers: configuration) or given, and never changed after.
	Series     string
	Identifier *string // edXML document identifier, once numbered
	// RegisterID, Year and RegNumber place the document in the holder's register: the
	// outgoing number for outgoing documents, the arrival number (số đến) for incoming.
	RegisterID      *int64
	Year            *int
	RegNumber       *int
	IssuedAt        *time.Time
	ReceivedAt      *time.Time
	Urgency         Urgency
	Confidentiality Confidentiality
	CurrentVersion  int
	ContentSHA256   string `gorm:"column:content_sha256"`
	// Verdict is the indication of the current version's signatures as last verified
	// (TOTAL_PASSED, TOTAL_FAILED, INDETERMINATE, NOT_SIGNED; "" never verified), with
	// its sub-indication and a short reason for people.
	Verdict       string
	VerdictSub    string `gorm:"column:verdict_sub"`
	VerdictReason string `gorm:"column:verdict_reason"`
	// ReceiptSHA256 is the content of an incoming document as it arrived: one
	// agency registers the same bytes once.
	ReceiptSHA256 *string `gorm:"column:receipt_sha256"`
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

func (Document) TableName() string { return "documents" }

// NumberSymbol returns the document's number and symbol.
func (d *Document) NumberSymbol() docid.NumberSymbol {
	return docid.NumberSymbol{Number: d.Number, Year: d.LegalYear, Symbol: d.Symbol}
}

// Version is one stored revision of a document's content, with a summary of the
// signatures it carries (JSON written by the signing code).
type Version struct {
	ID             int64
	DocumentID     int64
	Seq            int
	SHA256         string `gorm:"column:content_sha256"`
	Size           int64
	Filename       string
	MediaType      string
	Signatures     string // JSON
	SignatureCount int
	CreatedBy      string
	CreatedAt      time.Time
}

func (Version) TableName() string { return "document_versions" }

// Attachment is a file sent with a document in a separate file.
type Attachment struct {
	ID         int64
	DocumentID int64
	Name       string
	SHA256     string `gorm:"column:content_sha256"`
	Size       int64
	MediaType  string
	CreatedAt  time.Time
}

func (Attachment) TableName() string { return "attachments" }

// CertKind is whose certificate it is.
type CertKind string

const (
	CertOrganisation CertKind = "organisation"
	CertPersonal     CertKind = "personal"
)

// CertForm is where the key lives.
type CertForm string

const (
	FormUSBToken CertForm = "usb_token"
	FormSIMPKI   CertForm = "sim_pki"
	FormHSM      CertForm = "hsm"
)

// Certificate is a certificate in use in the province.
type Certificate struct {
	ID          int64
	Fingerprint string // sha256 of the DER, hex
	Subject     string
	Issuer      string
	Serial      string
	Kind        CertKind
	Form        CertForm
	AgencyCode  string
	Owner       string
	NotBefore   time.Time
	NotAfter    time.Time
	RevokedAt   *time.Time
	CreatedAt   time.Time
}

func (Certificate) TableName() string { return "certificates" }

// SigningKey names a key by its URI (RFC 7512 pkcs11:, or a remote provider's); never
// with a PIN in it.
type SigningKey struct {
	ID            int64
	URI           string `gorm:"column:uri"`
	Label         string
	Owner         string
	CertificateID *int64
	CreatedAt     time.Time
	DisabledAt    *time.Time
}

func (SigningKey) TableName() string { return "signing_keys" }

// Client is an API client authenticated by an API key, of which only the SHA-256 is kept.
type Client struct {
	ID        int64
	Name      string // unique among all clients, revoked ones included
	Principal string
	KeyHash   string // hex sha256 of the API key
	// Agencies are the agency codes the client acts for, comma-separated; Clearance
	// the highest confidentiality it may see ("" for unclassified only).
	Agencies  string
	Clearance Confidentiality
	CreatedAt time.Time
	RevokedAt *time.Time
}

func (Client) TableName() string { return "api_clients" }

// PendingSignature is the state kept between prepare and complete of a two-phase
// signature; it lives in the database so any replica, or a restarted one, completes it.
type PendingSignature struct {
	ID         string
	Status     string
	State      []byte
	DocumentID *int64
	KeyID      *int64
	CreatedAt  time.Time
	UpdatedAt  time.Time
	ExpiresAt  time.Time
}

func (PendingSignature) TableName() string { return "pending_signatures" }

// AuditEvent is one entry of the append-only audit trail.
type AuditEvent struct {
	ID           int64 `gorm:"primaryKey;autoIncrement:false"`
	At           time.Time
	Actor        string
	Action       string
	DocumentID   *int64
	DocumentHash string
	KeyURI       string `gorm:"column:key_uri"`
	Detail       string // canonical JSON
	PrevHash     string
	Hash         string
}

func (AuditEvent) TableName() string { return "audit_events" }

// Audit actions.
const (
	ActionCreate   = "create"
	ActionVersion  = "version"
	ActionApprove  = "approve"
	ActionNumber   = "number"
	ActionSign     = "sign"
	ActionIssue    = "issue"
	ActionReceive  = "receive"
	ActionReturn   = "return"
	ActionDownload = "download"
	ActionDelete   = "delete"
	ActionKey      = "key"
	ActionClient   = "client"
	ActionReserve  = "reserve"
	ActionVoid     = "void"
)
