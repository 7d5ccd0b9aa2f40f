package cli

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/fast-saas/fast-saas/internal/catalog"
)

func runRoot(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = Main(args, strings.NewReader(""), &out, &errOut)
	return out.String(), errOut.String(), code
}

func TestCatalogJSON(t *testing.T) {
	t.Parallel()
	out, errOut, code := runRoot(t, "catalog", "--json")
	if code != 0 {
		t.Fatalf("catalog --json exit %d: %s", code, errOut)
	}
	var raw []map[string]json.RawMessage
	if err := json.Unmarshal([]byte(out), &raw); err != nil {
		t.Fatalf("output is not a JSON array: %v", err)
	}
	mods := catalog.Default().Modules()
	if len(raw) != len(mods) {
		t.Fatalf("%d entries, want %d modules", len(raw), len(mods))
	}
	for i, e := range raw {
		for _, field := range []string{"id", "name", "layer", "dependencies", "routes"} {
			if _, ok := e[field]; !ok {
				t.Errorf("entry %d lacks %q", i, field)
			}
		}
	}
	var entries []catalogEntry
	if err := json.Unmarshal([]byte(out), &entries); err != nil {
		t.Fatal(err)
	}
	for i, m := range mods {
		e := entries[i]
		if e.ID != m.ID || e.Layer != string(m.Layer) || len(e.Routes) != len(m.Routes) || len(e.Dependencies) != len(m.Dependencies) {
			t.Errorf("entry %d = %+v, does not describe module %s", i, e, m.ID)
		}
		if e.Dependencies == nil || e.Routes == nil {
			t.Errorf("entry %s: empty lists must be [] not null", e.ID)
		}
	}
}

func TestCatalogLayerFilter(t *testing.T) {
	t.Parallel()
	out, _, code := runRoot(t, "catalog", "--json", "--layer", "ai,ops")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	var entries []catalogEntry
	if err := json.Unmarshal([]byte(out), &entries); err != nil {
		t.Fatal(err)
	}
	want := len(catalog.Default().InLayers(catalog.AI, catalog.Ops))
	if len(entries) != want || want == 0 {
		t.Errorf("%d entries, want %d", len(entries), want)
	}
	for _, e := range entries {
		if e.Layer != "ai" && e.Layer != "ops" {
			t.Errorf("module %s of layer %s in an ai,ops listing", e.ID, e.Layer)
		}
	}

	table, _, code := runRoot(t, "catalog", "--layer", "essential")
	if code != 0 || !strings.HasPrefix(table, "LAYER") || !strings.Contains(table, "postgres") || strings.Contains(table, "logto") {
		t.Errorf("essential table (exit %d):\n%s", code, table)
	}

	_, errOut, code := runRoot(t, "catalog", "--layer", "nope")
	if code != 1 || errOut != "fast-saas: unknown layer \"nope\" (layers: essential, core, ops, growth, ai)\n" {
		t.Errorf("unknown layer: exit %d, stderr %q", code, errOut)
	}
}

func TestCompletionIsListed(t *testing.T) {
	t.Parallel()
	out, _, code := runRoot(t, "--help")
	if code != 0 || !strings.Contains(out, "completion") {
		t.Errorf("help (exit %d) does not list completion:\n%s", code, out)
	}
	script, _, code := runRoot(t, "completion", "bash")
	if code != 0 || !strings.Contains(script, "fast-saas") {
		t.Errorf("completion bash: exit %d", code)
	}
}

// BenchmarkCatalogCommand measures `fast-saas catalog` in process (command
// tree, catalog construction and table), i.e. everything but process start.
func BenchmarkCatalogCommand(b *testing.B) {
	for b.Loop() {
		var out, errOut bytes.Buffer
		if code := Main([]string{"catalog"}, strings.NewReader(""), &out, &errOut); code != 0 {
			b.Fatalf("exit %d: %s", code, errOut.String())
		}
	}
}
