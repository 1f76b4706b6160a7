package main

import (
	"context"
	"fmt"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/kyso-vn/kyso/app"
	"github.com/kyso-vn/kyso/pkg/store"
)

// The later life of a document (app/lifecycle.go): back to draft, recalled, replaced.
// Each is done as the API client --as names (a leader or a clerk of the issuing
// agency), with --actor naming the person for the audit trail.

// lifecycleCmd is one of the commands below: what it does to the document.
type lifecycleCmd struct {
	use, short, long, example, done string
	replace                         bool
	act                             func(*app.Service, context.Context, app.Principal, int64, app.LifecycleRequest) (app.DocumentRecord, error)
}

func newDocsLifecycleCmds(sf *storeFlags) []*cobra.Command {
	cmds := []lifecycleCmd{
		{use: "return-draft ID --reason TEXT --as CLIENT --actor NAME", short: "Send an approved document back to draft (trả lại dự thảo)",
			long: `Send an approved document back to draft, with the reason: its approval no longer
counts, the draft's current version becomes again what the leader approved over (the
signed version stays in the history), and it must be approved afresh before it is
issued. Only an approved document returns; an issued one is recalled or replaced.`,
			example: `  kyso docs return-draft 42 --reason "Sửa lại trích yếu" --as 5 --actor "Chủ tịch"`,
			done:    "returned to draft",
			act:     (*app.Service).ReturnToDraft},
		{use: "recall ID --reason TEXT --decision REF --as CLIENT --actor NAME", short: "Recall an issued document (thu hồi)",
			long: `Recall an issued document, with the reason and the recalling decision: it stays
issued, numbered and stored, and its record, the register listing and the public
lookup page show "Đã bị thu hồi".`,
			example: `  kyso docs recall 42 --reason "Ban hành sai thẩm quyền" --decision "Quyết định số 12/QĐ-UBND" --as 7 --actor "văn thư"`,
			done:    "recalled",
			act:     (*app.Service).Recall},
		{use: "replace ID --by ID --reason TEXT --decision REF --as CLIENT --actor NAME", short: "Record that an issued document is replaced by a later one (thay thế)",
			long: `Record that an issued document is replaced by a later issued document of the same
agency (--by): both stay stored; the old one shows "Đã được thay thế bởi …" and the
new one lists what it replaces.`,
			example: `  kyso docs replace 42 --by 57 --reason "Thay thế do thay đổi thời hạn" --decision "Văn bản số 57/UBND-VP" --as 7 --actor "văn thư"`,
			done:    "replaced",
			replace: true,
			act:     (*app.Service).Replace},
	}
	var out []*cobra.Command
	for _, lc := range cmds {
		out = append(out, lc.command(sf))
	}
	return out
}

func (lc lifecycleCmd) command(sf *storeFlags) *cobra.Command {
	var as asFlag
	var actor string
	var req app.LifecycleRequest
	cmd := &cobra.Command{
		Use: lc.use, Short: lc.short, Long: lc.long, Example: lc.example,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := strconv.ParseInt(args[0], 10, 64)
			if err != nil {
				return usageErr("document id %q is not a number", args[0])
			}
			if req.Reason == "" || actor == "" {
				return usageErr("give --reason and --actor")
			}
			if lc.replace && req.ReplacedBy <= 0 {
				return usageErr("give --by: the id of the issued document that replaces it")
			}
			ctx := cmd.Context()
			st, err := sf.open(ctx)
			if err != nil {
				return err
			}
			defer st.Close()
			svc := &app.Service{Store: st}
			by, who, err := as.principal(ctx, svc, actor)
			if err != nil {
				return err
			}
			req.Actor = who
			rec, err := lc.act(svc, ctx, by, id, req)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%d\t%s\t%s\n", rec.ID, lc.done, rec.Status)
			return nil
		},
	}
	as.add(cmd, "a leader or a clerk of the document's agency")
	cmd.Flags().StringVar(&actor, "actor", "", "who does it, for the audit trail (required)")
	cmd.Flags().StringVar(&req.Reason, "reason", "", "why (required; audited)")
	if lc.replace || lc.done == "recalled" {
		cmd.Flags().StringVar(&req.Decision, "decision", "", "the decision that recalls or replaces it, e.g. \"Quyết định số 12/QĐ-UBND ngày 05/03/2026\"")
	}
	if lc.replace {
		cmd.Flags().Int64Var(&req.ReplacedBy, "by", 0, "id of the issued document that replaces it (required)")
	}
	return cmd
}

// withdrawalText says in Vietnamese what became of an issued document, for docs get
// and docs list: "" when nothing did.
func withdrawalText(w store.Withdrawal, ok bool) string {
	switch {
	case !ok:
		return ""
	case w.ReplacedBy != nil:
		return fmt.Sprintf("Đã được thay thế bởi văn bản %d", *w.ReplacedBy)
	}
	return "Đã bị thu hồi"
}
