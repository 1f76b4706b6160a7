//go:build cgo

package agent

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/miekg/pkcs11"
)

// loadedModule is a module the watcher loaded itself.
type loadedModule struct{ ctx *pkcs11.Ctx }

func (w *Watcher) load(m Module) (*pkcs11.Ctx, error) {
	if l := w.mods[m.Path]; l != nil {
		return l.ctx, nil
	}
	c := pkcs11.New(m.Path)
	if c == nil {
		return nil, fmt.Errorf("agent: cannot load PKCS#11 module %s", m.Path)
	}
	if err := c.Initialize(); err != nil && !isP11(err, pkcs11.CKR_CRYPTOKI_ALREADY_INITIALIZED) {
		c.Destroy()
		return nil, fmt.Errorf("agent: initialising %s: %w", m.Path, err)
	}
	w.mods[m.Path] = &loadedModule{ctx: c}
	return c, nil
}

func isP11(err error, code uint) bool {
	var e pkcs11.Error
	return errors.As(err, &e) && uint(e) == code
}

// scan lists the tokens of one module with their certificates; the caller holds idle.
func (w *Watcher) scan(m Module) ([]Token, error) {
	c, err := w.load(m)
	if err != nil {
		return nil, err
	}
	if m.Reinitialize {
		_ = c.Finalize()
		if err := c.Initialize(); err != nil && !isP11(err, pkcs11.CKR_CRYPTOKI_ALREADY_INITIALIZED) {
			return nil, fmt.Errorf("agent: initialising %s again: %w", m.Path, err)
		}
	}
	slots, err := c.GetSlotList(true)
	if isP11(err, pkcs11.CKR_CRYPTOKI_NOT_INITIALIZED) {
		// Another user of the module in this process finalised it.
		if err = c.Initialize(); err == nil {
			slots, err = c.GetSlotList(true)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("agent: listing slots of %s: %w", m.Path, err)
	}
	name := m.Name
	if name == "" {
		name = filepath.Base(m.Path)
	}
	var out []Token
	for _, slot := range slots {
		ti, err := c.GetTokenInfo(slot)
		if err != nil || ti.Flags&pkcs11.CKF_TOKEN_INITIALIZED == 0 {
			continue // pulled out between the two calls, or blank
		}
		t := Token{
			Module: m.Path, ModuleName: name, Slot: slot, Label: strings.TrimSpace(ti.Label),
			Serial: strings.TrimSpace(ti.SerialNumber), Manufacturer: strings.TrimSpace(ti.ManufacturerID),
			Model: strings.TrimSpace(ti.Model), PINLocked: ti.Flags&pkcs11.CKF_USER_PIN_LOCKED != 0,
			PINFinalTry: ti.Flags&pkcs11.CKF_USER_PIN_FINAL_TRY != 0,
		}
		t.Certificates = w.certificates(t, func() ([]certObject, error) { return readCertObjects(c, slot) })
		out = append(out, t)
	}
	return out, nil
}

// readCertObjects reads the certificate objects of the token in slot in a public
// session: no login.
func readCertObjects(c *pkcs11.Ctx, slot uint) ([]certObject, error) {
	s, err := c.OpenSession(slot, pkcs11.CKF_SERIAL_SESSION)
	if err != nil {
		return nil, err
	}
	defer c.CloseSession(s)
	if err := c.FindObjectsInit(s, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_CERTIFICATE)}); err != nil {
		return nil, err
	}
	var handles []pkcs11.ObjectHandle
	for {
		hs, _, err := c.FindObjects(s, 32)
		if err != nil {
			_ = c.FindObjectsFinal(s)
			return nil, err
		}
		if len(hs) == 0 {
			break
		}
		handles = append(handles, hs...)
	}
	if err := c.FindObjectsFinal(s); err != nil {
		return nil, err
	}
	var objs []certObject
	for _, h := range handles {
		attrs, err := c.GetAttributeValue(s, h, []*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_VALUE, nil), pkcs11.NewAttribute(pkcs11.CKA_LABEL, nil), pkcs11.NewAttribute(pkcs11.CKA_ID, nil),
		})
		if err != nil || len(attrs) != 3 {
			continue
		}
		objs = append(objs, certObject{der: attrs[0].Value, label: string(attrs[1].Value), id: attrs[2].Value})
	}
	return objs, nil
}

// unload finalises and unloads the modules; the caller holds idle.
func (w *Watcher) unload() {
	for p, l := range w.mods {
		_ = l.ctx.Finalize()
		l.ctx.Destroy()
		delete(w.mods, p)
	}
}
