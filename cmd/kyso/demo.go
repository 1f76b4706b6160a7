package main

// kyso demo: the demo's files and a SoftHSM2 token holding the test PKI's keys, both
// from the test PKI built into kyso, so a newcomer needs neither a checkout nor a USB
// token to try the whole workflow.

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kyso-vn/kyso/demo"
	"github.com/kyso-vn/kyso/hsm"
	"github.com/kyso-vn/kyso/internal/durable"
)

func init() { subcommands = append(subcommands, newDemoCmd) }

// softHSMModule is where Debian's softhsm2 package puts the PKCS#11 module.
const softHSMModule = "/usr/lib/softhsm/libsofthsm2.so"

// demoTokenLabel is the label of the token kyso demo token makes.
const demoTokenLabel = "kyso-demo"

func newDemoCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "The demo built into kyso: sample files and a SoftHSM2 token with the test PKI (NOT FOR PRODUCTION)",
		Long: `The demo uses the test PKI built into kyso (certs-testdata): its private keys are
public, so nothing it signs may be used for real. kyso serve --demo serves it;
kyso verify --trust with its root checks revocation against its built-in CRLs.`,
		Example: `  kyso demo files
  eval "$(kyso demo token)"
  kyso serve --demo`,
	}
	cmd.AddCommand(newDemoFilesCmd(), newDemoTokenCmd())
	return cmd
}

func newDemoFilesCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "files [DIR]",
		Short: "Write the sample draft, signature and seal images and the test PKI's certificates into DIR (default .)",
		Long: `Write into DIR (default the current directory); a file already there with the same
content is left as it is, one with other content is not overwritten (exit 1):
  ` + demo.DraftPDF + `   a draft công văn with the number and date left blank
  ` + demo.SignatureImage + `     the leader's signature image, marked MẪU / SAMPLE
  ` + demo.SealImage + `    the organisation's seal image, marked MẪU / SAMPLE
  root-ca.pem chain.pem leader.pem clerk.pem org.pem   the test PKI's certificates`,
		Example: `  kyso demo files && kyso sign --key "$ORG_KEY" -o signed.pdf ` + demo.DraftPDF,
		Args:    cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := "."
			if len(args) == 1 {
				dir = args[0]
			}
			return writeDemoFiles(cmd.OutOrStdout(), dir)
		},
	}
}

func writeDemoFiles(w io.Writer, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return &exitError{code: 1, err: fmt.Errorf("demo: %w", err)}
	}
	names := []string{demo.DraftPDF, demo.SignatureImage, demo.SealImage, "root-ca.pem", "chain.pem", "leader.pem", "clerk.pem", "org.pem"}
	var write []string
	for _, n := range names {
		have, err := os.ReadFile(filepath.Join(dir, n))
		if err == nil && bytes.Equal(have, must(demo.File(n))) {
			continue // written before: running the demo again is no error
		}
		if err == nil || !errors.Is(err, fs.ErrNotExist) {
			return &exitError{code: 1, err: fmt.Errorf("demo: %s exists with other content; not overwritten", filepath.Join(dir, n))}
		}
		write = append(write, n)
	}
	for _, n := range write {
		if err := durable.WriteFile(filepath.Join(dir, n), must(demo.File(n)), 0o644); err != nil {
			return &exitError{code: 1, err: fmt.Errorf("demo: %w", err)}
		}
	}
	switch {
	case len(write) == 0:
		fmt.Fprintf(w, "# DEMO files (test PKI, NOT FOR PRODUCTION) already in %s: %s\n", dir, strings.Join(names, " "))
	default:
		fmt.Fprintf(w, "# DEMO files (test PKI, NOT FOR PRODUCTION) written to %s: %s\n", dir, strings.Join(write, " "))
	}
	return nil
}

func newDemoTokenCmd() *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "token [--dir DIR]",
		Short: "Make a SoftHSM2 token holding the test PKI's leader, clerk and organisation keys",
		Long: `Make a SoftHSM2 token labelled ` + demoTokenLabel + ` in DIR (default ./kyso-demo-token): its own
softhsm2.conf and token directory, the leader's, the clerk's and the organisation's
keys of the test PKI with their certificates, and the sub CA and root certificates
(the chain). The user PIN is the demo PIN ` + demo.PIN + ` (also written to DIR/pin, for
pin-source=); the SO PIN is so-` + demo.PIN + `.

It prints shell lines to eval: SOFTHSM2_CONF, and the pkcs11: URIs of the three keys
as LEADER_TOKEN, CLERK_TOKEN and ORG_KEY. Needs the Debian package softhsm2.`,
		Example: `  eval "$(kyso demo token)" && kyso keys list "$ORG_KEY"`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return makeDemoToken(cmd.Context(), cmd.OutOrStdout(), dir)
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "kyso-demo-token", "directory for the token, its softhsm2.conf and the PIN file")
	return cmd
}

