package generate

import (
	"bytes"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/fast-saas/fast-saas/internal/catalog"
)

// Network names of the generated stack. Services share "internal"; only
// Caddy also joins "edge", the network its published ports live on. The
// internal network keeps outbound access: several services call external
// APIs (LLM providers, webhooks, ACME is on edge).
const (
	netInternal = "internal"
	netEdge     = "edge"
)

// dbInitService is the one-shot job that creates each module's role and
// database on the shared Postgres on every `up`.
const dbInitService = "db-init"

// InitScriptPath is where the database init script is written.
const InitScriptPath = "postgres/init-databases.sh"

// varRef matches ${NAME} references (not $${…}, which Compose leaves to the
// container's shell). Compiled on first use: only init, add and remove
// render compose files, and every other command would pay for it at
// start-up.
var varRef = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`\$?\$\{([A-Za-z_][A-Za-z0-9_]*)\}`) })

// service is a compose service ready to render.
type service struct {
	c        catalog.Container
	profiles []string
	env      []catalog.EnvVar
	deps     []catalog.Dependency
}

// plan is the selection turned into services, shared by the generators.
type plan struct {
	in       Input
	selected map[string]bool
	services []service
	volumes  []string
	keys     map[string]EnvKey
}

func newPlan(in Input) (*plan, error) {
	p := &plan{in: in, selected: make(map[string]bool), keys: make(map[string]EnvKey)}
	for _, m := range in.Modules {
		p.selected[m.ID] = true
	}
	for _, k := range EnvKeys(in.Modules) {
		p.keys[k.Key] = k
	}
	// A container runs under the profile of its own layer and of every
	// selected module that needs it, so enabling any one profile never
	// leaves a depends_on pointing at a disabled service.
	profiles := make(map[string][]string) // module id → profiles
	for _, m := range in.Modules {
		addProfile(profiles, m.ID, m.Layer.Profile())
	}
	// Modules are in dependency order: walk dependants last-to-first so a
	// profile propagates down chains (a → b → c).
	for i := len(in.Modules) - 1; i >= 0; i-- {
		m := in.Modules[i]
		for _, d := range m.Dependencies {
			for _, pr := range profiles[m.ID] {
				addProfile(profiles, d, pr)
			}
		}
	}
	var dbModules []catalog.Module
	names := make(map[string]string) // service → module
	for _, m := range in.Modules {
		if m.Database != nil {
			dbModules = append(dbModules, m)
		}
		for _, c := range m.Containers {
			if prev, dup := names[c.Name]; dup {
				return nil, fmt.Errorf("service %q defined by modules %q and %q", c.Name, prev, m.ID)
			}
			names[c.Name] = m.ID
			s := service{c: c, profiles: profiles[m.ID]}
			if slices.Contains(profiles[m.ID], "") {
				s.profiles = nil // an essential module's container is always on
			}
			for _, e := range c.Env {
				if e.If == "" || p.selected[e.If] {
					s.env = append(s.env, e)
				}
			}
			if m.Database != nil && p.selected["postgres"] && usesKey(c, m.Database.PasswordKey) {
				// Only the containers that log in to the module's database
				// wait for it (Lago's front and PDF renderer do not).
				s.deps = append(s.deps, catalog.Dependency{Service: dbInitService, Condition: catalog.Completed})
			}
			s.deps = append(s.deps, c.DependsOn...)
			p.services = append(p.services, s)
		}
		if m.ID == "postgres" {
			p.services = append(p.services, p.dbInit(in.Modules))
			names[dbInitService] = m.ID
		}
	}
	for _, s := range p.services {
		for _, d := range s.deps {
			if _, ok := names[d.Service]; !ok {
				return nil, fmt.Errorf("service %q depends on %q, which no selected module defines", s.c.Name, d.Service)
			}
		}
		for _, v := range s.c.Volumes {
			if !v.IsBind() && !slices.Contains(p.volumes, v.Source) {
				p.volumes = append(p.volumes, v.Source)
			}
		}
	}
	if len(dbModules) > 0 && !p.selected["postgres"] {
		return nil, fmt.Errorf("module %q needs a database but postgres is not selected", dbModules[0].ID)
	}
	return p, nil
}

// usesKey reports whether any environment value of c references ${key}.
func usesKey(c catalog.Container, key string) bool {
	ref := "${" + key + "}"
	for _, e := range c.Env {
		if strings.Contains(e.Value, ref) {
			return true
		}
	}
	return false
}

func addProfile(m map[string][]string, id, profile string) {
	if !slices.Contains(m[id], profile) {
		m[id] = append(m[id], profile)
	}
}

