package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/kyso-vn/kyso/pkg/config"
)

// Options wires a Server. Config is required; a nil service leaves its routes
// answering 501 not-implemented.
type Options struct {
	Config *config.Config
	Logger *slog.Logger     // nil: slog.Default()
	Clock  func() time.Time // nil: time.Now; injected for the rate limiter and reports
	// TempDir receives uploads while a request runs; "" means os.TempDir().
	TempDir string

	Clients        Clients
	ClientRegistry ClientRegistry
	Keys           Keys
	KeyGrants      KeyGrants
	Certificates   Certificates
	Stats          StatsSource
	Documents      Documents
	Agencies       Agencies
	Signer         Signer
	Extender       Extender
	Verifier       Verifier
	Signatures     Signatures
	Issuer         Issuer
	Lifecycle      Lifecycle
	Registers      Registers
	Checks         []Check
	// Mounts serves other HTTP APIs under a path prefix ("/csc/v2"), with the prefix
	// stripped. They get the request id, logging, metrics, panic recovery and
	// deadline of every route, and do their own authentication.
	Mounts map[string]http.Handler
	// Pages, when set, serves the public web pages (api/web) at / and /tra-cuu/.
	Pages PageServices
	// Office, when set with Clients, serves the office pages for clerks and leaders
	// at /van-phong/ (api/office). OfficeAgentURL is the desktop agent's address
	// those pages talk to (default http://127.0.0.1:8789).
	Office         OfficeServices
	OfficeAgentURL string
}

// Server is the HTTP API.
type Server struct {
	log       *slog.Logger
	clock     func() time.Time
	tempDir   string
	maxUpload int64
	// inMemory counts the bytes of uploads held in memory (see spool).
	inMemory       atomic.Int64
	requestTimeout time.Duration
	httpCfg        config.Server

	clients    Clients
	registry   ClientRegistry
	keys       Keys
	grants     KeyGrants
	certs      Certificates
	stats      StatsSource
	documents  Documents
	agencies   Agencies
	signer     Signer
	extender   Extender
	verifier   Verifier
	signatures Signatures
	issuer     Issuer
	lifecycle  Lifecycle
	registers  Registers
	books      RegisterBooks // Registers' own, when it lists register books
	checks     []Check

	publicLimit *limiter
	metrics     *metrics
	engine      *gin.Engine
	table       []route
	mounts      []string

	// issue 13's defences (clientaddr.go, limits.go, tls.go, ready.go)
	proxies       proxies
	gates         *gates
	tls           *certReloader
	ready         []*cachedCheck
	metricsAccess metricsAccess
}

// route is one entry of the route table. roles nil means no authentication (health,
// metrics, the spec); handler nil means the service is not wired: 501.
type route struct {
	method  string
	path    string
	roles   []Role
	handler gin.HandlerFunc
}

