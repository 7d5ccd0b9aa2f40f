package generate

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fast-saas/fast-saas/internal/catalog"
)

// goldenInput uses readable fixed values instead of random secrets, so the
// golden .env is stable.
func goldenInput(t *testing.T, c *catalog.Catalog, ids []string, domain string) Input {
	t.Helper()
	in, _, err := Resolve(c, ids, Input{Domain: domain, Email: "ops@example.com", Version: "v0.1.0", Env: map[string]string{}})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range EnvKeys(in.Modules) {
		if k.Secret != nil && !k.Secret.FirstBoot { // made by the stack: empty in a new project
			in.Env[k.Key] = "test-" + strings.ToLower(strings.ReplaceAll(k.Key, "_", "-"))
		}
	}
	in.Env["ANTHROPIC_API_KEY"] = "sk-ant-test"
	return in
}

// goldenName keeps dotfiles visible in testdata.
func goldenName(path string) string {
	dir, file := filepath.Split(path)
	if strings.HasPrefix(file, ".") {
		file = "dot" + file
	}
	return filepath.Join(dir, file)
}

func TestGolden(t *testing.T) {
	c := catalog.Default()
	for _, sel := range selections(c) {
		t.Run(sel.name, func(t *testing.T) {
			in := goldenInput(t, c, sel.ids, sel.domain)
			files, err := Project(in)
			if err != nil {
				t.Fatal(err)
			}
			files = append(files, File{Path: EnvFile, Data: DotEnv(in)})
			root := filepath.Join("testdata", "golden", sel.name)
			if *update {
				if err := os.RemoveAll(root); err != nil {
					t.Fatal(err)
				}
			}
			for _, f := range files {
				path := filepath.Join(root, goldenName(f.Path))
				if *update {
					if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(path, f.Data, 0o644); err != nil {
						t.Fatal(err)
					}
					continue
				}
				want, err := os.ReadFile(path)
				if err != nil {
					t.Errorf("%s: %v (run with -update)", f.Path, err)
					continue
				}
				if string(want) != string(f.Data) {
					t.Errorf("%s differs from %s (run go test ./internal/generate -run TestGolden -update and review the diff)", f.Path, path)
				}
			}
			// No stale golden files.
			var n int
			_ = filepath.WalkDir(root, func(_ string, d os.DirEntry, err error) error {
				if err == nil && !d.IsDir() {
					n++
				}
				return nil
			})
			if n != len(files) {
				t.Errorf("%s holds %d files, generation produced %d (run with -update)", root, n, len(files))
			}
		})
	}
}

// docs/modules.md is generated from the catalog; this test fails when it is
// out of date.
func TestModulesDoc(t *testing.T) {
	path := filepath.Join("..", "..", "docs", "modules.md")
	got := ModulesDoc(catalog.Default())
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/generate -run TestModulesDoc -update)", err)
	}
	if string(want) != string(got) {
		t.Errorf("docs/modules.md is out of date: run go test ./internal/generate -run TestModulesDoc -update")
	}
}
