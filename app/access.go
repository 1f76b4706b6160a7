package app

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/kyso-vn/kyso/hsm"
	"github.com/kyso-vn/kyso/pkg/fault"
	"github.com/kyso-vn/kyso/pkg/store"
)

// Role is what a principal may do. A client has exactly one role.
type Role string

// The roles. Public is every caller without an API key: it may only verify.
const (
	RoleAdmin  Role = "admin"  // manages clients, keys, registers and agencies
	RoleSystem Role = "system" // another system: document management, one-stop shop
	RoleClerk  Role = "clerk"  // văn thư: issues documents with the organisation's key
	RoleLeader Role = "leader" // approves with a personal signature
	RolePublic Role = "public" // anyone: verification only, rate-limited per address
)

// Roles lists every role, in the order of the constants above.
var Roles = []Role{RoleAdmin, RoleSystem, RoleClerk, RoleLeader, RolePublic}

// Valid reports whether r is one of Roles.
func (r Role) Valid() bool { return slices.Contains(Roles, r) }

// Principal is who is calling: an API client, the anonymous public, or (ID "") a
// person named on the command line.
type Principal struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Role Role   `json:"role"`
	// Agencies are the agency codes the client acts for; Clearance the highest
	// confidentiality it may read ("", confidential, secret, top_secret). See authz.go.
	Agencies  []string `json:"agencies,omitempty"`
	Clearance string   `json:"clearance,omitempty"`
	// Surface is how the caller came in ("api", "csc", "cli", "agent"), for the audit
	// trail of key use; it is not shown.
	Surface string `json:"-"`
}

// AuditActor names p in the store's audit trail.
func AuditActor(p Principal) string {
	if p.ID == "" {
		return p.Name
	}
	return "api client " + p.ID + " (" + p.Name + ")"
}

// KeyInfo is a server-side signing key and who may use it.
type KeyInfo struct {
	Name  string
	Owner string
	// Allowed lists client ids, or "role:<role>" entries (see MayUseKey):
	// the configuration's, then the store's.
	Allowed     []string
	Demo        bool
	Certificate *x509.Certificate // nil when not known
}

// MayUseKey answers "may principal p sign with key k": only when k's grant list names
// p's id, or p's role as "role:<role>". Grants name clients by id only: names were not
// unique when grants matched them, and a client named like another's grant got its
// keys. The public never may, and no role implies a grant, admin included: a client
// signs only with keys it was given.
func MayUseKey(p Principal, k KeyInfo) bool {
	if p.Role == RolePublic || !p.Role.Valid() {
		return false
	}
	// An organisation's key is used only by those who act for the organisation: a
	// grant by role does not reach across agencies.
	if a := agencyOf(k.Certificate); a != "" && !actsFor(p, a) {
		return false
	}
	for _, g := range k.Allowed {
		if g != "" && (g == p.ID || g == "role:"+string(p.Role)) {
			return true
		}
	}
	return false
}

// ListKeys lists the server keys by name, each with its grants.
func (s *Service) ListKeys(ctx context.Context) ([]KeyInfo, error) {
	names := make([]string, 0, len(s.Keys))
	for n := range s.Keys {
		names = append(names, n)
	}
	slices.Sort(names)
	out := make([]KeyInfo, 0, len(names))
	for _, n := range names {
		k := s.Keys[n]
		grants, err := s.Store.KeyGrants(ctx, k.StoreID)
		if err != nil {
			return nil, err
		}
		out = append(out, KeyInfo{Name: k.Name, Owner: k.Owner, Allowed: append(slices.Clone(k.Allowed), grants...),
			Demo: k.Demo, Certificate: k.Key.Certificate()})
	}
	return out, nil
}

// unknownKey is the one answer for an API key nobody holds, a revoked one, and one
// whose client has no valid role.
var unknownKey = fault.New(fault.Unauthenticated, "The API key is unknown or has been revoked.")

