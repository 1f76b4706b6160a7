package hsm

import (
	"errors"
	"log/slog"
)

// Errors a caller branches on. A PIN error is never retried by this package: tokens
// lock after a few wrong PINs.
var (
	ErrPINIncorrect     = errors.New("hsm: PIN incorrect (not retried: tokens lock after a few wrong PINs)")
	ErrPINLocked        = errors.New("hsm: PIN locked (unlock it with the SO PIN)")
	ErrPINFinalTry      = errors.New("hsm: PIN at its final try (not tried: a wrong PIN would lock the token)")
	ErrTokenNotFound    = errors.New("hsm: no token matches")
	ErrKeyNotFound      = errors.New("hsm: no key matches")
	ErrModuleNotAllowed = errors.New("hsm: PKCS#11 module not allowed")
	ErrUnsupported      = errors.New("hsm: unsupported signature options")
)

// Options configure how keys are opened.
type Options struct {
	// AllowedModules lists the PKCS#11 module paths a URI may name. Empty allows any
	// module, which suits the CLI; a server must list its modules, because loading a
	// module runs its code in the process.
	AllowedModules []string
	// MaxSessions bounds the sessions open at once on one token (default 16). Callers
	// beyond it wait, and give up when their context ends. Keys on one token share its
	// pool: the first key opened on the token sets the bound.
	MaxSessions int
	// GuardPINTries makes a login refuse, before C_Login, when the token reports its
	// user PIN locked (ErrPINLocked) or at its final try (ErrPINFinalTry): for a PIN a
	// person typed, which nobody has checked. Keys on one token share the first key's
	// setting.
	GuardPINTries bool
	// Logger receives module, login and recovery events (never a PIN); nil discards.
	Logger *slog.Logger
}

func (o Options) logger() *slog.Logger {
	if o.Logger != nil {
		return o.Logger
	}
	return slog.New(slog.DiscardHandler)
}

func (o Options) maxSessions() int {
	if o.MaxSessions > 0 {
		return o.MaxSessions
	}
	return 16
}

// KeyType is a key a token can generate.
type KeyType string

// The key types Kyso generates (RSA ≥ 2048, ECDSA ≥ P-256).
const (
	RSA2048 KeyType = "rsa2048"
	RSA3072 KeyType = "rsa3072"
	ECP256  KeyType = "p256"
	ECP384  KeyType = "p384"
)

// KeySpec says what GenerateKey makes.
type KeySpec struct {
	Type KeyType
	// AlwaysAuthenticate sets CKA_ALWAYS_AUTHENTICATE: the token then wants the PIN
	// before every signature, as qualified-signature cards do.
	AlwaysAuthenticate bool
}

// ObjectKind is what an object on a token is.
type ObjectKind string

// The object kinds ListObjects reports.
const (
	KindPrivateKey  ObjectKind = "private key"
	KindPublicKey   ObjectKind = "public key"
	KindCertificate ObjectKind = "certificate"
	KindSecretKey   ObjectKind = "secret key"
	KindData        ObjectKind = "data"
	KindOther       ObjectKind = "other"
)

// ObjectInfo describes one object on a token.
type ObjectInfo struct {
	Label   string
	ID      []byte
	Kind    ObjectKind
	KeyType string // "RSA 2048", "EC P-256", …; for a certificate, its key's; else ""
}
