package project

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/fast-saas/fast-saas/internal/catalog"
)

// testCatalog is a small synthetic catalog: the lifecycle is tested on it
// so that the tests do not change whenever the real catalog does.
func testCatalog(t testing.TB) *catalog.Catalog {
	t.Helper()
	cat, err := catalog.New([]catalog.Module{
		{ID: "db", Name: "DB", Layer: catalog.Essential, Default: true,
			Secrets: []catalog.Secret{{Key: "DB_PASSWORD", Format: catalog.FormatAlnum, Bytes: 24}}},
		{ID: "proxy", Name: "Proxy", Layer: catalog.Essential, Default: true,
			Secrets: []catalog.Secret{
				{Key: "ADMIN_PASSWORD", Format: catalog.FormatAlnum, Bytes: 32},
				{Key: "ADMIN_HASH", Format: catalog.FormatBcrypt, DerivedFrom: "ADMIN_PASSWORD"},
			}},
		{ID: "auth", Name: "Auth", Layer: catalog.Core, Default: true, Dependencies: []string{"db"},
			Secrets:  []catalog.Secret{{Key: "AUTH_KEY", Format: catalog.FormatHex, Bytes: 32}},
			Settings: []catalog.Setting{{Key: "AUTH_MODE", Default: "strict", Description: "how strict"}}},
		{ID: "billing", Name: "Billing", Layer: catalog.Core, Default: true, Dependencies: []string{"db", "auth"},
			Secrets: []catalog.Secret{{Key: "BILLING_KEY", Format: catalog.FormatBase64, Bytes: 32}}},
		{ID: "status", Name: "Status", Layer: catalog.Ops},
		{ID: "queue", Name: "Queue", Layer: catalog.Growth,
			Secrets: []catalog.Secret{{Key: "QUEUE_TOKEN", Format: catalog.FormatHex, Bytes: 16}}},
		{ID: "shop", Name: "Shop", Layer: catalog.Growth, Dependencies: []string{"billing", "queue"},
			Secrets: []catalog.Secret{{Key: "SHOP_SECRET", Format: catalog.FormatHex, Bytes: 32}}},
	})
	if err != nil {
		t.Fatalf("test catalog: %v", err)
	}
	return cat
}

// fakeGenerator renders one compose-like file naming the modules, so tests
// can see what was generated without depending on the real generators.
type fakeGenerator struct{ dotEnv bool }

func (fakeGenerator) EnvKeys(mods []catalog.Module) []EnvKey { return catalogEnvKeys(mods) }

func (fakeGenerator) Values(in GenInput) map[string]string {
	out := make(map[string]string)
	for _, k := range catalogEnvKeys(in.Modules) {
		out[k.Key] = k.Default
		if v := in.Env[k.Key]; v != "" {
			out[k.Key] = v
		}
	}
	return out
}

func (g fakeGenerator) Files(in GenInput) ([]File, []byte, error) {
	var ids []string
	for _, m := range in.Modules {
		ids = append(ids, m.ID)
	}
	files := []File{
		{Path: "docker-compose.yml", Mode: 0o644, Data: []byte("services: " + strings.Join(ids, ",") + "\n")},
		{Path: "ops/config.txt", Mode: 0o644, Data: []byte(in.Domain + "\n")},
	}
	if !g.dotEnv {
		return files, nil, nil
	}
	var b strings.Builder
	b.WriteString("# fresh\n")
	for _, k := range catalogEnvKeys(in.Modules) {
		line, err := FormatEnvLine(k.Key, in.Env[k.Key])
		if err != nil {
			return nil, nil, err
		}
		b.WriteString(line)
	}
	line, _ := FormatEnvLine(ComposeProfilesKey, in.Env[ComposeProfilesKey])
	b.WriteString(line)
	return files, []byte(b.String()), nil
}

