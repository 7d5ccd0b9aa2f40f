package cli

import (
	"encoding/json"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/fast-saas/fast-saas/internal/catalog"
	"github.com/fast-saas/fast-saas/internal/project"
)

// TestMain lets testscript run the fast-saas command line as a program
// named fast-saas (the test binary, re-executed).
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"fast-saas": func() { os.Exit(Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) },
	})
}

// TestScripts runs the end-to-end scripts in testdata/script: init, add,
// remove, env, up/down/logs and health against a fake docker on PATH.
func TestScripts(t *testing.T) {
	t.Parallel()
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		// $FASTSAAS runs the command when a script empties PATH (docker missing).
		Setup: func(env *testscript.Env) error {
			path, err := exec.LookPath("fast-saas")
			env.Setenv("FASTSAAS", path)
			return err
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"envsave": cmdEnvSave,
			"envsame": cmdEnvSame,
			"perm":    cmdPerm,
			"allmods": cmdAllModules,
		},
	})
}

func readEnvFile(ts *testscript.TestScript, path string) *project.EnvFile {
	f, err := project.ParseEnv([]byte(ts.ReadFile(path)))
	ts.Check(err)
	return f
}

// envsave ENVFILE OUT: record the exact line of every key of ENVFILE.
func cmdEnvSave(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: envsave envfile out")
	}
	f := readEnvFile(ts, args[0])
	lines := make(map[string]string)
	for _, k := range f.Keys() {
		lines[k], _ = f.Line(k)
	}
	data, err := json.Marshal(lines)
	ts.Check(err)
	ts.Check(os.WriteFile(ts.MkAbs(args[1]), data, 0o600))
}

// envsame SAVED ENVFILE [KEY…]: every saved line is still in ENVFILE byte
// for byte, except the KEYs listed (values fast-saas derives). Negated:
// at least one of those lines changed or disappeared.
func cmdEnvSame(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 2 {
		ts.Fatalf("usage: envsame saved envfile [except-key…]")
	}
	var saved map[string]string
	ts.Check(json.Unmarshal([]byte(ts.ReadFile(args[0])), &saved))
	f := readEnvFile(ts, args[1])
	if len(saved) == 0 {
		ts.Fatalf("%s holds no keys", args[0])
	}
	changed := 0
	for k, want := range saved {
		if slices.Contains(args[2:], k) {
			continue
		}
		got, ok := f.Line(k)
		switch {
		case neg && got != want:
			changed++
		case !ok:
			ts.Fatalf("%s: key %s disappeared", args[1], k)
		case got != want:
			ts.Fatalf("%s: %s changed:\n  before %q\n  after  %q", args[1], k, want, got)
		}
	}
	if neg && changed == 0 {
		ts.Fatalf("%s: every saved line is unchanged", args[1])
	}
}

// perm FILE MODE: FILE has exactly permission bits MODE (octal).
func cmdPerm(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: perm file mode")
	}
	want, err := strconv.ParseUint(args[1], 8, 32)
	ts.Check(err)
	st, err := os.Stat(ts.MkAbs(args[0]))
	ts.Check(err)
	got := st.Mode().Perm()
	if (got == os.FileMode(want)) == neg {
		ts.Fatalf("%s has mode %#o, want %s%#o", args[0], got, map[bool]string{true: "not ", false: ""}[neg], want)
	}
}

// allmods DIR: the manifest in DIR selects every module of the catalog.
func cmdAllModules(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: allmods dir")
	}
	cat := catalog.Default()
	m, err := project.LoadManifest(ts.MkAbs(args[0]), cat)
	ts.Check(err)
	var want []string
	for _, mod := range cat.Modules() {
		want = append(want, mod.ID)
	}
	if !slices.Equal(m.Modules, want) {
		ts.Fatalf("modules = %v\nwant every module %v", m.Modules, want)
	}
}
