package app

import (
	"context"
	"crypto/x509"
	"encoding/asn1"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kyso-vn/kyso/pkg/docid"
	"github.com/kyso-vn/kyso/pkg/fault"
	"github.com/kyso-vn/kyso/pkg/store"
)

// Who may do what. Every surface (the API, CSC, the CLI, the desktop agent) reaches the
// store only through the methods of Service, and these rules are applied there, so a
// surface cannot skip them.
//
// Agencies. A client (system, clerk, leader) is created for one or more agency codes
// and acts only for them: it sees the documents its agencies issued or hold, and the
// registers and statistics of its agencies. An admin sees every agency, and each of
// its reads of a document is audited. Clients made before agencies existed (schema 3)
// have none and, unless admins, see nothing until an admin makes them anew with
// agencies: nobody gains sight of documents by an upgrade. A person named on the
// command line (Principal.ID "") works on the database directly, holds its files and
// sees everything; the CLI's signing commands name the client they act as (--as), so
// the workflow rules below apply to them as to the API.
//
// Confidentiality. A document marked confidential, secret or top_secret is seen only
// by a client cleared to that level or above (Principal.Clearance); admins are
// cleared for everything. An unseen document is not listed at all, so neither its
// summary nor its number leaks through a search, and asking for it by id answers the
// same 404 as an id that does not exist.
//
// The approval chain (Decree 30/2020, Art. 32). Approving a draft is a leader's, of
// the draft's agency, with a certificate that chains to the configured anchors, is
// valid and unrevoked now, and is bound to that leader (registered to the client when
// it was made). Issuing, and the organisation's other signatures (appendix, copy,
// incoming), are a clerk's, of the agency, with the agency's organisation certificate
// (its organizationIdentifier, OID 2.5.4.97, is the agency's code), chaining and
// unrevoked likewise, be it a server key or a token outside the server. Admins and
// systems sign in neither role.
//
// Immutability. Approved, issued and received documents change only by the workflow's
// own steps, each naming the version it was made over (store.AddVersion takes drafts
// only); everything else is a 409.

// The surfaces a principal comes through.
const (
	SurfaceAPI   = "api"
	SurfaceCSC   = "csc"
	SurfaceCLI   = "cli"
	SurfaceAgent = "agent"
	SurfaceWeb   = "web" // the office pages (api/office)
)

// ActionRead is the audit action of an admin reading a document.
const ActionRead = "read"

// ActionKeyUse is the audit action of every use of a server-side key.
const ActionKeyUse = "key_use"

// local reports whether p is a person on the command line, working on the database.
func local(p Principal) bool { return p.ID == "" && p.Role == "" }

// Clearances are the confidentiality levels a client may be cleared for.
var Clearances = []string{"", string(store.Confidential), string(store.Secret), string(store.TopSecret)}

// visibility is what p may read.
func visibility(p Principal) *store.Visibility {
	if local(p) || p.Role == RoleAdmin {
		return &store.Visibility{All: true, Clearance: store.TopSecret}
	}
	if p.Role == RolePublic || !p.Role.Valid() {
		return &store.Visibility{}
	}
	return &store.Visibility{Agencies: p.Agencies, Clearance: store.Confidentiality(p.Clearance)}
}

// actsFor reports whether p acts for agency.
func actsFor(p Principal, agency string) bool {
	if local(p) || p.Role == RoleAdmin {
		return true
	}
	return agency != "" && slices.Contains(p.Agencies, agency)
}

// noDocument is the one answer for a document that does not exist and one p may not see.
func noDocument(id int64) error { return fault.Errorf(fault.NotFound, "no document %d", id) }

