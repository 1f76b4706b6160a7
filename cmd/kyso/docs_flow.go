package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/kyso-vn/kyso/app"
	"github.com/kyso-vn/kyso/demo"
	"github.com/kyso-vn/kyso/internal/durable"
	"github.com/kyso-vn/kyso/pkg/docid"
	"github.com/kyso-vn/kyso/pkg/pki"
	"github.com/kyso-vn/kyso/pkg/wire"
	"github.com/kyso-vn/kyso/signer/verify"
)

// flowFlags are what issuing and receiving need besides the store: who acts, and the
// trust anchors the verification before each step uses.
type flowFlags struct {
	actor   string
	trust   []string
	offline bool
}

func (f *flowFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.actor, "actor", "", "who does it, for the audit trail (required)")
	cmd.Flags().StringArrayVar(&f.trust, "trust", nil, "trust anchor certificates for the verification (repeatable; required)")
	cmd.Flags().BoolVar(&f.offline, "offline", false, "verify with the revocation data in the document only")
}

func (f *flowFlags) verifyOptions() (verify.Options, error) {
	if f.actor == "" || len(f.trust) == 0 {
		return verify.Options{}, usageErr("give --actor and at least one --trust anchor")
	}
	ts, err := pki.LoadTrustStore(f.trust...)
	if err != nil {
		return verify.Options{}, &exitError{code: 2, err: err}
	}
	// The built-in list's licensed CAs complete a signer's chain (never as anchors),
	// so a token holding only its leaf still signs with its whole chain embedded.
	_, inter, err := builtinTrust(true)
	if err != nil {
		return verify.Options{}, &exitError{code: 1, err: err}
	}
	o := verify.Options{Anchors: ts.Anchors(), Intermediates: inter, Offline: f.offline}
	if !f.offline && demo.Trusts(o.Anchors) {
		o.Revocation = demoRevocation()
	}
	return o, nil
}

// demoRevocation checks revocation as kyso verify does, with the test PKI's CRLs
// built into kyso at hand: used only when the test PKI's root is an anchor given on
// the command line (its certificates name CRL servers on 127.0.0.1 nobody runs).
// The CRLs are signed by the test CAs, so other certificates are checked on the
// network as always.
func demoRevocation() *pki.Checker {
	return &pki.Checker{OCSP: &pki.OCSPClient{}, CRL: &pki.CRLFetcher{}, CRLs: demo.CRLs()}
}

