package api

import (
	"bytes"
	"encoding/json"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/kyso-vn/kyso/app"
)

type openAPIDoc struct {
	OpenAPI    string                                `json:"openapi"`
	Paths      map[string]map[string]json.RawMessage `json:"paths"`
	Components struct {
		Schemas struct {
			Problem struct {
				Properties struct {
					Type struct {
						Enum []string `json:"enum"`
					} `json:"type"`
				} `json:"properties"`
			} `json:"Problem"`
		} `json:"schemas"`
	} `json:"components"`
}

type openAPIOperation struct {
	Roles      []Role                     `json:"x-kyso-roles"`
	Responses  map[string]json.RawMessage `json:"responses"`
	Parameters []openAPIParameter         `json:"parameters"`
}

type openAPIParameter struct {
	Name string `json:"name"`
	In   string `json:"in"`
}

var ginParam = regexp.MustCompile(`:([A-Za-z_]+)`)

// TestOpenAPIMatchesRoutes walks gin's routes and the spec's paths: every route is
// documented with the roles it admits, every documented operation is routed, and the
// spec's problem types are exactly the catalogue in problem.go.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	ts := startServer(t, nil)
	served := readAll(t, ts.do("GET", "/openapi.json", "", "", nil))
	if !bytes.Equal(served, openAPISpec) {
		t.Fatal("/openapi.json does not serve the embedded spec")
	}
	var doc openAPIDoc
	dec := json.NewDecoder(bytes.NewReader(openAPISpec))
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	if doc.OpenAPI != "3.1.0" {
		t.Errorf("openapi %q, want 3.1.0", doc.OpenAPI)
	}

	documented := map[string]openAPIOperation{}
	for path, item := range doc.Paths {
		for method, raw := range item {
			var op openAPIOperation
			if err := json.Unmarshal(raw, &op); err != nil {
				t.Fatalf("%s %s: %v", method, path, err)
			}
			documented[strings.ToUpper(method)+" "+path] = op
		}
	}
	routed := map[string]bool{}
	for _, r := range ts.srv.engine.Routes() {
		if slices.ContainsFunc(ts.srv.mounts, func(m string) bool { return strings.HasPrefix(r.Path, m+"/") }) {
			continue // a mounted API has its own contract
		}
		key := r.Method + " " + ginParam.ReplaceAllString(r.Path, "{$1}")
		routed[key] = true
		if _, ok := documented[key]; !ok {
			t.Errorf("route %s is not in openapi.json", key)
		}
	}
	for key := range documented {
		if !routed[key] {
			t.Errorf("openapi.json documents %s, which is not routed", key)
		}
	}

	for _, r := range ts.srv.table {
		key := r.method + " " + ginParam.ReplaceAllString(r.path, "{$1}")
		op := documented[key]
		if !slices.Equal(sortedRoles(op.Roles), sortedRoles(r.roles)) {
			t.Errorf("%s: spec admits %v, route admits %v", key, op.Roles, r.roles)
		}
		for _, name := range ginParam.FindAllStringSubmatch(r.path, -1) {
			if !slices.ContainsFunc(op.Parameters, func(p openAPIParameter) bool { return p.Name == name[1] && p.In == "path" }) &&
				!strings.Contains(string(openAPISpec), `"#/components/parameters/`+name[1]+`"`) {
				t.Errorf("%s: path parameter %s undocumented", key, name[1])
			}
		}
		var denials []string
		if r.roles != nil {
			denials = append(denials, "401") // a wrong or revoked key, whatever the roles
		}
		if r.roles != nil && len(r.roles) < len(Roles) {
			denials = append(denials, "403")
		}
		for _, code := range denials {
			if _, ok := op.Responses[code]; !ok {
				t.Errorf("%s: response %s undocumented", key, code)
			}
		}
		// Every service is optional in api.Options, so every authenticated operation
		// may answer 501 in some deployment.
		if _, ok := op.Responses["501"]; r.roles != nil && !ok {
			t.Errorf("%s may answer 501 but does not document it", key)
		}
	}

	var catalogue []string
	for _, k := range []problemKind{
		probInvalidJSON, probInvalidRequest, probUnauthenticated, probForbidden, probKeyNotGranted,
		probNotFound, probMethod, probExpired, probConflict, probUploadTooLarge, probUnsupportedMedia,
		probInvalidDocument, probRateLimited, probInternal, probNotImplemented,
		probKeyUnavailable, probNotReady, probTimeout, probUpstream, probLimitExceeded, probReturned,
	} {
		catalogue = append(catalogue, ProblemBase+k.slug)
	}
	for _, code := range certificateProblems {
		catalogue = append(catalogue, ProblemBase+code)
	}
	sort.Strings(catalogue)
	spec := slices.Clone(doc.Components.Schemas.Problem.Properties.Type.Enum)
	sort.Strings(spec)
	if !slices.Equal(catalogue, spec) {
		t.Errorf("problem types: catalogue %v, spec %v", catalogue, spec)
	}
}

