package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/kyso-vn/kyso/api"
	"github.com/kyso-vn/kyso/app"
	"github.com/kyso-vn/kyso/demo"
	"github.com/kyso-vn/kyso/hsm"
	"github.com/kyso-vn/kyso/pkg/config"
)

func init() { subcommands = append(subcommands, newServeCmd) }

func newServeCmd() *cobra.Command {
	var configPath string
	var demoMode bool
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the HTTP API (signing, verification, documents)",
		Long: `Serve the Kyso HTTP API described at /openapi.json.

It listens on 127.0.0.1:8080 and keeps SQLite and blobs under ./kyso-data unless the
configuration says otherwise. On the first start it creates an admin API client and
prints its key on standard output, once; only its hash is stored. Logs go to
standard error.

With neither --config nor --demo it refuses to start and says what it lacks (a
signing key, trust anchors) — except in a checkout of Kyso's source, where it runs as
--demo. --demo serves the test PKI built into kyso: its organisation key signs
(demo-org), its root is the trust anchor, and its CRLs are served on a loopback port
the test certificates' revocation URLs are mapped to. Its private keys are public:
never use --demo with real documents.

Environment variables override the file: ` + serveEnvList() + `.

SIGINT or SIGTERM stops taking requests and lets those in flight finish within
server.shutdown_grace.`,
		Example: `  kyso serve --demo
  kyso serve --config /etc/kyso/kyso.yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			// After the first signal starts the graceful shutdown, a second one kills the
			// process at once, as an operator pressing Ctrl-C twice expects.
			go func() { <-ctx.Done(); stop() }()
			return serve(ctx, serveParams{
				configPath: configPath,
				demo:       demoMode,
				env:        os.LookupEnv,
				stdout:     cmd.OutOrStdout(),
				stderr:     cmd.ErrOrStderr(),
			})
		},
	}
	cmd.Flags().StringVar(&configPath, "config", "", "YAML configuration file (default: the built-in defaults)")
	cmd.Flags().BoolVar(&demoMode, "demo", false, "serve the test PKI built into kyso: a demo signing key, trust anchor and CRLs (NOT FOR PRODUCTION)")
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
	demo       bool // --demo: the embedded test PKI's key, anchor and CRLs
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
	demoMode, why := p.demo, "--demo"
	if !demoMode && p.configPath == "" && len(cfg.Keys) == 0 && len(cfg.Trust.Anchors) == 0 && cfg.Trust.AnchorsDir == "" {
		if !inCheckout() {
			return &exitError{code: 2, err: errNothingToServe}
		}
		demoMode, why = true, "no configuration, in a checkout of Kyso's source (as --demo)"
	}
	log := newServeLogger(p.stderr, cfg.Log)
	if demoMode {
		log.Warn("DEMO mode ("+why+"): the test PKI built into kyso is a trust anchor and its organisation key signs as demo-org; its private keys are public: never run this way with real documents", "marker", demo.Marker)
	}

	dataDir, err := filepath.Abs(cfg.Store.DataDir)
	if err != nil {
		return fmt.Errorf("serve: store.data_dir: %w", err)
	}
	tempDir, releaseTemp, err := serveTempDir(dataDir, log)
	if err != nil {
		return err
	}
	defer releaseTemp()
	revocationURL := p.revocationURL
	if demoMode {
		k, anchor, err := serveDemoKey(filepath.Join(tempDir, "demo-pki"))
		if err != nil {
			return err
		}
		cfg.Keys = append(cfg.Keys, k)
		cfg.Trust.Anchors = append(cfg.Trust.Anchors, anchor)
		if revocationURL == nil {
			stopCRLs, url, err := serveDemoCRLs(log)
			if err != nil {
				return err
			}
			defer stopCRLs()
			revocationURL = demo.RewriteURL(url)
		}
	}
	anchors, err := loadAnchors(cfg.Trust)
	if err != nil {
		return &exitError{code: 2, err: err}
	}

	st, err := openServeStore(ctx, cfg, dataDir, tempDir)
	if err != nil {
		return err
	}
	defer st.Close()
	if ok, how, err := st.Durability(ctx); err == nil && !ok {
		log.Warn("the store is not durable: a power cut may lose committed work, a number already handed out among it", "settings", how)
	}
	svc := newServeService(cfg, st, anchors, tempDir, revocationURL)
	if err := applyTrustConfig(cfg, &svc.Verify); err != nil {
		return &exitError{code: 2, err: err}
	}
	if err := bootstrapAdmin(ctx, svc, p.stdout, log); err != nil {
		return err
	}

	prov := hsm.NewProvider(hsm.Options{AllowedModules: cfg.PKCS11.AllowedModules, Logger: log.With("component", "hsm")})
	defer prov.Close()
	if svc.Keys, err = app.OpenKeys(ctx, prov, st, cfg.Keys); err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	// The keys' chain files are chain material for every signer's certificate too
	// (never anchors): a leader's token often holds only its leaf, from the same CA.
	for _, k := range svc.Keys {
		svc.Verify.Intermediates = append(svc.Verify.Intermediates, k.Key.Chain()...)
	}
	if svc.Remote, err = newRemote(cfg.Remote, log.With("component", "remote")); err != nil {
		return err
	}
	checks := []api.Check{{Name: "store", Readiness: svc}}
	for _, k := range cfg.Keys {
		sk := svc.Keys[k.Name]
		checks = append(checks, api.Check{Name: "key:" + k.Name, Key: k.Name, Readiness: sk})
		attrs := []any{"key", k.Name, "subject", sk.Key.Certificate().Subject.String(), "not_after", sk.Key.Certificate().NotAfter}
		if k.Demo {
			log.Warn("DEMO signing key from the test PKI: its private key is public; never use it for real documents", attrs...)
		} else {
			log.Info("signing key ready", attrs...)
		}
	}
	mounts := map[string]http.Handler{}
	if cfg.CSC.Enabled {
		h, err := newCSC(cfg.CSC, svc, log)
		if err != nil {
			return err
		}
		mounts["/csc/v2"] = h
	}
	// The use-cases implement every service the API declares.
	srv, err := api.New(api.Options{
		Config:         cfg,
		Logger:         log,
		TempDir:        tempDir,
		Clients:        svc,
		ClientRegistry: svc,
		Keys:           svc,
		KeyGrants:      svc,
		Certificates:   svc,
		Stats:          svc,
		Documents:      svc,
		Agencies:       svc,
		Signer:         svc,
		Extender:       svc,
		Verifier:       svc,
		Signatures:     svc,
		Issuer:         svc,
		Registers:      svc,
		Checks:         checks,
		Mounts:         mounts,
		Pages:          svc,
		Office:         svc,
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
	headed := make(chan struct{})
	go func() { defer close(headed); svc.LogAuditHead(sweepCtx, log, app.AuditHeadEvery) }()
	defer func() { stopSweep(); <-headed }()
	// The completer resumes every ticket the store holds, then finishes them as the
	// holders answer; it stops with the server.
	completed := make(chan struct{})
	go func() { defer close(completed); _ = svc.RunRemote(sweepCtx) }()
	defer func() { stopSweep(); <-completed }()
	return srv.Serve(ctx, ln)
}

// sweepInterval is how often long-expired pending signatures are deleted.
const sweepInterval = time.Hour

// sweepPending deletes long-expired pending signatures every sweepInterval, and voids
// the numbers of issues whose requests expired every svc.SweepEvery(), until ctx
// ends. Replicas may sweep at once: the deletes are idempotent and each number is
// voided once.
func sweepPending(ctx context.Context, svc *app.Service, log *slog.Logger) {
	t := time.NewTicker(svc.SweepEvery())
	defer t.Stop()
	var last time.Time
	for {
		if time.Since(last) >= sweepInterval {
			last = time.Now()
			if n, err := svc.SweepPending(ctx); err != nil && ctx.Err() == nil {
				log.Warn("sweeping expired signature requests failed", "error", err.Error())
			} else if n > 0 {
				log.Info("expired signature requests deleted", "count", n)
			}
		}
		if n, err := svc.VoidExpiredNumbers(ctx); err != nil && ctx.Err() == nil {
			log.Warn("voiding the numbers of expired issues failed", "error", err.Error())
		} else if n > 0 {
			log.Info("numbers of expired issues voided", "count", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