func newDocsIssueCmd(sf *storeFlags) *cobra.Command {
	var ff flowFlags
	var kf cliKey
	var as asFlag
	var seal, numberField, dateField, level string
	var sealSize float64
	var tsa []string
	cmd := &cobra.Command{
		Use:   "issue ID --key URI --seal PNG --as CLIENT --actor NAME --trust FILE",
		Short: "Issue an approved document: number, date, identifier codes and the organisation's signature with the seal",
		Long: `Issue an approved document as Decree 30/2020 prescribes: the leader's signature is
verified first (no issue when it fails), the system assigns the next number of the
agency's outgoing register and the issue time, writes them and the edXML identifier
into the PDF (/Info, XMP, and the template's number/date fields when named) in the
same revision as the organisation's signature, whose seal lies over the left third of
the leader's signature, and stores the document as issued. The organisation's
certificate is checked (valid, chained, unrevoked) before the key is opened.`,
		Example: `  kyso docs issue 42 --key "$ORG_KEY" --seal seal.png --as 7 --actor "văn thư" \
      --trust /etc/kyso/anchors/ --number-field so_ky_hieu --date-field ngay_ban_hanh`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := strconv.ParseInt(args[0], 10, 64)
			if err != nil {
				return usageErr("document id %q is not a number", args[0])
			}
			vo, err := ff.verifyOptions()
			if err != nil {
				return err
			}
			if kf.uri == "" {
				return usageErr("--key is required")
			}
			lvl, err := app.ParseLevel(level)
			if err != nil {
				return usageErr("%v", err)
			}
			var sealPNG []byte
			if seal != "" {
				if sealPNG, err = os.ReadFile(seal); err != nil {
					return &exitError{code: 2, err: err}
				}
			}
			ctx := cmd.Context()
			// The key is opened (its PIN used) only when it signs, after every check.
			key, st, release, err := kf.openLazyWithStore(ctx, sf)
			if err != nil {
				return err
			}
			defer release()
			svc := signFlags{tsa: tsa}.service()
			svc.Store, svc.Verify = st, vo
			svc.Keys = map[string]*app.ServerKey{cliKeyName: {Name: cliKeyName, Key: key, URI: redactedURI(kf.uri)}}
			by, actor, err := as.principal(ctx, svc, ff.actor)
			if err != nil {
				return err
			}
			d, rep, err := svc.Issue(ctx, app.IssueRequest{DocumentID: id, KeyName: cliKeyName, Seal: sealPNG, SealSize: sealSize,
				NumberField: numberField, DateField: dateField, Level: lvl, By: by, Actor: actor})
			if err != nil {
				if rep != nil {
					_ = rep.WriteText(cmd.ErrOrStderr(), verify.Vietnamese)
				}
				return &exitError{code: 1, err: err}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%d\t%s\t%s\n", d.ID, d.NumberSymbol(), deref(d.Identifier))
			return nil
		},
	}
	ff.add(cmd)
	as.add(cmd, "a clerk of the document's agency")
	kf.add(cmd, "the organisation's")
	cmd.Flags().StringVar(&seal, "seal", "", "PNG of the seal (red, transparent, true size)")
	cmd.Flags().Float64Var(&sealSize, "seal-size", 0, "the seal's true width in points (default: from the PNG's resolution, else 36 mm)")
	cmd.Flags().StringVar(&numberField, "number-field", "", "template text field for \"Số: NN/SYMBOL\"")
	cmd.Flags().StringVar(&dateField, "date-field", "", "template text field for the issue date")
	cmd.Flags().StringVar(&level, "level", "B-B", "PAdES level of the organisation's signature")
	cmd.Flags().StringArrayVar(&tsa, "tsa", nil, "RFC 3161 timestamp authority URL (repeatable)")
	return cmd
}

