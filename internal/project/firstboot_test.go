package project

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/dotenv"
	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"

	"github.com/fast-saas/fast-saas/internal/catalog"
)

// oldLagoKey returns a LAGO_RSA_PRIVATE_KEY as fast-saas generated it before
// the lago-keys job existed: PKCS#1 PEM, base64 on one line.
func oldLagoKey(t *testing.T) string {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	block := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	return base64.StdEncoding.EncodeToString(block)
}

// A FirstBoot secret is never generated, may be empty, is checked when set,
// survives add/remove/regen untouched and cannot be rotated.
func TestFirstBootSecretLifecycle(t *testing.T) {
	t.Parallel()
	cat, err := catalog.New([]catalog.Module{
		{ID: "app", Layer: catalog.Essential, Secrets: []catalog.Secret{
			{Key: "APP_PW", Format: catalog.FormatAlnum, Bytes: 20},
			{Key: "APP_RSA", Format: catalog.FormatRSAPEMBase64, FirstBoot: true},
		}},
		{ID: "extra", Layer: catalog.Core, Secrets: []catalog.Secret{{Key: "EXTRA_KEY", Format: catalog.FormatHex, Bytes: 16}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	p, res, err := Init(filepath.Join(t.TempDir(), "p"), cat, InitOptions{Domain: "example.com", Modules: []string{"app"}, Generate: fakeGenerator{}})
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(res.NewSecrets, "APP_RSA") || !slices.Contains(res.NewSecrets, "APP_PW") {
		t.Errorf("init generated %v, want APP_PW and not APP_RSA", res.NewSecrets)
	}
	if v, ok := readEnvMap(t, p)["APP_RSA"]; !ok || v != "" {
		t.Errorf("APP_RSA in a new .env = %q (present %v), want present and empty", v, ok)
	}
	if problems, err := p.CheckEnv(); err != nil || len(problems) != 0 {
		t.Fatalf("fresh project: problems %+v, err %v; want none", problems, err)
	}

	// Set, it is checked like any secret.
	f, _ := p.ReadEnv()
	if err := f.Set("APP_RSA", base64.StdEncoding.EncodeToString([]byte("not a key"))); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(p.Dir, EnvFileName), f.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	if problems, _ := p.CheckEnv(); len(problems) != 1 || problems[0].Key != "APP_RSA" {
		t.Errorf("malformed APP_RSA: problems %+v, want one for APP_RSA", problems)
	}

	// An old project's key: valid, and kept byte for byte by add, remove, regen.
	if err := f.Set("APP_RSA", oldLagoKey(t)); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(p.Dir, EnvFileName), f.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	if problems, _ := p.CheckEnv(); len(problems) != 0 {
		t.Errorf("valid APP_RSA: problems %+v, want none", problems)
	}
	before := envLines(t, p)
	if _, err := p.Add([]string{"extra"}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Remove([]string{"extra"}, false); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Regenerate(); err != nil {
		t.Fatal(err)
	}
	after := envLines(t, p)
	for k, line := range before {
		if k != ComposeProfilesKey && after[k] != line {
			t.Errorf("%s changed: before %q, after %q", k, line, after[k])
		}
	}

	// Missing altogether (a hand-trimmed .env) is fine too.
	var kept strings.Builder
	for _, line := range strings.SplitAfter(string(f.Bytes()), "\n") {
		if !strings.HasPrefix(line, "APP_RSA=") {
			kept.WriteString(line)
		}
	}
	if err := os.WriteFile(filepath.Join(p.Dir, EnvFileName), []byte(kept.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	if problems, _ := p.CheckEnv(); len(problems) != 0 {
		t.Errorf("APP_RSA missing: problems %+v, want none", problems)
	}

	if _, err := p.RotateSecret("APP_RSA"); !errors.Is(err, catalog.ErrFirstBoot) {
		t.Errorf("RotateSecret(APP_RSA) error = %v, want ErrFirstBoot", err)
	}
}

// loadProjectCompose loads the project's docker-compose.yml as `docker
// compose` does, with its .env as the environment and the given profiles.
func loadProjectCompose(t *testing.T, p *Project, profiles ...string) *types.Project {
	t.Helper()
	envData, err := os.ReadFile(filepath.Join(p.Dir, EnvFileName))
	if err != nil {
		t.Fatal(err)
	}
	env, err := dotenv.UnmarshalBytesWithLookup(envData, nil)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(p.Dir, "docker-compose.yml")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	proj, err := loader.LoadWithContext(context.Background(), types.ConfigDetails{
		WorkingDir:  p.Dir,
		ConfigFiles: []types.ConfigFile{{Filename: path, Content: data}},
		Environment: env,
	}, func(o *loader.Options) {
		o.SetProjectName("fastsaas-test", true)
		o.Profiles = profiles
	})
	if err != nil {
		t.Fatal(err)
	}
	return proj
}

// With the real catalog and generators: a new project leaves Lago's RSA
// key to the lago-keys job; a project created when fast-saas generated it
// keeps it through add, remove and env --regen, and the job receives it.
func TestLagoKeyPreservedAndPassedToJob(t *testing.T) {
	t.Parallel()
	cat := catalog.Default()
	p, res, err := Init(filepath.Join(t.TempDir(), "p"), cat, InitOptions{Layers: []catalog.Layer{catalog.Core}, Domain: "example.com", Email: "ops@example.com", Version: "v0.1.0"})
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(res.NewSecrets, "LAGO_RSA_PRIVATE_KEY") {
		t.Error("init generated LAGO_RSA_PRIVATE_KEY; the lago-keys job makes it")
	}
	if v := readEnvMap(t, p)["LAGO_RSA_PRIVATE_KEY"]; v != "" {
		t.Errorf("new project's LAGO_RSA_PRIVATE_KEY = %.20q…, want empty", v)
	}
	if problems, err := p.CheckEnv(); err != nil || len(problems) != 0 {
		t.Errorf("new core project: problems %+v, err %v; want none", problems, err)
	}
	job, ok := loadProjectCompose(t, p, "core").Services["lago-keys"]
	if !ok {
		t.Fatal("no lago-keys service")
	}
	if v := job.Environment["LAGO_RSA_PRIVATE_KEY"]; v == nil || *v != "" {
		t.Errorf("lago-keys gets LAGO_RSA_PRIVATE_KEY %v, want empty (generate a key)", v)
	}

	// The .env of a project created before the job existed.
	old := oldLagoKey(t)
	f, err := p.ReadEnv()
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Set("LAGO_RSA_PRIVATE_KEY", old); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(p.Dir, EnvFileName), f.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	before := envLines(t, p)["LAGO_RSA_PRIVATE_KEY"]
	if _, err := p.Add([]string{"glitchtip"}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Remove([]string{"glitchtip"}, false); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Regenerate(); err != nil {
		t.Fatal(err)
	}
	if after := envLines(t, p)["LAGO_RSA_PRIVATE_KEY"]; after != before {
		t.Errorf("LAGO_RSA_PRIVATE_KEY line changed by add/remove/regen:\nbefore %.60q…\nafter  %.60q…", before, after)
	}
	if problems, err := p.CheckEnv(); err != nil || len(problems) != 0 {
		t.Errorf("old key: problems %+v, err %v; want none", problems, err)
	}
	proj := loadProjectCompose(t, p, "core")
	if v := proj.Services["lago-keys"].Environment["LAGO_RSA_PRIVATE_KEY"]; v == nil || *v != old {
		t.Error("lago-keys does not receive the project's LAGO_RSA_PRIVATE_KEY")
	}
	// Only the job sees the variable: the app reads the key from the volume.
	for _, svc := range []string{"lago-migrate", "lago-api", "lago-worker", "lago-clock"} {
		if _, ok := proj.Services[svc].Environment["LAGO_RSA_PRIVATE_KEY"]; ok {
			t.Errorf("%s still gets LAGO_RSA_PRIVATE_KEY in its environment", svc)
		}
	}
}
