package main

import (
	"bytes"
	"context"
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
	"github.com/kyso-vn/kyso/app"
	"github.com/kyso-vn/kyso/hsm"
	"github.com/kyso-vn/kyso/pkg/config"
	"github.com/kyso-vn/kyso/pkg/docid"
	"github.com/kyso-vn/kyso/pkg/pki"
	"github.com/kyso-vn/kyso/pkg/store"
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
	// revocationURL, when set, maps OCSP and CRL addresses before they are asked: tests
	// point the test PKI's fixed addresses at the responders they started.
	revocationURL func(string) string
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

	prov := hsm.NewProvider(hsm.Options{AllowedModules: cfg.PKCS11.AllowedModules, Logger: log.With("component", "hsm")})
	defer prov.Close()
	keys, err := app.OpenKeys(ctx, prov, st, cfg.Keys)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	svc := newServeService(cfg, st, keys, anchors, tempDir, p.revocationURL)
	if err := applyTrustConfig(cfg, &svc.Verify); err != nil {
		return &exitError{code: 2, err: err}
	}
	if svc.Remote, err = newRemote(cfg.Remote, log.With("component", "remote")); err != nil {
		return err
	}
	checks := []api.Check{{Name: "store", Readiness: storeCheck{st}}}
	for _, k := range cfg.Keys {
		sk := keys[k.Name]
		checks = append(checks, api.Check{Name: "key:" + k.Name, Key: k.Name, Readiness: sk})
		attrs := []any{"key", k.Name, "subject", sk.Key.Certificate().Subject.String(), "not_after", sk.Key.Certificate().NotAfter}
		if k.Demo {
			log.Warn("DEMO signing key from the test PKI: its private key is public; never use it for real documents", attrs...)
		} else {
			log.Info("signing key ready", attrs...)
		}
	}
	stores := storeService{st: st, svc: svc}
	uses := serviceAPI{svc}
	mounts := map[string]http.Handler{}
	if cfg.CSC.Enabled {
		h, err := newCSC(cfg.CSC, stores, uses, log)
		if err != nil {
			return err
		}
		mounts["/csc/v2"] = h
	}
	srv, err := api.New(api.Options{
		Config:         cfg,
		Logger:         log,
		TempDir:        tempDir,
		Clients:        stores,
		ClientRegistry: stores,
		Keys:           uses,
		KeyGrants:      uses,
		Certificates:   stores,
		Stats:          stores,
		Documents:      stores,
		Agencies:       stores,
		Signer:         uses,
		Verifier:       uses,
		Signatures:     uses,
		Issuer:         uses,
		Registers:      uses,
		Checks:         checks,
		Mounts:         mounts,
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
	sweepCtx, stopSweep := context.WithCancel(ctx)
	swept := make(chan struct{})
	go func() { defer close(swept); sweepPending(sweepCtx, svc, log) }()
	defer func() { stopSweep(); <-swept }()
	// The completer resumes every ticket the store holds, then finishes them as the
	// holders answer; it stops with the server.
	completed := make(chan struct{})
	go func() { defer close(completed); _ = svc.RunRemote(sweepCtx) }()
	defer func() { stopSweep(); <-completed }()
	return srv.Serve(ctx, ln)
}

// sweepInterval is how often long-expired pending signatures are deleted.
const sweepInterval = time.Hour

// sweepPending deletes long-expired pending signatures until ctx ends. Replicas may
// sweep at once: the deletes are idempotent.
func sweepPending(ctx context.Context, svc *app.Service, log *slog.Logger) {
	t := time.NewTicker(sweepInterval)
	defer t.Stop()
	for {
		if n, err := svc.SweepPending(ctx); err != nil && ctx.Err() == nil {
			log.Warn("sweeping expired signature requests failed", "error", err.Error())
		} else if n > 0 {
			log.Info("expired signature requests deleted", "count", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// newServeService builds the use-cases over the store and keys: the timestamp
// authorities and revocation sources of the configuration, the trust anchors, and the
// pending-signature expiry. rewrite, when set, maps revocation URLs (tests point the
// test PKI's fixed addresses at their responders).
func newServeService(cfg *config.Config, st *store.Store, keys map[string]*app.ServerKey, anchors []*x509.Certificate, tempDir string, rewrite func(string) string) *app.Service {
	svc := &app.Service{
		Store: st, Keys: keys, TempDir: tempDir, PendingTTL: cfg.Signatures.PendingExpiry,
		Verify: verify.Options{Anchors: anchors, Offline: cfg.Revocation.Offline, RevocationTimeout: cfg.Revocation.OCSPTimeout,
			Limits: app.VerifyLimits(cfg.Verify)},
	}
	if len(cfg.TSA.URLs) > 0 {
		svc.Timestamper = &pki.TSAClient{URLs: cfg.TSA.URLs, Timeout: cfg.TSA.Timeout}
	}
	if !cfg.Revocation.Offline {
		svc.Validation = &pki.Collector{
			OCSP: &pki.OCSPClient{Timeout: cfg.Revocation.OCSPTimeout}, CRLs: &pki.CRLFetcher{Timeout: cfg.Revocation.CRLTimeout},
			MapURL: rewrite,
		}
		if rewrite != nil {
			svc.Verify.Revocation = &pki.Checker{RewriteURL: rewrite}
		}
	}
	return svc
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

// loadAnchors reads trust.anchors (files) and trust.anchors_dir by pki.LoadTrustStore's
// rules. A file holding no certificate, or an anchors_dir that does not exist, is an
// error, so a typo cannot leave the verifier trusting nothing without a word. An
// anchors_dir that exists but holds no certificate yet, like no trust section at all,
// is no anchor: a deployment may mount the directory before filling it, and every
// verification then says no chain was found.
func loadAnchors(t config.Trust) ([]*x509.Certificate, error) {
	paths := slices.Clone(t.Anchors)
	if t.AnchorsDir != "" {
		paths = append(paths, t.AnchorsDir)
	}
	if len(paths) == 0 {
		return nil, nil
	}
	ts, err := pki.LoadTrustStore(paths...)
	if errors.Is(err, pki.ErrNoAnchors) {
		// Each file of trust.anchors holds a certificate or fails above, so only an
		// empty anchors_dir gets here.
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("config: trust anchors: %w", err)
	}
	return ts.Anchors(), nil
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

// storeService adapts the store to the API: clients, certificates, statistics,
// agencies and documents (an incoming one through app.Receive). The store keeps
// one free "principal" string per client; Kyso keeps the client's role there.
type storeService struct {
	st  *store.Store
	svc *app.Service
}

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
	if store.Direction(nd.Direction) == store.Incoming {
		return s.receive(ctx, actor, nd, content)
	}
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

// receive verifies an incoming document and registers it with the holder's next
// arrival number. A scan without a signature is registered as NOT_SIGNED, as the
// API always accepted it.
func (s storeService) receive(ctx context.Context, actor api.Principal, nd api.NewDocument, content api.Document) (api.DocumentRecord, error) {
	d, rep, err := s.svc.Receive(ctx, app.ReceiveRequest{
		Content: io.NewSectionReader(content, 0, content.Size()), Filename: content.Filename(),
		Holder: docid.AgencyCode(nd.HolderCode), Issuer: docid.AgencyCode(nd.AgencyCode),
		Number: docid.NumberSymbol{Number: nd.Number, Symbol: nd.Symbol}, Identifier: nd.Identifier,
		Summary: nd.Summary, Type: nd.Type, IssuedAt: nd.IssuedAt, ReceivedAt: nd.ReceivedAt,
		Urgency: store.Urgency(nd.Urgency), Confidentiality: store.Confidentiality(nd.Confidentiality),
		AllowUnsigned: true, Actor: auditActor(actor),
	})
	if err != nil {
		return api.DocumentRecord{}, serviceError(err)
	}
	rec, err := s.GetDocument(ctx, d.ID)
	if err != nil {
		return rec, err
	}
	v := &api.Verification{Indication: app.NotSigned, Signatures: []api.SignatureVerification{}}
	if rep != nil {
		sum := app.VerificationSummary(rep)
		v.Indication = sum.Indication
		for _, sg := range sum.Signatures {
			v.Signatures = append(v.Signatures, api.SignatureVerification{Field: sg.Field, Signer: sg.Signer, Indication: sg.Indication, Level: sg.Level})
		}
	}
	rec.Verification = v
	return rec, nil
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

// serviceAPI adapts the use-cases of pkg/service to the API's interfaces: keys and
// grants, signing, verification, prepare/complete, issuing and registers. It only
// converts types and errors; the rules live in app.
type serviceAPI struct{ svc *app.Service }

var (
	_ api.Keys       = serviceAPI{}
	_ api.KeyGrants  = serviceAPI{}
	_ api.Signer     = serviceAPI{}
	_ api.Verifier   = serviceAPI{}
	_ api.Signatures = serviceAPI{}
	_ api.Issuer     = serviceAPI{}
	_ api.Registers  = serviceAPI{}
)

// serviceError sorts a use-case's refusal for the API. The detail shown is the
// message after the sentinel's own text: the service writes those for people.
func serviceError(err error) error {
	kinds := []struct {
		svc, api error
	}{
		{app.ErrNotVerified, api.ErrInvalidDocument},
		{app.ErrBadDocument, api.ErrInvalidDocument},
		{app.ErrNotFound, api.ErrNotFound},
		{app.ErrExpired, api.ErrExpired},
		{app.ErrConflict, api.ErrConflict},
		{app.ErrInvalid, api.ErrInvalidRequest},
	}
	for _, k := range kinds {
		if errors.Is(err, k.svc) {
			detail := err.Error()
			if _, after, ok := strings.Cut(detail, k.svc.Error()+": "); ok {
				detail = after
			}
			if k.svc == app.ErrNotVerified {
				detail = "The document's signature does not verify, so it is not issued: " + detail
			}
			return api.UserError(k.api, detail)
		}
	}
	switch {
	case errors.Is(err, app.ErrKeyUnavailable):
		return fmt.Errorf("%w: %w", api.ErrKeyUnavailable, err)
	case errors.Is(err, pki.ErrTSAUnavailable), errors.Is(err, pki.ErrOCSPUnavailable), errors.Is(err, pki.ErrCRLUnavailable):
		return fmt.Errorf("%w: %w", api.ErrUpstreamUnavailable, err)
	}
	return err
}

// Keys lists every key with its grants: those in the configuration and those given
// in the store.
func (a serviceAPI) Keys(ctx context.Context) ([]api.KeyInfo, error) {
	keys, err := a.svc.ListKeys(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]api.KeyInfo, len(keys))
	for i, k := range keys {
		out[i] = api.KeyInfo{Name: k.Name, Owner: k.Owner, Allowed: k.Grants, Demo: k.Demo, Certificate: k.Key.Certificate()}
	}
	return out, nil
}

func (a serviceAPI) GrantKey(ctx context.Context, actor api.Principal, key, principal string) error {
	return serviceError(a.svc.GrantKey(ctx, key, principal, auditActor(actor)))
}

func (a serviceAPI) RevokeGrant(ctx context.Context, actor api.Principal, key, principal string) error {
	return serviceError(a.svc.RevokeGrant(ctx, key, principal, auditActor(actor)))
}

// SignDocument signs as PAdES (or a detached CAdES .p7s of any file) with the named
// key, and stores the signed PDF when asked. The API has already checked the grant.
func (a serviceAPI) SignDocument(ctx context.Context, p api.Principal, req api.SignRequest, doc api.Document, out io.Writer) (api.SignResult, error) {
	level, err := app.ParseLevel(req.Level)
	if err != nil {
		return api.SignResult{}, serviceError(err)
	}
	if req.Format == "cades" {
		if err := a.svc.SignCAdES(ctx, req.Key, io.NewSectionReader(doc, 0, doc.Size()), out, level); err != nil {
			return api.SignResult{}, serviceError(err)
		}
		return api.SignResult{ContentType: "application/pkcs7-signature"}, nil
	}
	o := app.SignOptions{Level: level, Reason: req.Reason, Location: req.Location, Contact: req.Contact, Field: req.Field, VisiblePage: req.Page}
	if !req.Store {
		if err := a.svc.SignPDF(ctx, req.Key, doc, doc.Size(), out, o); err != nil {
			return api.SignResult{}, serviceError(err)
		}
		return api.SignResult{ContentType: "application/pdf"}, nil
	}
	d, err := a.svc.SignAndStore(ctx, req.Key, doc, doc.Size(), o, app.StoreTarget{
		DocumentID: req.DocumentID, AgencyCode: req.Agency, Summary: req.Summary, Symbol: req.Symbol, Type: req.Type,
		Filename: doc.Filename(), Actor: auditActor(p),
	})
	if err != nil {
		return api.SignResult{}, serviceError(err)
	}
	rec, err := storeService{st: a.svc.Store}.GetDocument(ctx, d.ID)
	if err != nil {
		return api.SignResult{}, err
	}
	return api.SignResult{ContentType: "application/json", Document: &rec}, nil
}

// Verify is the report of `kyso verify`, with the server's anchors and revocation
// sources.
func (a serviceAPI) Verify(ctx context.Context, doc api.Document, now time.Time) (*verify.Report, error) {
	rep, err := a.svc.VerifyPDF(ctx, doc, doc.Size(), doc.Filename(), now)
	if err != nil {
		return nil, serviceError(err)
	}
	return rep, nil
}

func (a serviceAPI) Prepare(ctx context.Context, p api.Principal, req api.PrepareRequest, doc api.Document) (api.Pending, error) {
	level, err := app.ParseLevel(req.Level)
	if err != nil {
		return api.Pending{}, serviceError(err)
	}
	pr := app.PrepareRequest{
		DocumentID: req.DocumentID, AgencyCode: req.Agency, Summary: req.Summary, Symbol: req.Symbol, Type: req.Type,
		Certificate: req.Certificates[0], Chain: req.Certificates[1:], Role: req.Role, Actor: auditActor(p),
		Options: app.SignOptions{Level: level, Reason: req.Reason, Location: req.Location,
			VisiblePage: req.Page, VisibleRect: req.Rect, VisibleImage: req.Image},
	}
	if doc != nil {
		pr.Content, pr.Filename = io.NewSectionReader(doc, 0, doc.Size()), doc.Filename()
	}
	pend, err := a.svc.Prepare(ctx, pr)
	if err != nil {
		return api.Pending{}, serviceError(err)
	}
	return pendingView(pend), nil
}

func (a serviceAPI) Pending(ctx context.Context, _ api.Principal, id string) (api.Pending, error) {
	pend, err := a.svc.GetPending(ctx, id)
	if err != nil {
		return api.Pending{}, serviceError(err)
	}
	return pendingView(pend), nil
}

func (a serviceAPI) Complete(ctx context.Context, p api.Principal, id string, c api.Completion) (api.Pending, error) {
	pend, err := a.svc.Complete(ctx, id, app.CompleteRequest{Signature: c.Signature, CMS: c.CMS, Actor: auditActor(p)})
	if err != nil {
		return api.Pending{}, serviceError(err)
	}
	return pendingView(pend), nil
}

func pendingView(p *app.Pending) api.Pending {
	v := api.Pending{
		ID: p.ID, Status: p.Status, Digest: p.Digest, Algorithm: p.Algorithm, Hash: p.Hash, ExpiresAt: p.ExpiresAt,
		DocumentID: p.DocumentID, Role: p.Role, Summary: p.Summary, Number: p.Number, Agency: p.Agency,
		Signer: p.Signer, CertSHA256: p.CertSHA256, Version: p.Version,
		Provider: p.Provider, Holder: p.Holder, Batch: p.Batch,
	}
	if p.Error != nil {
		v.Error = &api.RemoteError{Type: p.Error.Type, Title: p.Error.Title, Detail: p.Error.Detail}
	}
	if p.Progress != nil {
		v.Progress = &api.Progress{Done: p.Progress.Done, Total: p.Progress.Total}
	}
	return v
}

func (a serviceAPI) Issue(ctx context.Context, p api.Principal, id int64, req api.IssueRequest) (api.DocumentRecord, error) {
	level, err := app.ParseLevel(req.Level)
	if err != nil {
		return api.DocumentRecord{}, serviceError(err)
	}
	d, _, err := a.svc.Issue(ctx, app.IssueRequest{
		DocumentID: id, KeyName: req.Key, Seal: req.Seal, SealSize: req.SealSize, Page: req.Page, Rect: req.Rect,
		NumberField: req.NumberField, DateField: req.DateField, Level: level, Actor: auditActor(p),
	})
	if err != nil {
		return api.DocumentRecord{}, serviceError(err)
	}
	return storeService{st: a.svc.Store}.GetDocument(ctx, d.ID)
}

func (a serviceAPI) Registers(ctx context.Context, agency string, year int) ([]api.RegisterRecord, error) {
	regs, err := a.svc.Registers(ctx, agency, year)
	if err != nil {
		return nil, serviceError(err)
	}
	out := make([]api.RegisterRecord, len(regs))
	for i, r := range regs {
		out[i] = registerRecord(r)
	}
	return out, nil
}

func (a serviceAPI) CreateRegister(ctx context.Context, actor api.Principal, nr api.NewRegister) (api.RegisterRecord, error) {
	r, err := a.svc.CreateRegister(ctx, nr.AgencyCode, store.Direction(nr.Kind), nr.Series, nr.Name, auditActor(actor))
	if err != nil {
		return api.RegisterRecord{}, serviceError(err)
	}
	return registerRecord(*r), nil
}

func registerRecord(r store.RegisterCount) api.RegisterRecord {
	return api.RegisterRecord{ID: r.ID, AgencyCode: r.AgencyCode, Kind: string(r.Kind), Series: r.Series, Name: r.Name,
		Year: r.Year, LastNumber: r.LastNumber, CreatedAt: r.CreatedAt.UTC()}
}

// newCSC serves the keys through the CSC API v2 (api/csc) under the same API keys and
// grants as the rest of the API.
func newCSC(c config.CSC, stores storeService, uses serviceAPI, log *slog.Logger) (http.Handler, error) {
	secret, err := os.ReadFile(c.SecretFile)
	if err != nil {
		return nil, &exitError{code: 2, err: fmt.Errorf("config: csc.secret_file: %w", err)}
	}
	secret = bytes.TrimSpace(secret)
	if len(secret) < 32 {
		return nil, &exitError{code: 2, err: errors.New("config: csc.secret_file: the secret must be at least 32 bytes")}
	}
	return csc.New(csc.Options{
		Keys:   cscKeys{uses.svc},
		Auth:   cscAuth{stores: stores, uses: uses},
		Secret: secret,
		Logger: log.With("component", "csc"),
	})
}

// cscKeys offers the server keys as CSC credentials, named as in the API.
type cscKeys struct{ svc *app.Service }

func (k cscKeys) Credentials(context.Context) ([]string, error) {
	ids := make([]string, 0, len(k.svc.Keys))
	for name := range k.svc.Keys {
		ids = append(ids, name)
	}
	slices.Sort(ids)
	return ids, nil
}

func (k cscKeys) Key(_ context.Context, id string) (hsm.Key, error) {
	key, ok := k.svc.Keys[id]
	if !ok {
		return nil, csc.ErrUnknownCredential
	}
	return key.Key, nil
}

// cscAuth authenticates CSC clients by their Kyso API key and applies the key grants.
// csc.Principal carries no role, so the role travels in its ID ("clerk:7") for MayUse
// to honour "role:" grants.
type cscAuth struct {
	stores storeService
	uses   serviceAPI
}

// cscGrantTimeout bounds the grant lookup of MayUse, which gets no context.
const cscGrantTimeout = 5 * time.Second

func (a cscAuth) Authenticate(ctx context.Context, apiKey string) (csc.Principal, error) {
	p, err := a.stores.LookupByKeyHash(ctx, api.HashAPIKey(apiKey))
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
	keys, err := a.uses.Keys(ctx)
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
