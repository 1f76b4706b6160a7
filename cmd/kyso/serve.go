package main

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/kyso-vn/kyso/api"
	"github.com/kyso-vn/kyso/api/csc"
	"github.com/kyso-vn/kyso/hsm"
	"github.com/kyso-vn/kyso/pkg/config"
	"github.com/kyso-vn/kyso/pkg/docid"
	"github.com/kyso-vn/kyso/pkg/pki"
	"github.com/kyso-vn/kyso/pkg/store"
	"github.com/kyso-vn/kyso/signer/pades"
	"github.com/kyso-vn/kyso/signer/pdf"
	"github.com/kyso-vn/kyso/signer/verify"
)

func init() { subcommands = append(subcommands, newServeCmd) }

func newServeCmd() *cobra.Command {
	var configPath string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the HTTP API (signing, verification, documents)",
		Long: `Serve the Kyso HTTP API described at /openapi.json.

With no --config it listens on 127.0.0.1:8080 and keeps SQLite and blobs under
./kyso-data. On the first start it creates an admin API client and prints its key on
standard output, once; only its hash is stored. Logs go to standard error.

Environment variables override the file: ` + serveEnvList() + `.

SIGINT or SIGTERM stops taking requests and lets those in flight finish within
server.shutdown_grace.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			// After the first signal starts the graceful shutdown, a second one kills the
			// process at once, as an operator pressing Ctrl-C twice expects.
			go func() { <-ctx.Done(); stop() }()
			return serve(ctx, serveParams{
				configPath: configPath,
				env:        os.LookupEnv,
				stdout:     cmd.OutOrStdout(),
				stderr:     cmd.ErrOrStderr(),
			})
		},
	}
	cmd.Flags().StringVar(&configPath, "config", "", "YAML configuration file (default: the built-in defaults)")
	return cmd
}

func serveEnvList() string {
	var b bytes.Buffer
	for i, e := range config.EnvVars {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(e.Name + " (" + e.Key + ")")
	}
	return b.String()
}

// serveParams are the process's edges, replaced in tests.
type serveParams struct {
	configPath string
	env        config.LookupEnv
	stdout     io.Writer // the first admin key, once
	stderr     io.Writer // logs
	// ready, when set, is told the listening address (tests listen on port 0).
	ready func(net.Addr)
}

// serve runs until ctx ends (a signal), then shuts down gracefully.
func serve(ctx context.Context, p serveParams) error {
	cfg, err := config.Load(p.configPath, p.env)
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	demo := false
	if p.configPath == "" && len(cfg.Keys) == 0 && len(cfg.Trust.Anchors) == 0 && cfg.Trust.AnchorsDir == "" {
		if k, anchor, ok := serveDemoKey(); ok {
			cfg.Keys = append(cfg.Keys, k)
			cfg.Trust.Anchors = append(cfg.Trust.Anchors, anchor)
			demo = true
		}
	}
	log := newServeLogger(p.stderr, cfg.Log)
	if demo {
		log.Warn("DEMO mode: no configuration, so the committed test PKI's root is a trust anchor and its organisation key signs; never run this way with real documents")
	}
	anchors, err := loadAnchors(cfg.Trust)
	if err != nil {
		return &exitError{code: 2, err: err}
	}

	dataDir, err := filepath.Abs(cfg.Store.DataDir)
	if err != nil {
		return fmt.Errorf("serve: store.data_dir: %w", err)
	}
	tempDir := filepath.Join(dataDir, "tmp")
	if err := os.MkdirAll(tempDir, 0o700); err != nil {
		return fmt.Errorf("serve: %w", err)
	}

	st, err := openServeStore(ctx, cfg, dataDir)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := bootstrapAdmin(ctx, st, p.stdout, log); err != nil {
		return err
	}

	ring, err := openServeKeys(ctx, cfg, st, log)
	if err != nil {
		return err
	}
	defer ring.close()

	checks := []api.Check{{Name: "store", Readiness: storeCheck{st}}}
	for _, k := range ring.keys {
		checks = append(checks, api.Check{Name: "key:" + k.cfg.Name, Key: k.cfg.Name, Readiness: k})
	}
	svc := storeService{st}
	mounts := map[string]http.Handler{}
	if cfg.CSC.Enabled {
		h, err := newCSC(cfg.CSC, svc, ring, log)
		if err != nil {
			return err
		}
		mounts["/csc/v2"] = h
	}
	srv, err := api.New(api.Options{
		Config:         cfg,
		Logger:         log,
		TempDir:        tempDir,
		Clients:        svc,
		ClientRegistry: svc,
		Keys:           ring,
		KeyGrants:      ring,
		Certificates:   svc,
		Stats:          svc,
		Documents:      svc,
		Agencies:       svc,
		Signer:         ring,
		Verifier: serveVerifier{
			anchors: anchors, offline: cfg.Revocation.Offline, timeout: cfg.Revocation.OCSPTimeout,
		},
		Checks: checks,
		Mounts: mounts,
	})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Server.Listen)
	if err != nil {
		return &exitError{code: 1, err: fmt.Errorf("serve: server.listen: %w", err)}
	}
	if p.ready != nil {
		p.ready(ln.Addr())
	}
	return srv.Serve(ctx, ln)
}

// newServeLogger writes JSON for log collectors, or text when a person watches a terminal.
func newServeLogger(w io.Writer, c config.Log) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(c.Level)) // config.Validate admits only valid levels
	opts := &slog.HandlerOptions{Level: level}
	format := c.Format
	if format == "auto" {
		format = "json"
		if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
			format = "text"
		}
	}
	if format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// serveDemoKey is the organisation key of the committed test PKI and the PKI's root,
// used when kyso serve runs from a checkout with no configuration, so that the
// README's curl session can sign and verify. Every listing marks the key as a demo.
func serveDemoKey() (key config.Key, anchor string, ok bool) {
	dir, err := filepath.Abs("certs-testdata")
	if err != nil {
		return config.Key{}, "", false
	}
	for _, f := range []string{"org.key", "org.pem", "chain.pem", "root-ca.pem"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			return config.Key{}, "", false
		}
	}
	esc := func(p string) string { return (&url.URL{Path: p}).EscapedPath() }
	return config.Key{
		Name:        "demo-org",
		URI:         "softkey:path=" + esc(filepath.Join(dir, "org.key")),
		Certificate: filepath.Join(dir, "org.pem"),
		Chain:       []string{filepath.Join(dir, "chain.pem")},
		Owner:       "DEMO — test PKI, not for production",
		Allowed:     []string{"role:admin", "role:system", "role:clerk"},
		Demo:        true,
	}, filepath.Join(dir, "root-ca.pem"), true
}

// loadAnchors reads trust.anchors (files) and every certificate file in
// trust.anchors_dir. A configured path holding no certificate is an error, so a typo
// cannot leave the verifier trusting nothing without a word.
func loadAnchors(t config.Trust) ([]*x509.Certificate, error) {
	files := slices.Clone(t.Anchors)
	if t.AnchorsDir != "" {
		ents, err := os.ReadDir(t.AnchorsDir)
		if err != nil {
			return nil, fmt.Errorf("config: trust.anchors_dir: %w", err)
		}
		for _, e := range ents {
			switch strings.ToLower(filepath.Ext(e.Name())) {
			case ".pem", ".crt", ".cer", ".der":
				files = append(files, filepath.Join(t.AnchorsDir, e.Name()))
			}
		}
	}
	var out []*x509.Certificate
	for _, f := range files {
		certs, err := pki.ReadCertificatesFile(f)
		if err != nil {
			return nil, fmt.Errorf("config: trust anchor: %w", err)
		}
		out = append(out, certs...)
	}
	return out, nil
}

// serveVerifier verifies PDFs with signer/verify, the engine of `kyso verify`.
type serveVerifier struct {
	anchors []*x509.Certificate
	offline bool
	timeout time.Duration
}

func (v serveVerifier) Verify(ctx context.Context, doc api.Document, now time.Time) (*verify.Report, error) {
	rep, err := verify.VerifyPDF(ctx, doc, doc.Size(), doc.Filename(), verify.Options{
		Anchors: v.anchors, At: now, Offline: v.offline, RevocationTimeout: v.timeout,
	})
	switch {
	case errors.Is(err, verify.ErrNotSigned):
		return nil, api.UserError(api.ErrInvalidDocument, "The document holds no signature.")
	case errors.Is(err, verify.ErrUnreadable):
		return nil, api.UserError(api.ErrInvalidDocument, "The document cannot be read as a PDF.")
	}
	return rep, err
}

func openServeStore(ctx context.Context, cfg *config.Config, dataDir string) (*store.Store, error) {
	sc := store.Config{Driver: cfg.Store.Driver, DSN: cfg.Store.DSN, BlobsInDB: cfg.Store.BlobsInDB}
	if !sc.BlobsInDB {
		sc.BlobDir = filepath.Join(dataDir, "blobs")
	}
	if sc.Driver == store.DriverSQLite && sc.DSN == "" {
		sc.DSN = filepath.Join(dataDir, "kyso.db")
	}
	st, err := store.Open(ctx, sc)
	if err != nil {
		return nil, fmt.Errorf("serve: %w", err)
	}
	return st, nil
}

// bootstrapAdmin makes the first admin client when the store has none and prints its
// key on stdout, the one time it is ever shown. Two replicas starting together on an
// empty database may each make one; an admin revokes the spare.
func bootstrapAdmin(ctx context.Context, st *store.Store, stdout io.Writer, log *slog.Logger) error {
	var n int64
	if err := st.DB().WithContext(ctx).Model(&store.Client{}).Count(&n).Error; err != nil {
		return fmt.Errorf("serve: counting API clients: %w", err)
	}
	if n > 0 {
		return nil
	}
	key, hash := api.NewAPIKey()
	c, err := st.CreateClient(ctx, "admin", string(api.RoleAdmin), apiKeyHashBytes(hash), "kyso serve")
	if err != nil {
		return fmt.Errorf("serve: creating the first admin client: %w", err)
	}
	log.Info("created the first admin API client; its key is printed on standard output once", "client_id", c.ID)
	_, err = fmt.Fprintf(stdout, "Admin API key (shown once, store it now): %s\n", key)
	return err
}

func apiKeyHashBytes(hexHash string) [32]byte {
	var h [32]byte
	_, _ = hex.Decode(h[:], []byte(hexHash)) // api.HashAPIKey is always 64 hex digits
	return h
}

// storeService adapts the store to the API: clients, certificates, statistics and
// documents. The store keeps one free "principal" string per client; Kyso keeps the
// client's role there.
type storeService struct{ st *store.Store }

func (s storeService) LookupByKeyHash(ctx context.Context, hash string) (api.Principal, error) {
	if len(hash) != sha256.Size*2 {
		return api.Principal{}, api.ErrUnknownAPIKey
	}
	c, err := s.st.LookupClientByKeyHash(ctx, apiKeyHashBytes(hash))
	if errors.Is(err, store.ErrNotFound) {
		return api.Principal{}, api.ErrUnknownAPIKey
	}
	if err != nil {
		return api.Principal{}, err
	}
	role := api.Role(c.Principal)
	if !role.Valid() || role == api.RolePublic {
		return api.Principal{}, fmt.Errorf("%w: client %d has no valid role", api.ErrUnknownAPIKey, c.ID)
	}
	return api.Principal{ID: strconv.FormatInt(c.ID, 10), Name: c.Name, Role: role}, nil
}

// auditActor names an API client in the store's audit trail.
func auditActor(p api.Principal) string { return "api client " + p.ID + " (" + p.Name + ")" }

func (s storeService) CreateClient(ctx context.Context, actor api.Principal, name string, role api.Role, keyHash string) (api.Principal, error) {
	c, err := s.st.CreateClient(ctx, name, string(role), apiKeyHashBytes(keyHash), auditActor(actor))
	if err != nil {
		return api.Principal{}, err
	}
	return api.Principal{ID: strconv.FormatInt(c.ID, 10), Name: c.Name, Role: role}, nil
}

func (s storeService) RevokeClient(ctx context.Context, actor api.Principal, id string) error {
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil {
		return api.UserError(api.ErrNotFound, "No active client has this id.")
	}
	if err := s.st.RevokeClient(ctx, n, auditActor(actor)); errors.Is(err, store.ErrNotFound) {
		return api.UserError(api.ErrNotFound, "No active client has this id.")
	} else if err != nil {
		return err
	}
	return nil
}

func (s storeService) Certificates(ctx context.Context) ([]api.CertificateInfo, error) {
	cs, err := s.st.Certificates(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]api.CertificateInfo, len(cs))
	for i, c := range cs {
		out[i] = api.CertificateInfo{
			Subject: c.Subject, Issuer: c.Issuer, Serial: c.Serial, SHA256: c.Fingerprint,
			Kind: string(c.Kind), Form: string(c.Form), AgencyCode: c.AgencyCode, Owner: c.Owner,
			NotBefore: c.NotBefore.UTC(), NotAfter: c.NotAfter.UTC(), RevokedAt: c.RevokedAt,
		}
	}
	return out, nil
}

func (s storeService) Stats(ctx context.Context, year int) (api.Stats, error) {
	st, err := s.st.Stats(ctx, year)
	if err != nil {
		return api.Stats{}, err
	}
	out := api.Stats{
		Year: st.Year, Incoming: st.Incoming, Outgoing: st.Outgoing,
		IncomingPrevYear: st.IncomingPrevYear, OutgoingPrevYear: st.OutgoingPrevYear,
		Signed: st.Signed, Signatures: st.Signatures, Certificates: st.Certificates,
		CertificatesByKind: map[string]int64{}, CertificatesByForm: map[string]int64{},
	}
	for k, n := range st.CertificatesByKind {
		out.CertificatesByKind[string(k)] = n
	}
	for f, n := range st.CertificatesByForm {
		out.CertificatesByForm[string(f)] = n
	}
	return out, nil
}

func (s storeService) AgencyAt(ctx context.Context, code string, at time.Time) (api.AgencyRecord, error) {
	a, err := s.st.AgencyAt(ctx, docid.AgencyCode(code), at)
	if errors.Is(err, store.ErrNotFound) {
		return api.AgencyRecord{}, api.UserError(api.ErrNotFound, "No agency has this code at that date.")
	}
	if err != nil {
		return api.AgencyRecord{}, err
	}
	return api.AgencyRecord{Code: a.Code, Name: a.Name, ParentCode: a.ParentCode, ValidFrom: a.ValidFrom.UTC(), ValidTo: a.ValidTo}, nil
}

func (s storeService) ImportAgencies(ctx context.Context, actor api.Principal, csv io.Reader) (int, error) {
	list, err := docid.ReadAgencies(csv)
	if err != nil {
		// The line errors describe the caller's own file.
		return 0, api.UserError(api.ErrInvalidRequest, err.Error())
	}
	n, err := s.st.ImportAgencies(ctx, list, auditActor(actor))
	if err != nil {
		return 0, storeError(err)
	}
	return n, nil
}

// storeError sorts the store's refusals for the API; their messages are about the
// caller's own input and are shown.
func storeError(err error) error {
	msg := err.Error()
	for _, prefix := range []string{store.ErrInvalid.Error() + ": ", store.ErrConflict.Error() + ": ", store.ErrNotFound.Error() + ": ", "store: "} {
		msg = strings.TrimPrefix(msg, prefix)
	}
	switch {
	case errors.Is(err, store.ErrInvalid):
		return api.UserError(api.ErrInvalidRequest, msg)
	case errors.Is(err, store.ErrConflict):
		return api.UserError(api.ErrConflict, msg)
	case errors.Is(err, store.ErrNotFound):
		return api.UserError(api.ErrNotFound, "No such document or version.")
	}
	return err
}

func (s storeService) CreateDocument(ctx context.Context, actor api.Principal, nd api.NewDocument, content api.Document) (api.DocumentRecord, error) {
	d, err := s.st.CreateDocument(ctx, store.NewDocument{
		Direction:       store.Direction(nd.Direction),
		Type:            nd.Type,
		Summary:         nd.Summary,
		AgencyCode:      docid.AgencyCode(nd.AgencyCode),
		HolderCode:      docid.AgencyCode(nd.HolderCode),
		Number:          docid.NumberSymbol{Number: nd.Number, Symbol: nd.Symbol},
		Identifier:      nd.Identifier,
		IssuedAt:        nd.IssuedAt,
		ReceivedAt:      nd.ReceivedAt,
		Urgency:         store.Urgency(nd.Urgency),
		Confidentiality: store.Confidentiality(nd.Confidentiality),
		Content:         io.NewSectionReader(content, 0, content.Size()),
		Filename:        content.Filename(),
		MediaType:       content.ContentType(),
		Actor:           auditActor(actor),
	})
	if err != nil {
		return api.DocumentRecord{}, storeError(err)
	}
	return s.GetDocument(ctx, d.ID)
}

func (s storeService) SearchDocuments(ctx context.Context, q api.DocumentQuery) ([]api.DocumentRecord, error) {
	docs, err := s.st.Search(ctx, store.Query{
		Identifier: q.Identifier, HolderCode: docid.AgencyCode(q.HolderCode), AgencyCode: docid.AgencyCode(q.AgencyCode),
		Direction: store.Direction(q.Direction), Status: store.Status(q.Status), Number: q.Number, Symbol: q.Symbol,
		Year: q.Year, IssuedFrom: q.IssuedFrom, IssuedTo: q.IssuedTo, Text: q.Text, Limit: q.Limit, Offset: q.Offset,
	})
	if err != nil {
		return nil, storeError(err)
	}
	out := make([]api.DocumentRecord, len(docs))
	for i := range docs {
		out[i] = documentRecord(&docs[i])
	}
	return out, nil
}

func (s storeService) GetDocument(ctx context.Context, id int64) (api.DocumentRecord, error) {
	d, err := s.st.GetDocument(ctx, id)
	if err != nil {
		return api.DocumentRecord{}, storeError(err)
	}
	vs, err := s.st.Versions(ctx, id)
	if err != nil {
		return api.DocumentRecord{}, storeError(err)
	}
	rec := documentRecord(d)
	for i := range vs {
		rec.Versions = append(rec.Versions, versionRecord(&vs[i]))
	}
	return rec, nil
}

func (s storeService) OpenContent(ctx context.Context, actor api.Principal, id int64, seq int) (io.ReadCloser, api.VersionRecord, error) {
	rc, v, err := s.st.Download(ctx, id, seq, auditActor(actor))
	if err != nil {
		return nil, api.VersionRecord{}, storeError(err)
	}
	return rc, versionRecord(v), nil
}

func documentRecord(d *store.Document) api.DocumentRecord {
	r := api.DocumentRecord{
		ID: d.ID, Direction: string(d.Direction), Status: string(d.Status), Type: d.Type, Summary: d.Summary,
		AgencyCode: d.AgencyCode, HolderCode: d.HolderCode, Number: d.Number, Symbol: d.Symbol, LegalYear: d.LegalYear,
		IssuedAt: d.IssuedAt, ReceivedAt: d.ReceivedAt, Urgency: string(d.Urgency), Confidentiality: string(d.Confidentiality),
		CurrentVersion: d.CurrentVersion, ContentSHA256: d.ContentSHA256, CreatedAt: d.CreatedAt.UTC(), UpdatedAt: d.UpdatedAt.UTC(),
	}
	if d.Identifier != nil {
		r.Identifier = *d.Identifier
	}
	if d.Year != nil {
		r.RegisterYear = *d.Year
	}
	if d.RegNumber != nil {
		r.RegisterNumber = *d.RegNumber
	}
	return r
}

func versionRecord(v *store.Version) api.VersionRecord {
	return api.VersionRecord{
		Seq: v.Seq, SHA256: v.SHA256, Size: v.Size, Filename: v.Filename, MediaType: v.MediaType,
		SignatureCount: v.SignatureCount, CreatedBy: v.CreatedBy, CreatedAt: v.CreatedAt.UTC(),
	}
}

type storeCheck struct{ st *store.Store }

func (c storeCheck) Ready(ctx context.Context) error {
	db, err := c.st.DB().DB()
	if err != nil {
		return err
	}
	return db.PingContext(ctx)
}

// serverKey is a configured signing key, opened, with the id the store knows it by.
type serverKey struct {
	cfg     config.Key
	key     hsm.Key
	cert    *x509.Certificate
	chain   []*x509.Certificate
	storeID int64
}

// readinessDigest is what the readiness probe signs: a key that can sign it and whose
// signature verifies with its certificate's public key is reachable and is the key the
// certificate names.
var readinessDigest = sha256.Sum256([]byte("kyso readiness probe"))

func (k *serverKey) Ready(ctx context.Context) error {
	sig, err := k.key.SignContext(ctx, readinessDigest[:], crypto.SHA256)
	if err != nil {
		return err
	}
	switch pub := k.cert.PublicKey.(type) {
	case *rsa.PublicKey:
		err = rsa.VerifyPKCS1v15(pub, crypto.SHA256, readinessDigest[:], sig)
	case *ecdsa.PublicKey:
		if !ecdsa.VerifyASN1(pub, readinessDigest[:], sig) {
			err = errors.New("ecdsa verification failed")
		}
	default:
		err = fmt.Errorf("unsupported public key %T", pub)
	}
	if err != nil {
		return fmt.Errorf("the key's probe signature does not verify with its certificate: %w", err)
	}
	return nil
}

// serveKeyring holds the server-side keys: it lists them with their grants and signs PAdES
// with them.
type serveKeyring struct {
	keys       []*serverKey
	st         *store.Store
	tsa        *pki.TSAClient
	validation pades.ValidationSource
	closer     io.Closer
}

func (r *serveKeyring) close() { _ = r.closer.Close() }

func openServeKeys(ctx context.Context, cfg *config.Config, st *store.Store, log *slog.Logger) (*serveKeyring, error) {
	prov := hsm.NewProvider(hsm.Options{AllowedModules: cfg.PKCS11.AllowedModules, Logger: log.With("component", "hsm")})
	r := &serveKeyring{st: st, closer: prov}
	if len(cfg.TSA.URLs) > 0 {
		r.tsa = &pki.TSAClient{URLs: cfg.TSA.URLs, Timeout: cfg.TSA.Timeout}
	}
	if !cfg.Revocation.Offline {
		r.validation = &pki.Collector{
			OCSP: &pki.OCSPClient{Timeout: cfg.Revocation.OCSPTimeout},
			CRLs: &pki.CRLFetcher{Timeout: cfg.Revocation.CRLTimeout},
		}
	}
	for i, kc := range cfg.Keys {
		k, err := openServeKey(ctx, prov, st, kc)
		if err != nil {
			_ = prov.Close()
			return nil, fmt.Errorf("serve: keys[%d] (%s): %w", i, kc.Name, err)
		}
		r.keys = append(r.keys, k)
		attrs := []any{"key", kc.Name, "subject", k.cert.Subject.String(), "not_after", k.cert.NotAfter}
		if kc.Demo {
			log.Warn("DEMO signing key from the test PKI: its private key is public; never use it for real documents", attrs...)
		} else {
			log.Info("signing key ready", attrs...)
		}
	}
	return r, nil
}

func openServeKey(ctx context.Context, prov hsm.Provider, st *store.Store, kc config.Key) (*serverKey, error) {
	key, err := prov.Open(ctx, kc.URI)
	if err != nil {
		return nil, err
	}
	k := &serverKey{cfg: kc, key: key, cert: key.Certificate(), chain: key.Chain()}
	if kc.Certificate != "" {
		certs, err := pki.ReadCertificatesFile(kc.Certificate)
		if err != nil {
			return nil, err
		}
		k.cert, k.chain = certs[0], certs[1:]
	}
	for _, f := range kc.Chain {
		certs, err := pki.ReadCertificatesFile(f)
		if err != nil {
			return nil, err
		}
		k.chain = append(k.chain, certs...)
	}
	if k.cert == nil {
		return nil, errors.New("the key provider holds no certificate for it; name one in certificate:")
	}
	if pub, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool }); !ok || !pub.Equal(k.cert.PublicKey) {
		return nil, fmt.Errorf("the certificate %q is not the key's", k.cert.Subject)
	}
	rec, err := st.KeyByURI(ctx, kc.URI)
	if errors.Is(err, store.ErrNotFound) {
		rec, err = st.CreateKey(ctx, store.SigningKey{URI: kc.URI, Label: kc.Name, Owner: kc.Owner}, "kyso serve")
	}
	if err != nil {
		return nil, err
	}
	k.storeID = rec.ID
	return k, nil
}

// Keys lists every key with its grants: those in the configuration and those given
// in the store.
func (r *serveKeyring) Keys(ctx context.Context) ([]api.KeyInfo, error) {
	out := make([]api.KeyInfo, 0, len(r.keys))
	for _, k := range r.keys {
		grants, err := r.st.KeyGrants(ctx, k.storeID)
		if err != nil {
			return nil, err
		}
		owner := k.cfg.Owner
		if owner == "" {
			owner = k.cert.Subject.CommonName
		}
		out = append(out, api.KeyInfo{
			Name:        k.cfg.Name,
			Owner:       owner,
			Allowed:     append(slices.Clone(k.cfg.Allowed), grants...),
			Demo:        k.cfg.Demo,
			Certificate: k.cert,
		})
	}
	return out, nil
}

// GrantKey records a grant in the store; the configuration's grants stay as written.
func (r *serveKeyring) GrantKey(ctx context.Context, actor api.Principal, key, principal string) error {
	k := r.find(key)
	if k == nil {
		return api.UserError(api.ErrNotFound, "No such key.")
	}
	return r.st.GrantKey(ctx, k.storeID, principal, auditActor(actor))
}

// RevokeGrant withdraws a grant made through the API. A grant written in the
// configuration file is not in the store, and is changed in the file.
func (r *serveKeyring) RevokeGrant(ctx context.Context, actor api.Principal, key, principal string) error {
	k := r.find(key)
	if k == nil {
		return api.UserError(api.ErrNotFound, "No such key.")
	}
	err := r.st.RevokeGrant(ctx, k.storeID, principal, auditActor(actor))
	if errors.Is(err, store.ErrNotFound) {
		detail := "The key has no such grant."
		if slices.Contains(k.cfg.Allowed, principal) {
			detail = "This grant is written in the configuration file; change it there."
		}
		return api.UserError(api.ErrNotFound, detail)
	}
	return err
}

func (r *serveKeyring) find(name string) *serverKey {
	for _, k := range r.keys {
		if k.cfg.Name == name {
			return k
		}
	}
	return nil
}

// serveZone is the zone written in visible signatures (Decree 30: ISO 8601 with +07:00).
var serveZone = time.FixedZone("ICT", 7*60*60)

// SignDocument signs a PDF as PAdES with the named key. The API has already checked
// that p is granted the key.
func (r *serveKeyring) SignDocument(ctx context.Context, p api.Principal, req api.SignRequest, doc api.Document, out io.Writer) (api.SignResult, error) {
	k := r.find(req.Key)
	if k == nil {
		return api.SignResult{}, api.UserError(api.ErrNotFound, "No such key.")
	}
	switch {
	case req.Format == "cades":
		return api.SignResult{}, api.UserError(api.ErrNotImplemented, "CAdES (detached .p7s) signing is not available in this build yet; sign PDFs with format=pades.")
	case req.Store:
		return api.SignResult{}, api.UserError(api.ErrNotImplemented, "Storing signed documents (store=true) is not available in this build yet.")
	}
	head := make([]byte, 1024)
	n, _ := doc.ReadAt(head, 0)
	if !bytes.Contains(head[:n], []byte("%PDF-")) {
		return api.SignResult{}, api.UserError(api.ErrInvalidDocument, "The document is not a PDF; sign other files with format=cades.")
	}
	level := pades.LevelBB
	if req.Level != "" {
		var err error
		if level, err = pades.ParseLevel(req.Level); err != nil {
			return api.SignResult{}, api.UserError(api.ErrInvalidRequest, err.Error())
		}
	}
	opts := pades.Options{
		Level:       level,
		Certificate: k.cert,
		Chain:       k.chain,
		Field:       req.Field,
		Reason:      req.Reason,
		Location:    req.Location,
		ContactInfo: req.Contact,
		Time:        time.Now(),
	}
	if level >= pades.LevelBT {
		if r.tsa == nil {
			return api.SignResult{}, api.UserError(api.ErrInvalidRequest, "Level "+level.String()+" needs a timestamp authority and this server has none (tsa.urls).")
		}
		opts.Timestamper = r.tsa
	}
	if level >= pades.LevelBLT {
		if r.validation == nil {
			return api.SignResult{}, api.UserError(api.ErrInvalidRequest, "Level "+level.String()+" needs revocation data and this server is offline (revocation.offline).")
		}
		opts.Validation = r.validation
	}
	if req.Page > 0 {
		opts.Appearance = &pades.Appearance{Page: req.Page, Lines: []string{
			"Ký bởi: " + k.cert.Subject.CommonName,
			"Thời gian ký: " + opts.Time.In(serveZone).Format("2006-01-02T15:04:05-07:00"),
		}}
	}
	err := pades.Sign(ctx, keyErrors{k.key}, doc, doc.Size(), out, opts)
	if err != nil {
		return api.SignResult{}, serveSignError(err)
	}
	return api.SignResult{ContentType: "application/pdf"}, nil
}

// serveSignError sorts a signing failure for the API: the caller's document, the key, an
// upstream service, or (anything else) the server's own fault.
func serveSignError(err error) error {
	switch {
	case errors.Is(err, api.ErrKeyUnavailable), errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	case errors.Is(err, pdf.ErrNotPDF), errors.Is(err, pdf.ErrDamaged), errors.Is(err, pdf.ErrEncrypted),
		errors.Is(err, pdf.ErrUnsupportedFilter), errors.Is(err, pades.ErrNotAllowed), errors.Is(err, pades.ErrField):
		// These messages describe the caller's own document, and hold nothing of ours.
		return api.UserError(api.ErrInvalidDocument, err.Error())
	case errors.Is(err, pki.ErrTSAUnavailable), errors.Is(err, pki.ErrOCSPUnavailable), errors.Is(err, pki.ErrCRLUnavailable):
		return fmt.Errorf("%w: %w", api.ErrUpstreamUnavailable, err)
	}
	return err
}

// keyErrors marks every failure of the key itself as api.ErrKeyUnavailable, so that the
// API counts it per key and answers 503 rather than 500.
type keyErrors struct{ hsm.Key }

func (k keyErrors) SignContext(ctx context.Context, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	sig, err := k.Key.SignContext(ctx, digest, opts)
	if err != nil && ctx.Err() == nil {
		return nil, fmt.Errorf("%w: %w", api.ErrKeyUnavailable, err)
	}
	return sig, err
}

func (k keyErrors) Sign(_ io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	return k.SignContext(context.Background(), digest, opts)
}

// newCSC serves the keys through the CSC API v2 (api/csc) under the same API keys and
// grants as the rest of the API.
func newCSC(c config.CSC, svc storeService, ring *serveKeyring, log *slog.Logger) (http.Handler, error) {
	secret, err := os.ReadFile(c.SecretFile)
	if err != nil {
		return nil, &exitError{code: 2, err: fmt.Errorf("config: csc.secret_file: %w", err)}
	}
	secret = bytes.TrimSpace(secret)
	if len(secret) < 32 {
		return nil, &exitError{code: 2, err: errors.New("config: csc.secret_file: the secret must be at least 32 bytes")}
	}
	return csc.New(csc.Options{
		Keys:   cscKeys{ring},
		Auth:   cscAuth{svc: svc, ring: ring},
		Secret: secret,
		Logger: log.With("component", "csc"),
	})
}

// cscKeys offers the configured keys as CSC credentials, named as in the API.
type cscKeys struct{ ring *serveKeyring }

func (k cscKeys) Credentials(context.Context) ([]string, error) {
	ids := make([]string, len(k.ring.keys))
	for i, key := range k.ring.keys {
		ids[i] = key.cfg.Name
	}
	return ids, nil
}

func (k cscKeys) Key(_ context.Context, id string) (hsm.Key, error) {
	key := k.ring.find(id)
	if key == nil {
		return nil, csc.ErrUnknownCredential
	}
	return configuredCert{key.key, key.cert, key.chain}, nil
}

// configuredCert is a key with the certificate and chain the configuration names,
// which a PKCS#11 token need not hold.
type configuredCert struct {
	hsm.Key
	cert  *x509.Certificate
	chain []*x509.Certificate
}

func (c configuredCert) Certificate() *x509.Certificate { return c.cert }
func (c configuredCert) Chain() []*x509.Certificate     { return c.chain }

// cscAuth authenticates CSC clients by their Kyso API key and applies the key grants.
// csc.Principal carries no role, so the role travels in its ID ("clerk:7") for MayUse
// to honour "role:" grants.
type cscAuth struct {
	svc  storeService
	ring *serveKeyring
}

// cscGrantTimeout bounds the grant lookup of MayUse, which gets no context.
const cscGrantTimeout = 5 * time.Second

func (a cscAuth) Authenticate(ctx context.Context, apiKey string) (csc.Principal, error) {
	p, err := a.svc.LookupByKeyHash(ctx, api.HashAPIKey(apiKey))
	if err != nil {
		return csc.Principal{}, err
	}
	return csc.Principal{ID: string(p.Role) + ":" + p.ID, Name: p.Name}, nil
}

func (a cscAuth) MayUse(p csc.Principal, credentialID string) bool {
	role, id, ok := strings.Cut(p.ID, ":")
	if !ok {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), cscGrantTimeout)
	defer cancel()
	keys, err := a.ring.Keys(ctx)
	if err != nil {
		return false
	}
	for _, k := range keys {
		if k.Name == credentialID {
			return api.MayUseKey(api.Principal{ID: id, Name: p.Name, Role: api.Role(role)}, k)
		}
	}
	return false
}