func initTest(t *testing.T, opts InitOptions) (*Project, Result) {
	t.Helper()
	if opts.Domain == "" {
		opts.Domain = "example.com"
	}
	if opts.Generate == nil {
		opts.Generate = fakeGenerator{}
	}
	p, res, err := Init(filepath.Join(t.TempDir(), "proj"), testCatalog(t), opts)
	if err != nil {
		t.Fatalf("Init: %v", err)
	}
	return p, res
}

func readEnvMap(t *testing.T, p *Project) map[string]string {
	t.Helper()
	f, err := p.ReadEnv()
	if err != nil {
		t.Fatal(err)
	}
	return f.Map()
}

func ids(mods []catalog.Module) []string {
	var out []string
	for _, m := range mods {
		out = append(out, m.ID)
	}
	return out
}

func TestInitSelections(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		opts        InitOptions
		wantModules []string
		wantAdded   []string
		wantProfile string
	}{
		{"default", InitOptions{}, []string{"db", "proxy", "auth", "billing"}, nil, "core"},
		{"one layer adds essential", InitOptions{Layers: []catalog.Layer{catalog.Ops}}, []string{"db", "proxy", "status"}, nil, "ops"},
		{"module pulls dependencies", InitOptions{Modules: []string{"shop"}}, []string{"db", "proxy", "auth", "billing", "queue", "shop"}, []string{"auth", "billing", "queue"}, "core,growth"},
		{"fresh dotenv from generator", InitOptions{Generate: fakeGenerator{dotEnv: true}}, []string{"db", "proxy", "auth", "billing"}, nil, "core"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, res := initTest(t, tt.opts)
			if diff := cmp.Diff(tt.wantModules, ids(res.Modules)); diff != "" {
				t.Errorf("modules (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantAdded, res.Added); diff != "" {
				t.Errorf("added (-want +got):\n%s", diff)
			}
			env := readEnvMap(t, p)
			if got := env[ComposeProfilesKey]; got != tt.wantProfile {
				t.Errorf("%s = %q, want %q", ComposeProfilesKey, got, tt.wantProfile)
			}
			for _, k := range catalogEnvKeys(res.Modules) {
				v, ok := env[k.Key]
				if !ok {
					t.Errorf(".env lacks %s", k.Key)
					continue
				}
				if k.Secret != nil {
					if err := k.Secret.Check(v); err != nil {
						t.Errorf("generated secret: %v", err)
					}
				} else if v != k.Default {
					t.Errorf("%s = %q, want default %q", k.Key, v, k.Default)
				}
			}
			st, err := os.Stat(filepath.Join(p.Dir, EnvFileName))
			if err != nil {
				t.Fatal(err)
			}
			if st.Mode().Perm() != 0o600 {
				t.Errorf(".env mode = %v, want 0600", st.Mode().Perm())
			}
			loaded, err := Open(p.Dir, p.Catalog)
			if err != nil {
				t.Fatalf("Open after Init: %v", err)
			}
			if diff := cmp.Diff(p.Manifest, loaded.Manifest); diff != "" {
				t.Errorf("manifest round trip (-saved +loaded):\n%s", diff)
			}
			if _, err := os.Stat(filepath.Join(p.Dir, "ops", "config.txt")); err != nil {
				t.Errorf("generated file in a subdirectory: %v", err)
			}
		})
	}
}

func TestInitRefusesNonEmptyDir(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	cat := testCatalog(t)
	_, _, err := Init(dir, cat, InitOptions{Domain: "example.com", Generate: fakeGenerator{}})
	if !errors.Is(err, ErrNotEmpty) {
		t.Fatalf("Init into a non-empty dir: error = %v, want ErrNotEmpty", err)
	}
	if _, err := os.Stat(filepath.Join(dir, ManifestFile)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("refused Init still wrote %s (stat error %v)", ManifestFile, err)
	}
	if _, _, err := Init(dir, cat, InitOptions{Domain: "example.com", Force: true, Generate: fakeGenerator{}}); err != nil {
		t.Fatalf("Init with Force: %v", err)
	}
	if data, _ := os.ReadFile(filepath.Join(dir, "notes.txt")); string(data) != "mine" {
		t.Errorf("Init --force changed an unrelated file: %q", data)
	}
}

