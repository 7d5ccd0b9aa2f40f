package project

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/fast-saas/fast-saas/internal/catalog"
)

const goodManifest = `catalog_version: "1"
domain: example.com
email: ops@example.com
modules: [db, proxy, auth]
layers: [essential, core]
options:
  local: true
  no_basic_auth: [auth]
`

func TestParseManifest(t *testing.T) {
	t.Parallel()
	cat := testCatalog(t)
	got, err := ParseManifest([]byte(goodManifest), cat)
	if err != nil {
		t.Fatalf("ParseManifest: %v", err)
	}
	want := Manifest{
		CatalogVersion: "1", Domain: "example.com", Email: "ops@example.com",
		Modules: []string{"db", "proxy", "auth"}, Layers: []string{"essential", "core"},
		Options: Options{Local: true, NoBasicAuth: []string{"auth"}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("manifest (-want +got):\n%s", diff)
	}
	data, err := got.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	again, err := ParseManifest(data, cat)
	if err != nil {
		t.Fatalf("reparse of Marshal output: %v\n%s", err, data)
	}
	if diff := cmp.Diff(got, again); diff != "" {
		t.Errorf("Marshal round trip (-want +got):\n%s", diff)
	}
}

func TestParseManifestErrors(t *testing.T) {
	t.Parallel()
	cat := testCatalog(t)
	tests := []struct {
		name, yaml, wantSub string
	}{
		{"empty", "", "empty"},
		{"unknown field", goodManifest + "colour: blue\n", "field colour not found"},
		{"unknown nested field", strings.Replace(goodManifest, "local: true", "lokal: true", 1), "field lokal not found"},
		{"unknown module", strings.Replace(goodManifest, "[db, proxy, auth]", "[db, proxy, atuh]", 1), `unknown module "atuh" (did you mean "auth"?)`},
		{"unknown module far off", strings.Replace(goodManifest, "[db, proxy, auth]", "[db, zzzzzzzzzz]", 1), `unknown module "zzzzzzzzzz"`},
		{"duplicate module", strings.Replace(goodManifest, "[db, proxy, auth]", "[db, db]", 1), "listed twice"},
		{"no modules", strings.Replace(goodManifest, "[db, proxy, auth]", "[]", 1), "field modules is empty"},
		{"unknown layer", strings.Replace(goodManifest, "[essential, core]", "[essential, kore]", 1), `field layers: unknown layer "kore"`},
		{"bad basic auth id", strings.Replace(goodManifest, "[auth]", "[nope]", 1), "field options.no_basic_auth"},
		{"missing version", strings.Replace(goodManifest, `catalog_version: "1"`, "", 1), "catalog_version is missing"},
		{"bad domain", strings.Replace(goodManifest, "example.com", "exa mple.com", 1), "field domain"},
		{"bad email", strings.Replace(goodManifest, "ops@example.com", "ops", 1), "field email"},
		{"wrong type", strings.Replace(goodManifest, "[db, proxy, auth]", "{a: b}", 1), "cannot unmarshal"},
		{"two documents", goodManifest + "---\ndomain: x\n", "more than one YAML document"},
		{"not yaml", "modules: [db\n", "fast-saas.yaml: line 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := ParseManifest([]byte(tt.yaml), cat)
			if err == nil {
				t.Fatalf("ParseManifest accepted:\n%s", tt.yaml)
			}
			if !strings.Contains(err.Error(), tt.wantSub) {
				t.Errorf("error %q does not contain %q", err, tt.wantSub)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error %q spans lines; the CLI prints one line", err)
			}
		})
	}
}

func TestLoadManifestMissing(t *testing.T) {
	t.Parallel()
	_, err := LoadManifest(t.TempDir(), testCatalog(t))
	if !errors.Is(err, ErrNoProject) {
		t.Fatalf("LoadManifest of an empty dir: error = %v, want ErrNoProject", err)
	}
}

func TestLoadManifestTooLarge(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	big := goodManifest + "# " + strings.Repeat("x", maxManifestSize) + "\n"
	if err := os.WriteFile(filepath.Join(dir, ManifestFile), []byte(big), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadManifest(dir, testCatalog(t)); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("LoadManifest of a huge file: error = %v", err)
	}
}

