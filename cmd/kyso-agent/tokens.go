package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/kyso-vn/kyso/api/agent"
)

func newTokensCmd(rf *rootFlags) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:     "tokens",
		Short:   "List the tokens plugged in and the certificates on them",
		Example: "  kyso-agent tokens\n  kyso-agent tokens --json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := rf.load()
			if err != nil {
				return err
			}
			if len(cfg.Modules) == 0 {
				return &exitError{code: 2, err: fmt.Errorf("no PKCS#11 module in %s (modules: [{path: ...}])", cfg.Path())}
			}
			w := agent.NewWatcher(cfg.Modules, 0, rf.logger(slog.LevelWarn))
			known, err := issuers(cfg)
			if err != nil {
				return err
			}
			w.UseChain(known)
			w.Poll()
			defer w.Close()
			toks, _ := w.Tokens()
			out := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(toks)
			}
			if len(toks) == 0 {
				fmt.Fprintln(out, "no token plugged in")
				return nil
			}
			for _, t := range toks {
				fmt.Fprintf(out, "token %q  serial %s  %s %s  (%s)\n", t.Label, t.Serial, t.Manufacturer, t.Model, t.ModuleName)
				printCertificates(out, t.Certificates)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

// printCertificates prints one line per certificate, aligned, each followed by its
// warnings in Vietnamese and English (outside the columns, so that they do not widen
// them).
func printCertificates(out io.Writer, certs []agent.Certificate) {
	var table bytes.Buffer
	tw := tabwriter.NewWriter(&table, 0, 4, 2, ' ', 0)
	for _, c := range certs {
		fmt.Fprintf(tw, "  id %s\t%s\t%s\tissuer %s\t%s – %s\n", c.ID, c.Kind, c.Holder, c.Issuer,
			c.NotBefore.Format("2006-01-02"), c.NotAfter.Format("2006-01-02"))
	}
	_ = tw.Flush()
	lines := strings.SplitAfter(table.String(), "\n")
	for i, c := range certs {
		fmt.Fprint(out, lines[i])
		for _, w := range c.Warnings {
			fmt.Fprintf(out, "    ⚠ %s\n    ⚠ %s\n", w.VI, w.EN)
		}
	}
}
