package generate

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/types"
	"go.yaml.in/yaml/v3"

	"github.com/fast-saas/fast-saas/internal/catalog"
	"github.com/fast-saas/fast-saas/internal/testenv"
)

// The generated compose file loads in compose-go (the library behind
// `docker compose`) under every combination of profiles, alone and with the
// --local override, with the values of the generated .env.
func TestComposeLoadsUnderEveryProfileCombination(t *testing.T) {
	t.Parallel()
	c := catalog.Default()
	for _, sel := range selections(c) {
		t.Run(sel.name, func(t *testing.T) {
			t.Parallel()
			in := realInput(t, c, sel.ids, sel.domain)
			dir, _, env := writeProject(t, in)
			if diff := mapDiff(EnvValues(in), env); diff != "" {
				t.Errorf(".env does not read back as written: %s", diff)
			}
			full, err := loadCompose(t, dir, env, Profiles(in.Modules), ComposeFile)
			if err != nil {
				t.Fatalf("load with COMPOSE_PROFILES: %v", err)
			}
			for _, profiles := range profileSets() {
				for _, files := range [][]string{{ComposeFile}, {ComposeFile, ComposeLocalFile}} {
					p, err := loadCompose(t, dir, env, profiles, files...)
					if err != nil {
						t.Errorf("profiles %v, files %v: %v", profiles, files, err)
						continue
					}
					for _, svc := range full.AllServices() {
						_, enabled := p.Services[svc.Name]
						if want := hasProfile(svc, profiles); enabled != want {
							t.Errorf("profiles %v: service %s enabled = %v, want %v", profiles, svc.Name, enabled, want)
						}
					}
				}
			}
			// Every selected container is in the file.
			for _, m := range in.Modules {
				for _, ctr := range m.Containers {
					if _, ok := full.Services[ctr.Name]; !ok {
						t.Errorf("module %s: service %s missing", m.ID, ctr.Name)
					}
				}
			}
		})
	}
}

func mapDiff(want, got map[string]string) string {
	var out []string
	for _, k := range sortedKeys(want) {
		if got[k] != want[k] {
			out = append(out, fmt.Sprintf("%s: want %q, got %q", k, want[k], got[k]))
		}
	}
	for _, k := range sortedKeys(got) {
		if _, ok := want[k]; !ok {
			out = append(out, "unexpected key "+k)
		}
	}
	return strings.Join(out, "; ")
}

// A test that walks every module: it resolves alone, generates, and its
// compose file loads.
func TestEveryModuleGeneratesAlone(t *testing.T) {
	t.Parallel()
	c := catalog.Default()
	for _, m := range c.Modules() {
		t.Run(m.ID, func(t *testing.T) {
			t.Parallel()
			in := realInput(t, c, []string{m.ID}, "example.com")
			dir, _, env := writeProject(t, in)
			p, err := loadCompose(t, dir, env, []string{"core", "ops", "growth", "ai"}, ComposeFile, ComposeLocalFile)
			if err != nil {
				t.Fatal(err)
			}
			for _, ctr := range m.Containers {
				if _, ok := p.Services[ctr.Name]; !ok {
					t.Errorf("service %s missing", ctr.Name)
				}
			}
		})
	}
}

