//go:build cgo

package hsm

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"

	"github.com/miekg/pkcs11"

	"github.com/kyso-vn/kyso/pkg/fault"
)

// modules holds every loaded PKCS#11 module, one per path, shared by the whole process:
// a module may be initialised only once per process, and login state is per process
// and token.
var modules = struct {
	sync.Mutex
	byPath map[string]*p11Module
}{byPath: map[string]*p11Module{}}

type p11Module struct {
	path string
	refs int // guarded by modules.Mutex

	// mu is read-held by every operation on the module and write-held only while the
	// module is finalised and initialised again.
	mu  sync.RWMutex
	ctx *pkcs11.Ctx
	gen uint64 // bumped by each re-initialisation
	// ownInit is false when someone else in the process initialised the module first;
	// then finalising it is theirs to do.
	ownInit bool

	recoverMu sync.Mutex // one recovery at a time on this module

	tokensMu sync.Mutex
	tokens   []*p11Token
}

func acquireModule(path string, log *slog.Logger) (*p11Module, error) {
	modules.Lock()
	defer modules.Unlock()
	if m := modules.byPath[path]; m != nil {
		m.refs++
		return m, nil
	}
	ctx := pkcs11.New(path)
	if ctx == nil {
		return nil, fmt.Errorf("hsm: pkcs11: cannot load module %s", path)
	}
	err := ctx.Initialize()
	if err != nil && !isP11(err, pkcs11.CKR_CRYPTOKI_ALREADY_INITIALIZED) {
		ctx.Destroy()
		return nil, fmt.Errorf("hsm: pkcs11: initialising module %s: %w", path, err)
	}
	m := &p11Module{path: path, refs: 1, ctx: ctx, ownInit: err == nil}
	modules.byPath[path] = m
	log.Info("pkcs11: module loaded", "module", path)
	return m, nil
}

func (m *p11Module) release() {
	modules.Lock()
	defer modules.Unlock()
	m.refs--
	if m.refs > 0 {
		return
	}
	delete(modules.byPath, m.path)
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.ownInit {
		_ = m.ctx.Finalize()
	}
	m.ctx.Destroy()
}

// reinitialise finalises and initialises the module again, unless another caller did
// so since gen was read. SoftHSM2, for one, sees a token deleted and created again
// only after this.
func (m *p11Module) reinitialise(gen uint64, log *slog.Logger) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.gen != gen {
		return nil
	}
	_ = m.ctx.Finalize()
	m.gen++
	if err := m.ctx.Initialize(); err != nil && !isP11(err, pkcs11.CKR_CRYPTOKI_ALREADY_INITIALIZED) {
		return fmt.Errorf("hsm: pkcs11: initialising module %s again: %w", m.path, err)
	}
	m.ownInit = true
	log.Warn("pkcs11: module initialised again", "module", m.path)
	return nil
}

// tokenSelector is the part of a URI that picks a token.
type tokenSelector struct {
	label, serial, manufacturer, model string
	slotID                             *uint
	slotDescription, slotManufacturer  string
}

func (s tokenSelector) String() string {
	var parts []string
	add := func(k, v string) {
		if v != "" {
			parts = append(parts, fmt.Sprintf("%s=%q", k, v))
		}
	}
	add("token", s.label)
	add("serial", s.serial)
	add("manufacturer", s.manufacturer)
	add("model", s.model)
	if s.slotID != nil {
		add("slot-id", fmt.Sprint(*s.slotID))
	}
	add("slot-description", s.slotDescription)
	add("slot-manufacturer", s.slotManufacturer)
	if len(parts) == 0 {
		return "any token"
	}
	return strings.Join(parts, " ")
}

