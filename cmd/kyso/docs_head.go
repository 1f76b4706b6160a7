package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/kyso-vn/kyso/pkg/store"
)

// writeHead writes the audit chain's head as JSON to path ("-": standard output), the
// copy kept outside the database that a later `docs check --head` compares with.
func writeHead(cmd *cobra.Command, s *store.Store, path string) error {
	h, err := s.Head(cmd.Context())
	if err != nil {
		return &exitError{code: 1, err: err}
	}
	b, _ := json.Marshal(h)
	b = append(b, '\n')
	if path == "-" {
		_, err = cmd.OutOrStdout().Write(b)
		return err
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return &exitError{code: 2, err: err}
	}
	return nil
}

// checkAgainstHead adds a problem to rep when the chain no longer holds the head
// exported to path.
func checkAgainstHead(ctx context.Context, s *store.Store, rep *store.CheckReport, path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	var h store.AuditHead
	if err := json.Unmarshal(b, &h); err != nil || h.LastID < 0 {
		return &exitError{code: 2, err: fmt.Errorf("--head %s: not an exported audit head", path)}
	}
	if err := s.CheckAgainst(ctx, rep, h); err != nil {
		return &exitError{code: 1, err: err}
	}
	return nil
}