// LookupByKeyHash returns the client holding the API key whose hex SHA-256 is hash.
// The store keeps the client's role in its principal column.
func (s *Service) LookupByKeyHash(ctx context.Context, hash string) (Principal, error) {
	var h [sha256.Size]byte
	if n, err := hex.Decode(h[:], []byte(hash)); err != nil || n != sha256.Size {
		return Principal{}, unknownKey
	}
	c, err := s.Store.LookupClientByKeyHash(ctx, h)
	if fault.KindOf(err) == fault.NotFound {
		return Principal{}, unknownKey
	}
	if err != nil {
		return Principal{}, err
	}
	role := Role(c.Principal)
	if !role.Valid() || role == RolePublic {
		return Principal{}, unknownKey
	}
	return Principal{ID: strconv.FormatInt(c.ID, 10), Name: c.Name, Role: role, Agencies: c.AgencyList(),
		Clearance: string(c.Clearance), Surface: SurfaceAPI}, nil
}

// CreateClient records an API client with the hex SHA-256 of its key; the key itself
// is shown to the caller once and stored nowhere.
func (s *Service) CreateClient(ctx context.Context, actor Principal, name string, role Role, keyHash string) (Principal, error) {
	h, err := keyHashBytes(keyHash)
	if err != nil {
		return Principal{}, err
	}
	if !role.Valid() || role == RolePublic {
		return Principal{}, fault.New(fault.Invalid, "a client's role is admin, system, clerk or leader")
	}
	c, err := s.Store.CreateClient(ctx, name, string(role), h, AuditActor(actor))
	if err != nil {
		return Principal{}, err
	}
	return Principal{ID: strconv.FormatInt(c.ID, 10), Name: c.Name, Role: role}, nil
}

func keyHashBytes(keyHash string) ([sha256.Size]byte, error) {
	var h [sha256.Size]byte
	if n, err := hex.Decode(h[:], []byte(keyHash)); err != nil || n != sha256.Size {
		return h, fault.New(fault.Invalid, "an API key's hash is 64 hex digits")
	}
	return h, nil
}

// RevokeClient makes the client's key unusable.
func (s *Service) RevokeClient(ctx context.Context, actor Principal, id string) error {
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil {
		return fault.Errorf(fault.NotFound, "no active client %q", id)
	}
	return s.Store.RevokeClient(ctx, n, AuditActor(actor))
}

// HasClients reports whether any API client was ever created (kyso serve makes the
// first admin when none was).
func (s *Service) HasClients(ctx context.Context) (bool, error) {
	var n int64
	if err := s.Store.DB().WithContext(ctx).Model(&store.Client{}).Count(&n).Error; err != nil {
		return false, fmt.Errorf("app: counting API clients: %w", err)
	}
	return n > 0, nil
}

// Ready checks that the store answers (the readiness probe).
func (s *Service) Ready(ctx context.Context) error {
	db, err := s.Store.DB().DB()
	if err != nil {
		return err
	}
	return db.PingContext(ctx)
}

// The CSC API v2 service (api/csc) offers the server keys as credentials, named as in
// the API, to API clients under the same grants.

// Credentials lists the server keys' names.
func (s *Service) Credentials(context.Context) ([]string, error) {
	ids := make([]string, 0, len(s.Keys))
	for name := range s.Keys {
		ids = append(ids, name)
	}
	slices.Sort(ids)
	return ids, nil
}

// Key is the server key named id, for CSC signHash. Each of its signatures is
// audited, naming the caller ctx carries (WithCaller).
func (s *Service) Key(ctx context.Context, id string) (hsm.Key, error) {
	k, ok := s.Keys[id]
	if !ok {
		return nil, fault.Errorf(fault.NotFound, "no key %q", id)
	}
	ak, ok := s.useOf(k).(auditedKey)
	if !ok {
		return k.Key, nil
	}
	if u, ok := ctx.Value(useKey{}).(keyUse); ok {
		ak.use = &u
	}
	return ak, nil
}

// Authenticate finds the client holding apiKey.
func (s *Service) Authenticate(ctx context.Context, apiKey string) (Principal, error) {
	sum := store.HashAPIKey(apiKey)
	p, err := s.LookupByKeyHash(ctx, hex.EncodeToString(sum[:]))
	p.Surface = SurfaceCSC
	return p, err
}

// grantTimeout bounds the grant lookup of MayUseCredential, which gets no context.
const grantTimeout = 5 * time.Second

// MayUseCredential reports whether p may sign with the server key named id.
func (s *Service) MayUseCredential(p Principal, id string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), grantTimeout)
	defer cancel()
	keys, err := s.ListKeys(ctx)
	if err != nil {
		return false
	}
	for _, k := range keys {
		if k.Name == id {
			return MayUseKey(p, k)
		}
	}
	return false
}
