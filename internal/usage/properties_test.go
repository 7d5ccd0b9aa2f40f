package usage

import (
	"bytes"
	"encoding/json"
	"testing"
)

// marshalProperties writes exactly what json.Marshal writes, on its direct
// path (small maps of plain strings, integers and booleans) and off it.
func TestMarshalPropertiesIsJSONMarshal(t *testing.T) {
	t.Parallel()
	for _, p := range []map[string]any{
		{},
		{"method": "GET", "route": "GET /api/v1/tenants", "status": 200},
		{"b": true, "a": int64(-7), "c": false, "": ""},
		{"route": "GET /a<b>&c"},                   // HTML characters: escaped
		{"ünï": "code"},                            // non-ASCII key
		{"tab": "a\tb", "quote": `"q"`, "bs": `\`}, // escapes
		{"n": 2.5, "u": uint8(3), "nil": nil},      // other value types
		{"nested": map[string]any{"ok": true}},
		{"1": 1, "2": 2, "3": 3, "4": 4, "5": 5, "6": 6, "7": 7, "8": 8},
		{"1": 1, "2": 2, "3": 3, "4": 4, "5": 5, "6": 6, "7": 7, "8": 8, "9": 9}, // more than the direct path takes
	} {
		checkProperties(t, p)
	}
}

func checkProperties(t *testing.T, p map[string]any) {
	t.Helper()
	want, werr := json.Marshal(p)
	got, err := marshalProperties(p)
	if (err != nil) != (werr != nil) || !bytes.Equal(got, want) {
		t.Errorf("marshalProperties(%#v) = %s, %v; json.Marshal: %s, %v", p, got, err, want, werr)
	}
}

func FuzzMarshalProperties(f *testing.F) {
	f.Add("route", "GET /api/v1/tenants", "method", "GET", int64(200), true)
	f.Add("a<", "\x00\xff", "", "é", int64(-1), false)
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2 string, n int64, b bool) {
		checkProperties(t, map[string]any{k1: v1, k2: v2, "status": n, "ok": b})
		checkProperties(t, map[string]any{k1: n, k2: b, v1: v2})
	})
}

func BenchmarkMarshalProperties(b *testing.B) {
	p := map[string]any{"method": "GET", "route": "GET /api/v1/tenants", "status": 200}
	b.Run("direct", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := marshalProperties(p); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("json.Marshal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := json.Marshal(p); err != nil {
				b.Fatal(err)
			}
		}
	})
}
