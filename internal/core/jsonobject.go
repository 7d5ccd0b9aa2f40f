package core

import (
	"encoding/json"
	"reflect"

	"github.com/danielgtaylor/huma/v2"
)

// JSONObject is a JSON object the store already holds in canonical form
// (settings, metadata): it is written to responses as stored, never
// decoded into a map and encoded again. The round trip through
// map[string]any was about a fifth of the CPU of a tenant list page.
type JSONObject json.RawMessage

// emptyObject is what an absent or empty stored object is shown as.
var emptyObject = []byte("{}")

// objectOf wraps raw (a JSON object from the store, or nothing).
func objectOf(raw json.RawMessage) JSONObject {
	if len(raw) == 0 {
		return JSONObject(emptyObject)
	}
	return JSONObject(raw)
}

// MarshalJSON writes the stored object; nothing stored is {}.
func (o JSONObject) MarshalJSON() ([]byte, error) {
	if len(o) == 0 {
		return emptyObject, nil
	}
	return o, nil
}

// UnmarshalJSON keeps the object's text; anything but an object is refused
// so that a JSONObject only ever holds one.
func (o *JSONObject) UnmarshalJSON(b []byte) error {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	if m == nil { // null
		*o = nil
		return nil
	}
	*o = append((*o)[:0], b...)
	return nil
}

// Schema is exactly the schema of the map[string]any it replaced, so the
// OpenAPI document (and the MCP tools derived from it) do not change.
func (JSONObject) Schema(r huma.Registry) *huma.Schema {
	return r.Schema(reflect.TypeFor[map[string]any](), true, "")
}
