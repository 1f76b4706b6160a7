package main

import (
	"time"

	"github.com/spf13/cobra"

	"github.com/kyso-vn/kyso/app"
)

func init() { subcommands = append(subcommands, newExtendCmd) }

func newExtendCmd() *cobra.Command {
	var level, out string
	var tsa []string
	var inPlace bool
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "extend --level B-LT|B-LTA [--tsa URL]... (-o OUT | --in-place) FILE",
		Short: "Raise a signed PDF to PAdES B-LT or B-LTA (archive renewal)",
		Long: `Add the validation data of every signature (certificates, OCSP responses, CRLs) in a
Document Security Store and, at B-LTA, a document timestamp over the whole document.
Run it again before the last timestamp's certificate expires to renew the archive.
The original bytes stay an untouched prefix.`,
		Example: `  kyso extend --level B-LTA --tsa http://tsa.example.vn -o archived.pdf signed.pdf
  kyso extend --level B-LTA --tsa http://tsa.example.vn --in-place archive/2025/*.pdf`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			lvl, err := app.ParseLevel(level)
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			if (out == "") == !inPlace {
				return usageErr("give exactly one of -o OUT or --in-place")
			}
			svc := signFlags{tsa: tsa, tsaTimeout: timeout}.service()
			if err := svc.ExtendFile(cmd.Context(), args[0], out, lvl); err != nil {
				return useCaseExit(err)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&level, "level", "B-LTA", "B-LT or B-LTA")
	cmd.Flags().StringArrayVar(&tsa, "tsa", nil, "RFC 3161 timestamp authority URL (repeatable)")
	cmd.Flags().DurationVar(&timeout, "tsa-timeout", 15*time.Second, "timeout of each timestamp request")
	cmd.Flags().StringVarP(&out, "output", "o", "", "output file")
	cmd.Flags().BoolVar(&inPlace, "in-place", false, "append to the input file itself")
	return cmd
}
