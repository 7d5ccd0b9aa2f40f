package mcpserver

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/go-cmp/cmp"
)

func TestToolName(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"createTenant", "create_tenant"},
		{"getMe", "get_me"},
		{"createAPIKey", "create_api_key"},
		{"listAPIKeys", "list_api_keys"},
		{"rotateAPIKey", "rotate_api_key"},
		{"getAIHealth", "get_ai_health"},
		{"ollamaChat", "ollama_chat"},
		{"listUsers", "list_users"},
	} {
		if got := ToolName(tc.in); got != tc.want {
			t.Errorf("ToolName(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

type pagePart struct {
	Limit int `query:"limit" minimum:"1" maximum:"100" default:"20"`
}

type spreadInput struct {
	ID string `path:"id" format:"uuid"`
	pagePart
	Tags []string `query:"tags,explode"`
	Body struct {
		Name string `json:"name" minLength:"1"`
		Role string `json:"role,omitempty" default:"member"`
	}
}

type optionalBodyInput struct {
	ID   string `path:"id"`
	Body *struct {
		Grace int `json:"grace,omitempty" default:"30"`
	}
}

type rawBodyInput struct {
	Body json.RawMessage
}

type clashInput struct {
	ID   string `path:"id"`
	Body struct {
		ID string `json:"id"`
	}
}

func TestShapeCoreInput(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		typ      reflect.Type
		args     string
		required []string
		want     string
	}{
		{"spread body, query default, body default", reflect.TypeFor[spreadInput](), `{"id":"01900000-0000-7000-8000-000000000000","name":"n"}`,
			[]string{"id", "name"}, `{"Body":{"name":"n","role":"member"},"ID":"01900000-0000-7000-8000-000000000000","Limit":20}`},
		{"given values win over defaults", reflect.TypeFor[spreadInput](), `{"id":"01900000-0000-7000-8000-000000000000","name":"n","role":"admin","limit":5,"tags":["a"]}`,
			[]string{"id", "name"}, `{"Body":{"name":"n","role":"admin"},"ID":"01900000-0000-7000-8000-000000000000","Limit":5,"Tags":["a"]}`},
		{"optional body left out", reflect.TypeFor[optionalBodyInput](), `{"id":"x"}`,
			[]string{"id"}, `{"ID":"x"}`},
		{"optional body given", reflect.TypeFor[optionalBodyInput](), `{"id":"x","grace":5}`,
			[]string{"id"}, `{"Body":{"grace":5},"ID":"x"}`},
		{"raw body passed whole", reflect.TypeFor[rawBodyInput](), `{"body":{"anything":[1,2]}}`,
			[]string{"body"}, `{"Body":{"anything":[1,2]}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			reg := huma.NewMapRegistry("#/$defs/", huma.DefaultSchemaNamer)
			sh, err := shapeOf(reg, tc.typ)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.required, sh.Schema.Required); diff != "" {
				t.Errorf("required (-want +got):\n%s", diff)
			}
			var args map[string]any
			if err := json.Unmarshal([]byte(tc.args), &args); err != nil {
				t.Fatal(err)
			}
			if errs := sh.validate(reg, args); len(errs) > 0 {
				t.Fatalf("valid args refused: %v", errs[0])
			}
			got, err := sh.coreInput(args)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Errorf("coreInput = %s, want %s", got, tc.want)
			}
		})
	}
}

func TestShapeValidation(t *testing.T) {
	t.Parallel()
	reg := huma.NewMapRegistry("#/$defs/", huma.DefaultSchemaNamer)
	sh, err := shapeOf(reg, reflect.TypeFor[spreadInput]())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ args, field string }{
		{`{"name":"n"}`, ""},                                                // id missing
		{`{"id":"not-a-uuid","name":"n"}`, "id"},                            // format
		{`{"id":"01900000-0000-7000-8000-000000000000","name":""}`, "name"}, // minLength
		{`{"id":"01900000-0000-7000-8000-000000000000","name":"n","limit":500}`, "limit"},
		{`{"id":"01900000-0000-7000-8000-000000000000","name":"n","surprise":1}`, "surprise"},
	} {
		var args map[string]any
		if err := json.Unmarshal([]byte(tc.args), &args); err != nil {
			t.Fatal(err)
		}
		errs := sh.validate(reg, args)
		if len(errs) == 0 {
			t.Errorf("%s accepted", tc.args)
			continue
		}
		if tc.field != "" && !strings.Contains(errs[0].Location, tc.field) {
			t.Errorf("%s: first error at %q (%s), want %q", tc.args, errs[0].Location, errs[0].Message, tc.field)
		}
	}
}

func TestShapeRefusesClashingNames(t *testing.T) {
	t.Parallel()
	reg := huma.NewMapRegistry("#/$defs/", huma.DefaultSchemaNamer)
	if _, err := shapeOf(reg, reflect.TypeFor[clashInput]()); err == nil {
		t.Error("path id and body id both accepted as argument id")
	}
}
