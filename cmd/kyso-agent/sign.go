package main

import (
	"bufio"
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/kyso-vn/kyso/api/agent"
	"github.com/kyso-vn/kyso/hsm"
	"github.com/kyso-vn/kyso/internal/durable"
	"github.com/kyso-vn/kyso/pkg/pki"
)

type signFlags struct {
	out, token, certID, pinSource, module, chain, reason, location, rect, image, field string
	page                                                                               int
	pss                                                                                bool
}

func newSignCmd(rf *rootFlags) *cobra.Command {
	var f signFlags
	cmd := &cobra.Command{
		Use:   "sign FILE.pdf -o OUT.pdf [--token LABEL] [--cert-id HEX] [flags]",
		Short: "Sign a local PDF with the token, without a network (PAdES B-B)",
		Long: `Sign a local PDF with a certificate on a token plugged in, through the same PAdES
engine as the Kyso server (baseline B-B: no timestamp, since there is no network).
The PIN is asked on the terminal, or read from --pin-source; it is never echoed,
stored or logged. The token is found in the modules of the configuration, or in
--module.

With --token and no --cert-id, a token holding several certificates gives the one
with a key on the token, a key usage that signs documents and valid today; when
that still leaves several, the command lists them with their ids. The signature
carries the certificate's chain, from the token, the configuration's chain_files,
--chain and, for an issuer still missing, the certificate's AIA address; without a
whole chain up to a root, or with a certificate expired or not yet valid, nothing
is signed and the PIN is not asked.

Exit codes: 0 signed, 1 not signed (wrong PIN, token, certificate, chain or document
problem), 2 usage.`,
		Example: `  kyso-agent sign draft.pdf -o signed.pdf --token "Nguyen Van A" --cert-id 01
  kyso-agent sign draft.pdf -o signed.pdf --token UBND --cert-id 02 --chain chain.pem \
      --reason "Phê duyệt" --page 1 --rect 300,100,480,160 --image chu-ky.png
  kyso-agent sign draft.pdf -o signed.pdf --module /usr/lib/x86_64-linux-gnu/opensc-pkcs11.so --pin-source pin.txt`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return runSign(cmd, rf, f, args[0]) },
	}
	fl := cmd.Flags()
	fl.StringVarP(&f.out, "output", "o", "", "output file (required)")
	fl.StringVar(&f.token, "token", "", "token label (default: the only token plugged in)")
	fl.StringVar(&f.certID, "cert-id", "", "CKA_ID of the certificate, hex (default: the only one on the token)")
	fl.StringVar(&f.pinSource, "pin-source", "", "read the PIN from this file instead of the terminal")
	fl.StringVar(&f.module, "module", "", "PKCS#11 module path (default: the configuration's modules)")
	fl.StringVar(&f.chain, "chain", "", "issuer certificates (PEM) completing the chain, besides the token's and the configuration's chain_files")
	fl.StringVar(&f.reason, "reason", "", "reason for signing")
	fl.StringVar(&f.location, "location", "", "where the document was signed")
	fl.StringVar(&f.field, "field", "", "sign into this existing empty signature field (or create it)")
	fl.IntVar(&f.page, "page", 1, "page of the visible signature (1-based)")
	fl.StringVar(&f.rect, "rect", "", "make the signature visible in x1,y1,x2,y2 (points)")
	fl.StringVar(&f.image, "image", "", "PNG of the handwritten signature (blue, transparent); makes it visible")
	fl.BoolVar(&f.pss, "pss", false, "RSA-PSS instead of PKCS#1 v1.5 (RSA keys)")
	return cmd
}

