package catalog

import (
	"errors"
	"strings"
	"testing"
)

// FuzzResolve feeds arbitrary module-name lists (as a user types them in
// --modules) through Resolve: it must never panic, and must either return
// a closed, ordered selection or an UnknownModuleError naming an input.
func FuzzResolve(f *testing.F) {
	for _, seed := range []string{"", "logto", "lago,logto", "langfuse, n8n", "lagoo", "x,y,z", "postgres,,postgres", "\x00", "grafana"} {
		f.Add(seed)
	}
	c := Default()
	f.Fuzz(func(t *testing.T, list string) {
		ids := strings.FieldsFunc(list, func(r rune) bool { return r == ',' || r == ' ' })
		res, err := c.Resolve(ids)
		if err != nil {
			var unk *UnknownModuleError
			if !errors.As(err, &unk) {
				t.Fatalf("unexpected error type %T: %v", err, err)
			}
			found := false
			for _, id := range ids {
				found = found || id == unk.Name
			}
			if !found {
				t.Fatalf("error names %q, not an input", unk.Name)
			}
			if unk.Suggestion != "" {
				if _, ok := c.Lookup(unk.Suggestion); !ok {
					t.Fatalf("suggestion %q is not a module", unk.Suggestion)
				}
			}
			return
		}
		pos := map[string]int{}
		for i, m := range res.Modules {
			if _, dup := pos[m.ID]; dup {
				t.Fatalf("%s listed twice", m.ID)
			}
			pos[m.ID] = i
		}
		for _, id := range ids {
			if _, ok := pos[id]; !ok {
				t.Fatalf("selected %s missing from the result", id)
			}
		}
		for _, m := range res.Modules {
			for _, d := range m.Dependencies {
				if p, ok := pos[d]; !ok || p > pos[m.ID] {
					t.Fatalf("%s: dependency %s missing or after it", m.ID, d)
				}
			}
		}
	})
}

// FuzzSecretCheck: Check reads values from a user-edited .env; it must never
// panic, and must accept nothing empty.
func FuzzSecretCheck(f *testing.F) {
	for _, seed := range []string{"", "changeme", "00000000", "LS0tLS1CRUdJTg==", "$2a$08$abc"} {
		f.Add(seed)
	}
	secrets := allSecrets()
	f.Fuzz(func(t *testing.T, v string) {
		for _, s := range secrets {
			if err := s.Check(v); err == nil && v == "" {
				t.Fatalf("%s accepted an empty value", s.Key)
			}
		}
	})
}
