package main

import (
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/kyso-vn/kyso/app"
	"github.com/kyso-vn/kyso/pkg/pki"
)

func init() { subcommands = append(subcommands, newSignCmd) }

type signFlags struct {
	key, cert, chain, level, field, rect, image, seal, reason, location, certify, out, outDir, hash string
	contact, name                                                                                   string
	tsa, text                                                                                       []string
	visible, pss, inPlace                                                                           bool
	page, workers                                                                                   int
	tsaTimeout                                                                                      time.Duration
}

func newSignCmd() *cobra.Command {
	var f signFlags
	cmd := &cobra.Command{
		Use:   "sign --key URI [flags] (-o OUT IN | --out-dir DIR IN... | --in-place IN)",
		Short: "Sign PDF documents as PAdES, other files as detached CAdES (.p7s)",
		Long: `Sign PDF documents as PAdES baseline signatures (B-B, B-T, B-LT, B-LTA) with a key
on a PKCS#11 token or HSM (pkcs11: URI, RFC 7512) or a demo key file (softkey: URI).
The original bytes stay an untouched prefix of the output; nothing is written to OUT
unless the signed document is complete. A file that is not a PDF gets a detached
CAdES signature (B-B or B-T): OUT (name it .p7s), or IN.p7s with --out-dir/--in-place.

A batch (--out-dir) signs in one process with one login, on all cores, with a
progress bar on a terminal and a summary at the end. Its outputs are flushed to disk
and made visible 64 at a time while it runs; an interrupted batch keeps those already
made visible (each complete) and leaves nothing else. Two inputs that would be written
to the same output are a usage error.

Exit codes: 0 every document signed, 1 a document could not be signed (the message
names the file and the reason), 2 usage error.`,
		Example: `  kyso sign --key 'pkcs11:token=UBND;object=org?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=/etc/kyso/pin' \
      --level B-T --tsa http://tsa.example.vn -o signed.pdf draft.pdf
  kyso sign --key softkey:path=certs-testdata/org.key --cert certs-testdata/org.pem \
      --chain certs-testdata/chain.pem --visible --page 1 --rect 300,100,480,160 \
      --image leader.png --seal seal.png -o issued.pdf approved.pdf
  kyso sign --key "$URI" --out-dir signed/ drafts/*.pdf`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return runSign(cmd, f, args) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.key, "key", "", "key URI: pkcs11:… or softkey:… (required)")
	fl.StringVar(&f.cert, "cert", "", "signer certificate (PEM/DER); default: the one on the token")
	fl.StringVar(&f.chain, "chain", "", "issuer certificates (PEM), nearest first; default: those on the token")
	fl.StringVar(&f.level, "level", "B-B", "PAdES level: B-B, B-T, B-LT or B-LTA")
	fl.StringArrayVar(&f.tsa, "tsa", nil, "RFC 3161 timestamp authority URL (repeatable, tried in order)")
	fl.DurationVar(&f.tsaTimeout, "tsa-timeout", 15*time.Second, "timeout of each timestamp request")
	fl.StringVar(&f.field, "field", "", "sign into this existing empty signature field (or create it)")
	fl.BoolVar(&f.visible, "visible", false, "make the signature visible")
	fl.IntVar(&f.page, "page", 1, "page of the visible signature (1-based)")
	fl.StringVar(&f.rect, "rect", "", "rectangle x1,y1,x2,y2 in points (default: top right for text)")
	fl.StringVar(&f.image, "image", "", "PNG of the leader's handwritten signature (blue, transparent)")
	fl.StringVar(&f.seal, "seal", "", "PNG of the organisation's seal (red, transparent), laid over the image")
	fl.StringArrayVar(&f.text, "text", nil, "a line of the text block (repeatable), e.g. 'Số: 05/UBND-VP'")
	fl.StringVar(&f.reason, "reason", "", "reason for signing")
	fl.StringVar(&f.location, "location", "", "where the document was signed")
	fl.StringVar(&f.contact, "contact", "", "contact information of the signer")
	fl.StringVar(&f.name, "name", "", "signer name written in the signature dictionary")
	fl.StringVar(&f.certify, "certify", "", "certification signature: no-changes, form-filling or annotations")
	fl.StringVar(&f.hash, "hash", "SHA-256", "digest: SHA-256, SHA-384 or SHA-512")
	fl.BoolVar(&f.pss, "pss", false, "RSA-PSS instead of PKCS#1 v1.5 (RSA keys)")
	fl.StringVarP(&f.out, "output", "o", "", "output file (one input)")
	fl.StringVar(&f.outDir, "out-dir", "", "output directory (a batch)")
	fl.BoolVar(&f.inPlace, "in-place", false, "append the signature to the input file itself")
	fl.IntVar(&f.workers, "workers", runtime.NumCPU(), "documents signed at once in a batch")
	return cmd
}

