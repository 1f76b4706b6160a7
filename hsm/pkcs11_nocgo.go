//go:build !cgo

package hsm

import (
	"context"
	"errors"
)

// errNoCgo says why PKCS#11 is missing from this binary.
var errNoCgo = errors.New("hsm: pkcs11: this binary was built without cgo (CGO_ENABLED=0); PKCS#11 modules are loaded through cgo, so rebuild with cgo")

// PKCS11Key is a key on a PKCS#11 token; without cgo none can be opened.
type PKCS11Key struct{ Key }

// OpenPKCS11 fails: this binary was built without cgo.
func OpenPKCS11(context.Context, string, Options) (*PKCS11Key, error) { return nil, errNoCgo }

// GenerateKey fails: this binary was built without cgo.
func GenerateKey(context.Context, string, KeySpec, Options) (*PKCS11Key, error) {
	return nil, errNoCgo
}

// ListObjects fails: this binary was built without cgo.
func ListObjects(context.Context, string, Options) ([]ObjectInfo, error) { return nil, errNoCgo }

// Close does nothing.
func (k *PKCS11Key) Close() error { return nil }
