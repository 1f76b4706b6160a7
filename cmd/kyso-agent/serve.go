package main

import (
	"fmt"
	"log/slog"
	"net"

	"github.com/spf13/cobra"

	"github.com/kyso-vn/kyso/api/agent"
)

func newServeCmd(rf *rootFlags) *cobra.Command {
	var listen string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve the agent's page and local API on 127.0.0.1",
		Example: `  kyso-agent serve
  kyso-agent serve --listen 127.0.0.1:8790 --config ./agent.yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := rf.load()
			if err != nil {
				return err
			}
			if listen != "" {
				cfg.Listen = listen
			}
			log := rf.logger(slog.LevelInfo)
			ln, err := net.Listen("tcp", cfg.Listen)
			if err != nil {
				// Started twice (the autostart entry and the systemd unit, or by hand):
				// the one already serving stays, and this one is not a failure.
				if agent.Running(cmd.Context(), cfg.Listen) {
					log.Info("kyso-agent: already running", "url", "http://"+cfg.Listen)
					return nil
				}
				return &exitError{code: 1, err: fmt.Errorf("listening on %s: %w", cfg.Listen, err)}
			}
			ctx := cmd.Context()
			w := agent.NewWatcher(cfg.Modules, 0, log)
			known, err := issuers(cfg)
			if err != nil {
				return err
			}
			w.UseChain(known)
			go w.Run(ctx)
			a := agent.New(cfg, w, agent.Options{Logger: log})
			srv := agent.NewServer(ctx, a)
			if len(cfg.AllowedOrigins) == 0 {
				log.Warn("kyso-agent: no allowed_origins in the configuration: no web page can call the agent", "config", cfg.Path())
			}
			if len(cfg.Modules) == 0 {
				log.Warn("kyso-agent: no PKCS#11 module in the configuration: no token will be found", "config", cfg.Path())
			}
			log.Info("kyso-agent: serving", "url", "http://"+ln.Addr().String(), "modules", len(cfg.Modules), "origins", cfg.AllowedOrigins)
			if err := srv.Serve(ctx, ln); err != nil {
				return &exitError{code: 1, err: err}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "", "loopback address to listen on (default from the configuration, 127.0.0.1:8789)")
	return cmd
}
