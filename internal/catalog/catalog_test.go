package catalog

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestDefaultCatalogIsValid(t *testing.T) {
	t.Parallel()
	c := Default()
	mods := c.Modules()
	if got, want := len(mods), 23; got != want {
		t.Fatalf("catalog has %d modules, want %d (every row of spec/modules.md)", got, want)
	}
	// Every row of the spec/modules.md table, in its order.
	want := []string{"postgres", "redis", "caddy", "logto", "lago", "rustfs", "saas-api", "glitchtip", "uptime-kuma",
		"grafana-stack", "matomo", "posthog", "mautic", "stalwart", "nocodb", "n8n", "appsmith", "docmost",
		"librechat", "langflow", "ollama", "claude-agent", "langfuse"}
	var got []string
	for _, m := range mods {
		got = append(got, m.ID)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("module ids (-want +got):\n%s", diff)
	}
}

// imageRef accepts name:tag or name@sha256:digest (optionally both).
var imageRef = regexp.MustCompile(`^[a-z0-9./_-]+(:[A-Za-z0-9._${}-]+)?(@sha256:[0-9a-f]{64})?$`)

func checkImage(t *testing.T, where, image string) {
	t.Helper()
	if !imageRef.MatchString(image) {
		t.Errorf("%s: malformed image reference %q", where, image)
		return
	}
	name, digest, hasDigest := strings.Cut(image, "@")
	slash := strings.LastIndex(name, "/")
	tagPart := name[slash+1:]
	_, tag, hasTag := strings.Cut(tagPart, ":")
	switch {
	case !hasTag && !hasDigest:
		t.Errorf("%s: image %q is not pinned (no tag)", where, image)
	case hasTag && strings.EqualFold(tag, "latest"):
		t.Errorf("%s: image %q uses latest", where, image)
	case hasDigest && len(digest) != len("sha256:")+64:
		t.Errorf("%s: image %q has a malformed digest", where, image)
	}
}

func TestModulesAreComplete(t *testing.T) {
	t.Parallel()
	c := Default()
	services := map[string]string{}
	secretOwner := map[string]string{}
	subdomains := map[string]string{}
	volumes := map[string]string{}
	for _, m := range c.Modules() {
		t.Run(m.ID, func(t *testing.T) {
			if m.Name == "" || m.Description == "" || m.Note == "" {
				t.Errorf("name, description and note are required: %+v", m)
			}
			if m.External {
				if len(m.Containers) != 0 || len(m.Routes) != 0 {
					t.Errorf("external module has containers or routes")
				}
				return
			}
			if len(m.Containers) == 0 {
				t.Fatalf("no containers")
			}
			if m.MemoryMB <= 0 {
				t.Errorf("MemoryMB = %d, want > 0", m.MemoryMB)
			}
			ports := map[string][]int{}
			for _, ctr := range m.Containers {
				if prev, dup := services[ctr.Name]; dup {
					t.Errorf("service %q also defined by %q", ctr.Name, prev)
				}
				services[ctr.Name] = m.ID
				checkImage(t, ctr.Name, ctr.Image)
				ports[ctr.Name] = ctr.Ports
				if !ctr.OneShot && ctr.Health == nil && !noHealthCheck[ctr.Name] {
					t.Errorf("service %q has no health check", ctr.Name)
				}
				if ctr.OneShot && ctr.Health != nil {
					t.Errorf("one-shot %q has a health check", ctr.Name)
				}
				if len(ctr.HostPorts) > 0 && ctr.Name != "caddy" && ctr.Name != "stalwart" {
					t.Errorf("service %q publishes host ports; only caddy and the mail server may", ctr.Name)
				}
				for _, e := range ctr.Env {
					if e.If != "" {
						if _, ok := c.Lookup(e.If); !ok {
							t.Errorf("%s env %s: condition on unknown module %q", ctr.Name, e.Name, e.If)
						}
					}
				}
				if ctr.Health != nil {
					if k := ctr.Health.Test[0]; k != "CMD" && k != "CMD-SHELL" {
						t.Errorf("%s: health test starts with %q", ctr.Name, k)
					}
					for _, arg := range ctr.Health.Test {
						if strings.Contains(arg, "PASSWORD}") || strings.Contains(arg, "-a ") {
							t.Errorf("%s: health check puts a secret in argv: %q", ctr.Name, arg)
						}
					}
				}
			}
			for _, ctr := range m.Containers {
				for _, v := range ctr.Volumes {
					if v.IsBind() {
						continue
					}
					if prev, dup := volumes[v.Source]; dup && prev != m.ID {
						t.Errorf("volume %s also used by module %s", v.Source, prev)
					}
					volumes[v.Source] = m.ID
				}
			}
			for _, r := range m.Routes {
				if prev, dup := subdomains[r.Subdomain]; dup {
					t.Errorf("subdomain %s also routed by %s", r.Subdomain, prev)
				}
				subdomains[r.Subdomain] = m.ID
				p, ok := ports[r.Service]
				if !ok || !slices.Contains(p, r.Port) {
					t.Errorf("route %s → %s:%d: no such container port in the module", r.Subdomain, r.Service, r.Port)
				}
			}
			for _, s := range m.Secrets {
				if prev, dup := secretOwner[s.Key]; dup {
					t.Errorf("secret %s also declared by %s", s.Key, prev)
				}
				secretOwner[s.Key] = m.ID
			}
			if d := m.Database; d != nil {
				if !slices.Contains(m.Dependencies, "postgres") {
					t.Errorf("module with a database does not depend on postgres")
				}
				if !slices.ContainsFunc(m.Secrets, func(s Secret) bool { return s.Key == d.PasswordKey }) {
					t.Errorf("database password key %s is not a secret of the module", d.PasswordKey)
				}
			}
		})
	}
}