func newDocsReceiveCmd(sf *storeFlags) *cobra.Command {
	vf := verifyFlags{limits: verify.DefaultLimits(), timeout: 2 * time.Minute}
	var actor, holder, issuer, number, identifier, issued, summary, docType, statusOut string
	var acceptIndeterminate bool
	cmd := &cobra.Command{
		Use:   "receive FILE --holder CODE --actor NAME [--trust FILE]",
		Short: "Verify an incoming document (PDF or .edxml packet), then register it or return it",
		Long: `Receive an incoming document (văn bản đến), a PDF or an edXML packet (QCVN 102:2016),
as Decree 30/2020 Art. 21.2 asks: its signatures are verified first, with the trust of
kyso verify (--trust, the built-in Vietnamese list unless --builtin-trust=false,
--crypto; revocation online unless --offline), and the report is printed on standard
error.

  TOTAL_PASSED   registered with the holder's next arrival number (exit 0)
  TOTAL_FAILED   returned (trả lại): kept with the verdict and the reason, no number (exit 1)
  INDETERMINATE  or no signature at all: returned as above, unless --accept-indeterminate
                 registers it knowingly (the audit trail records the verdict and reason)

The issuer, number/symbol, date and identifier are read from the document itself (the
/Info and XMP Kyso writes when issuing, the edXML header, the agency code of the
organisation signature's certificate) and checked against
--issuer, --number, --issued and --identifier: a difference is refused and nothing is
stored (exit 2); what is not given is taken from the document. When neither names the
issuer, give --issuer. The same file, or the same identifier, already registered by
the holder is refused naming the first registration (exit 1). --status-out writes the
edXML status packet for the sender: 03 (received) or 02 (returned, with the reason).`,
		Example: `  kyso docs receive cv-7816.pdf --holder 000.00.00.H43 --issuer 000.00.00.G22 \
      --number 7816/VPCP-TTĐT --actor "văn thư" --trust /etc/kyso/anchors/
  kyso docs receive goi-tin.edxml --holder 000.00.00.H43 --actor "văn thư" \
      --trust /etc/kyso/anchors/ --status-out trang-thai.edxml`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if holder == "" || actor == "" {
				return usageErr("give --holder (the receiving agency's code) and --actor")
			}
			vo, err := vf.options()
			if err != nil {
				return err
			}
			req := app.ReceiveRequest{Filename: filepath.Base(args[0]), Holder: docid.AgencyCode(holder),
				Issuer: docid.AgencyCode(issuer), Identifier: identifier, Summary: summary, Type: docType, Actor: actor,
				AcceptIndeterminate: acceptIndeterminate}
			if number != "" {
				if req.Number, err = docid.ParseNumberSymbol(number); err != nil {
					return usageErr("--number: %v", err)
				}
			}
			if issued != "" {
				if req.IssuedAt, err = time.ParseInLocation(time.DateOnly, issued, docid.Vietnam); err != nil {
					return usageErr("--issued: want yyyy-MM-dd, not %q", issued)
				}
			}
			f, err := os.Open(args[0])
			if err != nil {
				return &exitError{code: 1, err: err}
			}
			defer f.Close()
			req.Content = f
			ctx := cmd.Context()
			st, err := sf.open(ctx)
			if err != nil {
				return &exitError{code: 1, err: err}
			}
			defer st.Close()
			svc := &app.Service{Store: st, Verify: vo, RegisterSeries: sf.registers}
			rc, err := svc.Receive(ctx, req)
			if rc == nil {
				return err // a refusal: its kind's exit code (kindExitCodes)
			}
			if rc.Report != nil {
				_ = rc.Report.WriteText(cmd.ErrOrStderr(), verify.Vietnamese)
			}
			if statusOut != "" && len(rc.StatusPacket) > 0 {
				if werr := durable.WriteFile(statusOut, rc.StatusPacket, 0o600); werr != nil {
					return &exitError{code: 1, err: werr}
				}
			}
			if err != nil {
				return err // returned: BadDocument, exit 1
			}
			d := rc.Document
			fmt.Fprintf(cmd.OutOrStdout(), "%d\tincoming %d/%d\t%s\t%s\n", d.ID, derefInt(d.RegNumber), derefInt(d.Year), d.Verdict, deref(d.Identifier))
			return nil
		},
	}
	cmd.Flags().StringVar(&actor, "actor", "", "who receives it, for the audit trail (required)")
	cmd.Flags().StringArrayVar(&vf.trust, "trust", nil, "trust anchor certificates (PEM/DER file or directory); repeatable")
	cmd.Flags().BoolVar(&vf.offline, "offline", false, "never use the network: revocation data from the document only")
	addTrustFlags(cmd, &vf)
	cmd.Flags().StringVar(&holder, "holder", "", "the receiving agency's code (required)")
	cmd.Flags().StringVar(&issuer, "issuer", "", "the issuing agency's code (default: as the document says)")
	cmd.Flags().StringVar(&number, "number", "", "the document's number and symbol, e.g. 7816/VPCP-TTĐT (default: as the document says)")
	cmd.Flags().StringVar(&issued, "issued", "", "the issue date yyyy-MM-dd (default: as the document says)")
	cmd.Flags().StringVar(&identifier, "identifier", "", "the edXML document identifier (default: as the document says)")
	cmd.Flags().StringVar(&summary, "summary", "", "trích yếu (default: the edXML packet's subject)")
	cmd.Flags().StringVar(&docType, "type", "", "QĐ, CV, TTr, …")
	cmd.Flags().BoolVar(&acceptIndeterminate, "accept-indeterminate", false, "register a document whose signatures are INDETERMINATE, or unsigned, instead of returning it (audited)")
	cmd.Flags().StringVar(&statusOut, "status-out", "", "write the edXML status packet for the sender to this file")
	return cmd
}

func derefInt(p *int) int {
	if p == nil {
		return 0
	}
	return *p
}