func (p *plan) dbInit(mods []catalog.Module) service {
	envs := []catalog.EnvVar{
		{Name: "PGHOST", Value: "postgres"},
		{Name: "PGUSER", Value: "postgres"},
		{Name: "PGPASSWORD", Value: "${POSTGRES_PASSWORD}"},
		{Name: "PGDATABASE", Value: "postgres"},
	}
	for _, m := range mods {
		if m.Database != nil {
			envs = append(envs, catalog.EnvVar{Name: m.Database.PasswordKey, Value: "${" + m.Database.PasswordKey + "}"})
		}
	}
	return service{
		c: catalog.Container{
			Name:       dbInitService,
			Image:      catalog.ImagePostgres,
			Entrypoint: []string{"sh", "/init-databases.sh"},
			Volumes:    []catalog.Mount{{Source: "./" + InitScriptPath, Target: "/init-databases.sh", ReadOnly: true}},
			OneShot:    true,
		},
		env:  envs,
		deps: []catalog.Dependency{{Service: "postgres", Condition: catalog.Healthy}},
	}
}

// interpolate rewrites ${KEY} references: keys that must be set become
// ${KEY:?…} so Compose refuses to start without them; optional keys become
// ${KEY:-} (empty, without a warning). Unknown keys are an error: every
// value must come from .env.
func (p *plan) interpolate(where, v string) (string, error) {
	var err error
	out := varRef().ReplaceAllStringFunc(v, func(ref string) string {
		if strings.HasPrefix(ref, "$$") {
			return ref
		}
		name := ref[2 : len(ref)-1]
		k, ok := p.keys[name]
		if !ok {
			if err == nil {
				err = fmt.Errorf("%s references ${%s}, which is not a .env key of the selection", where, name)
			}
			return ref
		}
		if k.Required {
			return "${" + name + ":?set " + name + " in .env}"
		}
		return "${" + name + ":-}"
	})
	return out, err
}

// yq quotes a string as a YAML double-quoted scalar (JSON string syntax is
// valid YAML).
func yq(s string) string { return strconv.Quote(s) }