// No service publishes a host port except caddy and the mail server, and no
// host port is used twice; the --local override publishes on 127.0.0.1
// only, without collisions and without databases.
func TestHostPorts(t *testing.T) {
	t.Parallel()
	c := catalog.Default()
	in := realInput(t, c, c.InLayers(catalog.Layers()...), "example.com")
	dir, _, env := writeProject(t, in)
	all := []string{"core", "ops", "growth", "ai"}

	base, err := loadCompose(t, dir, env, all, ComposeFile)
	if err != nil {
		t.Fatal(err)
	}
	routed := map[string]bool{}
	for _, m := range in.Modules {
		for _, r := range m.Routes {
			routed[r.Service] = true
		}
	}
	used := map[string]string{}
	for _, name := range sortedKeys(base.Services) {
		for _, p := range base.Services[name].Ports {
			if name != "caddy" && name != "stalwart" {
				t.Errorf("service %s publishes host port %s", name, p.Published)
			}
			key := p.Published + "/" + p.Protocol
			if prev, dup := used[key]; dup {
				t.Errorf("host port %s used by %s and %s", key, prev, name)
			}
			used[key] = name
		}
	}
	for _, want := range []string{"80/tcp", "443/tcp", "443/udp", "25/tcp", "465/tcp", "587/tcp", "993/tcp"} {
		if _, ok := used[want]; !ok {
			t.Errorf("host port %s not published", want)
		}
	}

	local, err := loadCompose(t, dir, env, all, ComposeFile, ComposeLocalFile)
	if err != nil {
		t.Fatal(err)
	}
	used = map[string]string{}
	for _, name := range sortedKeys(local.Services) {
		svc := local.Services[name]
		for _, p := range svc.Ports {
			key := p.Published + "/" + p.Protocol
			if prev, dup := used[key]; dup {
				t.Errorf("--local: host port %s used by %s and %s", key, prev, name)
			}
			used[key] = name
			if name == "caddy" || name == "stalwart" {
				continue
			}
			if p.HostIP != "127.0.0.1" {
				t.Errorf("--local: %s publishes %s on %q, want 127.0.0.1", name, p.Published, p.HostIP)
			}
			if !routed[name] {
				t.Errorf("--local: %s is not a routed service but is published", name)
			}
		}
	}
	for _, name := range []string{"postgres", "redis", "librechat-mongo", "langfuse-clickhouse", "matomo-db", "ollama"} {
		if len(local.Services[name].Ports) > 0 {
			t.Errorf("--local publishes %s", name)
		}
	}
}

// Local host ports are a function of the catalog, not of the selection:
// adding a module never moves another module's port.
func TestLocalPortsAreStable(t *testing.T) {
	t.Parallel()
	c := catalog.Default()
	small, err := Project(realInput(t, c, []string{"logto"}, "example.com"))
	if err != nil {
		t.Fatal(err)
	}
	big, err := Project(realInput(t, c, c.InLayers(catalog.Layers()...), "example.com"))
	if err != nil {
		t.Fatal(err)
	}
	line := regexp.MustCompile(`"127\.0\.0\.1:\d+:3001"`)
	a := line.Find(fileData(t, small, ComposeLocalFile))
	b := line.Find(fileData(t, big, ComposeLocalFile))
	if a == nil || string(a) != string(b) {
		t.Errorf("logto's local port moved: %s vs %s", a, b)
	}
}

var reverseProxy = regexp.MustCompile(`(?m)^\treverse_proxy (\S+):(\d+)$`)

// `caddy adapt --validate` accepts the Caddyfile with the .env values in
// its environment, and every upstream is a service and port of the compose
// file.
func TestCaddyfileValidates(t *testing.T) {
	t.Parallel()
	caddy := testenv.Tool(t, "caddy")
	c := catalog.Default()
	for _, sel := range selections(c) {
		t.Run(sel.name, func(t *testing.T) {
			t.Parallel()
			in := realInput(t, c, sel.ids, sel.domain)
			dir, files, env := writeProject(t, in)
			cmd := exec.Command(caddy, "adapt", "--config", filepath.Join(dir, CaddyFile), "--validate")
			cmd.Env = append(envList(env), "HOME="+t.TempDir(), "XDG_DATA_HOME="+t.TempDir(), "XDG_CONFIG_HOME="+t.TempDir())
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("caddy adapt --validate: %v\n%s", err, out)
			}
			caddyfile := string(fileData(t, files, CaddyFile))
			if got, want := strings.Contains(caddyfile, "tls internal"), IsLocalDomain(sel.domain); got != want {
				t.Errorf("tls internal present = %v, want %v for %s", got, want, sel.domain)
			}
			p, err := loadCompose(t, dir, env, []string{"core", "ops", "growth", "ai"}, ComposeFile)
			if err != nil {
				t.Fatal(err)
			}
			ups := reverseProxy.FindAllStringSubmatch(caddyfile, -1)
			var routes int
			for _, m := range in.Modules {
				routes += len(m.Routes)
			}
			if len(ups) != routes {
				t.Errorf("%d reverse_proxy lines, want %d (one per route)", len(ups), routes)
			}
			for _, u := range ups {
				svc, ok := p.Services[u[1]]
				if !ok {
					t.Errorf("upstream %s:%s: no such service", u[1], u[2])
					continue
				}
				if !slices.Contains(svc.Expose, u[2]) {
					t.Errorf("upstream %s:%s: service exposes %v", u[1], u[2], svc.Expose)
				}
			}
		})
	}
}

