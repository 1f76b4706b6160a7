package main

import (
	"crypto/x509"

	"github.com/kyso-vn/kyso/api/agent"
	"github.com/kyso-vn/kyso/pkg/pki/vntrust"
)

// issuers are the certificates chains are built from, besides a token's own: the
// configuration's chain files, then the built-in Vietnamese trust list's
// intermediates and roots (material for chains only; the agent trusts nothing, the
// recipients' verifiers do). cfg may be nil.
func issuers(cfg *agent.Config) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	if cfg != nil {
		files, err := cfg.ChainCertificates()
		if err != nil {
			return nil, &exitError{code: 2, err: err}
		}
		out = append(out, files...)
	}
	for _, list := range []func() ([]*x509.Certificate, error){vntrust.Intermediates, vntrust.Anchors} {
		certs, err := list()
		if err != nil {
			return nil, &exitError{code: 1, err: err}
		}
		out = append(out, certs...)
	}
	return out, nil
}