// Containers that cannot have a health check: no tool in the image (scratch
// redis-exporter), or a tool we could not verify (then compose's
// service_started is used by dependants).
var noHealthCheck = map[string]bool{
	"lago-clock": true, "lago-front": true, "lago-pdf": true, "glitchtip-worker": true,
	"alloy": true, "node-exporter": true, "cadvisor": true, "postgres-exporter": true, "redis-exporter": true,
	"mautic-cron": true, "mautic-worker": true, "n8n-runner": true,
}

// Consoles where the first visitor becomes admin must be behind basic auth
// by default (spec/modules.md).
func TestFirstVisitorConsolesAreProtected(t *testing.T) {
	t.Parallel()
	c := Default()
	want := map[string]string{ // module → subdomain
		"logto": "auth-admin", "uptime-kuma": "status", "nocodb": "admin", "langflow": "flow", "appsmith": "tools",
		"glitchtip": "errors", "langfuse": "observe", "n8n": "auto", "grafana-stack": "monitor",
	}
	for id, sub := range want {
		m, ok := c.Lookup(id)
		if !ok {
			t.Fatalf("module %s missing", id)
		}
		i := slices.IndexFunc(m.Routes, func(r Route) bool { return r.Subdomain == sub })
		if i < 0 || !m.Routes[i].AdminConsole {
			t.Errorf("%s route %q is not marked AdminConsole", id, sub)
		}
	}
}

func TestLayersAndProfiles(t *testing.T) {
	t.Parallel()
	tests := []struct {
		l    Layer
		want string
	}{{Essential, ""}, {Core, "core"}, {Ops, "ops"}, {Growth, "growth"}, {AI, "ai"}}
	for _, tt := range tests {
		if got := tt.l.Profile(); got != tt.want {
			t.Errorf("%s.Profile() = %q, want %q", tt.l, got, tt.want)
		}
		if l, err := ParseLayer(string(tt.l)); err != nil || l != tt.l {
			t.Errorf("ParseLayer(%q) = %q, %v", tt.l, l, err)
		}
	}
	if _, err := ParseLayer("extras"); err == nil {
		t.Error("ParseLayer(extras) succeeded")
	}
	if diff := cmp.Diff([]Layer{Essential, Core, Ops, Growth, AI}, Layers()); diff != "" {
		t.Error(diff)
	}
}

func TestDefaultSelectionAndLayers(t *testing.T) {
	t.Parallel()
	c := Default()
	want := c.InLayers(Essential, Core, Ops)
	if diff := cmp.Diff(want, c.DefaultSelection()); diff != "" {
		t.Errorf("DefaultSelection is not essential+core+ops (-want +got):\n%s", diff)
	}
	if got := c.InLayers(AI); !slices.Contains(got, "claude-agent") || slices.Contains(got, "n8n") {
		t.Errorf("InLayers(AI) = %v", got)
	}
}

// synthetic builds a small catalog: deps maps id → dependencies.
func synthetic(ids []string, deps map[string][]string) []Module {
	var mods []Module
	for _, id := range ids {
		mods = append(mods, Module{ID: id, Name: id, Layer: Core, Dependencies: deps[id]})
	}
	return mods
}

func TestNewRejectsBadCatalogs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		mods []Module
		want string
	}{
		{"cycle", synthetic([]string{"a", "b", "c"}, map[string][]string{"a": {"b"}, "b": {"c"}, "c": {"a"}}), "dependency cycle: a → b → c → a"},
		{"self cycle", synthetic([]string{"a"}, map[string][]string{"a": {"a"}}), "dependency cycle: a → a"},
		{"cycle after a chain", synthetic([]string{"x", "a", "b"}, map[string][]string{"x": {"a"}, "a": {"b"}, "b": {"a"}}), "dependency cycle: a → b → a"},
		{"duplicate", synthetic([]string{"a", "a"}, nil), `duplicate module id "a"`},
		{"unknown dep", synthetic([]string{"a"}, map[string][]string{"a": {"zz"}}), `module "a" depends on unknown module "zz"`},
		{"no id", []Module{{Layer: Core}}, "has no id"},
		{"bad layer", []Module{{ID: "a", Layer: "extras"}}, "unknown layer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := New(tt.mods)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("New() error = %v, want containing %q", err, tt.want)
			}
			if strings.Contains(tt.name, "cycle") && !errors.Is(err, ErrCycle) {
				t.Errorf("error %v is not ErrCycle", err)
			}
		})
	}
}