func sortedRoles(r []Role) []Role {
	out := slices.Clone(r)
	slices.Sort(out)
	return out
}

// TestOpenAPIReferencesResolve: every $ref of the hand-written spec names a component
// that exists.
func TestOpenAPIReferencesResolve(t *testing.T) {
	var doc map[string]any
	if err := json.Unmarshal(openAPISpec, &doc); err != nil {
		t.Fatal(err)
	}
	refs := regexp.MustCompile(`"\$ref":\s*"#/([^"]+)"`).FindAllSubmatch(openAPISpec, -1)
	if len(refs) == 0 {
		t.Fatal("no references found; the pattern is wrong")
	}
	for _, m := range refs {
		var cur any = doc
		for _, part := range strings.Split(string(m[1]), "/") {
			obj, ok := cur.(map[string]any)
			if !ok || obj[part] == nil {
				t.Errorf("$ref #/%s does not resolve", m[1])
				break
			}
			cur = obj[part]
		}
	}
}

// TestOpenAPISchemasMatchTypes: the documented request and response bodies have
// exactly the JSON fields of the Go types the handlers decode and render, so a field
// added to one and not the other fails here.
func TestOpenAPISchemasMatchTypes(t *testing.T) {
	var doc struct {
		Components struct {
			Schemas map[string]struct {
				Properties map[string]json.RawMessage `json:"properties"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(openAPISpec, &doc); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		schema string
		fields []string
	}{
		{"PendingSignature", jsonFields(Pending{})},
		{"CompleteRequest", jsonFields(completeBody{})},
		{"IssueRequest", jsonFields(issueBody{})},
		{"LifecycleRequest", jsonFields(LifecycleRequest{})},
		{"WithdrawalRecord", jsonFields(WithdrawalRecord{})},
		{"Register", jsonFields(RegisterRecord{})},
		{"NewRegister", jsonFields(NewRegister{})},
		{"DocumentRecord", jsonFields(DocumentRecord{})},
		{"Verification", jsonFields(Verification{})},
		{"Stats", jsonFields(Stats{})},
		{"DocumentCounts", jsonFields(app.DocumentCounts{})},
		{"SignatureCounts", jsonFields(app.SignatureCounts{})},
		{"CertificateCounts", jsonFields(app.CertificateCounts{})},
		{"RegisterBook", jsonFields(RegisterBook{})},
		{"RegisterEntry", jsonFields(RegisterEntry{})},
		{"Verdict", jsonFields(VerdictRecord{})},
		{"PrepareForm", append([]string{"file", "image"}, prepareFields...)},
		{"CreateClientRequest", jsonFields(createClientRequest{})},
		{"UnvalidatedSignature", jsonFields(UnvalidatedSignature{})},
	}
	for _, c := range cases {
		s, ok := doc.Components.Schemas[c.schema]
		if !ok {
			t.Errorf("schema %s missing", c.schema)
			continue
		}
		var spec []string
		for name := range s.Properties {
			spec = append(spec, name)
		}
		sort.Strings(spec)
		want := slices.Clone(c.fields)
		sort.Strings(want)
		if !slices.Equal(spec, want) {
			t.Errorf("%s: spec %v, Go %v", c.schema, spec, want)
		}
	}
}

func jsonFields(v any) []string {
	var out []string
	rt := reflect.TypeOf(v)
	for i := range rt.NumField() {
		name, _, _ := strings.Cut(rt.Field(i).Tag.Get("json"), ",")
		if name != "" && name != "-" {
			out = append(out, name)
		}
	}
	return out
}
