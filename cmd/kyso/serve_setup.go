package main

// The pieces kyso serve starts from: the use-cases over the store, the logger, the
// demo key of a bare checkout, the trust anchors, the store and the first admin.

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"time"

	"golang.org/x/term"

	"github.com/kyso-vn/kyso/api"
	"github.com/kyso-vn/kyso/app"
	"github.com/kyso-vn/kyso/demo"
	"github.com/kyso-vn/kyso/internal/durable"
	"github.com/kyso-vn/kyso/pkg/config"
	"github.com/kyso-vn/kyso/pkg/pki"
	"github.com/kyso-vn/kyso/pkg/store"
	"github.com/kyso-vn/kyso/signer/verify"
)

// newServeService builds the use-cases over the store: the timestamp authorities and
// revocation sources of the configuration, the trust anchors, and the
// pending-signature expiry; the keys come later. rewrite, when set, maps revocation
// URLs (tests point the test PKI's fixed addresses at their responders).
func newServeService(cfg *config.Config, st *store.Store, anchors []*x509.Certificate, tempDir string, rewrite func(string) string) *app.Service {
	svc := &app.Service{
		Store: st, TempDir: tempDir, PendingTTL: cfg.Signatures.PendingExpiry,
		Verify: verify.Options{Anchors: anchors, Offline: cfg.Revocation.Offline, RevocationTimeout: cfg.Revocation.OCSPTimeout,
			Limits: app.VerifyLimits(cfg.Verify)},
		PublicRegisters: cfg.Public.Registers, PublicBaseURL: cfg.Public.BaseURL,
		RegisterSeries: &cfg.Registers,
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

// errNothingToServe is kyso serve's answer when started with no configuration outside
// a checkout: an installed binary with no key and no anchor would serve nothing
// useful, and saying so beats an empty server that verifies nothing.
var errNothingToServe = errors.New(`serve: no configuration (--config FILE), so there is nothing to serve with:
  - no signing key: keys are configured in the file (keys:, see README "Configuration")
  - no trust anchors: trust.anchors or trust.anchors_dir (KYSO_TRUST_ANCHORS_DIR); only the built-in Vietnamese roots would be trusted
Write a configuration and run: kyso serve --config kyso.yaml
or try the demo, the test PKI built into kyso (NOT FOR PRODUCTION): kyso serve --demo`)

// inCheckout reports whether the working directory is a checkout of Kyso's source
// (its go.mod and test PKI), where make run starts kyso serve with no configuration.
func inCheckout() bool {
	b, err := os.ReadFile("go.mod")
	if err != nil || !bytes.HasPrefix(b, []byte("module github.com/kyso-vn/kyso\n")) {
		return false
	}
	_, err = os.Stat(filepath.Join("certs-testdata", "org.key"))
	return err == nil
}

// serveDemoKey writes the embedded test PKI's organisation key, its certificate and
// chain and the root into dir (private, removed with the server's temporary
// directory) and returns the key as demo-org and the root as an anchor. Every listing
// marks the key as a demo.
func serveDemoKey(dir string) (key config.Key, anchor string, err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return config.Key{}, "", fmt.Errorf("serve: demo: %w", err)
	}
	for _, f := range []string{"org.key", "org.pem", "chain.pem", "root-ca.pem"} {
		b, err := demo.File(f)
		if err == nil {
			err = durable.WriteFile(filepath.Join(dir, f), b, 0o600)
		}
		if err != nil {
			return config.Key{}, "", fmt.Errorf("serve: demo: %w", err)
		}
	}
	esc := func(p string) string { return (&url.URL{Path: p}).EscapedPath() }
	return config.Key{
		Name:        "demo-org",
		URI:         "softkey:path=" + esc(filepath.Join(dir, "org.key")),
		Certificate: filepath.Join(dir, "org.pem"),
		Chain:       []string{filepath.Join(dir, "chain.pem")},
		Owner:       demo.Marker,
		Allowed:     []string{"role:admin", "role:system", "role:clerk"},
		Demo:        true,
	}, filepath.Join(dir, "root-ca.pem"), nil
}

// serveDemoCRLs answers the test PKI's CRL URLs on a free loopback port (its
// certificates name 127.0.0.1:18962, which may be taken, and two demos must not
// collide) and returns that base URL, for demo.RewriteURL.
func serveDemoCRLs(log *slog.Logger) (stop func(), base string, err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", fmt.Errorf("serve: demo CRLs: %w", err)
	}
	srv := &http.Server{Handler: demo.Handler(), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	base = "http://" + ln.Addr().String()
	log.Warn("DEMO: the test PKI's CRLs are served here; its certificates' revocation URLs are mapped to it", "url", base, "marker", demo.Marker)
	return func() { _ = srv.Close() }, base, nil
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

func openServeStore(ctx context.Context, cfg *config.Config, dataDir, tempDir string) (*store.Store, error) {
	sc := store.Config{Driver: cfg.Store.Driver, DSN: cfg.Store.DSN, BlobsInDB: cfg.Store.BlobsInDB, TempDir: tempDir}
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
func bootstrapAdmin(ctx context.Context, svc *app.Service, stdout io.Writer, log *slog.Logger) error {
	if any, err := svc.HasClients(ctx); err != nil || any {
		return err
	}
	key, hash := api.NewAPIKey()
	c, err := svc.CreateClient(ctx, app.Principal{Name: "kyso serve"}, "admin", app.RoleAdmin, hash)
	if err != nil {
		return fmt.Errorf("serve: creating the first admin client: %w", err)
	}
	log.Info("created the first admin API client; its key is printed on standard output once", "client_id", c.ID)
	_, err = fmt.Fprintf(stdout, "Admin API key (shown once, store it now): %s\n", key)
	return err
}
