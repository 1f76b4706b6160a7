package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/kyso-vn/kyso/api"
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

// PrepareRemote prepares the documents for a remote holder and submits them.
func (a serviceAPI) PrepareRemote(ctx context.Context, p api.Principal, req api.PrepareRequest, doc api.Document) (api.Pending, error) {
	level, err := app.ParseLevel(req.Level)
	if err != nil {
		return api.Pending{}, serviceError(err)
	}
	one := func(id int64) app.PrepareRequest {
		r := app.PrepareRequest{
			DocumentID: id, AgencyCode: req.Agency, Summary: req.Summary, Symbol: req.Symbol, Type: req.Type,
			Role: req.Role, Actor: auditActor(p),
			Options: app.SignOptions{Level: level, Reason: req.Reason, Location: req.Location,
				VisiblePage: req.Page, VisibleRect: req.Rect, VisibleImage: req.Image},
		}
		// Without one, the provider tells the holder's certificate (see
		// app.PrepareRemote), or the request is refused.
		if len(req.Certificates) > 0 {
			r.Certificate, r.Chain = req.Certificates[0], req.Certificates[1:]
		}
		return r
	}
	first := one(req.DocumentID)
	if doc != nil {
		first.Content, first.Filename = io.NewSectionReader(doc, 0, doc.Size()), doc.Filename()
	}
	docs := []app.PrepareRequest{first}
	for _, id := range req.MoreDocuments {
		docs = append(docs, one(id))
	}
	views, err := a.svc.PrepareRemote(ctx, app.RemoteRequest{Documents: docs, Provider: req.Provider,
		Holder: req.Holder, DisplayText: req.DisplayText})
	switch {
	case errors.Is(err, remote.ErrUnknownHolder), errors.Is(err, remote.ErrProviderRejected):
		return api.Pending{}, api.UserError(api.ErrInvalidRequest, err.Error())
	case errors.Is(err, remote.ErrUnreachable):
		// The caller must know which provider failed and whether the holder may have
		// been asked; the network details stay in the log.
		detail := fmt.Sprintf("The remote signing provider %q could not be reached; the request never reached it and nothing is waiting. Try again later.", req.Provider)
		if !remote.SafeToResubmit(err) {
			detail = fmt.Sprintf("The remote signing provider %q failed while taking the request; the holder may have been asked, so it is not sent again and nothing is waiting.", req.Provider)
		}
		if a.svc.Remote.Log != nil {
			a.svc.Remote.Log.Warn("remote signing provider unreachable", "provider", req.Provider, "err", err)
		}
		return api.Pending{}, api.UserError(api.ErrKeyUnavailable, detail)
	case err != nil:
		return api.Pending{}, serviceError(err)
	}
	return pendingView(views[0]), nil
}

// WaitRemote blocks until the remote signature ends or ctx does.
func (a serviceAPI) WaitRemote(ctx context.Context, _ api.Principal, id string) (api.Pending, error) {
	v, err := a.svc.WaitRemote(ctx, id)
	if err != nil {
		return api.Pending{}, serviceError(err)
	}
	return pendingView(v), nil
}