func TestInitRejectsBadInput(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		opts    InitOptions
		wantSub string
	}{
		{"unknown module", InitOptions{Domain: "example.com", Modules: []string{"auht"}}, `did you mean "auth"`},
		{"bad domain", InitOptions{Domain: "Example.COM"}, "field domain"},
		{"bad email", InitOptions{Domain: "example.com", Email: "nobody"}, "field email"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.opts.Generate = fakeGenerator{}
			_, _, err := Init(t.TempDir(), testCatalog(t), tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.wantSub) {
				t.Fatalf("Init error = %v, want one containing %q", err, tt.wantSub)
			}
		})
	}
}

// envLines returns the raw line of every assignment, keyed by key.
func envLines(t *testing.T, p *Project) map[string]string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(p.Dir, EnvFileName))
	if err != nil {
		t.Fatal(err)
	}
	f, err := ParseEnv(data)
	if err != nil {
		t.Fatal(err)
	}
	out := make(map[string]string)
	for _, e := range f.entries {
		if e.key != "" {
			out[e.key] = e.raw
		}
	}
	return out
}

func TestAddRemoveRegenKeepSecrets(t *testing.T) {
	t.Parallel()
	p, _ := initTest(t, InitOptions{})
	// An operator's own key and an edited setting must survive too.
	f, err := p.ReadEnv()
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Set("MY_OWN", "kept value"); err != nil {
		t.Fatal(err)
	}
	if err := f.Set("AUTH_MODE", "lenient"); err != nil {
		t.Fatal(err)
	}
	envPath := filepath.Join(p.Dir, EnvFileName)
	if err := os.WriteFile(envPath, f.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(envPath, 0o644); err != nil {
		t.Fatal(err)
	}
	before := envLines(t, p)

	res, err := p.Add([]string{"shop"})
	if err != nil {
		t.Fatalf("Add: %v", err)
	}
	if diff := cmp.Diff([]string{"queue"}, res.Added); diff != "" {
		t.Errorf("Add reported added deps (-want +got):\n%s", diff)
	}
	if !slices.Contains(res.NewSecrets, "SHOP_SECRET") || !slices.Contains(res.NewSecrets, "QUEUE_TOKEN") {
		t.Errorf("Add new secrets = %v, want SHOP_SECRET and QUEUE_TOKEN", res.NewSecrets)
	}
	added := envLines(t, p)

	res, err = p.Remove([]string{"shop"}, false)
	if err != nil {
		t.Fatalf("Remove: %v", err)
	}
	if diff := cmp.Diff([]string{"queue", "shop"}, res.Removed); diff != "" {
		t.Errorf("Remove reported (-want +got):\n%s", diff)
	}
	if res, err = p.Regenerate(); err != nil {
		t.Fatalf("Regenerate: %v", err)
	}
	if len(res.NewSecrets) != 0 {
		t.Errorf("Regenerate generated %v, want nothing new", res.NewSecrets)
	}
	after := envLines(t, p)
	for k, line := range before {
		if k == ComposeProfilesKey {
			continue
		}
		if after[k] != line {
			t.Errorf("%s changed: before %q, after %q", k, line, after[k])
		}
	}
	// Secrets of the removed module are kept for a later re-add.
	if after["SHOP_SECRET"] != added["SHOP_SECRET"] {
		t.Errorf("SHOP_SECRET after remove = %q, want kept %q", after["SHOP_SECRET"], added["SHOP_SECRET"])
	}
	st, err := os.Stat(envPath)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf(".env mode after regenerate = %v, want 0600", st.Mode().Perm())
	}
	compose, _ := os.ReadFile(filepath.Join(p.Dir, "docker-compose.yml"))
	if want := "services: db,proxy,auth,billing\n"; string(compose) != want {
		t.Errorf("compose after remove = %q, want %q", compose, want)
	}
}

