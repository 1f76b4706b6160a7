package main

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/kyso-vn/kyso/app"
)

// asFlag names the API client a signing command acts as. The CLI opens the database
// directly, but the workflow's rules are app's and apply to it as to the API: a draft
// is approved by a leader of its agency with the certificate bound to that leader, an
// approved document issued by a clerk of its agency with the agency's organisation
// key. The person at the keyboard is named by --actor; both go in the audit trail.
type asFlag struct{ id string }

func (a *asFlag) add(cmd *cobra.Command, who string) {
	cmd.Flags().StringVar(&a.id, "as", "", "id of the API client this is done as: "+who+" (required)")
}

// addOptional adds --as for reading commands: without it the person at the database
// reads as its operator (every agency); with it the client's agency and clearance
// rules apply.
func (a *asFlag) addOptional(cmd *cobra.Command) {
	cmd.Flags().StringVar(&a.id, "as", "", "read as this API client: its agencies and clearance apply (default: the database's operator)")
}

// principal is the client --as names, acting through the CLI for actor.
func (a *asFlag) principal(ctx context.Context, svc *app.Service, actor string) (app.Principal, string, error) {
	if a.id == "" {
		return app.Principal{}, "", usageErr("give --as: the id of the API client this is done as (a leader to approve, a clerk to issue)")
	}
	p, err := svc.ClientByID(ctx, a.id)
	if err != nil {
		return app.Principal{}, "", &exitError{code: 1, err: err}
	}
	p.Surface = app.SurfaceCLI
	return p, actor + " as " + app.AuditActor(p), nil
}