func runSign(cmd *cobra.Command, rf *rootFlags, f signFlags, in string) error {
	if f.out == "" {
		return &exitError{code: 2, err: fmt.Errorf("-o OUT.pdf is required")}
	}
	// The flags fill in agent.Offline, the one place offline signing is decided.
	o := agent.Offline{Reason: f.reason, Location: f.location, Field: f.field, PSS: f.pss, Page: f.page, Rect: f.rect,
		AIA: &pki.AIAFetcher{AllowPrivate: true}}
	if err := o.Check(); err != nil {
		return &exitError{code: 2, err: err}
	}
	if f.image != "" {
		img, err := os.ReadFile(f.image)
		if err != nil {
			return &exitError{code: 2, err: err}
		}
		o.Image = img
	}
	var modules []agent.Module
	if f.module != "" {
		modules = []agent.Module{{Path: f.module}}
	}
	// The configuration gives the modules (unless --module) and the chain files.
	var cfg *agent.Config
	if f.module == "" || rf.config != "" || configExists() {
		var err error
		if cfg, err = rf.load(); err != nil {
			return err
		}
		if f.module == "" {
			modules = cfg.Modules
		}
	}
	known, err := issuers(cfg)
	if err != nil {
		return err
	}
	o.Issuers = known
	if f.chain != "" {
		certs, err := pki.ReadCertificatesFile(f.chain)
		if err != nil {
			return &exitError{code: 2, err: err}
		}
		o.Issuers = append(certs, o.Issuers...)
	}
	if len(modules) == 0 {
		return &exitError{code: 2, err: fmt.Errorf("no PKCS#11 module: give --module or list modules in the configuration")}
	}
	w := agent.NewWatcher(modules, 0, rf.logger(slog.LevelWarn))
	w.UseChain(o.Issuers)
	w.Poll()
	defer w.Close()
	toks, _ := w.Tokens()
	now := time.Now()
	tok, cert, err := agent.SelectCertificate(toks, f.token, f.certID, now)
	if err != nil {
		return &exitError{code: 1, err: err}
	}
	ctx := cmd.Context()
	// Before the PIN: an expired certificate, or one whose chain cannot be built, is
	// refused without asking the token anything.
	chain, err := o.Chain(ctx, cert, now)
	if err != nil {
		return &exitError{code: 1, err: err}
	}
	pin, err := readPIN(cmd, f.pinSource, tok.Label)
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	// Through the watcher's module: one loader, and the token's PIN state is checked
	// before the PIN is tried.
	key, err := w.OpenKey(ctx, tok, cert, pin)
	if err != nil {
		return &exitError{code: 1, err: err}
	}
	defer key.Close()
	src, err := os.Open(in)
	if err != nil {
		return &exitError{code: 1, err: err}
	}
	defer src.Close()
	st, err := src.Stat()
	if err != nil {
		return &exitError{code: 1, err: err}
	}
	// OUT is never a half-signed file; it gets the input's permissions, as kyso sign
	// gives them.
	out, err := durable.Create(f.out, st.Mode().Perm())
	if err != nil {
		return &exitError{code: 1, err: err}
	}
	defer out.Discard()
	if err := o.Sign(ctx, key, cert, chain, src, st.Size(), out, now); err != nil {
		return &exitError{code: 1, err: fmt.Errorf("signing %s: %w", in, err)}
	}
	if err := out.Commit(); err != nil {
		return &exitError{code: 1, err: err}
	}
	fmt.Fprintf(cmd.OutOrStdout(), "signed %s → %s with %s (token %q, id %s)\n", in, f.out, cert.Holder, tok.Label, cert.ID)
	return nil
}

// configExists: the default configuration file is there (its chain files count
// even when --module names the module).
func configExists() bool {
	p, err := agent.DefaultConfigPath()
	if err != nil {
		return false
	}
	_, err = os.Stat(p)
	return err == nil
}

// readPIN reads the PIN from source, or from the terminal without echo.
func readPIN(cmd *cobra.Command, source, label string) (hsm.Secret, error) {
	if source != "" {
		raw, err := os.ReadFile(source)
		if err != nil {
			return hsm.Secret{}, fmt.Errorf("reading the PIN: %w", err)
		}
		line, _, _ := bytes.Cut(raw, []byte("\n"))
		return hsm.NewSecret(strings.TrimRight(string(line), "\r")), nil
	}
	fd := int(os.Stdin.Fd())
	fmt.Fprintf(cmd.ErrOrStderr(), "PIN of token %q: ", label)
	if term.IsTerminal(fd) {
		b, err := term.ReadPassword(fd)
		fmt.Fprintln(cmd.ErrOrStderr())
		return hsm.NewSecret(string(b)), err
	}
	// Not a terminal (a pipe): read one line.
	line, err := bufio.NewReader(cmd.InOrStdin()).ReadString('\n')
	if err != nil && line == "" {
		return hsm.Secret{}, fmt.Errorf("reading the PIN: %w", err)
	}
	return hsm.NewSecret(strings.TrimRight(line, "\r\n")), nil
}