func TestRemoveDependents(t *testing.T) {
	t.Parallel()
	p, _ := initTest(t, InitOptions{Modules: []string{"shop"}})
	_, err := p.Remove([]string{"auth"}, false)
	if !errors.Is(err, ErrHasDependents) {
		t.Fatalf("Remove auth: error = %v, want ErrHasDependents", err)
	}
	if !strings.Contains(err.Error(), "billing, shop") {
		t.Errorf("error %q does not name the dependents", err)
	}
	m, _ := LoadManifest(p.Dir, p.Catalog)
	if !slices.Contains(m.Modules, "shop") {
		t.Errorf("refused removal changed the manifest: %v", m.Modules)
	}
	// Removing the dependents in the same call is fine without cascade.
	if _, err := p.Remove([]string{"auth", "billing", "shop"}, false); err != nil {
		t.Fatalf("Remove with dependents listed: %v", err)
	}

	p2, _ := initTest(t, InitOptions{Modules: []string{"shop"}})
	res, err := p2.Remove([]string{"auth"}, true)
	if err != nil {
		t.Fatalf("Remove --cascade: %v", err)
	}
	if diff := cmp.Diff([]string{"auth", "billing", "queue", "shop"}, res.Removed); diff != "" {
		t.Errorf("cascade removed (-want +got):\n%s", diff)
	}
	if _, err := p2.Remove([]string{"status"}, false); !errors.Is(err, ErrNotSelected) {
		t.Errorf("Remove of an unselected module: error = %v, want ErrNotSelected", err)
	}
	if _, err := p2.Remove([]string{"db"}, true); !errors.Is(err, ErrEssential) {
		t.Errorf("Remove of an essential module: error = %v, want ErrEssential", err)
	}
	var unknown *catalog.UnknownModuleError
	if _, err := p2.Remove([]string{"shpo"}, false); !errors.As(err, &unknown) || unknown.Suggestion != "shop" {
		t.Errorf("Remove unknown: error = %v, want UnknownModuleError suggesting shop", err)
	}
}

func TestAddUnknownModule(t *testing.T) {
	t.Parallel()
	p, _ := initTest(t, InitOptions{})
	_, err := p.Add([]string{"statsu"})
	var unknown *catalog.UnknownModuleError
	if !errors.As(err, &unknown) {
		t.Fatalf("Add unknown: error = %v, want *catalog.UnknownModuleError", err)
	}
	if unknown.Suggestion != "status" {
		t.Errorf("suggestion = %q, want status", unknown.Suggestion)
	}
}

func TestRotateSecret(t *testing.T) {
	t.Parallel()
	p, _ := initTest(t, InitOptions{})
	before := envLines(t, p)
	res, err := p.RotateSecret("ADMIN_PASSWORD")
	if err != nil {
		t.Fatalf("RotateSecret: %v", err)
	}
	if diff := cmp.Diff([]string{"ADMIN_PASSWORD", "ADMIN_HASH"}, res.NewSecrets); diff != "" {
		t.Errorf("rotated keys (-want +got):\n%s", diff)
	}
	after := envLines(t, p)
	for k, line := range before {
		changed := after[k] != line
		wantChanged := k == "ADMIN_PASSWORD" || k == "ADMIN_HASH"
		if changed != wantChanged {
			t.Errorf("%s changed = %v, want %v", k, changed, wantChanged)
		}
	}
	env := readEnvMap(t, p)
	hash := catalog.Secret{Key: "ADMIN_HASH", Format: catalog.FormatBcrypt, DerivedFrom: "ADMIN_PASSWORD"}
	if !hash.Matches(env["ADMIN_HASH"], env["ADMIN_PASSWORD"]) {
		t.Error("ADMIN_HASH does not match the rotated ADMIN_PASSWORD")
	}

	for _, key := range []string{"AUTH_MODE", "NOPE", "SHOP_SECRET", "ADMIN_HASH"} {
		if _, err := p.RotateSecret(key); err == nil {
			t.Errorf("RotateSecret(%s) succeeded, want an error", key)
		}
	}
}

