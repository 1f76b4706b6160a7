package verify

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/kyso-vn/kyso/pkg/pki"
)

// ReportVersion is the version of the JSON report. Fields are only ever added within a
// version; a removed or renamed field, or a changed meaning, makes a new version.
const ReportVersion = 1

// Indication is the main status of ETSI EN 319 102-1, spelled as EU DSS spells it.
type Indication string

// The three indications. A signature whose integrity fails, or after which the
// document was changed in a way its permissions do not allow, is TotalFailed whatever
// its trust status.
const (
	TotalPassed   Indication = "TOTAL_PASSED"
	TotalFailed   Indication = "TOTAL_FAILED"
	Indeterminate Indication = "INDETERMINATE"
)

// SubIndication says why a signature is not TOTAL_PASSED (ETSI EN 319 102-1 §5.1.3).
type SubIndication string

// Sub-indications Kyso reports. All but ModifiedAfterSigning are ETSI's; ETSI has none
// for a PDF changed by a later incremental update, so Kyso names that one itself.
const (
	FormatFailure             SubIndication = "FORMAT_FAILURE"
	HashFailure               SubIndication = "HASH_FAILURE"
	SigCryptoFailure          SubIndication = "SIG_CRYPTO_FAILURE"
	Revoked                   SubIndication = "REVOKED"
	RevokedNoPOE              SubIndication = "REVOKED_NO_POE"
	NoCertificateChainFound   SubIndication = "NO_CERTIFICATE_CHAIN_FOUND"
	NoSigningCertificateFound SubIndication = "NO_SIGNING_CERTIFICATE_FOUND"
	OutOfBoundsNoPOE          SubIndication = "OUT_OF_BOUNDS_NO_POE"
	OutOfBoundsNotRevoked     SubIndication = "OUT_OF_BOUNDS_NOT_REVOKED"
	NotYetValid               SubIndication = "NOT_YET_VALID"
	TryLater                  SubIndication = "TRY_LATER"
	CryptoConstraintsFailure  SubIndication = "CRYPTO_CONSTRAINTS_FAILURE"
	// CryptoConstraintsFailureNoPOE: an algorithm past its cutoff date, and nothing
	// proves the signature was made before it (crypto.go).
	CryptoConstraintsFailureNoPOE SubIndication = "CRYPTO_CONSTRAINTS_FAILURE_NO_POE"
	ChainConstraintsFailure       SubIndication = "CHAIN_CONSTRAINTS_FAILURE"
	SigConstraintsFailure         SubIndication = "SIG_CONSTRAINTS_FAILURE"
	ModifiedAfterSigning          SubIndication = "MODIFIED_AFTER_SIGNING"
)

// Integrity values of SignatureReport.Integrity.
const (
	IntegrityIntact      = "intact"       // ByteRange sane, digest and signature verify
	IntegrityHashFailure = "hash-failure" // the signed bytes were changed
	IntegritySigFailure  = "signature-failure"
	IntegrityFormat      = "format-failure" // ByteRange, /Contents or CMS malformed
	IntegrityUnsupported = "unsupported"    // an algorithm Kyso does not verify
)

// Modification kinds, from harmless to harmful. The kind of a revision is the most
// harmful kind among its changes.
const (
	KindNone        = "none"
	KindSignature   = "signature"    // new signatures, their fields and widgets, DSS, document timestamps
	KindMetadata    = "metadata"     // the Info dictionary and XMP metadata
	KindFormFilling = "form-filling" // values and appearances of non-signature fields
	KindAnnotation  = "annotation"   // annotations added, changed or removed
	KindOther       = "other"        // page content, pages, resources, catalog, unreadable revisions
)

// Report is the result of verifying one file. Its JSON form (version 1) is documented
// in REPORT.md; field names are stable.
type Report struct {
	Version        int               `json:"version"`
	File           string            `json:"file"`
	SHA256         string            `json:"sha256"`
	Size           int64             `json:"size"`
	Format         string            `json:"format"` // "pdf" or "cms"
	Indication     Indication        `json:"indication"`
	SubIndication  SubIndication     `json:"sub_indication,omitempty"`
	ValidationTime time.Time         `json:"validation_time"`
	Revisions      int               `json:"revisions"`
	DocMDP         int               `json:"docmdp,omitempty"` // certification permission P (1..3), 0 if not certified
	Signatures     []SignatureReport `json:"signatures"`
	Errors         []string          `json:"errors"`
	Warnings       []string          `json:"warnings"`
}

