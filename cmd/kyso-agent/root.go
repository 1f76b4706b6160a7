package main

import (
	"fmt"
	"log/slog"
	"os"

	"github.com/spf13/cobra"

	"github.com/kyso-vn/kyso/api/agent"
)

type rootFlags struct {
	config  string
	verbose bool
}

func newRootCmd() *cobra.Command {
	var f rootFlags
	root := &cobra.Command{
		Use:   "kyso-agent",
		Short: "Sign with your USB token for Kyso (ký số bằng USB token)",
		Long: `kyso-agent is the desktop agent leaders and clerks sign with on their USB token.

It serves a small page and a local API on 127.0.0.1 (default 127.0.0.1:8789). A Kyso
web page of an allowed origin pairs with it once, then hands it signing requests the
server prepared; the agent shows what is signed, asks for the token's PIN on its own
page, signs the digest on the token and sends the signature back to the server. The
PIN never leaves the agent. Three wrong PINs lock the agent's prompt for a while,
before the token's own counter can lock the token.

Offline, "kyso-agent sign" signs a local PDF with the token (PAdES, the same engine
as the server).

The configuration (YAML, mode 0600: it holds the servers' API keys) is
$XDG_CONFIG_HOME/kyso-agent/config.yaml (~/.config/kyso-agent/config.yaml) unless
--config says otherwise.`,
		Example: `  # install for this user: configuration (0600), autostart at login, systemd user unit
  kyso-agent install --origin https://kyso.ubnd.example.vn --module /usr/lib/x86_64-linux-gnu/opensc-pkcs11.so

  # run the agent (the autostart entry or the systemd user unit does this at login)
  kyso-agent serve

  # which tokens and certificates are plugged in
  kyso-agent tokens

  # sign a PDF without a network, PIN asked on the terminal
  kyso-agent sign draft.pdf -o signed.pdf --token "Nguyen Van A" --cert-id 01

  # the same, choosing the certificate by its CKA_ID and reading the PIN from a file
  kyso-agent sign draft.pdf -o signed.pdf --token UBND --cert-id 01 --pin-source ~/.pin`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringVar(&f.config, "config", "", "configuration file (default: the user's config dir/kyso-agent/config.yaml)")
	root.PersistentFlags().BoolVarP(&f.verbose, "verbose", "v", false, "log debug messages")
	root.AddCommand(newServeCmd(&f), newTokensCmd(&f), newSignCmd(&f), newInstallCmd(&f), newUninstallCmd(&f))
	return root
}

func (f *rootFlags) load() (*agent.Config, error) {
	path := f.config
	if path == "" {
		p, err := agent.DefaultConfigPath()
		if err != nil {
			return nil, &exitError{code: 2, err: err}
		}
		path = p
	}
	cfg, err := agent.LoadConfig(path)
	if err != nil {
		return nil, &exitError{code: 2, err: err}
	}
	if m := cfg.Repaired(); m != 0 {
		f.logger(slog.LevelWarn).Warn("kyso-agent: the configuration was readable by others and held no API key: its mode is now 0600",
			"config", path, "was", fmt.Sprintf("%#o", m))
	}
	return cfg, nil
}

// logger logs at quiet (Info for the daemon, Warn for one-shot commands), or Debug
// with --verbose.
func (f *rootFlags) logger(quiet slog.Level) *slog.Logger {
	level := quiet
	if f.verbose {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
}
