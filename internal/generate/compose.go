package generate

import (
	"bytes"
	"fmt"
	"slices"
	"strconv"
	"strings"

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
	required map[string]bool // every .env key of the selection → Required
}

func newPlan(in Input) (*plan, error) {
	keys := EnvKeys(in.Modules)
	p := &plan{in: in, selected: make(map[string]bool, len(in.Modules)), required: make(map[string]bool, len(keys))}
	containers := 1 // db-init
	for _, m := range in.Modules {
		p.selected[m.ID] = true
		containers += len(m.Containers)
	}
	p.services = make([]service, 0, containers)
	for _, k := range keys {
		p.required[k.Key] = k.Required
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
	// dbModule is the first module that needs a database; names maps each
	// service to its module.
	var dbModule string
	names := make(map[string]string, containers)
	for _, m := range in.Modules {
		if m.Database != nil && dbModule == "" {
			dbModule = m.ID
		}
		for _, c := range m.Containers {
			if prev, dup := names[c.Name]; dup {
				return nil, fmt.Errorf("service %q defined by modules %q and %q", c.Name, prev, m.ID)
			}
			names[c.Name] = m.ID
			s := service{c: c, profiles: profiles[m.ID], env: c.Env}
			if slices.Contains(profiles[m.ID], "") {
				s.profiles = nil // an essential module's container is always on
			}
			if slices.ContainsFunc(c.Env, func(e catalog.EnvVar) bool { return e.If != "" && !p.selected[e.If] }) {
				s.env = nil
				for _, e := range c.Env {
					if e.If == "" || p.selected[e.If] {
						s.env = append(s.env, e)
					}
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
	if dbModule != "" && !p.selected["postgres"] {
		return nil, fmt.Errorf("module %q needs a database but postgres is not selected", dbModule)
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
// value must come from .env. $${…} is left alone: Compose unescapes it to a
// literal ${…} for the container's shell.
//
// where names the value for the error message ("service", "x", "env", "A");
// it is joined only when there is an error.
func (p *plan) interpolate(v string, where ...string) (string, error) {
	if !strings.Contains(v, "${") {
		return v, nil // most values: nothing to rewrite, nothing to allocate
	}
	var b strings.Builder
	b.Grow(len(v) + 32)
	for i := 0; i < len(v); {
		name, n := varRefAt(v, i)
		if n == 0 {
			b.WriteByte(v[i])
			i++
			continue
		}
		if v[i+1] == '$' { // $${NAME}
			b.WriteString(v[i : i+n])
			i += n
			continue
		}
		required, ok := p.required[name]
		switch {
		case !ok:
			return v, fmt.Errorf("%s references ${%s}, which is not a .env key of the selection", strings.Join(where, " "), name)
		case required:
			b.WriteString("${" + name + ":?set " + name + " in .env}")
		default:
			b.WriteString("${" + name + ":-}")
		}
		i += n
	}
	return b.String(), nil
}

// varRefAt reports whether v[i:] starts with a variable reference: ${NAME}
// or $${NAME}, NAME being [A-Za-z_][A-Za-z0-9_]*. It returns NAME and the
// length of the reference, or n = 0.
func varRefAt(v string, i int) (name string, n int) {
	if v[i] != '$' {
		return "", 0
	}
	j := i + 1
	if j < len(v) && v[j] == '$' {
		j++
	}
	if j >= len(v) || v[j] != '{' {
		return "", 0
	}
	start := j + 1
	end := start
	for end < len(v) && (v[end] == '_' || 'A' <= v[end] && v[end] <= 'Z' || 'a' <= v[end] && v[end] <= 'z' || end > start && '0' <= v[end] && v[end] <= '9') {
		end++
	}
	if end == start || end >= len(v) || v[end] != '}' {
		return "", 0
	}
	return v[start:end], end + 1 - i
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

// writeQ writes s as yq quotes it, straight into b.
func writeQ(b *bytes.Buffer, s string) { b.Write(strconv.AppendQuote(b.AvailableBuffer(), s)) }

// writeList writes items as yList renders them, straight into b.
func writeList(b *bytes.Buffer, items []string) {
	b.WriteByte('[')
	for i, s := range items {
		if i > 0 {
			b.WriteString(", ")
		}
		writeQ(b, s)
	}
	b.WriteByte(']')
}

// writeField writes "<indent><key>: <quoted value>\n".
func writeField(b *bytes.Buffer, indent, key, value string) {
	b.WriteString(indent)
	b.WriteString(key)
	b.WriteString(": ")
	writeQ(b, value)
	b.WriteByte('\n')
}

const composeHeader = "# Generated by fast-saas from its module catalog (version %s). Do not edit by hand:\n" +
	"# `fast-saas add/remove` regenerate it. Values come from .env.\n"

// compose renders docker-compose.yml.
func (p *plan) compose() ([]byte, error) {
	var b bytes.Buffer
	b.Grow(1024 * len(p.services)) // ~650 bytes a service for all modules: one allocation
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
	b.WriteString("\n  ")
	b.WriteString(c.Name)
	b.WriteString(":\n")
	image, err := p.interpolate(c.Image, "service", c.Name)
	if err != nil {
		return err
	}
	writeField(b, "    ", "image", image)
	if c.Build {
		version, err := p.interpolate("${"+KeyVersion+"}", "service", c.Name)
		if err != nil {
			return err
		}
		b.WriteString("    build:\n      context: .\n      dockerfile: Dockerfile\n      args:\n")
		writeField(b, "        ", KeyVersion, version)
	}
	if len(s.profiles) > 0 {
		b.WriteString("    profiles: ")
		writeList(b, s.profiles)
		b.WriteByte('\n')
	}
	if c.OneShot {
		b.WriteString("    restart: \"no\"\n")
	} else {
		b.WriteString("    restart: unless-stopped\n")
	}
	if c.User != "" {
		writeField(b, "    ", "user", c.User)
	}
	if c.Entrypoint != nil {
		b.WriteString("    entrypoint: ")
		writeList(b, c.Entrypoint)
		b.WriteByte('\n')
	}
	if c.Command != nil {
		b.WriteString("    command: ")
		writeList(b, c.Command)
		b.WriteByte('\n')
	}
	if len(s.env) > 0 {
		b.WriteString("    environment:\n")
		for _, e := range s.env {
			v, err := p.interpolate(e.Value, "service", c.Name, "env", e.Name)
			if err != nil {
				return err
			}
			writeField(b, "      ", e.Name, v)
		}
	}
	if len(c.Ports) > 0 {
		b.WriteString("    expose: [")
		for i, port := range c.Ports {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteByte('"')
			b.Write(strconv.AppendInt(b.AvailableBuffer(), int64(port), 10))
			b.WriteByte('"')
		}
		b.WriteString("]\n")
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
			b.WriteString("      - ")
			writeQ(b, spec)
			b.WriteByte('\n')
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
		b.WriteString("    healthcheck:\n      test: [")
		for i, t := range h.Test {
			v, err := p.interpolate(t, "service", c.Name, "healthcheck")
			if err != nil {
				return err
			}
			if i > 0 {
				b.WriteString(", ")
			}
			writeQ(b, v)
		}
		start := h.StartPeriod
		if start == "" {
			start = "30s"
		}
		b.WriteString("]\n      interval: 10s\n      timeout: 5s\n      retries: 10\n      start_period: ")
		b.WriteString(start)
		b.WriteByte('\n')
	}
	if len(s.deps) > 0 {
		b.WriteString("    depends_on:\n")
		for _, d := range s.deps {
			b.WriteString("      ")
			b.WriteString(d.Service)
			b.WriteString(":\n        condition: ")
			b.WriteString(string(d.Condition))
			b.WriteByte('\n')
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
	b.WriteString("    networks: [\"" + netInternal + "\"]\n")
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