func newDocsApproveCmd(sf *storeFlags) *cobra.Command {
	var kf cliKey
	var as asFlag
	var trust []string
	var offline bool
	var image, rect, level, reason, actor string
	var page int
	var tsa []string
	cmd := &cobra.Command{
		Use:   "approve ID --key URI --as CLIENT --actor NAME --trust FILE [--image PNG --page N --rect x1,y1,x2,y2]",
		Short: "Approve a draft with the leader's signature (the handwritten image between title and name)",
		Long: `Sign a stored draft as its approver: the leader's personal signature, visible with the
handwritten signature image when --image is given, made through the same
prepare/complete pipeline the desktop agent uses. The signed version is stored and
the document becomes approved, ready for the clerk to issue.

Before the token's PIN is used, the leader's certificate (read from the token's
public objects, or --cert) must be valid now, chain to the --trust anchors (through
--chain, the built-in list's CAs or its AIA URL) and be unrevoked (asked online
unless --offline); otherwise nothing is signed and the reason is printed, in
Vietnamese (KYSO_LANG=en for English). The signature embeds the chain found.`,
		Example: `  kyso docs approve 42 --key "$LEADER_TOKEN_URI" --image chu-ky.png --page 1 \
      --rect 330,120,510,190 --as 5 --actor "Chủ tịch" --trust /etc/kyso/anchors/`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := strconv.ParseInt(args[0], 10, 64)
			if err != nil {
				return usageErr("document id %q is not a number", args[0])
			}
			if kf.uri == "" || actor == "" {
				return usageErr("give --key and --actor")
			}
			f := signFlags{level: level, rect: rect, image: image, page: page, reason: reason, tsa: tsa, hash: "SHA-256", visible: image != ""}
			opts, err := f.options()
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			svc := f.service()
			if err := svc.CheckSignOptions(opts); err != nil {
				return &exitError{code: 2, err: err}
			}
			ctx := cmd.Context()
			// The key is opened (its PIN used) only when it signs, after Prepare has
			// checked the leader's certificate: valid now, chained to the anchors and
			// unrevoked (app/signercheck.go).
			key, st, release, err := kf.openLazyWithStore(ctx, sf)
			if err != nil {
				return err
			}
			defer release()
			vo, err := (&flowFlags{actor: actor, trust: trust, offline: offline}).verifyOptions()
			if err != nil {
				return err
			}
			svc.Store, svc.Verify = st, vo
			by, who, err := as.principal(ctx, svc, actor)
			if err != nil {
				return err
			}
			p, err := svc.Prepare(ctx, app.PrepareRequest{DocumentID: id, Certificate: key.Certificate(), Chain: key.Chain(),
				Role: app.RoleApprove, By: by, Actor: who, Options: opts})
			if err != nil {
				return &exitError{code: 1, err: err}
			}
			so, err := wire.SignerOpts(p.Algorithm)
			if err != nil {
				return &exitError{code: 1, err: err}
			}
			sig, err := key.SignContext(ctx, p.Digest, so)
			if err != nil {
				return &exitError{code: 1, err: err}
			}
			done, err := svc.Complete(ctx, p.ID, app.CompleteRequest{Signature: sig, By: by, Actor: who, KeyURI: redactedURI(kf.uri)})
			if err != nil {
				return &exitError{code: 1, err: err}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%d\tapproved\tversion %d\n", id, done.Version)
			return nil
		},
	}
	kf.add(cmd, "the leader's")
	as.add(cmd, "a leader of the draft's agency, to whom the key's certificate is bound")
	cmd.Flags().StringArrayVar(&trust, "trust", nil, "trust anchor certificates the leader's certificate must chain to (repeatable; required)")
	cmd.Flags().BoolVar(&offline, "offline", false, "do not ask OCSP or CRL servers whether the leader's certificate is revoked")
	cmd.Flags().StringVar(&image, "image", "", "PNG of the handwritten signature (blue, transparent)")
	cmd.Flags().IntVar(&page, "page", 1, "page of the visible signature")
	cmd.Flags().StringVar(&rect, "rect", "", "rectangle x1,y1,x2,y2 in points")
	cmd.Flags().StringVar(&level, "level", "B-B", "PAdES level")
	cmd.Flags().StringVar(&reason, "reason", "Phê duyệt", "reason written in the signature")
	cmd.Flags().StringVar(&actor, "actor", "", "who approves, for the audit trail (required)")
	cmd.Flags().StringArrayVar(&tsa, "tsa", nil, "RFC 3161 timestamp authority URL (repeatable)")
	return cmd
}
