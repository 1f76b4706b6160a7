package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/kyso-vn/kyso/app"
	"github.com/kyso-vn/kyso/demo"
	"github.com/kyso-vn/kyso/pkg/pki"
	"github.com/kyso-vn/kyso/signer/verify"
)

func init() { subcommands = append(subcommands, newVerifyCmd) }

// verifyFlags are the options of kyso verify.
type verifyFlags struct {
	trust   []string
	at      string
	offline bool
	format  string
	lang    string
	content string
	timeout time.Duration
	limits  verify.Limits
	// builtin and crypto: the built-in trust list and verify.crypto-like overrides
	// (trust.go)
	builtin bool
	crypto  map[string]string
}

func newVerifyCmd() *cobra.Command {
	var f verifyFlags
	cmd := &cobra.Command{
		Use:   "verify [--trust FILE]... [--at RFC3339] [--offline] [--format text|json|html] [--lang vi|en] [--content FILE] FILE...",
		Short: "Verify signed PDF documents (PAdES) and detached CMS/CAdES signatures",
		Long: `Verify every signature and document timestamp of each FILE and print a report: a plain
verdict first (Vietnamese by default), then the details.

Exit status: 0 every signature TOTAL_PASSED and no disallowed change; 1 a signature is
TOTAL_FAILED (broken, or the document was changed after signing); 3 otherwise
INDETERMINATE (e.g. untrusted chain, unknown revocation); 2 an input is not a signed
document, or a usage error.

With --format json and one FILE the output is one report object (version 1, see
signer/verify/REPORT.md); with several FILEs, an array of them. An input that cannot
be read becomes {"version":1,"file":…,"error":…}.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runVerify(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), f, args)
		},
	}
	fl := cmd.Flags()
	fl.StringArrayVar(&f.trust, "trust", nil, "trust anchor certificates (PEM/DER file or directory); repeatable")
	fl.StringVar(&f.at, "at", "", "validation time, RFC 3339 (default now)")
	fl.BoolVar(&f.offline, "offline", false, "never use the network: revocation data from the document only")
	fl.StringVar(&f.format, "format", "text", "output format: text, json or html")
	fl.StringVar(&f.lang, "lang", "vi", "language of text and html reports: vi or en")
	fl.StringVar(&f.content, "content", "", "the signed content of a detached CMS/CAdES signature FILE (.p7s)")
	addTrustFlags(cmd, &f)
	fl.DurationVar(&f.timeout, "timeout", 2*time.Minute, "time limit for each FILE")
	// the limits of the server's verify: section; exceeding one is exit status 2
	d := verify.DefaultLimits()
	fl.IntVar(&f.limits.MaxRevisions, "max-revisions", d.MaxRevisions, "refuse a document with more revisions (verify.max_revisions)")
	fl.IntVar(&f.limits.MaxObjects, "max-objects", d.MaxObjects, "refuse a document that needs more objects read (verify.max_objects)")
	fl.IntVar(&f.limits.MaxXrefEntries, "max-xref-entries", d.MaxXrefEntries, "refuse a document with more cross-reference entries (verify.max_xref_entries)")
	fl.Int64Var(&f.limits.MaxDecodedBytes, "max-decoded-bytes", d.MaxDecodedBytes, "refuse a document whose streams decode to more bytes (verify.max_decoded_bytes)")
	return cmd
}

func verifyUsageErr(format string, a ...any) error {
	return &exitError{code: 2, err: fmt.Errorf(format, a...)}
}

func runVerify(ctx context.Context, stdout, stderr io.Writer, f verifyFlags, files []string) error {
	if ctx == nil {
		ctx = context.Background()
	}
	switch f.format {
	case "text", "json", "html":
	default:
		return verifyUsageErr("verify: unknown --format %q (want text, json or html)", f.format)
	}
	lang, err := verify.ParseLang(f.lang)
	if err != nil {
		return verifyUsageErr("%v", err)
	}
	if f.content != "" && len(files) != 1 {
		return verifyUsageErr("verify: --content goes with exactly one signature FILE")
	}
	opts, err := f.options()
	if err != nil {
		return err
	}
	if c, ok := opts.Revocation.(*pki.Checker); ok && len(c.CRLs) > 0 {
		fmt.Fprintln(stderr, "kyso: DEMO: the test PKI's root is trusted; its revocation comes from the test PKI's CRLs built into kyso (NOT FOR PRODUCTION)")
	}

	svc := &app.Service{Verify: opts}
	var outputs []any
	worst := 0 // 0 < 3 < 2 < 1
	severity := map[int]int{0: 0, 3: 1, 2: 2, 1: 3}
	for i, file := range files {
		rep, err := verifyOne(ctx, svc, f, file)
		code := verify.ExitStatus(rep, err)
		if severity[code] > severity[worst] {
			worst = code
		}
		if err != nil {
			fmt.Fprintf(stderr, "kyso: %s: %v\n", file, err)
			outputs = append(outputs, map[string]any{"version": verify.ReportVersion, "file": file, "error": err.Error()})
			continue
		}
		outputs = append(outputs, rep)
		switch f.format {
		case "text":
			if i > 0 {
				fmt.Fprintln(stdout)
			}
			err = rep.WriteText(stdout, lang)
		case "html":
			err = rep.WriteHTML(stdout, lang)
		}
		if err != nil {
			return &exitError{code: 2, err: err}
		}
	}
	if f.format == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		var v any = outputs
		if len(outputs) == 1 {
			v = outputs[0]
		}
		if err := enc.Encode(v); err != nil {
			return &exitError{code: 2, err: err}
		}
	}
	if worst != 0 {
		return &exitError{code: worst, err: errors.New(verdictLine(worst))}
	}
	return nil
}

// options are the verification options the flags make: the trust of kyso verify
// (--trust anchors, the built-in list, --crypto), revocation checked online unless
// --offline, at --at. kyso docs receive verifies with the same.
func (f verifyFlags) options() (verify.Options, error) {
	opts := verify.Options{Offline: f.offline, Limits: f.limits}
	opts.Limits.Timeout = f.timeout
	if f.at != "" {
		var err error
		if opts.At, err = time.Parse(time.RFC3339, f.at); err != nil {
			return opts, verifyUsageErr("verify: --at: %v", err)
		}
	}
	if !f.offline {
		// one checker for every file: its OCSP and CRL caches serve them all
		at := opts.At
		opts.Revocation = &pki.Checker{OCSP: &pki.OCSPClient{}, CRL: &pki.CRLFetcher{}, Now: func() time.Time {
			if at.IsZero() {
				return time.Now()
			}
			return at
		}}
	}
	if len(f.trust) > 0 {
		var err error
		if opts.Anchors, err = verify.LoadAnchors(f.trust...); err != nil {
			return opts, verifyUsageErr("%v", err)
		}
	}
	if err := f.applyTrust(&opts); err != nil {
		return opts, err
	}
	if c, ok := opts.Revocation.(*pki.Checker); ok && demo.Trusts(opts.Anchors) {
		// The demo PKI's certificates name CRL servers on 127.0.0.1 that nobody runs; its
		// committed CRLs are built in. They are signed by the test CAs, so they answer
		// for the test PKI's certificates only, and only because --trust names its root.
		c.CRLs = append(c.CRLs, demo.CRLs()...)
	}
	return opts, nil
}

func verdictLine(code int) string {
	switch code {
	case 1:
		return "verify: a signature is not valid or the document was changed after signing"
	case 2:
		return "verify: an input is not a signed document"
	}
	return "verify: the validity of a signature cannot be established"
}

func verifyOne(ctx context.Context, svc *app.Service, f verifyFlags, file string) (*verify.Report, error) {
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	if f.content == "" {
		return svc.VerifyFile(ctx, file)
	}
	return svc.VerifyDetachedFile(ctx, file, f.content)
}