// findSlot returns the one slot whose token matches; the caller read-holds m.mu.
func (m *p11Module) findSlot(sel tokenSelector) (uint, pkcs11.TokenInfo, error) {
	slots, err := m.ctx.GetSlotList(true)
	if err != nil {
		return 0, pkcs11.TokenInfo{}, fmt.Errorf("hsm: pkcs11: listing slots of %s: %w", m.path, err)
	}
	var found []uint
	var infos []pkcs11.TokenInfo
	for _, slot := range slots {
		if sel.slotID != nil && *sel.slotID != slot {
			continue
		}
		ti, err := m.ctx.GetTokenInfo(slot)
		if err != nil {
			continue // the token went away between the two calls
		}
		if sel.label != "" && ti.Label != sel.label || sel.serial != "" && ti.SerialNumber != sel.serial ||
			sel.manufacturer != "" && ti.ManufacturerID != sel.manufacturer || sel.model != "" && ti.Model != sel.model {
			continue
		}
		if ti.Flags&pkcs11.CKF_TOKEN_INITIALIZED == 0 {
			continue
		}
		if sel.slotDescription != "" || sel.slotManufacturer != "" {
			si, err := m.ctx.GetSlotInfo(slot)
			if err != nil || sel.slotDescription != "" && si.SlotDescription != sel.slotDescription ||
				sel.slotManufacturer != "" && si.ManufacturerID != sel.slotManufacturer {
				continue
			}
		}
		found = append(found, slot)
		infos = append(infos, ti)
	}
	switch len(found) {
	case 0:
		return 0, pkcs11.TokenInfo{}, withKind(fault.Unavailable, fmt.Errorf("%w %s in module %s", ErrTokenNotFound, sel, m.path))
	case 1:
		return found[0], infos[0], nil
	}
	labels := make([]string, len(infos))
	for i, ti := range infos {
		labels[i] = fmt.Sprintf("%q (serial %s)", ti.Label, ti.SerialNumber)
	}
	return 0, pkcs11.TokenInfo{}, fmt.Errorf("hsm: pkcs11: %d tokens match %s: %s; name one by token or serial", len(found), sel, strings.Join(labels, ", "))
}

// openToken checks the module against the allow-list, loads it and finds the token.
func openToken(ctx context.Context, u *PKCS11URI, opts Options) (*p11Token, error) {
	path, err := modulePath(u, opts)
	if err != nil {
		return nil, err
	}
	pin, err := u.pin()
	if err != nil {
		return nil, err
	}
	m, err := acquireModule(path, opts.logger())
	if err != nil {
		return nil, err
	}
	if err := checkLibrary(m, u); err != nil {
		m.release()
		return nil, err
	}
	sel := tokenSelector{
		label: u.Token, serial: u.Serial, manufacturer: u.Manufacturer, model: u.Model,
		slotID: u.SlotID, slotDescription: u.SlotDescription, slotManufacturer: u.SlotManufacturer,
	}
	tok, err := acquireToken(ctx, m, sel, pin, opts)
	if err != nil {
		m.release()
		return nil, err
	}
	return tok, nil
}

func modulePath(u *PKCS11URI, opts Options) (string, error) {
	if u.ModulePath == "" {
		if u.ModuleName != "" {
			return "", fmt.Errorf("%w: module-name is not supported; give module-path", ErrBadURI)
		}
		return "", fmt.Errorf("%w: no module-path", ErrBadURI)
	}
	if !filepath.IsAbs(u.ModulePath) {
		return "", fmt.Errorf("%w: module-path %q is not absolute", ErrBadURI, u.ModulePath)
	}
	path := filepath.Clean(u.ModulePath)
	if len(opts.AllowedModules) == 0 {
		return path, nil
	}
	for _, a := range opts.AllowedModules {
		if filepath.Clean(a) == path {
			return path, nil
		}
	}
	return "", withKind(fault.Forbidden, fmt.Errorf("%w: %s is not in the configured list", ErrModuleNotAllowed, path))
}

func checkLibrary(m *p11Module, u *PKCS11URI) error {
	if u.LibraryManufacturer == "" && u.LibraryDescription == "" && u.LibraryVersion == "" {
		return nil
	}
	m.mu.RLock()
	info, err := m.ctx.GetInfo()
	m.mu.RUnlock()
	if err != nil {
		return fmt.Errorf("hsm: pkcs11: reading module info: %w", err)
	}
	version := fmt.Sprintf("%d.%d", info.LibraryVersion.Major, info.LibraryVersion.Minor)
	if u.LibraryManufacturer != "" && strings.TrimRight(info.ManufacturerID, " ") != u.LibraryManufacturer ||
		u.LibraryDescription != "" && strings.TrimRight(info.LibraryDescription, " ") != u.LibraryDescription ||
		u.LibraryVersion != "" && version != u.LibraryVersion && fmt.Sprint(info.LibraryVersion.Major) != u.LibraryVersion {
		return withKind(fault.Unavailable, fmt.Errorf("%w: module %s is %q %q %s, not what the URI names", ErrTokenNotFound, m.path,
			info.ManufacturerID, info.LibraryDescription, version))
	}
	return nil
}
