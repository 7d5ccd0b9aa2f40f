package core

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/go-cmp/cmp"
)

func TestJSONObjectMarshal(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		stored json.RawMessage
		want   string
	}{
		{"nothing stored", nil, `{"o":{}}`},
		{"empty object", json.RawMessage(`{}`), `{"o":{}}`},
		{"object as stored", json.RawMessage(`{"a":[1,2],"b":{"c":null}}`), `{"o":{"a":[1,2],"b":{"c":null}}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := json.Marshal(struct {
				O JSONObject `json:"o"`
			}{objectOf(tc.stored)})
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
}

func TestJSONObjectUnmarshal(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in      string
		want    string
		wantErr bool
	}{
		{in: `{"a":1}`, want: `{"a":1}`},
		{in: `{}`, want: `{}`},
		{in: `null`, want: ``},
		{in: `[1]`, wantErr: true},
		{in: `"x"`, wantErr: true},
		{in: `3`, wantErr: true},
	} {
		t.Run(tc.in, func(t *testing.T) {
			t.Parallel()
			var o JSONObject
			err := json.Unmarshal([]byte(tc.in), &o)
			if (err != nil) != tc.wantErr {
				t.Fatalf("Unmarshal(%s) error = %v, want error %v", tc.in, err, tc.wantErr)
			}
			if !tc.wantErr && string(o) != tc.want {
				t.Errorf("Unmarshal(%s) = %s, want %s", tc.in, o, tc.want)
			}
		})
	}
}

// The OpenAPI document must not change with the type: JSONObject has the
// schema of map[string]any.
func TestJSONObjectSchema(t *testing.T) {
	t.Parallel()
	reg := huma.NewMapRegistry("#/components/schemas/", huma.DefaultSchemaNamer)
	got := reg.Schema(reflect.TypeFor[JSONObject](), true, "")
	want := huma.NewMapRegistry("#/components/schemas/", huma.DefaultSchemaNamer).Schema(reflect.TypeFor[map[string]any](), true, "")
	gj, _ := json.Marshal(got)
	wj, _ := json.Marshal(want)
	if diff := cmp.Diff(string(wj), string(gj)); diff != "" {
		t.Errorf("schema differs from map[string]any (-want +got):\n%s", diff)
	}
}

// FuzzJSONObjectUnmarshal: whatever is accepted is a JSON object (or null)
// and marshals back to valid JSON with the same content.
func FuzzJSONObjectUnmarshal(f *testing.F) {
	for _, s := range []string{`{}`, `{"a":1}`, `null`, `[]`, `"x"`, `{"a":{"b":[1,"2",null]}}`, ` { "a" : 1 } `, `{`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		var o JSONObject
		if err := json.Unmarshal(in, &o); err != nil {
			return
		}
		out, err := json.Marshal(o)
		if err != nil {
			t.Fatalf("accepted %q but cannot marshal it: %v", in, err)
		}
		var want, got any
		if err := json.Unmarshal(in, &want); err != nil {
			t.Fatalf("accepted invalid JSON %q", in)
		}
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatalf("marshalled %q to invalid JSON %q", in, out)
		}
		if want == nil {
			want = map[string]any{} // null reads as no object, written as {}
		}
		if _, ok := got.(map[string]any); !ok {
			t.Fatalf("accepted %q, which is not an object", in)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("round trip of %q changed it (-in +out):\n%s", in, diff)
		}
	})
}