func usageErr(format string, a ...any) error {
	return &exitError{code: 2, err: fmt.Errorf(format, a...)}
}

func runSign(cmd *cobra.Command, f signFlags, inputs []string) error {
	if f.key == "" {
		return usageErr("--key is required")
	}
	modes := 0
	for _, on := range []bool{f.out != "", f.outDir != "", f.inPlace} {
		if on {
			modes++
		}
	}
	if modes != 1 {
		return usageErr("give exactly one of -o OUT, --out-dir DIR or --in-place")
	}
	if f.out != "" && len(inputs) != 1 {
		return usageErr("-o takes one input; use --out-dir for several")
	}
	opts, err := f.options()
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	svc := f.service()
	if err := svc.CheckSignOptions(opts); err != nil {
		return usageErr("%v (--tsa URL)", err) // the only thing the flags can leave out
	}
	jobs := make([]signJob, len(inputs))
	targets := map[string]string{}
	for i, in := range inputs {
		jobs[i] = signJob{in: in}
		switch {
		case f.out != "":
			jobs[i].out = f.out
		case f.outDir != "":
			jobs[i].out = filepath.Join(f.outDir, filepath.Base(in))
		}
		// Two inputs with one output name would leave only the later one's output.
		target := jobs[i].out
		if target == "" {
			target = in // in place
		}
		target = filepath.Clean(target)
		if prev, ok := targets[target]; ok {
			return usageErr("%s and %s would both be written to %s", prev, in, target)
		}
		targets[target] = in
	}
	// An interrupt (Ctrl-C, or SIGTERM from a scheduler) stops the batch between
	// documents: what was committed stays, staged outputs are removed, exit 1.
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	key, err := cliKey{uri: f.key, cert: f.cert, chain: f.chain}.open(ctx)
	if err != nil {
		return err
	}
	defer closeKey(key)
	if f.outDir != "" {
		if err := os.MkdirAll(f.outDir, 0o755); err != nil {
			return &exitError{code: 1, err: err}
		}
	}
	return runJobs(ctx, cmd.ErrOrStderr(), svc, key, jobs, opts, f.workers)
}

// options maps the flags onto the one statement of a signature's options; app
// applies its rules.
func (f signFlags) options() (app.SignOptions, error) {
	var o app.SignOptions
	var err error
	if o.Level, err = app.ParseLevel(f.level); err != nil {
		return o, err
	}
	if o.Certify, err = app.ParseCertify(f.certify); err != nil {
		return o, err
	}
	if o.Hash, err = app.ParseHash(f.hash); err != nil {
		return o, err
	}
	o.PSS, o.Field = f.pss, f.field
	o.Reason, o.Location, o.Contact, o.Name = f.reason, f.location, f.contact, f.name
	if f.visible || f.image != "" || f.seal != "" || len(f.text) > 0 {
		o.VisiblePage, o.VisibleLines = max(f.page, 1), f.text
		if o.VisibleRect, err = app.ParseRect(f.rect); err != nil {
			return o, err
		}
		for _, img := range []struct {
			path string
			dst  *[]byte
		}{{f.image, &o.VisibleImage}, {f.seal, &o.VisibleSeal}} {
			if img.path == "" {
				continue
			}
			if *img.dst, err = os.ReadFile(img.path); err != nil {
				return o, err
			}
		}
	}
	return o, nil
}

// service is the use-case layer as the flags configure it: the timestamp authority
// and the revocation sources of this run.
func (f signFlags) service() *app.Service {
	svc := &app.Service{Validation: &pki.Collector{OCSP: &pki.OCSPClient{}, CRLs: &pki.CRLFetcher{}}}
	if len(f.tsa) > 0 {
		svc.Timestamper = &pki.TSAClient{URLs: f.tsa, Timeout: f.tsaTimeout}
	}
	return svc
}
