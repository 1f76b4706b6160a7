package main

import (
	"github.com/spf13/cobra"
)

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "kyso",
		Short:         "Kyso signs and verifies official documents (PAdES, CAdES) and keeps them",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().String(langFlag, "", "language of messages and help: vi or en (default: from LC_ALL, LC_MESSAGES, LANG; Vietnamese unless en_*)")
	root.PersistentPreRunE = func(cmd *cobra.Command, _ []string) error {
		if v := cmd.Root().PersistentFlags().Lookup(langFlag).Value.String(); v != "" {
			if _, err := parseLang(v); err != nil {
				return &exitError{code: 2, err: err}
			}
		}
		localize(cmd.Root(), langOf(cmd))
		return nil
	}
	help := root.HelpFunc()
	root.SetHelpFunc(func(cmd *cobra.Command, args []string) {
		localize(cmd.Root(), langOf(cmd))
		help(cmd, args)
	})
	for _, add := range subcommands {
		root.AddCommand(add())
	}
	return root
}

// subcommands is filled by each command's file in its init, so that each command lives
// in one file and the root does not change when a command is added.
var subcommands []func() *cobra.Command