func TestBasicAuthInFrontOfAdminConsoles(t *testing.T) {
	t.Parallel()
	c := catalog.Default()
	in := realInput(t, c, c.InLayers(catalog.Layers()...), "example.com")
	site := func(caddyfile, host string) string {
		i := strings.Index(caddyfile, "\n"+host+" {\n")
		if i < 0 {
			t.Fatalf("no site %s", host)
		}
		end := strings.Index(caddyfile[i+1:], "\n}\n")
		return caddyfile[i : i+1+end]
	}
	files, err := Project(in)
	if err != nil {
		t.Fatal(err)
	}
	cf := string(fileData(t, files, CaddyFile))
	for _, m := range in.Modules {
		for _, r := range m.Routes {
			got := strings.Contains(site(cf, r.Subdomain+".example.com"), "import admin_auth")
			if got != r.AdminConsole {
				t.Errorf("%s.%s: basic auth = %v, want %v", r.Subdomain, "example.com", got, r.AdminConsole)
			}
		}
	}
	in.NoBasicAuth = []string{"grafana-stack"}
	files, err = Project(in)
	if err != nil {
		t.Fatal(err)
	}
	cf = string(fileData(t, files, CaddyFile))
	if strings.Contains(site(cf, "monitor.example.com"), "admin_auth") {
		t.Error("basic auth still in front of grafana after turning it off")
	}
	if !strings.Contains(site(cf, "status.example.com"), "admin_auth") {
		t.Error("turning off grafana's basic auth removed uptime-kuma's")
	}
}

var imagePinned = regexp.MustCompile(`^[a-z0-9./_-]+(:[A-Za-z0-9._-]+)?(@sha256:[0-9a-f]{64})?$`)

func checkPinned(t *testing.T, where, image string) {
	t.Helper()
	name, _, hasDigest := strings.Cut(image, "@")
	tagPart := name[strings.LastIndex(name, "/")+1:]
	_, tag, hasTag := strings.Cut(tagPart, ":")
	switch {
	case !imagePinned.MatchString(image):
		t.Errorf("%s: malformed image %q", where, image)
	case !hasTag && !hasDigest:
		t.Errorf("%s: image %q has no tag", where, image)
	case strings.EqualFold(tag, "latest"):
		t.Errorf("%s: image %q uses latest", where, image)
	}
}

