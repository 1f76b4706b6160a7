package main

import (
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/kyso-vn/kyso/pkg/pki"
	"github.com/kyso-vn/kyso/signer/pades"
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
			lvl, err := pades.ParseLevel(level)
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			if (out == "") == !inPlace {
				return usageErr("give exactly one of -o OUT or --in-place")
			}
			if lvl == pades.LevelBLTA && len(tsa) == 0 {
				return usageErr("--level B-LTA needs --tsa URL")
			}
			o := pades.ExtendOptions{Level: lvl, Validation: &pki.Collector{OCSP: &pki.OCSPClient{}, CRLs: &pki.CRLFetcher{}}}
			if len(tsa) > 0 {
				o.Timestamper = &pki.TSAClient{URLs: tsa, Timeout: timeout}
			}
			in, err := os.Open(args[0])
			if err != nil {
				return &exitError{code: 1, err: err}
			}
			defer in.Close()
			st, err := in.Stat()
			if err != nil {
				return &exitError{code: 1, err: err}
			}
			tail, err := pades.Extend(cmd.Context(), in, st.Size(), o)
			if err != nil {
				return &exitError{code: 1, err: fmt.Errorf("%s: %w", args[0], explainSignError(err))}
			}
			target := out
			if inPlace {
				target = args[0]
			}
			out, err := stageOutput(in, st.Size(), tail, target, inPlace)
			if err == nil {
				err = commitOutputs([]staged{out})
			}
			if err != nil {
				discardOutputs([]staged{out})
				return &exitError{code: 1, err: fmt.Errorf("%s: %w", target, err)}
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
