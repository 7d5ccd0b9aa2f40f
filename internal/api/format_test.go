package api

import (
	"bytes"
	"testing"

	"github.com/danielgtaylor/huma/v2"

	"github.com/fast-saas/fast-saas/internal/core"
)

// The API's JSON format writes exactly what huma's default format would,
// whether or not a body carries its JSON already made.
func TestMarshalJSONIsHumasEncoding(t *testing.T) {
	t.Parallel()
	values := map[string]any{
		"map with HTML characters": map[string]any{"a": "<b>&amp;</b>", "n": 1.5},
		"list without kept JSON":   core.List[string]{Items: []string{"x", "\u2028"}, NextCursor: "c"},
		"nil":                      nil,
	}
	for name, v := range values {
		var ours, humas bytes.Buffer
		if err := marshalJSON(&ours, v); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if err := huma.DefaultJSONFormat.Marshal(&humas, v); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !bytes.Equal(ours.Bytes(), humas.Bytes()) {
			t.Errorf("%s: ours %q, huma's %q", name, ours.Bytes(), humas.Bytes())
		}
	}
}

type keptJSON []byte

func (k keptJSON) EncodedJSON() []byte { return k }

// A body with its JSON made is written as it is, and one whose JSON is not
// kept (nil) is encoded.
func TestMarshalJSONWritesKeptJSON(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	if err := marshalJSON(&out, keptJSON(`{"kept":true}`+"\n")); err != nil {
		t.Fatal(err)
	}
	if out.String() != `{"kept":true}`+"\n" {
		t.Errorf("kept JSON written as %q", out.String())
	}
	out.Reset()
	if err := marshalJSON(&out, keptJSON(nil)); err != nil {
		t.Fatal(err)
	}
	if out.String() != "null\n" {
		t.Errorf("a body without kept JSON written as %q, want it encoded", out.String())
	}
}
