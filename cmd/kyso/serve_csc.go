package main

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"

	"github.com/kyso-vn/kyso/api/csc"
	"github.com/kyso-vn/kyso/app"
	"github.com/kyso-vn/kyso/pkg/config"
)

// newCSC serves the keys through the CSC API v2 (api/csc) under the same API keys and
// grants as the rest of the API: the use-cases are its key store and authorizer.
func newCSC(c config.CSC, svc *app.Service, log *slog.Logger) (http.Handler, error) {
	secret, err := os.ReadFile(c.SecretFile)
	if err != nil {
		return nil, &exitError{code: 2, err: fmt.Errorf("config: csc.secret_file: %w", err)}
	}
	secret = bytes.TrimSpace(secret)
	if len(secret) < 32 {
		return nil, &exitError{code: 2, err: errors.New("config: csc.secret_file: the secret must be at least 32 bytes")}
	}
	return csc.New(csc.Options{Keys: svc, Auth: svc, Secret: secret, Logger: log.With("component", "csc")})
}