func makeDemoToken(ctx context.Context, w io.Writer, dir string) error {
	util, err := exec.LookPath("softhsm2-util")
	if err == nil {
		_, err = os.Stat(softHSMModule)
	}
	if err != nil {
		return &exitError{code: 1, err: fmt.Errorf("demo token: SoftHSM2 is not installed (%v): apt-get install softhsm2", err)}
	}
	if dir, err = filepath.Abs(dir); err != nil {
		return &exitError{code: 2, err: err}
	}
	conf := filepath.Join(dir, "softhsm2.conf")
	pinFile := filepath.Join(dir, "pin")
	if _, err := os.Stat(dir); err == nil {
		// A token made before is used again (a demo is run more than once); anything
		// else in the way is not touched.
		if _, err := os.Stat(filepath.Join(dir, "tokens")); err != nil {
			return &exitError{code: 1, err: fmt.Errorf("demo token: %s exists and is not a demo token; remove it or choose another --dir", dir)}
		}
		printDemoToken(w, dir, conf, pinFile)
		return nil
	}
	tokens := filepath.Join(dir, "tokens")
	if err := os.MkdirAll(tokens, 0o700); err != nil {
		return &exitError{code: 1, err: fmt.Errorf("demo token: %w", err)}
	}
	err = errors.Join(
		durable.WriteFile(conf, fmt.Appendf(nil, "directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n", tokens), 0o600),
		durable.WriteFile(pinFile, []byte(demo.PIN+"\n"), 0o600))
	if err != nil {
		return &exitError{code: 1, err: fmt.Errorf("demo token: %w", err)}
	}
	// SoftHSM2 reads its configuration when the module is loaded: this process
	// loads it below, for the certificates.
	if err := os.Setenv("SOFTHSM2_CONF", conf); err != nil {
		return err
	}
	run := func(args ...string) error {
		c := exec.CommandContext(ctx, util, args...)
		c.Env = append(os.Environ(), "SOFTHSM2_CONF="+conf)
		if out, err := c.CombinedOutput(); err != nil {
			// The arguments hold the demo PIN, which is public; the output says why.
			return fmt.Errorf("demo token: softhsm2-util %s: %v: %s", args[0], err, strings.TrimSpace(string(out)))
		}
		return nil
	}
	if err := run("--init-token", "--free", "--label", demoTokenLabel, "--pin", demo.PIN, "--so-pin", "so-"+demo.PIN); err != nil {
		return &exitError{code: 1, err: err}
	}
	withPIN := "pin-value=" + demo.PIN
	for _, who := range demo.Identities {
		key, err := demo.File(who.Name + ".key")
		if err != nil {
			return err
		}
		f := filepath.Join(dir, who.Name+".key")
		if err := durable.WriteFile(f, key, 0o600); err != nil {
			return &exitError{code: 1, err: fmt.Errorf("demo token: %w", err)}
		}
		err = run("--import", f, "--token", demoTokenLabel, "--label", who.Name, "--id", who.ID, "--pin", demo.PIN)
		_ = os.Remove(f)
		if err != nil {
			return &exitError{code: 1, err: err}
		}
	}
	certs := []struct{ file, label, id string }{{"root-ca.pem", "root-ca", "10"}, {"sub-ca.pem", "sub-ca", "11"}}
	for _, who := range demo.Identities {
		certs = append(certs, struct{ file, label, id string }{who.Name + ".pem", who.Name, who.ID})
	}
	for _, c := range certs {
		b, err := demo.File(c.file)
		if err != nil {
			return err
		}
		block, _ := pem.Decode(b)
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return fmt.Errorf("demo token: %s: %w", c.file, err)
		}
		if err := hsm.ImportCertificate(ctx, demoTokenURI(c.label, c.id, withPIN), cert, hsm.Options{}); err != nil {
			return &exitError{code: 1, err: fmt.Errorf("demo token: %w", err)}
		}
	}
	printDemoToken(w, dir, conf, pinFile)
	return nil
}

func demoTokenURI(object, id, pin string) string {
	return "pkcs11:token=" + demoTokenLabel + ";object=" + object + ";id=%" + id + "?module-path=" + softHSMModule + "&" + pin
}

// printDemoToken prints the shell lines that name the demo token's keys.
func printDemoToken(w io.Writer, dir, conf, pinFile string) {
	esc := (&url.URL{Path: pinFile}).EscapedPath()
	fmt.Fprintf(w, "# DEMO SoftHSM2 token %q in %s: the test PKI's keys (public; NOT FOR PRODUCTION)\n", demoTokenLabel, dir)
	fmt.Fprintf(w, "# the PIN to type (demo PIN): %s; in %s for pin-source=\n", demo.PIN, pinFile)
	fmt.Fprintf(w, "export SOFTHSM2_CONF=%s\n", shellQuote(conf))
	for _, who := range demo.Identities {
		fmt.Fprintf(w, "# %s: %s\n", who.Role, who.Agent)
		fmt.Fprintf(w, "%s=%s\n", demoTokenVar[who.Name], shellQuote(demoTokenURI(who.Name, who.ID, "pin-source="+esc)))
	}
}

// must returns b, or panics on err: for the files the demo package embeds, whose
// absence its tests catch.
func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

// demoTokenVar names each demo key's URI in the lines kyso demo token prints.
var demoTokenVar = map[string]string{"leader": "LEADER_TOKEN", "clerk": "CLERK_TOKEN", "org": "ORG_KEY"}

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
