package main

// The pieces kyso serve starts from: the use-cases over the store, the logger, the
// demo key of a bare checkout, the trust anchors, the store and the first admin.

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"slices"

	"golang.org/x/term"

	"github.com/kyso-vn/kyso/api"
	"github.com/kyso-vn/kyso/app"
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
