package store_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/fast-saas/fast-saas/internal/store"
)

func TestCursorRoundTrip(t *testing.T) {
	t.Parallel()
	cases := [][]string{{"0190a1b2-0000-7000-8000-000000000000"}, {"1741964966535897", "id"}, {"with \"quotes\" and \u00e9"}}
	for _, key := range cases {
		got, err := store.DecodeCursor(store.EncodeCursor(key...), len(key))
		if err != nil {
			t.Fatalf("DecodeCursor(EncodeCursor(%q)): %v", key, err)
		}
		if strings.Join(got, "\x00") != strings.Join(key, "\x00") {
			t.Errorf("round trip = %q, want %q", got, key)
		}
	}
	if key, err := store.DecodeCursor("", 1); key != nil || err != nil {
		t.Errorf(`DecodeCursor("") = %q, %v; want first page`, key, err)
	}
	for _, bad := range []string{"%%%", "e30", store.EncodeCursor("a", "b"), store.EncodeCursor(""), strings.Repeat("A", 600)} {
		if _, err := store.DecodeCursor(bad, 1); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("DecodeCursor(%q) error = %v, want ErrInvalid", bad, err)
		}
	}
}

func TestPageLimit(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in, want int
		err      error
	}{{0, store.DefaultLimit, nil}, {1, 1, nil}, {100, 100, nil}, {101, 0, store.ErrInvalid}, {-1, 0, store.ErrInvalid}}
	for _, tc := range cases {
		got, err := store.PageLimit(store.Page{Limit: tc.in})
		if got != tc.want || !errors.Is(err, tc.err) {
			t.Errorf("PageLimit(%d) = %d, %v; want %d, %v", tc.in, got, err, tc.want, tc.err)
		}
	}
}

func TestNormalizeJSONObject(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in, want string
		err      error
	}{
		{"", "{}", nil}, {"  ", "{}", nil}, {`{ "a" : [1, 2] }`, `{"a":[1,2]}`, nil},
		{`[1]`, "", store.ErrInvalid}, {`"s"`, "", store.ErrInvalid}, {`null`, "", store.ErrInvalid},
		{`{"a":1} x`, "", store.ErrInvalid}, {`{`, "", store.ErrInvalid},
	}
	for _, tc := range cases {
		got, err := store.NormalizeJSONObject("f", json.RawMessage(tc.in))
		if got != tc.want || !errors.Is(err, tc.err) {
			t.Errorf("NormalizeJSONObject(%q) = %q, %v; want %q, %v", tc.in, got, err, tc.want, tc.err)
		}
	}
}

func TestValidSlug(t *testing.T) {
	t.Parallel()
	for s, want := range map[string]bool{"a": true, "acme-2": true, "a-b-c": true, "": false, "-a": false, "a-": false,
		"A": false, "a_b": false, strings.Repeat("a", 63): true, strings.Repeat("a", 64): false} {
		if got := store.ValidSlug(s); got != want {
			t.Errorf("ValidSlug(%q) = %v, want %v", s, got, want)
		}
	}
}

// FuzzDecodeCursor: cursors come from clients; any input must either decode
// to a key that re-encodes to an equivalent cursor or fail with ErrInvalid.
func FuzzDecodeCursor(f *testing.F) {
	f.Add(store.EncodeCursor("0190a1b2-0000-7000-8000-000000000000"), 1)
	f.Add(store.EncodeCursor("1741964966535897", "x"), 2)
	f.Add("", 1)
	f.Add("W10", 0)
	f.Fuzz(func(t *testing.T, cursor string, parts int) {
		if parts < 0 || parts > 4 {
			return
		}
		key, err := store.DecodeCursor(cursor, parts)
		if err != nil {
			if !errors.Is(err, store.ErrInvalid) {
				t.Fatalf("DecodeCursor(%q) error %v is not ErrInvalid", cursor, err)
			}
			return
		}
		if cursor == "" {
			return
		}
		if len(key) != parts {
			t.Fatalf("DecodeCursor(%q, %d) returned %d parts", cursor, parts, len(key))
		}
		again, err := store.DecodeCursor(store.EncodeCursor(key...), parts)
		if err != nil || strings.Join(again, "\x00") != strings.Join(key, "\x00") {
			t.Fatalf("re-encoded cursor of %q decodes to %q, %v", key, again, err)
		}
	})
}

// FuzzNormalizeJSONObject: client JSON (settings, metadata, event
// properties) is either rejected with ErrInvalid or normalized to a JSON
// object that normalizes to itself.
func FuzzNormalizeJSONObject(f *testing.F) {
	for _, s := range []string{"", "{}", `{"a":{"b":[1,"x",null]}}`, "[1]", `{"a":1}{`, " \t{ } "} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		got, err := store.NormalizeJSONObject("f", raw)
		if err != nil {
			if !errors.Is(err, store.ErrInvalid) {
				t.Fatalf("error %v is not ErrInvalid", err)
			}
			return
		}
		var obj map[string]any
		if err := json.Unmarshal([]byte(got), &obj); err != nil || obj == nil {
			t.Fatalf("normalized %q to %q, not a JSON object: %v", raw, got, err)
		}
		again, err := store.NormalizeJSONObject("f", json.RawMessage(got))
		if err != nil || again != got {
			t.Fatalf("not idempotent: %q → %q → %q (%v)", raw, got, again, err)
		}
	})
}

// BenchmarkNormalizeJSONObject: run once per usage event at ingest.
func BenchmarkNormalizeJSONObject(b *testing.B) {
	raw := json.RawMessage(`{"route":"/api/v1/things","method":"GET","status":200,"tokens":{"in":12,"out":340}}`)
	for b.Loop() {
		if _, err := store.NormalizeJSONObject("properties", raw); err != nil {
			b.Fatal(err)
		}
	}
}
