package main

import "github.com/spf13/cobra"

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "kyso",
		Short: "Kyso signs and verifies official documents (PAdES, CAdES) and keeps them",
		Long: `Kyso ("ký số") signs PDF documents as PAdES and other files as CAdES with keys on
USB tokens, HSMs (PKCS#11) and remote signing services, verifies signed documents,
and keeps them in its embedded document store.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	for _, add := range subcommands {
		root.AddCommand(add())
	}
	return root
}

// subcommands is filled by each command's file in its init, so that each command lives
// in one file and the root does not change when a command is added.
var subcommands []func() *cobra.Command