func TestResolve(t *testing.T) {
	t.Parallel()
	// Catalog order: e (essential), d, c, b, a; a → b → d, a → c.
	mods := synthetic([]string{"d", "c", "b", "a", "x"}, map[string][]string{"a": {"b", "c"}, "b": {"d"}})
	mods = append([]Module{{ID: "e", Layer: Essential}}, mods...)
	c, err := New(mods)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		ids       []string
		want      []string
		wantAdded []string
	}{
		{[]string{"a"}, []string{"e", "d", "c", "b", "a"}, []string{"e", "d", "c", "b"}},
		{[]string{"a", "b", "a"}, []string{"e", "d", "c", "b", "a"}, []string{"e", "d", "c"}},
		{[]string{"x", "b"}, []string{"e", "d", "b", "x"}, []string{"e", "d"}},
		{[]string{"e"}, []string{"e"}, nil},
		{nil, []string{"e"}, []string{"e"}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.ids, ","), func(t *testing.T) {
			t.Parallel()
			res, err := c.Resolve(tt.ids)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, res.IDs()); diff != "" {
				t.Errorf("order (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantAdded, res.Added); diff != "" {
				t.Errorf("added (-want +got):\n%s", diff)
			}
		})
	}
}

func TestResolveIsTopologicalAndOrderIndependent(t *testing.T) {
	t.Parallel()
	c := Default()
	all := c.InLayers(Layers()...)
	first, err := c.Resolve(all)
	if err != nil {
		t.Fatal(err)
	}
	reversed := slices.Clone(all)
	slices.Reverse(reversed)
	second, err := c.Resolve(reversed)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(first.IDs(), second.IDs()); diff != "" {
		t.Errorf("input order changed the result:\n%s", diff)
	}
	pos := map[string]int{}
	for i, id := range first.IDs() {
		pos[id] = i
	}
	for _, m := range first.Modules {
		for _, d := range m.Dependencies {
			if pos[d] > pos[m.ID] {
				t.Errorf("%s placed before its dependency %s", m.ID, d)
			}
		}
	}
	res, err := c.Resolve([]string{"langfuse"})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"postgres", "redis", "caddy", "rustfs"}, res.Added); diff != "" {
		t.Errorf("langfuse auto-added (-want +got):\n%s", diff)
	}
}

func TestResolveUnknownSuggests(t *testing.T) {
	t.Parallel()
	c := Default()
	tests := []struct{ in, suggestion string }{
		{"lagoo", "lago"},
		{"postgre", "postgres"},
		{"grafana", "grafana-stack"},
		{"n8m", "n8n"},
		{"Uptime-Kuma", "uptime-kuma"},
		{"kubernetes", ""},
		{"", ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			_, err := c.Resolve([]string{"logto", tt.in})
			var unk *UnknownModuleError
			if !errors.As(err, &unk) {
				t.Fatalf("error = %v, want *UnknownModuleError", err)
			}
			if unk.Name != tt.in || unk.Suggestion != tt.suggestion {
				t.Errorf("got {%q %q}, want {%q %q}", unk.Name, unk.Suggestion, tt.in, tt.suggestion)
			}
			if tt.suggestion != "" && !strings.Contains(err.Error(), fmt.Sprintf("did you mean %q", tt.suggestion)) {
				t.Errorf("message %q does not suggest %q", err, tt.suggestion)
			}
		})
	}
}

func TestDependents(t *testing.T) {
	t.Parallel()
	c := Default()
	sel := []string{"postgres", "redis", "caddy", "rustfs", "langfuse", "logto", "uptime-kuma"}
	tests := []struct {
		id   string
		want []string
	}{
		{"rustfs", []string{"langfuse"}},
		{"postgres", []string{"logto", "langfuse"}},
		{"uptime-kuma", nil},
		{"lago", nil}, // not selected, nothing selected needs it
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, c.Dependents(sel, tt.id)); diff != "" {
			t.Errorf("Dependents(%s) (-want +got):\n%s", tt.id, diff)
		}
	}
	// Transitive: a → b → c; removing c is blocked by a and b.
	syn, err := New(synthetic([]string{"c", "b", "a"}, map[string][]string{"a": {"b"}, "b": {"c"}}))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"b", "a"}, syn.Dependents([]string{"a", "b", "c"}, "c")); diff != "" {
		t.Errorf("transitive dependents (-want +got):\n%s", diff)
	}
}