// No `latest` or untagged image anywhere: compose (after interpolation) and
// the Dockerfile.
func TestImagesArePinned(t *testing.T) {
	t.Parallel()
	c := catalog.Default()
	in := realInput(t, c, c.InLayers(catalog.Layers()...), "example.com")
	dir, files, env := writeProject(t, in)
	p, err := loadCompose(t, dir, env, []string{"core", "ops", "growth", "ai"}, ComposeFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range sortedKeys(p.Services) {
		checkPinned(t, name, p.Services[name].Image)
	}
	from := regexp.MustCompile(`(?m)^FROM (\S+)`)
	froms := from.FindAllStringSubmatch(string(fileData(t, files, DockerFile)), -1)
	if len(froms) != 2 {
		t.Fatalf("Dockerfile has %d FROM lines, want 2", len(froms))
	}
	for _, f := range froms {
		checkPinned(t, "Dockerfile", f[1])
	}
	if strings.Contains(string(fileData(t, files, ComposeFile)), ":latest") {
		t.Error("compose file mentions :latest")
	}
}

// Same input → byte-identical output, whatever the order of the ids.
func TestDeterministic(t *testing.T) {
	t.Parallel()
	c := catalog.Default()
	in := realInput(t, c, c.InLayers(catalog.Layers()...), "example.com")
	first, err := Project(in)
	if err != nil {
		t.Fatal(err)
	}
	ids := c.InLayers(catalog.Layers()...)
	slices.Reverse(ids)
	in2, _, err := Resolve(c, ids, in)
	if err != nil {
		t.Fatal(err)
	}
	second, err := Project(in2)
	if err != nil {
		t.Fatal(err)
	}
	if len(first) != len(second) {
		t.Fatalf("%d files vs %d", len(first), len(second))
	}
	for i := range first {
		if first[i].Path != second[i].Path || string(first[i].Data) != string(second[i].Data) || first[i].Mode != second[i].Mode {
			t.Errorf("file %s differs between two runs", first[i].Path)
		}
	}
	if string(DotEnv(in)) != string(DotEnv(in2)) {
		t.Error(".env differs between two runs")
	}
}

func TestProfilesMatchLayers(t *testing.T) {
	t.Parallel()
	c := catalog.Default()
	tests := []struct {
		ids  []string
		want string
	}{
		{c.DefaultSelection(), "core,ops"},
		{[]string{"ollama"}, "ai"},
		{[]string{"posthog"}, ""}, // external: nothing to run
		{c.InLayers(catalog.Layers()...), "core,ops,growth,ai"},
		{nil, ""},
	}
	for _, tt := range tests {
		in := realInput(t, c, tt.ids, "example.com")
		env, err := dotenvParse(DotEnv(in))
		if err != nil {
			t.Fatal(err)
		}
		if got := env[KeyProfiles]; got != tt.want {
			t.Errorf("%v: COMPOSE_PROFILES = %q, want %q", tt.ids, got, tt.want)
		}
	}
}

// A reference to a key that .env does not define is caught at generation,
// not at `docker compose up`.
func TestUnknownEnvReferenceFails(t *testing.T) {
	t.Parallel()
	mods := []catalog.Module{{ID: "x", Name: "X", Layer: catalog.Core, Containers: []catalog.Container{{
		Name: "x", Image: "x:1", Env: []catalog.EnvVar{{Name: "A", Value: "${NOT_A_KEY}"}},
	}}}}
	c, err := catalog.New(mods)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Project(Input{Catalog: c, Modules: mods, Domain: "example.com"})
	if err == nil || !strings.Contains(err.Error(), "NOT_A_KEY") {
		t.Fatalf("Project error = %v, want one naming NOT_A_KEY", err)
	}
	// A missing dependency is refused too.
	_, err = Project(Input{Modules: []catalog.Module{{ID: "y", Layer: catalog.Core, Dependencies: []string{"x"}}}, Domain: "example.com"})
	if err == nil || !strings.Contains(err.Error(), `needs "x"`) {
		t.Fatalf("Project error = %v, want a missing-dependency error", err)
	}
}

// promtool accepts the generated Prometheus configuration.
func TestPrometheusConfigValidates(t *testing.T) {
	t.Parallel()
	promtool := testenv.Tool(t, "promtool")
	c := catalog.Default()
	in := realInput(t, c, c.InLayers(catalog.Layers()...), "example.com")
	dir, files, _ := writeProject(t, in)
	out, err := exec.Command(promtool, "check", "config", filepath.Join(dir, "ops/prometheus/prometheus.yml")).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool check config: %v\n%s", err, out)
	}
	cfg := string(fileData(t, files, "ops/prometheus/prometheus.yml"))
	for _, m := range in.Modules {
		for _, s := range m.Metrics {
			if !strings.Contains(cfg, strconv.Quote(fmt.Sprintf("%s:%d", s.Service, s.Port))) {
				t.Errorf("target %s:%d not scraped", s.Service, s.Port)
			}
		}
	}
	// Mount points exist for every bind mount of a generated file.
	for _, m := range in.Modules {
		for _, ctr := range m.Containers {
			for _, v := range ctr.Volumes {
				if strings.HasPrefix(v.Source, "./") {
					if _, err := os.Stat(filepath.Join(dir, v.Source)); err != nil {
						t.Errorf("%s mounts %s, which is not generated", ctr.Name, v.Source)
					}
				}
			}
		}
	}
}

func TestValidDomain(t *testing.T) {
	t.Parallel()
	good := []string{"example.com", "localhost", "stack.localhost", "a-b.example.co.uk", "x1.io"}
	bad := []string{"", "Example.com", "https://example.com", "example.com:443", "exa mple.com", "example.com/", "{$X}", "-a.com", "a..com", "example.com\n{", strings.Repeat("a", 64) + ".com"}
	for _, d := range good {
		if err := ValidDomain(d); err != nil {
			t.Errorf("ValidDomain(%q) = %v", d, err)
		}
	}
	for _, d := range bad {
		if err := ValidDomain(d); err == nil {
			t.Errorf("ValidDomain(%q) accepted", d)
		}
		if _, err := Project(Input{Domain: d}); err == nil {
			t.Errorf("Project accepted domain %q", d)
		}
	}
}

// --gpu adds an NVIDIA reservation to ollama only, and compose accepts it.
func TestGPU(t *testing.T) {
	t.Parallel()
	c := catalog.Default()
	in := realInput(t, c, []string{"ollama", "librechat"}, "example.com")
	in.GPU = true
	dir, _, env := writeProject(t, in)
	p, err := loadCompose(t, dir, env, []string{"ai"}, ComposeFile)
	if err != nil {
		t.Fatal(err)
	}
	for name, svc := range p.Services {
		hasGPU := svc.Deploy != nil && svc.Deploy.Resources.Reservations != nil && len(svc.Deploy.Resources.Reservations.Devices) > 0
		if hasGPU != (name == "ollama") {
			t.Errorf("%s: GPU reservation = %v", name, hasGPU)
		}
	}
	in.GPU = false
	files, err := Project(in)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(fileData(t, files, ComposeFile)), "nvidia") {
		t.Error("GPU block present without --gpu")
	}
}