// New builds the server and its routes.
func New(o Options) (*Server, error) {
	if o.Config == nil {
		return nil, errors.New("api: Options.Config is required")
	}
	cfg := o.Config
	s := &Server{
		log:            o.Logger,
		clock:          o.Clock,
		tempDir:        o.TempDir,
		maxUpload:      int64(cfg.Server.MaxUpload),
		requestTimeout: cfg.Server.WriteTimeout,
		httpCfg:        cfg.Server,
		clients:        o.Clients,
		registry:       o.ClientRegistry,
		keys:           o.Keys,
		grants:         o.KeyGrants,
		certs:          o.Certificates,
		stats:          o.Stats,
		documents:      o.Documents,
		agencies:       o.Agencies,
		signer:         o.Signer,
		extender:       o.Extender,
		verifier:       o.Verifier,
		signatures:     o.Signatures,
		issuer:         o.Issuer,
		lifecycle:      o.Lifecycle,
		registers:      o.Registers,
		checks:         o.Checks,
	}
	s.books, _ = o.Registers.(RegisterBooks)
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.lifecycle == nil {
		s.lifecycle, _ = o.Documents.(Lifecycle)
	}
	if s.clock == nil {
		s.clock = time.Now
	}
	if s.tempDir == "" {
		s.tempDir = os.TempDir()
	}
	keyNames := make([]string, len(cfg.Keys))
	for i, k := range cfg.Keys {
		keyNames[i] = k.Name
	}
	if err := s.harden(cfg); err != nil {
		return nil, err
	}
	s.metrics = newMetrics(keyNames, s.metricsAccess.keyNames)
	s.ready = newCachedChecks(s.checks, cfg.Server.ReadyInterval, s.clock, s.metrics.keyChecks)
	s.publicLimit = newLimiter(cfg.RateLimit.PublicVerifyPerMinute, s.clock)

	gin.SetMode(gin.ReleaseMode)
	e := gin.New()
	e.HandleMethodNotAllowed = true
	e.RedirectTrailingSlash = false // one URL per resource; anything else is a 404 problem
	// gin's own reading of X-Forwarded-For is off: withClient reads it (clientaddr.go).
	if err := e.SetTrustedProxies(nil); err != nil {
		return nil, fmt.Errorf("api: %w", err)
	}
	e.Use(s.withClient, s.withRequestID, s.accessLog, recoverPanic, s.deadline, s.minUploadRate)
	e.NoRoute(func(c *gin.Context) {
		fail(c, probNotFound, "There is no endpoint at this path; the API is described at /openapi.json.")
	})
	e.NoMethod(func(c *gin.Context) {
		fail(c, probMethod, "This resource does not answer "+c.Request.Method+"; the Allow header lists what it does.")
	})
	s.table = s.routeTable()
	for _, r := range s.table {
		h := r.handler
		if h == nil {
			h = notImplemented
		}
		if r.roles == nil {
			e.Handle(r.method, r.path, h)
		} else {
			e.Handle(r.method, r.path, s.allow(r.roles...), s.guard(r), h)
		}
	}
	for prefix, h := range o.Mounts {
		if !mountPrefix.MatchString(prefix) || strings.HasPrefix(prefix, "/v1") {
			return nil, fmt.Errorf("api: mount prefix %q must be /segment[/segment...] outside /v1", prefix)
		}
		e.Any(prefix+"/*rest", gin.WrapH(http.StripPrefix(prefix, h)))
	}
	s.mounts = slices.Sorted(maps.Keys(o.Mounts))
	if o.Pages != nil {
		if err := s.mountPages(e, o.Pages); err != nil {
			return nil, err
		}
	}
	if o.Office != nil && s.clients != nil {
		if err := s.mountOffice(e, o.Office, o.OfficeAgentURL); err != nil {
			return nil, err
		}
	}
	s.engine = e
	return s, nil
}

var mountPrefix = regexp.MustCompile(`^(/[a-z0-9][a-z0-9._-]*)+$`)

