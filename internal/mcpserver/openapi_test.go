package mcpserver

import (
	"slices"
	"testing"

	"github.com/danielgtaylor/huma/v2"

	"github.com/fast-saas/fast-saas/internal/api"
)

// TestToolsMatchOpenAPI compares every tool's arguments with its
// operation in the OpenAPI document the REST API serves: the same
// parameter and body field names, the same required ones. A change to
// either side that the other does not follow fails here.
func TestToolsMatchOpenAPI(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	doc := apiHandler(t, w, HandlerOptions{}).(*api.Handler).API.OpenAPI()
	byID := map[string]*huma.Operation{}
	for _, item := range doc.Paths {
		for _, op := range []*huma.Operation{item.Get, item.Post, item.Put, item.Patch, item.Delete} {
			if op != nil {
				byID[op.OperationID] = op
			}
		}
	}
	resolve := func(s *huma.Schema) *huma.Schema {
		for s != nil && s.Ref != "" {
			s = doc.Components.Schemas.SchemaFromRef(s.Ref)
		}
		return s
	}
	tools, _, err := build(w.svc.Operations(), false)
	if err != nil {
		t.Fatal(err)
	}
	for _, tl := range tools {
		op, ok := byID[tl.Op.ID]
		if !ok {
			t.Errorf("tool %s: operation %s is not in the OpenAPI document", tl.Name, tl.Op.ID)
			continue
		}
		var names, required []string
		for _, p := range op.Parameters {
			if p.In != "path" && p.In != "query" {
				continue
			}
			names = append(names, p.Name)
			if p.Required {
				required = append(required, p.Name)
			}
		}
		if rb := op.RequestBody; rb != nil {
			if mt := rb.Content["application/json"]; mt != nil {
				bs := resolve(mt.Schema)
				if bs != nil && bs.Type == huma.TypeObject && len(bs.Properties) > 0 && !tl.shape.BodyArg {
					for name := range bs.Properties {
						names = append(names, name)
					}
					if rb.Required {
						required = append(required, bs.Required...)
					}
				} else {
					names = append(names, bodyArg)
					if rb.Required {
						required = append(required, bodyArg)
					}
				}
			}
		}
		var gotNames []string
		for name := range tl.shape.Schema.Properties {
			gotNames = append(gotNames, name)
		}
		gotRequired := slices.Clone(tl.shape.Schema.Required)
		for _, s := range [][]string{names, required, gotNames, gotRequired} {
			slices.Sort(s)
		}
		if !slices.Equal(gotNames, names) {
			t.Errorf("tool %s arguments %v, OpenAPI %s has %v", tl.Name, gotNames, op.OperationID, names)
		}
		if !slices.Equal(gotRequired, required) {
			t.Errorf("tool %s requires %v, OpenAPI %s requires %v", tl.Name, gotRequired, op.OperationID, required)
		}
	}
}
