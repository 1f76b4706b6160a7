package hsm

import (
	"crypto/x509"
	"encoding/hex"
	"fmt"
)

// TokenInfo describes a token present in a slot of a module, as C_GetTokenInfo tells
// it (strings trimmed of their padding).
type TokenInfo struct {
	Module       string // the module's path
	Slot         uint
	Label        string
	Serial       string
	Manufacturer string
	Model        string
	// The token's own PIN state: CKF_USER_PIN_LOCKED, CKF_USER_PIN_FINAL_TRY and
	// CKF_USER_PIN_COUNT_LOW (a wrong PIN was given since the last good one).
	PINLocked   bool
	PINFinalTry bool
	PINCountLow bool
}

// PINAtRisk reports whether one more wrong PIN could lock the token, or it is locked:
// a login with a PIN nobody checked must not be tried then.
func (t TokenInfo) PINAtRisk() bool { return t.PINLocked || t.PINFinalTry }

// CertObject is a certificate object read from a token without logging in.
type CertObject struct {
	Label string
	ID    []byte // CKA_ID
	Cert  *x509.Certificate
	// KeyVisible: a public or private key object with the same CKA_ID (non-empty) is
	// visible without login. Most tokens show a certificate's public key; a
	// certificate without one is usually an issuer's or an old one kept on the token.
	KeyVisible bool
}

// KeyRef names a private key on a token of an open Module: the token by label and
// serial (serial may be empty), the key by CKA_ID, or by label when it has no id.
type KeyRef struct {
	Token  string
	Serial string
	ID     []byte
	Label  string
}

func (r KeyRef) String() string {
	return fmt.Sprintf("token %q serial %q key id %s label %q", r.Token, r.Serial, hex.EncodeToString(r.ID), r.Label)
}
