package store

import (
	"fmt"
	"time"

	"github.com/kyso-vn/kyso/pkg/fault"
	"gorm.io/gorm"
)

// SignatureKind is what a signature did in the workflow.
type SignatureKind string

const (
	SigApprove SignatureKind = "approve" // the leader's signature over a draft
	SigIssue   SignatureKind = "issue"   // the organisation's signature of an issued document
	SigSign    SignatureKind = "sign"    // any other signature made here (/v1/sign, kyso sign --store)
	SigReceive SignatureKind = "receive" // a signature of an incoming document that verified on receipt
)

// SignatureKinds lists the kinds in report order.
var SignatureKinds = []SignatureKind{SigApprove, SigIssue, SigSign, SigReceive}

// KeyKind is where the key of a signature lived.
type KeyKind string

const (
	KeyHSM      KeyKind = "hsm"       // a server key through PKCS#11
	KeySoft     KeyKind = "soft"      // a software key file (the demo, tests)
	KeyUSBToken KeyKind = "usb_token" // a key outside the server: the desktop agent's USB token, or any prepare/complete
	KeySIMPKI   KeyKind = "sim_pki"   // a SIM PKI holder (ETSI TS 102 204)
	KeyRemote   KeyKind = "remote"    // a remote signing service (CSC API v2)
	KeyOther    KeyKind = "other"     // another agency's key: a signature verified on receipt
)

// KeyKinds lists the key kinds in report order.
var KeyKinds = []KeyKind{KeyHSM, KeySoft, KeyUSBToken, KeySIMPKI, KeyRemote, KeyOther}

// SignatureUse is one signature counted by the statistics: made here (approve, issue,
// sign) with one of the province's certificates, or verified on receipt. It is written
// in the transaction of the version that carries the signature, so the statistics and
// the documents cannot disagree after a crash.
type SignatureUse struct {
	Kind    SignatureKind
	KeyKind KeyKind
	// Certificate is the signer's certificate: recorded (once) among the province's
	// certificates in use, and named by the use. Nil for signatures of other agencies.
	Certificate *Certificate
}

// signatureUseRow is the row of signature_uses.
type signatureUseRow struct {
	ID              int64
	At              time.Time
	DocumentID      *int64
	Kind            SignatureKind
	KeyKind         KeyKind
	CertFingerprint string
	AgencyCode      string
}

func (signatureUseRow) TableName() string { return "signature_uses" }

func (u SignatureUse) check() error {
	switch u.Kind {
	case SigApprove, SigIssue, SigSign, SigReceive:
	default:
		return fault.Errorf(fault.Invalid, "unknown signature kind %q", u.Kind)
	}
	for _, k := range KeyKinds {
		if u.KeyKind == k {
			return nil
		}
	}
	return fault.Errorf(fault.Invalid, "unknown key kind %q", u.KeyKind)
}

// recordUses writes the uses of a version's signatures, adding each certificate to
// the certificates in use when it is new.
func recordUses(tx *gorm.DB, documentID int64, at time.Time, uses []SignatureUse) error {
	for _, u := range uses {
		row := signatureUseRow{At: at, DocumentID: &documentID, Kind: u.Kind, KeyKind: u.KeyKind}
		if c := u.Certificate; c != nil {
			if err := c.check(); err != nil {
				return err
			}
			if err := tx.Exec(`INSERT INTO certificates (fingerprint, subject, issuer, serial, kind, form, agency_code, owner, not_before, not_after, created_at)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (fingerprint) DO NOTHING`,
				c.Fingerprint, c.Subject, c.Issuer, c.Serial, c.Kind, c.Form, c.AgencyCode, c.Owner,
				dbTime(c.NotBefore), dbTime(c.NotAfter), at).Error; err != nil {
				return fmt.Errorf("store: add certificate: %w", err)
			}
			row.CertFingerprint, row.AgencyCode = c.Fingerprint, c.AgencyCode
		}
		if err := tx.Create(&row).Error; err != nil {
			return fmt.Errorf("store: record signature: %w", err)
		}
	}
	return nil
}