func yList(items []string) string {
	q := make([]string, len(items))
	for i, s := range items {
		q[i] = yq(s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

const composeHeader = "# Generated by fast-saas from its module catalog (version %s). Do not edit by hand:\n" +
	"# `fast-saas add/remove` regenerate it. Values come from .env.\n"

// compose renders docker-compose.yml.
func (p *plan) compose() ([]byte, error) {
	var b bytes.Buffer
	fmt.Fprintf(&b, composeHeader, catalog.Version)
	b.WriteString("services:\n")
	for _, s := range p.services {
		if err := p.writeService(&b, s); err != nil {
			return nil, err
		}
	}
	b.WriteString("\nnetworks:\n  " + netInternal + ": {}\n  " + netEdge + ": {}\n")
	if len(p.volumes) > 0 {
		b.WriteString("\nvolumes:\n")
		for _, v := range p.volumes {
			fmt.Fprintf(&b, "  %s: {}\n", v)
		}
	}
	return b.Bytes(), nil
}

func (p *plan) writeService(b *bytes.Buffer, s service) error {
	c := s.c
	where := "service " + c.Name
	fmt.Fprintf(b, "\n  %s:\n", c.Name)
	image, err := p.interpolate(where, c.Image)
	if err != nil {
		return err
	}
	fmt.Fprintf(b, "    image: %s\n", yq(image))
	if c.Build {
		version, err := p.interpolate(where, "${"+KeyVersion+"}")
		if err != nil {
			return err
		}
		b.WriteString("    build:\n      context: .\n      dockerfile: Dockerfile\n      args:\n")
		fmt.Fprintf(b, "        %s: %s\n", KeyVersion, yq(version))
	}
	if len(s.profiles) > 0 {
		fmt.Fprintf(b, "    profiles: %s\n", yList(s.profiles))
	}
	if c.OneShot {
		b.WriteString("    restart: \"no\"\n")
	} else {
		b.WriteString("    restart: unless-stopped\n")
	}
	if c.User != "" {
		fmt.Fprintf(b, "    user: %s\n", yq(c.User))
	}
	if c.Entrypoint != nil {
		fmt.Fprintf(b, "    entrypoint: %s\n", yList(c.Entrypoint))
	}
	if c.Command != nil {
		fmt.Fprintf(b, "    command: %s\n", yList(c.Command))
	}
	if len(s.env) > 0 {
		b.WriteString("    environment:\n")
		for _, e := range s.env {
			v, err := p.interpolate(where+" env "+e.Name, e.Value)
			if err != nil {
				return err
			}
			fmt.Fprintf(b, "      %s: %s\n", e.Name, yq(v))
		}
	}
	if len(c.Ports) > 0 {
		ports := make([]string, len(c.Ports))
		for i, port := range c.Ports {
			ports[i] = strconv.Itoa(port)
		}
		fmt.Fprintf(b, "    expose: %s\n", yList(ports))
	}
	if len(c.HostPorts) > 0 {
		b.WriteString("    ports:\n")
		for _, hp := range c.HostPorts {
			spec := fmt.Sprintf("%d:%d", hp.Host, hp.Container)
			if hp.Protocol != "" {
				spec += "/" + hp.Protocol
			}
			fmt.Fprintf(b, "      - %s\n", yq(spec))
		}
	}
	if len(c.Volumes) > 0 {
		b.WriteString("    volumes:\n")
		for _, v := range c.Volumes {
			spec := v.Source + ":" + v.Target
			if v.ReadOnly {
				spec += ":ro"
			}
			fmt.Fprintf(b, "      - %s\n", yq(spec))
		}
	}
	if c.Privileged {
		b.WriteString("    privileged: true\n")
	}
	if c.PIDHost {
		b.WriteString("    pid: host\n")
	}
	if len(c.Devices) > 0 {
		fmt.Fprintf(b, "    devices: %s\n", yList(c.Devices))
	}
	if c.GPU && p.in.GPU {
		b.WriteString("    deploy:\n      resources:\n        reservations:\n          devices:\n" +
			"            - driver: nvidia\n              count: all\n              capabilities: [\"gpu\"]\n")
	}
	if h := c.Health; h != nil {
		test := make([]string, len(h.Test))
		for i, t := range h.Test {
			v, err := p.interpolate(where+" healthcheck", t)
			if err != nil {
				return err
			}
			test[i] = v
		}
		start := h.StartPeriod
		if start == "" {
			start = "30s"
		}
		fmt.Fprintf(b, "    healthcheck:\n      test: %s\n      interval: 10s\n      timeout: 5s\n      retries: 10\n      start_period: %s\n", yList(test), start)
	}
	if len(s.deps) > 0 {
		b.WriteString("    depends_on:\n")
		for _, d := range s.deps {
			fmt.Fprintf(b, "      %s:\n        condition: %s\n", d.Service, d.Condition)
		}
	}
	if c.Edge {
		// Inside the stack every public hostname resolves to Caddy, so a
		// service calling another through its public URL (the API fetching
		// Logto's JWKS) needs no hairpin NAT through the host.
		var hosts []string
		for _, m := range p.in.Modules {
			for _, r := range m.Routes {
				hosts = append(hosts, r.Subdomain+"."+p.in.Domain)
			}
		}
		fmt.Fprintf(b, "    networks:\n      %s: {}\n", netEdge)
		if len(hosts) > 0 {
			fmt.Fprintf(b, "      %s:\n        aliases: %s\n", netInternal, yList(hosts))
		} else {
			fmt.Fprintf(b, "      %s: {}\n", netInternal)
		}
		return nil
	}
	b.WriteString("    networks: " + yList([]string{netInternal}) + "\n")
	return nil
}

// LocalPortBase is the first host port of the --local override.
const LocalPortBase = 18000

// localPorts assigns a host port to every route of the catalog, in catalog
// order, so a service keeps its port when other modules are added or removed.
func localPorts(c *catalog.Catalog, mods []catalog.Module) map[string]int {
	ports := make(map[string]int)
	next := LocalPortBase
	assign := func(m catalog.Module) {
		for _, r := range m.Routes {
			key := r.Service + ":" + strconv.Itoa(r.Port)
			if _, ok := ports[key]; !ok {
				ports[key] = next
				next++
			}
		}
	}
	if c != nil {
		for _, m := range c.Modules() {
			assign(m)
		}
	}
	for _, m := range mods { // modules outside the catalog (tests) come last
		assign(m)
	}
	return ports
}

// composeLocal renders docker-compose.local.yml: every routed service port
// published on 127.0.0.1 with a distinct host port. Databases and Redis are
// never routed, so never published.
func (p *plan) composeLocal() []byte {
	ports := localPorts(p.in.Catalog, p.in.Modules)
	var b bytes.Buffer
	b.WriteString("# Generated by fast-saas: `fast-saas up --local` adds this file to publish each routed\n" +
		"# service on 127.0.0.1 only (for development without DNS).\n")
	type pub struct{ host, container int }
	bySvc := make(map[string][]pub)
	var order []string
	for _, m := range p.in.Modules {
		for _, r := range m.Routes {
			hp := ports[r.Service+":"+strconv.Itoa(r.Port)]
			if !slices.Contains(order, r.Service) {
				order = append(order, r.Service)
			}
			if !slices.ContainsFunc(bySvc[r.Service], func(x pub) bool { return x.container == r.Port }) {
				bySvc[r.Service] = append(bySvc[r.Service], pub{hp, r.Port})
			}
		}
	}
	if len(order) == 0 {
		b.WriteString("services: {}\n")
		return b.Bytes()
	}
	b.WriteString("services:\n")
	for _, svc := range order {
		fmt.Fprintf(&b, "  %s:\n    ports:\n", svc)
		for _, x := range bySvc[svc] {
			fmt.Fprintf(&b, "      - %s\n", yq(fmt.Sprintf("127.0.0.1:%d:%d", x.host, x.container)))
		}
	}
	return b.Bytes()
}
