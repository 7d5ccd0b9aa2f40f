package generate

import (
	"context"
	"crypto/rand"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"sort"

	"testing"

	"github.com/compose-spec/compose-go/v2/dotenv"
	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"

	"github.com/fast-saas/fast-saas/internal/catalog"
)

var update = flag.Bool("update", false, "rewrite golden files and docs/modules.md")

// selection is one scenario of the acceptance tests.
type selection struct {
	name   string
	ids    []string
	domain string
}

func selections(c *catalog.Catalog) []selection {
	sels := []selection{{name: "default", ids: c.DefaultSelection(), domain: "example.com"}}
	for _, l := range catalog.Layers() {
		sels = append(sels, selection{name: "layer-" + string(l), ids: c.InLayers(l), domain: "example.com"})
	}
	sels = append(sels,
		selection{name: "all", ids: c.InLayers(catalog.Layers()...), domain: "example.com"},
		selection{name: "local", ids: c.DefaultSelection(), domain: "stack.localhost"},
	)
	return sels
}

// realInput resolves ids and fills every secret with crypto/rand, as
// `init` does.
func realInput(t testing.TB, c *catalog.Catalog, ids []string, domain string) Input {
	t.Helper()
	in, _, err := Resolve(c, ids, Input{Domain: domain, Email: "ops@example.com", Version: "v0.1.0", Env: map[string]string{
		"ANTHROPIC_API_KEY": "sk-ant-test",
	}})
	if err != nil {
		t.Fatal(err)
	}
	var secrets []catalog.Secret
	for _, m := range in.Modules {
		secrets = append(secrets, m.Secrets...)
	}
	if _, err := catalog.FillSecrets(secrets, in.Env, rand.Reader); err != nil {
		t.Fatal(err)
	}
	return in
}

// project writes the generated files and .env into a temp dir and returns
// it with the .env as parsed back by Compose's own parser.
func writeProject(t testing.TB, in Input) (dir string, files []File, env map[string]string) {
	t.Helper()
	files, err := Project(in)
	if err != nil {
		t.Fatal(err)
	}
	dir = t.TempDir()
	for _, f := range files {
		p := filepath.Join(dir, f.Path)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, f.Data, f.Mode); err != nil {
			t.Fatal(err)
		}
	}
	dotEnv := DotEnv(in)
	if err := os.WriteFile(filepath.Join(dir, EnvFile), dotEnv, 0o600); err != nil {
		t.Fatal(err)
	}
	env, err = dotenv.UnmarshalBytesWithLookup(dotEnv, nil)
	if err != nil {
		t.Fatalf("compose cannot parse the generated .env: %v", err)
	}
	return dir, files, env
}

func fileData(t testing.TB, files []File, path string) []byte {
	t.Helper()
	for _, f := range files {
		if f.Path == path {
			return f.Data
		}
	}
	t.Fatalf("no generated file %s", path)
	return nil
}

// loadCompose loads the project like `docker compose` does, with the .env
// values as environment and the given profiles enabled.
func loadCompose(t testing.TB, dir string, env map[string]string, profiles []string, names ...string) (*types.Project, error) {
	t.Helper()
	var cfgs []types.ConfigFile
	for _, n := range names {
		data, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			t.Fatal(err)
		}
		cfgs = append(cfgs, types.ConfigFile{Filename: filepath.Join(dir, n), Content: data})
	}
	return loader.LoadWithContext(context.Background(), types.ConfigDetails{
		WorkingDir:  dir,
		ConfigFiles: cfgs,
		Environment: env,
	}, func(o *loader.Options) {
		o.SetProjectName("fastsaas-test", true)
		o.Profiles = profiles
	})
}

// profileSets returns every subset of the profiles, the empty one included.
func profileSets() [][]string {
	all := []string{"core", "ops", "growth", "ai"}
	var out [][]string
	for mask := 0; mask < 1<<len(all); mask++ {
		var set []string
		for i, p := range all {
			if mask&(1<<i) != 0 {
				set = append(set, p)
			}
		}
		out = append(out, set)
	}
	return out
}

func sortedKeys[M ~map[string]V, V any](m M) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func envList(env map[string]string) []string {
	var out []string
	for _, k := range sortedKeys(env) {
		out = append(out, k+"="+env[k])
	}
	return out
}

func hasProfile(svc types.ServiceConfig, enabled []string) bool {
	if len(svc.Profiles) == 0 {
		return true
	}
	return slices.ContainsFunc(svc.Profiles, func(p string) bool { return slices.Contains(enabled, p) })
}

func dotenvParse(b []byte) (map[string]string, error) { return dotenv.UnmarshalBytesWithLookup(b, nil) }