// routeTable is every endpoint of the API. openapi.json documents exactly these, with
// the same roles (see TestOpenAPIMatchesRoutes).
func (s *Server) routeTable() []route {
	var (
		signers  = []Role{RoleAdmin, RoleSystem, RoleClerk, RoleLeader}
		anyone   = []Role{RoleAdmin, RoleSystem, RoleClerk, RoleLeader, RolePublic}
		clients  = []Role{RoleAdmin, RoleSystem, RoleClerk, RoleLeader}
		issuers  = []Role{RoleAdmin, RoleSystem, RoleClerk}
		admin    = []Role{RoleAdmin}
		managers = []Role{RoleAdmin, RoleLeader}
		deciders = []Role{RoleClerk, RoleLeader}
	)
	var extend gin.HandlerFunc
	if s.extender != nil {
		extend = s.extend
	}
	var sign, verify, keys, grant, ungrant, certs, stats, createClient, revokeClient gin.HandlerFunc
	if s.signer != nil && s.keys != nil {
		sign = s.sign
	}
	if s.verifier != nil {
		verify = s.verify
	}
	if s.keys != nil {
		keys = s.listKeys
	}
	if s.keys != nil && s.grants != nil {
		grant, ungrant = s.grantKey, s.revokeGrant
	}
	if s.certs != nil {
		certs = s.listCertificates
	}
	if s.stats != nil {
		stats = s.getStats
	}
	var createDoc, receiveDoc, listDocs, getDoc, downloadDoc gin.HandlerFunc
	if s.documents != nil {
		createDoc, receiveDoc, listDocs, getDoc, downloadDoc = s.createDocument, s.receiveDocument, s.listDocuments, s.getDocument, s.downloadDocument
	}
	var getAgency, importAgencies gin.HandlerFunc
	if s.agencies != nil {
		getAgency, importAgencies = s.getAgency, s.importAgencies
	}
	if s.registry != nil {
		createClient, revokeClient = s.createClient, s.revokeClient
	}
	var prepare, getSignature, complete, cancel, issue, listRegisters, createRegister, registerNumbers gin.HandlerFunc
	if s.signatures != nil {
		prepare, getSignature, complete, cancel = s.prepareSignature, s.getSignature, s.completeSignature, s.cancelSignature
	}
	if s.issuer != nil && s.keys != nil {
		issue = s.issueDocument
	}
	if s.registers != nil {
		listRegisters, createRegister, registerNumbers = s.listRegisters, s.createRegister, s.registerNumbers
	}
	var registerBook, registerBookCSV gin.HandlerFunc
	if s.books != nil {
		registerBook, registerBookCSV = s.registerBook, s.registerBookCSV
	}
	var toDraft, recall, replace gin.HandlerFunc
	if s.lifecycle != nil {
		toDraft = s.lifecycleHandler(Lifecycle.ReturnToDraft, false)
		recall = s.lifecycleHandler(Lifecycle.Recall, false)
		replace = s.lifecycleHandler(Lifecycle.Replace, true)
	}
	return []route{
		{http.MethodGet, "/healthz", nil, s.healthz},
		{http.MethodGet, "/readyz", nil, s.readyz},
		{http.MethodGet, "/metrics", nil, s.metricsHandler()},
		{http.MethodGet, "/openapi.json", nil, serveOpenAPI},

		{http.MethodPost, "/v1/sign", signers, sign},
		{http.MethodPost, "/v1/signatures", signers, prepare},
		{http.MethodGet, "/v1/signatures/:id", signers, getSignature},
		{http.MethodPost, "/v1/signatures/:id/complete", signers, complete},
		{http.MethodPost, "/v1/signatures/:id/cancel", signers, cancel},
		{http.MethodPost, "/v1/verify", anyone, verify},
		{http.MethodPost, "/v1/extend", clients, extend},

		{http.MethodPost, "/v1/documents", clients, createDoc},
		{http.MethodGet, "/v1/documents", clients, listDocs},
		{http.MethodGet, "/v1/documents/:id", clients, getDoc},
		{http.MethodGet, "/v1/documents/:id/content", clients, downloadDoc},
		{http.MethodPost, "/v1/documents/:id/issue", issuers, issue},
		{http.MethodPost, "/v1/documents/:id/return-to-draft", deciders, toDraft},
		{http.MethodPost, "/v1/documents/:id/recall", deciders, recall},
		{http.MethodPost, "/v1/documents/:id/replace", deciders, replace},
		{http.MethodPost, "/v1/documents/receive", issuers, receiveDoc},

		{http.MethodGet, "/v1/registers", issuers, listRegisters},
		{http.MethodPost, "/v1/registers", admin, createRegister},
		{http.MethodGet, "/v1/registers/entries", clients, registerBook},
		{http.MethodGet, "/v1/registers/entries.csv", clients, registerBookCSV},
		{http.MethodGet, "/v1/registers/:id/numbers", clients, registerNumbers},
		{http.MethodGet, "/v1/agencies", clients, getAgency},
		{http.MethodPost, "/v1/agencies", admin, importAgencies},
		{http.MethodGet, "/v1/keys", clients, keys},
		{http.MethodPut, "/v1/keys/:name/grants/:principal", admin, grant},
		{http.MethodDelete, "/v1/keys/:name/grants/:principal", admin, ungrant},
		{http.MethodGet, "/v1/certificates", clients, certs},
		{http.MethodGet, "/v1/stats", managers, stats},

		{http.MethodPost, "/v1/clients", admin, createClient},
		{http.MethodDelete, "/v1/clients/:id", admin, revokeClient},
	}
}

// Handler is the API as an http.Handler, for tests and for mounting.
func (s *Server) Handler() http.Handler { return s.engine }

// Serve answers on ln until ctx ends, then stops taking connections and lets the
// requests in flight finish within server.shutdown_grace. It returns nil after a
// clean shutdown.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	hs := &http.Server{
		Handler:           s.engine,
		ReadHeaderTimeout: s.httpCfg.ReadHeaderTimeout,
		ReadTimeout:       s.httpCfg.ReadTimeout,
		WriteTimeout:      s.httpCfg.WriteTimeout,
		IdleTimeout:       s.httpCfg.IdleTimeout,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	served := make(chan error, 1)
	ln = s.listener(ln)
	go func() { served <- hs.Serve(ln) }()
	s.log.Info("listening", "address", ln.Addr().String(), "tls", s.tls != nil)
	select {
	case err := <-served:
		return fmt.Errorf("api: serve: %w", err)
	case <-ctx.Done():
	}
	s.log.Info("shutting down", "grace", s.httpCfg.ShutdownGrace.String())
	sctx, cancel := context.WithTimeout(context.Background(), s.httpCfg.ShutdownGrace)
	defer cancel()
	err := hs.Shutdown(sctx)
	<-served // http.ErrServerClosed once Shutdown has begun
	if err != nil {
		_ = hs.Close()
		return fmt.Errorf("api: shutdown: requests still running after %s were cut off: %w", s.httpCfg.ShutdownGrace, err)
	}
	s.log.Info("stopped")
	return nil
}
