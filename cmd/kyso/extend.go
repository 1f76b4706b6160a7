package main

import (
	"fmt"
	"strings"
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
		Use:   "extend --level B-LT|B-LTA [--tsa URL]... (-o OUT FILE | --in-place FILE...)",
		Short: "Raise a signed PDF to PAdES B-LT or B-LTA (archive renewal)",
		Long: `Add the validation data of every signature (certificates, OCSP responses, CRLs) in a
Document Security Store and, at B-LTA, a document timestamp over the whole document.
Run it again before the last timestamp's certificate expires to renew the archive.
The original bytes stay an untouched prefix. The DSS holds each certificate, OCSP
response and CRL once: a renewal adds only what it does not hold yet.

A signature whose validation data cannot be gathered (one made elsewhere whose CA's
revocation service does not answer) does not stop the others: they are extended, the
file is written, and the command names it and exits 3 ("extended with warnings").
With --in-place several files are extended one by one, each named when it is not
extended in full. Exit codes (the worst file's): 0 extended in full, 3 extended with
warnings, 1 not extended (no signature could be validated, or another failure),
2 usage.`,
		Example: `  kyso extend --level B-LTA --tsa http://tsa.example.vn -o archived.pdf signed.pdf
  kyso extend --level B-LTA --tsa http://tsa.example.vn --in-place archive/2025/*.pdf`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			lvl, err := app.ParseLevel(level)
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			if (out == "") == !inPlace {
				return usageErr("give exactly one of -o OUT or --in-place")
			}
			if out != "" && len(args) > 1 {
				return usageErr("-o names one output: extend several files with --in-place")
			}
			svc := signFlags{tsa: tsa, tsaTimeout: timeout}.service()
			if len(args) == 1 {
				res, err := svc.ExtendFile(cmd.Context(), args[0], out, lvl)
				if err != nil {
					return useCaseExit(err)
				}
				if !res.Complete() {
					return &exitError{code: exitExtendedWithWarnings, err: extendWarning(args[0], res)}
				}
				return nil
			}
			// several files, each on its own: one that cannot be extended does not
			// stop the others; the exit code is the worst of them
			failed, warned := 0, 0
			for _, path := range args {
				if err := cmd.Context().Err(); err != nil {
					return useCaseExit(err)
				}
				res, err := svc.ExtendFile(cmd.Context(), path, "", lvl)
				switch {
				case err != nil:
					failed++
					fmt.Fprintln(cmd.ErrOrStderr(), "kyso:", errorMessage(err))
				case !res.Complete():
					warned++
					fmt.Fprintln(cmd.ErrOrStderr(), "kyso:", extendWarning(path, res))
				}
			}
			switch {
			case failed > 0:
				return &exitError{code: 1, err: fmt.Errorf("extend: %d of %d files not extended, %d extended with warnings", failed, len(args), warned)}
			case warned > 0:
				return &exitError{code: exitExtendedWithWarnings, err: fmt.Errorf("extend: %d of %d files extended with warnings", warned, len(args))}
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

// exitExtendedWithWarnings is kyso extend's exit code when the file was extended but
// some signature got no validation data (like kyso verify's 3: done, not all of it
// established).
const exitExtendedWithWarnings = 3

// extendWarning names the signatures an extension left without validation data.
func extendWarning(path string, res app.ExtendResult) error {
	parts := make([]string, len(res.Unvalidated))
	for i, u := range res.Unvalidated {
		who := ""
		if u.Signer != "" {
			who = " (" + u.Signer + ")"
		}
		kept := ""
		if u.Kept {
			kept = "; the validation data an earlier extension added stays"
		}
		parts[i] = fmt.Sprintf("signature %q%s: %s%s", u.Field, who, u.Reason, kept)
	}
	return fmt.Errorf("%s: extended to %s with warnings: %d signature(s) got no validation data: %s",
		path, res.Level, len(parts), strings.Join(parts, "; "))
}
