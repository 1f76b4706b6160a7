package main

import (
	"crypto/sha1"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kyso-vn/kyso/pkg/config"
	"github.com/kyso-vn/kyso/pkg/fault"
	"github.com/kyso-vn/kyso/pkg/pki"
	"github.com/kyso-vn/kyso/pkg/pki/vntrust"
	"github.com/kyso-vn/kyso/signer/verify"
)

func init() { subcommands = append(subcommands, newTrustCmd) }

func newTrustCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "trust",
		Short: "The built-in Vietnamese trust list: NEAC's and Ban Cơ yếu Chính phủ's roots and CAs",
		Long: `Kyso ships the roots of Vietnam's public PKIs that two or more independent public
sources hold identically, as default trust anchors of kyso verify and kyso serve, and the
licensed CAs' intermediates and timestamping certificates as chain-building material only
(never anchors). Compare the anchors' SHA-256 fingerprints with those NEAC
(rootca.gov.vn) and Ban Cơ yếu Chính phủ (ca.gov.vn) publish before relying on them;
trust.builtin: false (kyso verify --builtin-trust=false) turns the list off.`,
	}
	cmd.AddCommand(newTrustListCmd(), newTrustShowCmd(), newTrustExportCmd())
	return cmd
}

// trustRow is one certificate as list and show print it.
type trustRow struct {
	Role       vntrust.Role      `json:"role"`
	PKI        string            `json:"pki"`
	Name       string            `json:"name"`
	Subject    string            `json:"subject"`
	Issuer     string            `json:"issuer"`
	NotBefore  string            `json:"not_before"`
	NotAfter   string            `json:"not_after"`
	SHA256     string            `json:"sha256"`
	SHA1       string            `json:"sha1"`
	Serial     string            `json:"serial"`
	Algorithm  string            `json:"signature_algorithm"`
	Sources    int               `json:"sources"`
	Provenance []string          `json:"provenance"`
	File       string            `json:"file"`
	AIA        []string          `json:"ca_issuers,omitempty"`
	CRL        []string          `json:"crl,omitempty"`
	IDs        []pki.Identifier  `json:"identifiers,omitempty"`
	cert       *x509.Certificate `json:"-"`
}

func rowOf(e vntrust.Entry) trustRow {
	c := e.Certificate
	s1 := sha1.Sum(c.Raw)
	return trustRow{Role: e.Role, PKI: e.PKI, Name: e.Name, Subject: pki.DisplayName(c.Subject), Issuer: pki.DisplayName(c.Issuer),
		NotBefore: c.NotBefore.UTC().Format("2006-01-02"), NotAfter: c.NotAfter.UTC().Format("2006-01-02"),
		SHA256: strings.ToUpper(e.SHA256), SHA1: strings.ToUpper(hex.EncodeToString(s1[:])), Serial: strings.ToUpper(c.SerialNumber.Text(16)),
		Algorithm: c.SignatureAlgorithm.String(), Sources: e.Sources, Provenance: e.Provenance, File: e.File,
		AIA: c.IssuingCertificateURL, CRL: c.CRLDistributionPoints, IDs: pki.Identifiers(c.Subject), cert: c}
}

// trustEntries is the list filtered by --role.
func trustEntries(role string) ([]vntrust.Entry, error) {
	es, err := vntrust.Entries()
	if err != nil {
		return nil, err
	}
	switch role {
	case "", "all":
		return es, nil
	case "anchor", "anchors":
		role = string(vntrust.Anchor)
	case "intermediate", "intermediates":
		role = string(vntrust.Intermediate)
	case "tsa":
	default:
		return nil, &exitError{code: 2, err: fault.Errorf(fault.Invalid, "trust: unknown --role %q (want anchor, intermediate, tsa or all)", role)}
	}
	var out []vntrust.Entry
	for _, e := range es {
		if string(e.Role) == role {
			out = append(out, e)
		}
	}
	return out, nil
}

