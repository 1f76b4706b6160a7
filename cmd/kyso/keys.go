package main

import (
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/kyso-vn/kyso/hsm"
	"github.com/kyso-vn/kyso/internal/durable"
)

func init() { subcommands = append(subcommands, newKeysCmd) }

func newKeysCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "keys",
		Short: "List, generate and certify keys on PKCS#11 tokens and HSMs",
		Long: `Keys are named by RFC 7512 pkcs11: URIs: token=LABEL (or serial=...) picks the token,
object=LABEL and id=%XX.. pick the key, and the query gives module-path=MODULE and
pin-value=PIN or pin-source=FILE. Quote the URI: it holds ";" and "&".`,
		Example: `  kyso keys list 'pkcs11:token=UBND?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-value=1234'`,
	}
	cmd.AddCommand(newKeysListCmd(), newKeysGenerateCmd(), newKeysCSRCmd())
	return cmd
}

func newKeysListCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "list URI",
		Short: "List the objects on a token: label, id (hex), kind, key type",
		Long: `List prints one line per object on the token the URI names: its label, its id in hex,
its kind (private key, public key, certificate) and its key type. object=, id= and
type= in the URI narrow the list. Without a PIN only public objects are listed.`,
		Example: `  kyso keys list 'pkcs11:token=UBND?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-value=1234'
  kyso keys list 'pkcs11:serial=83f88a2a85f6432c;type=cert?module-path=/usr/lib/softhsm/libsofthsm2.so'`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			objs, err := hsm.ListObjects(cmd.Context(), args[0], hsm.Options{})
			if err != nil {
				return &exitError{code: 1, err: err}
			}
			return printObjects(cmd.OutOrStdout(), objs)
		},
	}
}

func printObjects(w io.Writer, objs []hsm.ObjectInfo) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, o := range objs {
		id := hex.EncodeToString(o.ID)
		if id == "" {
			id = "-"
		}
		keyType := o.KeyType
		if keyType == "" {
			keyType = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", o.Label, id, o.Kind, keyType)
	}
	return tw.Flush()
}

func newKeysGenerateCmd() *cobra.Command {
	var keyType string
	var alwaysAuth bool
	cmd := &cobra.Command{
		Use:   "generate URI --type rsa2048|rsa3072|p256|p384",
		Short: "Generate a key pair on a token, labelled and numbered from the URI",
		Long: `Generate makes a key pair on the token: the private key is sensitive and never leaves
the token. Its label is the URI's object= and its id the URI's id= (8 random bytes
when the URI has none). A key with the same label or id is refused.`,
		Example: `  kyso keys generate 'pkcs11:token=UBND;object=van-thu;id=%01?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-value=1234' --type p256`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			k, err := hsm.GenerateKey(cmd.Context(), args[0], hsm.KeySpec{Type: hsm.KeyType(keyType), AlwaysAuthenticate: alwaysAuth}, hsm.Options{})
			if err != nil {
				return &exitError{code: 1, err: err}
			}
			defer k.Close()
			u, err := hsm.ParsePKCS11URI(args[0])
			if err != nil {
				return &exitError{code: 1, err: err}
			}
			objs, err := hsm.ListObjects(cmd.Context(), args[0], hsm.Options{})
			if err != nil {
				return &exitError{code: 1, err: err}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "generated %s key %q on token %q:\n", keyType, u.Object, u.Token)
			return printObjects(cmd.OutOrStdout(), objs)
		},
	}
	cmd.Flags().StringVar(&keyType, "type", "", "key type: rsa2048, rsa3072, p256 or p384")
	cmd.Flags().BoolVar(&alwaysAuth, "always-auth", false, "make the token ask for the PIN before every signature (CKA_ALWAYS_AUTHENTICATE)")
	_ = cmd.MarkFlagRequired("type")
	return cmd
}