// The init script parses in sh for every selection (it also runs against a
// real Postgres in TestInitScriptOnRealPostgres).
func TestInitScriptParses(t *testing.T) {
	t.Parallel()
	c := catalog.Default()
	for _, sel := range selections(c) {
		in, _, err := Resolve(c, sel.ids, Input{})
		if err != nil {
			t.Fatal(err)
		}
		script := initScript(in.Modules)
		if out, err := exec.Command("sh", "-n", "-c", string(script)).CombinedOutput(); err != nil {
			t.Errorf("%s: init script does not parse: %v\n%s", sel.name, err, out)
		}
		for _, m := range in.Modules {
			if d := m.Database; d != nil && !strings.Contains(string(script), "ensure "+d.Role+" "+d.Name+" \"$"+d.PasswordKey+"\"") {
				t.Errorf("%s: no ensure line for %s", sel.name, m.ID)
			}
		}
	}
}

// Inside the stack, public hostnames resolve to Caddy.
func TestCaddyAliasesPublicHostnames(t *testing.T) {
	t.Parallel()
	c := catalog.Default()
	for _, ids := range [][]string{c.DefaultSelection(), {"stalwart"}} {
		in := realInput(t, c, ids, "example.com")
		dir, _, env := writeProject(t, in)
		p, err := loadCompose(t, dir, env, []string{"core", "ops", "growth", "ai"}, ComposeFile)
		if err != nil {
			t.Fatal(err)
		}
		net := p.Services["caddy"].Networks["internal"]
		var want []string
		for _, m := range in.Modules {
			for _, r := range m.Routes {
				want = append(want, r.Subdomain+".example.com")
			}
		}
		var got []string
		if net != nil {
			got = net.Aliases
		}
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("caddy aliases = %v, want %v", got, want)
		}
		if _, ok := p.Services["caddy"].Networks["edge"]; !ok {
			t.Error("caddy is not on the edge network")
		}
	}
}

// The ACME email is optional: without it the Caddyfile has no email option
// (caddy accepts it), compose loads, and the first admin of Lago and
// Langfuse is admin@DOMAIN.
func TestWithoutEmail(t *testing.T) {
	t.Parallel()
	caddy := testenv.Tool(t, "caddy")
	c := catalog.Default()
	in := realInput(t, c, c.DefaultSelection(), "example.com")
	in.Email = ""
	dir, files, env := writeProject(t, in)
	if _, err := loadCompose(t, dir, env, Profiles(in.Modules), ComposeFile); err != nil {
		t.Fatal(err)
	}
	if got := env[KeyAdmin]; got != "admin@example.com" {
		t.Errorf("ADMIN_EMAIL = %q, want admin@example.com", got)
	}
	if strings.Contains(string(fileData(t, files, CaddyFile)), "email") {
		t.Error("Caddyfile has an email option without an email")
	}
	cmd := exec.Command(caddy, "adapt", "--config", filepath.Join(dir, CaddyFile), "--validate")
	cmd.Env = append(envList(env), "HOME="+t.TempDir())
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("caddy adapt --validate: %v\n%s", err, out)
	}
	for _, bad := range []string{"nobody", "a b@example.com", "ops@example.com\n}", "ops@{$X}", "@example.com", "ops@"} {
		in.Email = bad
		if _, err := Project(in); err == nil {
			t.Errorf("Project accepted email %q", bad)
		}
	}
}

// Containers that log in to a module database wait for db-init; others
// (Lago's front, Langfuse's ClickHouse) do not.
func TestDBInitDependencies(t *testing.T) {
	t.Parallel()
	c := catalog.Default()
	in := realInput(t, c, c.InLayers(catalog.Layers()...), "example.com")
	dir, _, env := writeProject(t, in)
	p, err := loadCompose(t, dir, env, []string{"core", "ops", "growth", "ai"}, ComposeFile)
	if err != nil {
		t.Fatal(err)
	}
	waits := func(svc string) bool {
		d, ok := p.Services[svc].DependsOn["db-init"]
		return ok && d.Condition == "service_completed_successfully"
	}
	for _, svc := range []string{"logto", "lago-migrate", "lago-api", "saas-api", "glitchtip-migrate", "n8n", "langfuse-web", "langfuse-worker", "nocodb", "docmost", "langflow"} {
		if !waits(svc) {
			t.Errorf("%s does not wait for db-init", svc)
		}
	}
	for _, svc := range []string{"lago-front", "lago-pdf", "langfuse-clickhouse", "langfuse-bucket", "n8n-runner", "caddy", "redis"} {
		if waits(svc) {
			t.Errorf("%s waits for db-init but uses no module database", svc)
		}
	}
}