func newTrustListCmd() *cobra.Command {
	var role string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list [--role anchor|intermediate|tsa|all] [--json]",
		Short: "List the built-in certificates: role, PKI, name, validity, SHA-256",
		Example: `  kyso trust list --role anchor
  kyso trust list --json | jq -r '.[] | select(.pki | startswith("Ban Cơ yếu")) | .sha256'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			es, err := trustEntries(role)
			if err != nil {
				return err
			}
			rows := make([]trustRow, 0, len(es))
			for _, e := range es {
				rows = append(rows, rowOf(e))
			}
			return printJSONOrTable(cmd.OutOrStdout(), asJSON, rows, func(tw io.Writer) {
				fmt.Fprintln(tw, "ROLE\tPKI\tNAME\tVALID FROM\tVALID TO\tSHA-256\tSOURCES")
				for _, r := range rows {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\n", r.Role, r.PKI, r.Name, r.NotBefore, r.NotAfter, r.SHA256, r.Sources)
				}
			})
		},
	}
	cmd.Flags().StringVar(&role, "role", "all", "anchor, intermediate, tsa or all")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

// findEntry finds a certificate by SHA-256 (or a unique prefix of 8+ hex digits) or
// by its name, case-insensitively.
func findEntry(key string) (vntrust.Entry, error) {
	if e, ok := vntrust.Find(key); ok {
		return e, nil
	}
	es, err := vntrust.Entries()
	if err != nil {
		return vntrust.Entry{}, err
	}
	var hit []vntrust.Entry
	for _, e := range es {
		if strings.EqualFold(e.Name, key) {
			hit = append(hit, e)
		}
	}
	switch len(hit) {
	case 1:
		return hit[0], nil
	case 0:
		return vntrust.Entry{}, &exitError{code: 1, err: fault.Errorf(fault.NotFound, "trust: no built-in certificate is %q (give its SHA-256, 8 or more hex digits of it, or its name; kyso trust list shows them)", key)}
	}
	return vntrust.Entry{}, &exitError{code: 1, err: fault.Errorf(fault.Invalid, "trust: %d built-in certificates are named %q; give its SHA-256 instead", len(hit), key)}
}

func newTrustShowCmd() *cobra.Command {
	var asJSON, asPEM bool
	cmd := &cobra.Command{
		Use:   "show SHA256|NAME [--json|--pem]",
		Short: "Show one built-in certificate: names, validity, fingerprints, provenance",
		Example: `  kyso trust show f04ba4b4            # RootCA chuyên dùng Chính phủ G2, by its SHA-256's first digits
  kyso trust show "Vietnam National Root CA" --pem | openssl x509 -noout -fingerprint -sha256`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := findEntry(args[0])
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if asPEM {
				return pem.Encode(w, &pem.Block{Type: "CERTIFICATE", Bytes: e.Certificate.Raw})
			}
			r := rowOf(e)
			return printJSONOrTable(w, asJSON, r, func(tw io.Writer) {
				fmt.Fprintf(tw, "Name\t%s\nRole\t%s\nPKI\t%s\nSubject\t%s\nIssuer\t%s\nSerial\t%s\nValid\t%s to %s\n",
					r.Name, r.Role, r.PKI, r.Subject, r.Issuer, r.Serial, r.NotBefore, r.NotAfter)
				fmt.Fprintf(tw, "SHA-256\t%s\nSHA-1\t%s\nSignature\t%s\n", r.SHA256, r.SHA1, r.Algorithm)
				for _, id := range r.IDs {
					fmt.Fprintf(tw, "%s\t%s\n", id.LabelEN, id.Value)
				}
				fmt.Fprintf(tw, "Sources\t%d independent public repositories\n", r.Sources)
				for _, p := range r.Provenance {
					fmt.Fprintf(tw, "\t%s\n", p)
				}
				for _, u := range r.AIA {
					fmt.Fprintf(tw, "CA issuers\t%s\n", u)
				}
				for _, u := range r.CRL {
					fmt.Fprintf(tw, "CRL\t%s\n", u)
				}
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.Flags().BoolVar(&asPEM, "pem", false, "print the certificate as PEM")
	return cmd
}

func newTrustExportCmd() *cobra.Command {
	var role, out, dir string
	cmd := &cobra.Command{
		Use:   "export [--role anchor|intermediate|tsa|all] [-o FILE | --dir DIR]",
		Short: "Write the built-in certificates as PEM: one bundle, or one file each",
		Example: `  kyso trust export --role anchor -o /etc/kyso/anchors/vn-roots.pem
  kyso trust export --dir ./vn-trust          # one PEM per certificate, named as in kyso trust list`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			es, err := trustEntries(role)
			if err != nil {
				return err
			}
			if out != "" && dir != "" {
				return &exitError{code: 2, err: fault.Errorf(fault.Invalid, "trust export: -o and --dir do not go together")}
			}
			if dir != "" {
				if err := os.MkdirAll(dir, 0o755); err != nil {
					return &exitError{code: 1, err: err}
				}
				for _, e := range es {
					if err := os.WriteFile(filepath.Join(dir, e.File), pemOf(e), 0o644); err != nil {
						return &exitError{code: 1, err: err}
					}
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "kyso: %d certificates written to %s\n", len(es), dir)
				return nil
			}
			var b strings.Builder
			for _, e := range es {
				b.Write(pemOf(e))
			}
			if out == "" || out == "-" {
				_, err := io.WriteString(cmd.OutOrStdout(), b.String())
				return err
			}
			if err := os.WriteFile(out, []byte(b.String()), 0o644); err != nil {
				return &exitError{code: 1, err: err}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&role, "role", "anchor", "anchor, intermediate, tsa or all")
	cmd.Flags().StringVarP(&out, "output", "o", "", "write one PEM bundle to FILE (default standard output)")
	cmd.Flags().StringVar(&dir, "dir", "", "write one PEM file per certificate into DIR")
	return cmd
}

