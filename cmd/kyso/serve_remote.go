package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/kyso-vn/kyso/app"
	"github.com/kyso-vn/kyso/hsm"
	"github.com/kyso-vn/kyso/hsm/remote"
	"github.com/kyso-vn/kyso/pkg/config"
)

// newRemote builds the configured remote signing providers. Secrets are read from
// their files here and never logged; an error names the configuration key, not the
// secret.
func newRemote(cfg config.Remote, log *slog.Logger) (*app.Remote, error) {
	if len(cfg.Providers) == 0 {
		return nil, nil
	}
	// poll_interval is the wait before the first status query and between the next
	// ones, doubling up to the back-off's maximum.
	r := &app.Remote{Providers: map[string]remote.Provider{}, Timeout: cfg.Timeout,
		Backoff: remote.Backoff{First: cfg.PollInterval, Interval: cfg.PollInterval}, Scan: cfg.PollInterval / 2, Log: log}
	for i, p := range cfg.Providers {
		at := func(f string) string { return fmt.Sprintf("remote.providers[%d].%s", i, f) }
		secret := func(field, path string) (string, error) {
			b, err := os.ReadFile(path)
			if err != nil {
				return "", fmt.Errorf("serve: %s: %w", at(field), err)
			}
			return strings.TrimSpace(string(b)), nil
		}
		switch p.Kind {
		case "mss":
			pw, err := secret("ap_password_file", p.APPasswordFile)
			if err != nil {
				return nil, err
			}
			c := &remote.MSSClient{URL: p.URL, APID: p.APID, APPassword: hsm.NewSecret(pw), MSSPID: p.MSSPID,
				SignatureProfile: p.SignatureProfile, Timeout: cfg.Timeout}
			var cert tls.Certificate
			if p.ClientCertFile != "" {
				if cert, err = tls.LoadX509KeyPair(p.ClientCertFile, p.ClientKeyFile); err != nil {
					return nil, fmt.Errorf("serve: %s: %w", at("client_certificate_file"), err)
				}
			}
			var roots *x509.CertPool
			if p.ServerCAFile != "" {
				pem, err := os.ReadFile(p.ServerCAFile)
				if err != nil {
					return nil, fmt.Errorf("serve: %s: %w", at("server_ca_file"), err)
				}
				roots = x509.NewCertPool()
				if !roots.AppendCertsFromPEM(pem) {
					return nil, fmt.Errorf("serve: %s: no PEM certificate", at("server_ca_file"))
				}
			}
			c.HTTPClient = remote.NewMSSHTTPClient(cert, roots)
			r.Providers[p.Name] = c
		case "csc":
			cs, err := secret("client_secret_file", p.ClientSecretFile)
			if err != nil {
				return nil, err
			}
			r.Providers[p.Name] = &remote.CSCClient{BaseURL: p.BaseURL, ClientID: p.ClientID, ClientSecret: hsm.NewSecret(cs)}
		}
	}
	return r, nil
}