func TestRegenerateRefusesBrokenEnv(t *testing.T) {
	t.Parallel()
	p, _ := initTest(t, InitOptions{})
	envPath := filepath.Join(p.Dir, EnvFileName)
	broken := []byte("DB_PASSWORD='unterminated\n")
	if err := os.WriteFile(envPath, broken, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Regenerate(); !errors.Is(err, ErrEnvSyntax) {
		t.Fatalf("Regenerate with a broken .env: error = %v, want ErrEnvSyntax", err)
	}
	if got, _ := os.ReadFile(envPath); string(got) != string(broken) {
		t.Errorf("broken .env was overwritten: %q", got)
	}
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, fmt.Errorf("no entropy") }

func TestInitRandomnessFailure(t *testing.T) {
	t.Parallel()
	_, _, err := Init(t.TempDir(), testCatalog(t), InitOptions{Domain: "example.com", Rand: failingReader{}, Generate: fakeGenerator{}})
	if err == nil || !strings.Contains(err.Error(), "no entropy") {
		t.Fatalf("Init with failing randomness: error = %v", err)
	}
}

func TestCheckEnv(t *testing.T) {
	t.Parallel()
	cat, err := catalog.New([]catalog.Module{{
		ID: "app", Layer: catalog.Core,
		Secrets: []catalog.Secret{
			{Key: "HEX", Format: catalog.FormatHex, Bytes: 16},
			{Key: "PW", Format: catalog.FormatAlnum, Bytes: 20},
			{Key: "PW_HASH", Format: catalog.FormatBcrypt, DerivedFrom: "PW"},
		},
		Settings: []catalog.Setting{{Key: "API_KEY", Required: true, Description: "your provider key"}, {Key: "MODE", Default: "x"}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	p, _, err := Init(t.TempDir(), cat, InitOptions{Domain: "localhost", Modules: []string{"app"}, Generate: fakeGenerator{}})
	if err != nil {
		t.Fatal(err)
	}
	problems, err := p.CheckEnv()
	if err != nil {
		t.Fatal(err)
	}
	if len(problems) != 1 || problems[0].Key != "API_KEY" || !strings.Contains(problems[0].Problem, "your provider key") {
		t.Fatalf("fresh project problems = %+v, want only the empty required API_KEY", problems)
	}

	f, _ := p.ReadEnv()
	for k, v := range map[string]string{"API_KEY": "sk-123", "HEX": "changeme", "PW": "short1", ComposeProfilesKey: "ai"} {
		if err := f.Set(k, v); err != nil {
			t.Fatal(err)
		}
	}
	// Drop MODE by rewriting the file without it.
	var kept strings.Builder
	for _, line := range strings.SplitAfter(string(f.Bytes()), "\n") {
		if !strings.HasPrefix(line, "MODE=") {
			kept.WriteString(line)
		}
	}
	if err := os.WriteFile(filepath.Join(p.Dir, EnvFileName), []byte(kept.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	problems, err = p.CheckEnv()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, pr := range problems {
		got[pr.Key] = pr.Problem
	}
	for key, sub := range map[string]string{"HEX": "placeholder", "PW": "weak", "PW_HASH": "does not match PW", "MODE": "missing", ComposeProfilesKey: `want "core"`} {
		if !strings.Contains(got[key], sub) {
			t.Errorf("problem for %s = %q, want one containing %q", key, got[key], sub)
		}
	}
	if len(got) != 5 {
		t.Errorf("problems = %+v, want exactly 5", problems)
	}
}
