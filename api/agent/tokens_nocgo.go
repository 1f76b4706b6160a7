//go:build !cgo

package agent

import "errors"

// errNoCgo says why no token is ever found by this binary.
var errNoCgo = errors.New("agent: this binary was built without cgo (CGO_ENABLED=0); PKCS#11 modules are loaded through cgo, so rebuild with cgo")

type loadedModule struct{}

func (w *Watcher) scan(Module) ([]Token, error) { return nil, errNoCgo }

func (w *Watcher) unload() {}
