package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kyso-vn/kyso/internal/durable"
	"github.com/kyso-vn/kyso/pkg/edxml"
	"github.com/kyso-vn/kyso/pkg/store"
)

func newDocsExportCmd(sf *storeFlags) *cobra.Command {
	var to []string
	var out, place, competence, position, fullName, typeName string
	cmd := &cobra.Command{
		Use:   "export ID --to AGENCY... -o FILE.edxml",
		Short: "Write an issued document as an edXML packet (QCVN 102:2016) for other agencies",
		Long: `Write an issued document as an edXML packet: the header with the issuing agency,
the receiving agencies, the edXML document identifier, number and symbol, the issue
date, subject and signer, and the signed PDF as its attachment. The packet is sent
over the national document axis or the provincial LGSP by the systems that speak to
them.`,
		Example: `  kyso docs export 42 --to 000.00.00.G22 --place "Ninh Thuận" \
      --signer-position "CHỦ TỊCH" --signer-name "Nguyễn Văn A" -o 05-UBND-VP.edxml`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := strconv.ParseInt(args[0], 10, 64)
			if err != nil {
				return usageErr("document id %q is not a number", args[0])
			}
			if len(to) == 0 || out == "" {
				return usageErr("give --to (at least one receiving agency code) and -o FILE")
			}
			ctx := cmd.Context()
			st, err := sf.open(ctx)
			if err != nil {
				return &exitError{code: 1, err: err}
			}
			defer st.Close()
			d, err := st.GetDocument(ctx, id)
			if err != nil {
				return &exitError{code: 1, err: err}
			}
			if d.Status != store.StatusIssued || d.IssuedAt == nil {
				return &exitError{code: 1, err: fmt.Errorf("document %d is %s: only an issued document is sent", id, d.Status)}
			}
			rc, v, err := st.Download(ctx, id, 0, "kyso docs export")
			if err != nil {
				return &exitError{code: 1, err: err}
			}
			pdfBytes, err := io.ReadAll(rc)
			rc.Close()
			if err != nil {
				return &exitError{code: 1, err: err}
			}
			m := &edxml.Message{
				From: edxml.Organ{OrganID: d.AgencyCode}, Number: d.NumberSymbol(), PromulgatedAt: *d.IssuedAt,
				Place: place, DocumentType: typeName, Subject: d.Summary,
				Signer:      edxml.Signer{Competence: competence, Position: position, FullName: fullName},
				Attachments: []edxml.Attachment{{Name: attachmentName(d, v), ContentType: "application/pdf", Data: pdfBytes}},
			}
			if m.DocumentType == "" {
				m.DocumentType = d.Type
			}
			for _, code := range to {
				m.To = append(m.To, edxml.Organ{OrganID: strings.TrimSpace(code)})
			}
			if err := durable.Write(out, 0o600, func(w io.Writer) error { return edxml.Build(w, m) }); err != nil {
				return &exitError{code: 1, err: err}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s\t%s\n", out, m.Number.String())
			return nil
		},
	}
	cmd.Flags().StringSliceVar(&to, "to", nil, "receiving agency codes (repeatable or comma-separated)")
	cmd.Flags().StringVarP(&out, "output", "o", "", "the packet to write")
	cmd.Flags().StringVar(&place, "place", "", "promulgation place, e.g. \"Ninh Thuận\"")
	cmd.Flags().StringVar(&typeName, "type-name", "", "document type name, e.g. \"Công văn\" (default: the stored type)")
	cmd.Flags().StringVar(&competence, "signer-competence", "", "e.g. \"TM. ỦY BAN NHÂN DÂN\"")
	cmd.Flags().StringVar(&position, "signer-position", "", "e.g. \"CHỦ TỊCH\"")
	cmd.Flags().StringVar(&fullName, "signer-name", "", "the signer's full name")
	return cmd
}

// attachmentName names the PDF after its number and symbol, as agencies file them.
func attachmentName(d *store.Document, v *store.Version) string {
	if d.Number > 0 {
		return strings.NewReplacer("/", "-", " ", "_").Replace(d.NumberSymbol().String()) + ".pdf"
	}
	if v != nil && v.Filename != "" {
		return v.Filename
	}
	return fmt.Sprintf("document-%d.pdf", d.ID)
}