// SignatureReport is the verdict on one signature or document timestamp.
type SignatureReport struct {
	Index int `json:"index"` // 1-based, in revision order
	// Field is the fully qualified name of the signature field.
	Field string `json:"field"`
	// Type is "approval", "certification" or "document-timestamp".
	Type                string         `json:"type"`
	SubFilter           string         `json:"sub_filter"`
	Signer              *CertInfo      `json:"signer"`
	SigningTime         *time.Time     `json:"signing_time"`
	TimeSource          string         `json:"time_source"` // "timestamp", "claimed" (unproven) or "validation-time"
	ClaimedSigningTime  *time.Time     `json:"claimed_signing_time,omitempty"`
	Indication          Indication     `json:"indication"`
	SubIndication       SubIndication  `json:"sub_indication,omitempty"`
	Integrity           string         `json:"integrity"`
	CoversWholeDocument bool           `json:"covers_whole_document"`
	Revision            int            `json:"revision"` // 1-based revision the signature closes; 0 if unknown
	ByteRange           []int64        `json:"byte_range"`
	Level               string         `json:"level"`
	Reason              string         `json:"reason,omitempty"`   // signer-controlled text from the signature dictionary
	Location            string         `json:"location,omitempty"` // signer-controlled
	Modifications       []Modification `json:"modifications"`
	Chain               []CertInfo     `json:"chain"`
	Revocation          *Revocation    `json:"revocation"`
	Timestamp           *Timestamp     `json:"timestamp"`
	Errors              []string       `json:"errors"`
	Warnings            []string       `json:"warnings"`
	// Explanation is the verdict's reason in both languages, for people.
	Explanation *Explanation `json:"explanation,omitempty"`
	// PKI names the PKI the chain ends in ("Ban Cơ yếu Chính phủ – G2"), when a chain
	// was found.
	PKI string `json:"pki,omitempty"`
	// DigestAlgorithm and SignatureAlgorithm are what the signature value uses
	// ("SHA-1", "SHA-256 with RSA").
	DigestAlgorithm    string `json:"digest_algorithm,omitempty"`
	SignatureAlgorithm string `json:"signature_algorithm,omitempty"`

	// why is the specific reason set while verifying; Explanation is made from it, or
	// from the sub-indication when none was set.
	why *msg
}

// Explanation is a reason in Vietnamese and English.
type Explanation struct {
	VI string `json:"vi"`
	EN string `json:"en"`
}

// Modification is what one revision after a signature changed.
type Modification struct {
	Revision int    `json:"revision"`
	Kind     string `json:"kind"`
	Allowed  bool   `json:"allowed"`
	Detail   string `json:"detail"`
}

// CertInfo identifies a certificate.
type CertInfo struct {
	Subject   string    `json:"subject"`
	Issuer    string    `json:"issuer"`
	Serial    string    `json:"serial"` // hex, upper case
	NotBefore time.Time `json:"not_before"`
	NotAfter  time.Time `json:"not_after"`
	SHA256    string    `json:"sha256"`
	// Identifiers are the Vietnamese numbers the subject names its holder by (tax
	// code, citizen ID, organizationIdentifier), decoded.
	Identifiers []pki.Identifier `json:"identifiers,omitempty"`
}

// Revocation is the revocation status of the signer certificate.
type Revocation struct {
	Status    string     `json:"status"` // "good", "revoked", "unknown"
	Source    string     `json:"source"` // "dss", "cms", "ocsp", "crl", "none"
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
	Reason    string     `json:"reason,omitempty"`
	Detail    string     `json:"detail,omitempty"`
}

// Timestamp describes the signature timestamp or, for a document timestamp, the token
// itself.
type Timestamp struct {
	GenTime       time.Time     `json:"gen_time"`
	TSA           *CertInfo     `json:"tsa"`
	ImprintValid  bool          `json:"imprint_valid"`
	Indication    Indication    `json:"indication"`
	SubIndication SubIndication `json:"sub_indication,omitempty"`
	Detail        string        `json:"detail,omitempty"`
}

// JSON renders the report, indented.
func (r *Report) JSON() ([]byte, error) {
	return json.MarshalIndent(r, "", "  ")
}

// ExitCode is the CLI's exit status for the report: 0 when every signature is
// TOTAL_PASSED, 1 when any is TOTAL_FAILED, 3 otherwise.
func (r *Report) ExitCode() int {
	switch r.Indication {
	case TotalPassed:
		return 0
	case TotalFailed:
		return 1
	}
	return 3
}

func rank(i Indication) int {
	switch i {
	case TotalFailed:
		return 2
	case Indeterminate:
		return 1
	}
	return 0
}

// summarize sets the document's indication: the worst of its signatures'.
func (r *Report) summarize() {
	r.Indication, r.SubIndication = TotalPassed, ""
	if len(r.Signatures) == 0 {
		r.Indication, r.SubIndication = TotalFailed, FormatFailure
		return
	}
	for i := range r.Signatures {
		r.Signatures[i].explain()
	}
	for _, s := range r.Signatures {
		if rank(s.Indication) > rank(r.Indication) {
			r.Indication, r.SubIndication = s.Indication, s.SubIndication
		}
	}
}

// ExitStatus is the CLI's exit status for a verification: 2 when the input is not a
// signed document (err set), else the report's ExitCode.
func ExitStatus(rep *Report, err error) int {
	if err != nil || rep == nil {
		return 2
	}
	return rep.ExitCode()
}

// explain fills the Explanation from the reason found while verifying, else from the
// indication.
func (s *SignatureReport) explain() {
	m := msg{verdicts["passed"].vi, verdicts["passed"].en}
	switch {
	case s.why != nil && s.Indication != TotalPassed:
		m = *s.why
	case s.SubIndication != "":
		m = subExplanations[s.SubIndication]
		if m.vi == "" {
			m = msg{string(s.SubIndication), string(s.SubIndication)}
		}
		if s.Integrity == IntegrityIntact && s.Indication == Indeterminate {
			m = msg{"Chữ ký nguyên vẹn, nhưng " + lowerFirst(m.vi), "The signature is intact, but " + lowerFirst(m.en)}
		}
	case s.why != nil:
		m = *s.why
	}
	s.Explanation = &Explanation{VI: m.vi, EN: m.en}
}

func lowerFirst(s string) string {
	for i, r := range s {
		if i == 0 {
			return string([]rune{toLower(r)}) + s[len(string(r)):]
		}
	}
	return s
}

func toLower(r rune) rune { return []rune(strings.ToLower(string(r)))[0] }