// Every generated YAML file parses (Prometheus is also checked by promtool;
// Loki, Grafana provisioning have no validator on this machine).
func TestGeneratedYAMLParses(t *testing.T) {
	t.Parallel()
	c := catalog.Default()
	files, err := Project(realInput(t, c, c.InLayers(catalog.Layers()...), "example.com"))
	if err != nil {
		t.Fatal(err)
	}
	var n int
	for _, f := range files {
		if !strings.HasSuffix(f.Path, ".yml") {
			continue
		}
		n++
		var doc map[string]any
		if err := yaml.Unmarshal(f.Data, &doc); err != nil {
			t.Errorf("%s: %v", f.Path, err)
		}
		if len(doc) == 0 {
			t.Errorf("%s is empty", f.Path)
		}
	}
	if n < 6 {
		t.Errorf("only %d YAML files generated", n)
	}
}

// Lago's RSA key is made by the one-shot lago-keys job in a volume that
// every container booting the Rails app mounts read-only at
// /app/config/keys (where Lago looks first), and they all start only after
// the job completed successfully.
func TestLagoKeysJobWired(t *testing.T) {
	t.Parallel()
	c := catalog.Default()
	in := realInput(t, c, c.InLayers(catalog.Layers()...), "example.com")
	if v := in.Env["LAGO_RSA_PRIVATE_KEY"]; v != "" {
		t.Fatalf("a new project got LAGO_RSA_PRIVATE_KEY generated: %.20q…", v)
	}
	dir, _, env := writeProject(t, in)
	p, err := loadCompose(t, dir, env, []string{"core"}, ComposeFile)
	if err != nil {
		t.Fatal(err)
	}
	const keyDir = "/app/config/keys"
	mount := func(svc string) *types.ServiceVolumeConfig {
		for _, v := range p.Services[svc].Volumes {
			if v.Type == types.VolumeTypeVolume && v.Source == "lago-keys" {
				return &v
			}
		}
		return nil
	}
	job, ok := p.Services["lago-keys"]
	if !ok {
		t.Fatal("no lago-keys service")
	}
	if job.Image != catalog.ImageLagoAPI || job.Restart != "no" {
		t.Errorf("lago-keys: image %q restart %q, want %q and no", job.Image, job.Restart, catalog.ImageLagoAPI)
	}
	if m := mount("lago-keys"); m == nil || m.Target != keyDir || m.ReadOnly {
		t.Errorf("lago-keys mounts %+v, want lago-keys volume read-write at %s", m, keyDir)
	}
	if v := job.Environment["LAGO_RSA_PRIVATE_KEY"]; v == nil || *v != "" {
		t.Errorf("lago-keys LAGO_RSA_PRIVATE_KEY = %v, want set and empty for a new project", v)
	}
	if _, ok := p.Volumes["lago-keys"]; !ok {
		t.Error("volume lago-keys is not declared")
	}
	for _, svc := range []string{"lago-migrate", "lago-api", "lago-worker", "lago-clock"} {
		if m := mount(svc); m == nil || m.Target != keyDir || !m.ReadOnly {
			t.Errorf("%s mounts %+v, want lago-keys read-only at %s", svc, m, keyDir)
		}
		if d, ok := p.Services[svc].DependsOn["lago-keys"]; !ok || d.Condition != types.ServiceConditionCompletedSuccessfully {
			t.Errorf("%s depends_on lago-keys = %+v (present %v), want service_completed_successfully", svc, d, ok)
		}
		if _, ok := p.Services[svc].Environment["LAGO_RSA_PRIVATE_KEY"]; ok {
			t.Errorf("%s gets LAGO_RSA_PRIVATE_KEY; the key comes from the volume", svc)
		}
	}
	for _, svc := range []string{"lago-front", "lago-pdf"} {
		if mount(svc) != nil {
			t.Errorf("%s mounts the key volume but does not run Rails", svc)
		}
	}
}