// readDocument reads document id for p: NotFound when it does not exist or p may not
// see it. An admin's read is audited.
func (s *Service) readDocument(ctx context.Context, p Principal, id int64, why string) (*store.Document, error) {
	d, err := s.Store.GetDocument(ctx, id)
	if fault.KindOf(err) == fault.NotFound {
		return nil, noDocument(id)
	}
	if err != nil {
		return nil, err
	}
	if !visibility(p).Sees(d) {
		return nil, noDocument(id)
	}
	if p.Role == RoleAdmin && why != "" {
		if _, err := s.Store.Audit(ctx, store.Event{Actor: AuditActor(p), Action: ActionRead, DocumentID: d.ID,
			DocumentHash: d.ContentSHA256, Detail: map[string]any{"read": why}}); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// mayCreate refuses a document p may not make: of an agency it does not act for, or
// above its clearance.
func mayCreate(p Principal, agency string, conf store.Confidentiality) error {
	return mayCreateAs(p, "issuing", agency, conf)
}

// mayCreateAs is mayCreate naming the agency's part (issuing, holder) in a refusal of
// its code, as the store would.
func mayCreateAs(p Principal, part, agency string, conf store.Confidentiality) error {
	if _, err := docid.ParseAgencyCode(agency); err != nil {
		return fault.Errorf(fault.Invalid, "%s agency: %v", part, err)
	}
	if !actsFor(p, agency) {
		return fault.Errorf(fault.Forbidden, "you do not act for agency %s", agency)
	}
	if !local(p) && p.Role != RoleAdmin && store.ConfidentialityRank(conf) > store.ConfidentialityRank(store.Confidentiality(p.Clearance)) {
		return fault.Errorf(fault.Forbidden, "you are not cleared for %s documents", conf)
	}
	return nil
}

// signingRole is the role a signature of the workflow needs.
func signingRole(role string) (Role, error) {
	switch role {
	case RoleApprove:
		return RoleLeader, nil
	case RoleIssue, RoleAppendix, RoleCopy, RoleIncoming:
		return RoleClerk, nil
	}
	return "", fault.Errorf(fault.Invalid, "unknown signature role %q", role)
}

// mayPrepare checks that p may make a signature of role over a document of agency with
// cert (and its chain): the workflow role, the agency, and the certificate's trust and
// binding. It is called at prepare and again at complete, and returns the chain the
// signature embeds (checkSigner). The binding and the organisation are checked before
// the certificate's trust, which may ask the network.
func (s *Service) mayPrepare(ctx context.Context, p Principal, role, agency string, cert *x509.Certificate, chain []*x509.Certificate) ([]*x509.Certificate, error) {
	need, err := signingRole(role)
	if err != nil {
		return nil, err
	}
	if p.Role != need {
		return nil, fault.Errorf(fault.Forbidden, "signing as %s is for a %s; you are %s", role, need, describeRole(p.Role))
	}
	if !actsFor(p, agency) {
		return nil, fault.Errorf(fault.Forbidden, "you do not act for agency %s", agency)
	}
	if cert == nil {
		return nil, fault.New(fault.Invalid, "the signer's certificate is required")
	}
	if need == RoleLeader {
		id, err := strconv.ParseInt(p.ID, 10, 64)
		bound := false
		if err == nil {
			if bound, err = s.Store.ClientHasCertificate(ctx, id, store.CertificateFingerprint(cert.Raw)); err != nil {
				return nil, err
			}
		}
		if !bound {
			return nil, fault.Errorf(fault.Forbidden, "the certificate %q is not registered to you; an approval is made with the leader's own certificate", cert.Subject.CommonName)
		}
	} else if err := organisationOf(cert, agency); err != nil {
		return nil, err
	}
	return s.trusted(ctx, cert, chain)
}

func describeRole(r Role) string {
	if r == "" {
		return "not a client (name one with --as)"
	}
	if r == RoleAdmin {
		return "an admin"
	}
	return "a " + string(r)
}

// oidOrganizationIdentifier is X.520 organizationIdentifier, where a Vietnamese
// organisation certificate names the agency's identifier code.
var oidOrganizationIdentifier = asn1.ObjectIdentifier{2, 5, 4, 97}

// agencyOf is the agency code an organisation certificate names, or "".
func agencyOf(cert *x509.Certificate) string {
	if cert == nil {
		return ""
	}
	for _, n := range cert.Subject.Names {
		if v, ok := n.Value.(string); ok && n.Type.Equal(oidOrganizationIdentifier) {
			return v
		}
	}
	return ""
}

// organisationOf refuses a certificate that is not agency's organisation certificate.
func organisationOf(cert *x509.Certificate, agency string) error {
	for _, n := range cert.Subject.Names {
		if n.Type.Equal(oidOrganizationIdentifier) {
			if v, ok := n.Value.(string); ok && v == agency {
				return nil
			}
		}
	}
	return fault.Errorf(fault.Forbidden, "the certificate %q is not the organisation certificate of agency %s", cert.Subject.CommonName, agency)
}

// trusted refuses a certificate that does not chain to the configured anchors, is not
// valid now, or is revoked now (checkSigner), and returns the chain its signature
// embeds. With no anchors configured nothing is trusted.
func (s *Service) trusted(ctx context.Context, cert *x509.Certificate, chain []*x509.Certificate) ([]*x509.Certificate, error) {
	return s.checkSigner(ctx, cert, chain)
}

// mayIssueWithKey checks a server key's use to issue a document of agency: a clerk of
// the agency, and the agency's organisation certificate, trusted now. It returns the
// chain the organisation's signature embeds.
func (s *Service) mayIssueWithKey(ctx context.Context, p Principal, agency string, k *ServerKey) ([]*x509.Certificate, error) {
	if p.Role != RoleClerk {
		return nil, fault.Errorf(fault.Forbidden, "issuing is a clerk's; you are %s", describeRole(p.Role))
	}
	if !actsFor(p, agency) {
		return nil, fault.Errorf(fault.Forbidden, "you do not act for agency %s", agency)
	}
	cert := k.Key.Certificate()
	if cert == nil {
		return nil, fault.Errorf(fault.Invalid, "key %q has no certificate", k.Name)
	}
	if err := organisationOf(cert, agency); err != nil {
		return nil, err
	}
	return s.trusted(ctx, cert, k.Key.Chain())
}

// NewClient is an API client to create.
type NewClient struct {
	Name      string
	Role      Role
	Agencies  []string
	Clearance string
	// Certificates are bound to the client: a leader approves only with one of them.
	Certificates []*x509.Certificate
}

// RegisterClient records an API client with its agencies, clearance and certificates
// and the hex SHA-256 of its key. Names are unique.
func (s *Service) RegisterClient(ctx context.Context, actor Principal, nc NewClient, keyHash string) (Principal, error) {
	h, err := keyHashBytes(keyHash)
	if err != nil {
		return Principal{}, err
	}
	if !nc.Role.Valid() || nc.Role == RolePublic {
		return Principal{}, fault.New(fault.Invalid, "a client's role is admin, system, clerk or leader")
	}
	if !slices.Contains(Clearances, nc.Clearance) {
		return Principal{}, fault.Errorf(fault.Invalid, "clearance %q is not one of confidential, secret, top_secret", nc.Clearance)
	}
	if nc.Role != RoleAdmin && len(nc.Agencies) == 0 {
		return Principal{}, fault.New(fault.Invalid, "a system, clerk or leader acts for at least one agency; give its code")
	}
	for _, a := range nc.Agencies {
		if _, err := docid.ParseAgencyCode(a); err != nil {
			return Principal{}, fault.Errorf(fault.Invalid, "agency %q: %v", a, err)
		}
	}
	spec := store.ClientSpec{Name: nc.Name, Principal: string(nc.Role), Agencies: nc.Agencies, Clearance: store.Confidentiality(nc.Clearance)}
	for _, c := range nc.Certificates {
		spec.Certificates = append(spec.Certificates, c.Raw)
	}
	c, err := s.Store.CreateClientWith(ctx, spec, h, AuditActor(actor))
	if err != nil {
		return Principal{}, err
	}
	return Principal{ID: strconv.FormatInt(c.ID, 10), Name: c.Name, Role: nc.Role, Agencies: c.AgencyList(), Clearance: string(c.Clearance)}, nil
}

// ClientByID is the active client with id, as a principal (the CLI's --as).
func (s *Service) ClientByID(ctx context.Context, id string) (Principal, error) {
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil {
		return Principal{}, fault.Errorf(fault.NotFound, "no active client %q", id)
	}
	c, err := s.Store.ClientByID(ctx, n)
	if err != nil {
		return Principal{}, err
	}
	return Principal{ID: strconv.FormatInt(c.ID, 10), Name: c.Name, Role: Role(c.Principal), Agencies: c.AgencyList(),
		Clearance: string(c.Clearance), Surface: SurfaceCLI}, nil
}

// grantee turns a grant's principal into what is stored: "role:<role>" as it is, a
// client's name into its id, an id as it is once it names a client.
func (s *Service) grantee(ctx context.Context, principal string) (string, error) {
	if strings.HasPrefix(principal, "role:") {
		return principal, nil
	}
	if n, err := strconv.ParseInt(principal, 10, 64); err == nil {
		if _, err := s.Store.ClientByID(ctx, n); err == nil {
			return principal, nil
		}
	}
	c, err := s.Store.ClientByName(ctx, principal)
	if err != nil {
		return "", fault.Errorf(fault.NotFound, "no active client %q", principal)
	}
	return strconv.FormatInt(c.ID, 10), nil
}

// AuditHeadEvery is how often kyso serve logs the audit chain's head.
const AuditHeadEvery = 15 * time.Minute

// LogAuditHead logs the audit chain's head (last event id and hash) now and every
// interval until ctx ends, so that the log, kept apart from the database, holds the
// copies a later `kyso docs check --head` compares with: a chain cut back together
// with its head row no longer holds an event the log named.
func (s *Service) LogAuditHead(ctx context.Context, log interface{ Info(string, ...any) }, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if h, err := s.Store.Head(ctx); err == nil {
			log.Info("audit head", "last_id", h.LastID, "last_hash", h.LastHash)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
