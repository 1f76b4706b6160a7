//go:build !cgo

package hsm

import (
	"context"
	"crypto/x509"
	"errors"

	"github.com/kyso-vn/kyso/pkg/fault"
)

// errNoCgo says why PKCS#11 is missing from this binary.
var errNoCgo = withKind(fault.NotImplemented, errors.New("hsm: pkcs11: this binary was built without cgo (CGO_ENABLED=0); PKCS#11 modules are loaded through cgo, so rebuild with cgo"))

// PKCS11Key is a key on a PKCS#11 token; without cgo none can be opened.
type PKCS11Key struct{ Key }

// OpenPKCS11 fails: this binary was built without cgo.
func OpenPKCS11(context.Context, string, Options) (*PKCS11Key, error) { return nil, errNoCgo }

// GenerateKey fails: this binary was built without cgo.
func GenerateKey(context.Context, string, KeySpec, Options) (*PKCS11Key, error) {
	return nil, errNoCgo
}

// ImportCertificate fails: this binary was built without cgo.
func ImportCertificate(context.Context, string, *x509.Certificate, Options) error { return errNoCgo }

// ListObjects fails: this binary was built without cgo.
func ListObjects(context.Context, string, Options) ([]ObjectInfo, error) { return nil, errNoCgo }

// Close does nothing.
func (k *PKCS11Key) Close() error { return nil }

// Module is a PKCS#11 module; without cgo none can be loaded.
type Module struct{}

// OpenModule fails: this binary was built without cgo.
func OpenModule(string, Options) (*Module, error) { return nil, errNoCgo }

// Path is empty.
func (m *Module) Path() string { return "" }

// Reinitialize fails: this binary was built without cgo.
func (m *Module) Reinitialize() error { return errNoCgo }

// Tokens fails: this binary was built without cgo.
func (m *Module) Tokens() ([]TokenInfo, error) { return nil, errNoCgo }

// Token fails: this binary was built without cgo.
func (m *Module) Token(uint) (TokenInfo, error) { return TokenInfo{}, errNoCgo }

// Certificates fails: this binary was built without cgo.
func (m *Module) Certificates(uint) ([]CertObject, error) { return nil, errNoCgo }

// OpenKey fails: this binary was built without cgo.
func (m *Module) OpenKey(context.Context, KeyRef, Secret) (*PKCS11Key, error) { return nil, errNoCgo }

// Close does nothing.
func (m *Module) Close() error { return nil }
