package agent_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/kyso-vn/kyso/api/agent"
	"github.com/kyso-vn/kyso/app"
)

// jsonFields maps the JSON names of a struct's fields to their Go types.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name != "" && name != "-" {
			out[name] = f.Type
		}
	}
	return out
}

// TestRequestReadsServicePending: agent.Request is the agent's own copy of the
// server's pending signature (the agent may not import the server's packages, see
// TestDependencies). Every field it reads must be one the server writes, with the
// same type, or the agent would silently see zero values.
func TestRequestReadsServicePending(t *testing.T) {
	server := jsonFields(reflect.TypeFor[app.Pending]())
	agentSide := jsonFields(reflect.TypeFor[agent.Request]())
	if len(agentSide) == 0 {
		t.Fatal("agent.Request has no JSON fields")
	}
	for name, typ := range agentSide {
		if st, ok := server[name]; !ok || st != typ {
			t.Errorf("agent.Request reads %q as %v; app.Pending writes %v", name, typ, st)
		}
	}
}