func TestValidateDomain(t *testing.T) {
	t.Parallel()
	for _, d := range []string{"example.com", "localhost", "my-app.localhost", "a.b.c.d", "x1.io"} {
		if err := ValidateDomain(d); err != nil {
			t.Errorf("ValidateDomain(%q) = %v, want nil", d, err)
		}
	}
	for _, d := range []string{"", "Example.com", "-a.com", "a-.com", "a..com", ".com", "a_b.com", "exa mple.com", "https://x.com", strings.Repeat("a", 64) + ".com"} {
		if err := ValidateDomain(d); err == nil {
			t.Errorf("ValidateDomain(%q) = nil, want an error", d)
		}
	}
}

func TestIsLocalDomain(t *testing.T) {
	t.Parallel()
	for d, want := range map[string]bool{"localhost": true, "app.localhost": true, "example.com": false, "localhost.com": false, "notlocalhost": false} {
		if got := IsLocalDomain(d); got != want {
			t.Errorf("IsLocalDomain(%q) = %v, want %v", d, got, want)
		}
	}
}

func FuzzParseManifest(f *testing.F) {
	f.Add([]byte(goodManifest))
	f.Add([]byte("modules: [db]\n"))
	f.Add([]byte("catalog_version: 1\ndomain: localhost\nmodules: [db, db]\n"))
	f.Add([]byte("&a [*a]"))
	f.Add([]byte("modules: !!binary AAAA\n"))
	cat := testCatalog(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseManifest(data, cat)
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("multi-line error %q", err)
			}
			return
		}
		// Anything accepted must resolve and survive a save/load cycle.
		if _, err := cat.Resolve(m.Modules); err != nil {
			t.Fatalf("accepted manifest does not resolve: %v", err)
		}
		out, err := m.Marshal()
		if err != nil {
			t.Fatalf("Marshal: %v", err)
		}
		if _, err := ParseManifest(out, cat); err != nil {
			t.Fatalf("reparse: %v\n%s", err, out)
		}
	})
}

// FuzzModuleNames feeds arbitrary module-name lists (as typed after `add`
// or in --modules) through selection and resolution: clear errors only.
func FuzzModuleNames(f *testing.F) {
	f.Add("auth,shop")
	f.Add("atuh")
	f.Add(",,")
	f.Add("SHOP, queue")
	cat := testCatalog(f)
	f.Fuzz(func(t *testing.T, list string) {
		names := SplitModuleList(list)
		ids, err := SelectionFor(cat, nil, names)
		if err != nil {
			var unknown *catalog.UnknownModuleError
			if !errors.As(err, &unknown) {
				t.Fatalf("SelectionFor(%q) error %v is not an UnknownModuleError", names, err)
			}
			if unknown.Suggestion != "" {
				if _, ok := cat.Lookup(unknown.Suggestion); !ok {
					t.Fatalf("suggestion %q is not a module", unknown.Suggestion)
				}
			}
			return
		}
		if _, err := cat.Resolve(ids); err != nil {
			t.Fatalf("Resolve(%q): %v", ids, err)
		}
		// Planning add/remove of the same names on a project reads no
		// files and must only ever fail with a clear error.
		p := &Project{Catalog: cat, Manifest: Manifest{Modules: []string{"db", "proxy", "auth"}}}
		for _, cascade := range []bool{false, true} {
			if pl, err := p.PlanRemove(names, cascade); err == nil && len(pl.Chosen) == 0 {
				t.Fatalf("PlanRemove(%q) leaves nothing selected", names)
			} else if err != nil && strings.Contains(err.Error(), "\n") {
				t.Fatalf("multi-line error %q", err)
			}
		}
		if pl, err := p.PlanAdd(names); err == nil {
			for _, n := range names {
				if !slices.Contains(pl.Chosen, n) {
					t.Fatalf("PlanAdd(%q) lost %q: %v", names, n, pl.Chosen)
				}
			}
		}
	})
}