func newKeysCSRCmd() *cobra.Command {
	var subject, out string
	cmd := &cobra.Command{
		Use:   "csr URI --subject DN [-o FILE]",
		Short: "Write a PEM certificate signing request signed by a token key",
		Long: `CSR builds a PKCS#10 request for the key the URI names, signed on the token, for a
CA to certify. The subject is a comma-separated distinguished name (CN, O, OU, L, ST,
C, SERIALNUMBER, UID, STREET, POSTALCODE; "\," for a comma inside a value), in UTF-8.`,
		Example: `  kyso keys csr 'pkcs11:token=UBND;object=van-thu?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-value=1234' \
      --subject 'CN=Nguyễn Văn A,O=UBND tỉnh Nghệ An,C=VN' -o van-thu.csr`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name, err := parseDN(subject)
			if err != nil {
				return err
			}
			k, err := hsm.OpenPKCS11(cmd.Context(), args[0], hsm.Options{})
			if err != nil {
				return &exitError{code: 1, err: err}
			}
			defer k.Close()
			der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: name}, k)
			if err != nil {
				return &exitError{code: 1, err: fmt.Errorf("keys: making the request: %w", err)}
			}
			data := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
			if out == "" || out == "-" {
				_, err = cmd.OutOrStdout().Write(data)
				return err
			}
			if err := durable.WriteFile(out, data, 0o644); err != nil {
				return &exitError{code: 1, err: err}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&subject, "subject", "", `subject, e.g. "CN=Nguyễn Văn A,O=UBND tỉnh Nghệ An,C=VN"`)
	cmd.Flags().StringVarP(&out, "output", "o", "", "write the PEM request to FILE (default standard output)")
	_ = cmd.MarkFlagRequired("subject")
	return cmd
}

var (
	oidUID        = asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 1}
	oidStreet     = asn1.ObjectIdentifier{2, 5, 4, 9}
	oidPostalCode = asn1.ObjectIdentifier{2, 5, 4, 17}
)

// parseDN reads "CN=a,O=b\,c,C=VN". crypto/x509 writes the attributes in its own fixed
// order (C, ST, L, O, OU, CN, then the rest), which CAs accept. UID carries the personal
// or tax identifier in Vietnamese certificates.
func parseDN(s string) (pkix.Name, error) {
	var name pkix.Name
	if strings.TrimSpace(s) == "" {
		return name, errors.New("keys: --subject is empty")
	}
	for _, rdn := range splitUnescaped(s) {
		k, v, ok := strings.Cut(rdn, "=")
		k = strings.ToUpper(strings.TrimSpace(k))
		v = strings.TrimSpace(strings.ReplaceAll(v, `\,`, ","))
		if !ok || v == "" {
			return name, fmt.Errorf("keys: subject part %q is not KEY=VALUE", rdn)
		}
		switch k {
		case "CN":
			name.CommonName = v
		case "O":
			name.Organization = append(name.Organization, v)
		case "OU":
			name.OrganizationalUnit = append(name.OrganizationalUnit, v)
		case "L":
			name.Locality = append(name.Locality, v)
		case "ST":
			name.Province = append(name.Province, v)
		case "C":
			if len(v) != 2 {
				return name, fmt.Errorf("keys: country %q is not a two-letter code", v)
			}
			name.Country = append(name.Country, strings.ToUpper(v))
		case "SERIALNUMBER":
			name.SerialNumber = v
		case "UID":
			name.ExtraNames = append(name.ExtraNames, pkix.AttributeTypeAndValue{Type: oidUID, Value: v})
		case "STREET":
			name.ExtraNames = append(name.ExtraNames, pkix.AttributeTypeAndValue{Type: oidStreet, Value: v})
		case "POSTALCODE":
			name.ExtraNames = append(name.ExtraNames, pkix.AttributeTypeAndValue{Type: oidPostalCode, Value: v})
		default:
			return name, fmt.Errorf("keys: subject attribute %q is not one of CN, O, OU, L, ST, C, SERIALNUMBER, UID, STREET, POSTALCODE", k)
		}
	}
	return name, nil
}

func splitUnescaped(s string) []string {
	var parts []string
	start := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case ',':
			parts = append(parts, s[start:i])
			start = i + 1
		}
	}
	return append(parts, s[start:])
}
