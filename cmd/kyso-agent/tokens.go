package main

import (
	"encoding/json"
	"fmt"
	"log/slog"
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
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			for _, t := range toks {
				fmt.Fprintf(tw, "token %q\tserial %s\t%s %s\t(%s)\n", t.Label, t.Serial, t.Manufacturer, t.Model, t.ModuleName)
				for _, c := range t.Certificates {
					fmt.Fprintf(tw, "  id %s\t%s\t%s\tissuer %s\t%s – %s\n", c.ID, c.Kind, c.Holder, c.Issuer,
						c.NotBefore.Format("2006-01-02"), c.NotAfter.Format("2006-01-02"))
					for _, w := range c.Warnings {
						fmt.Fprintf(tw, "    ⚠ %s\n    ⚠ %s\n", w.VI, w.EN)
					}
				}
			}
			if len(toks) == 0 {
				fmt.Fprintln(tw, "no token plugged in")
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}