// pemOf is the entry as PEM, with its role, PKI and fingerprint as comments before it.
func pemOf(e vntrust.Entry) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "# %s (%s, %s)\n# SHA-256 %s\n", e.Name, e.PKI, e.Role, strings.ToUpper(e.SHA256))
	_ = pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: e.Certificate.Raw})
	return []byte(b.String())
}

// builtinTrust is the built-in list as kyso verify and kyso serve use it: its anchors
// and its chain material; nothing when use is false.
func builtinTrust(use bool) (anchors, intermediates []*x509.Certificate, err error) {
	if !use {
		return nil, nil, nil
	}
	if anchors, err = vntrust.Anchors(); err != nil {
		return nil, nil, err
	}
	if intermediates, err = vntrust.Intermediates(); err != nil {
		return nil, nil, err
	}
	return anchors, intermediates, nil
}

// applyTrustConfig completes verification options from the configuration: the
// built-in list (unless trust.builtin is false) beside the configured anchors, and the
// dated cryptographic constraints of verify.crypto.
func applyTrustConfig(cfg *config.Config, o *verify.Options) error {
	anchors, inter, err := builtinTrust(cfg.Trust.UseBuiltin())
	if err != nil {
		return err
	}
	o.Anchors = append(o.Anchors, anchors...)
	o.Intermediates = append(o.Intermediates, inter...)
	if o.Crypto, err = verify.ParseCryptoPolicy("verify.crypto", cfg.Verify.Crypto.Settings()); err != nil {
		return err
	}
	return nil
}

// addTrustFlags adds kyso verify's flags for the built-in list and the dated
// cryptographic constraints.
func addTrustFlags(cmd *cobra.Command, f *verifyFlags) {
	fl := cmd.Flags()
	fl.BoolVar(&f.builtin, "builtin-trust", true, "also trust the built-in Vietnamese roots and use its CAs for chains (kyso trust list); =false: only --trust")
	fl.StringToStringVar(&f.crypto, "crypto", nil, "cryptographic constraints, ALGORITHM=YYYY-MM-DD|none|refused (the first day refused), e.g. --crypto SHA-1=2019-01-01 (verify.crypto)")
}

// applyTrust adds the built-in list unless --builtin-trust=false, and the
// cryptographic constraints.
func (f verifyFlags) applyTrust(o *verify.Options) error {
	anchors, inter, err := builtinTrust(f.builtin)
	if err != nil {
		return err
	}
	o.Anchors = append(o.Anchors, anchors...)
	o.Intermediates = append(o.Intermediates, inter...)
	if o.Crypto, err = verify.ParseCryptoPolicy("--crypto", f.crypto); err != nil {
		return verifyUsageErr("%v", err)
	}
	return nil
}
