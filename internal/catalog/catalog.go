// Package catalog is the typed list of modules fast-saas can scaffold: the
// open-source services of the stack and our own, each with its containers,
// routes, secrets, settings and database needs, plus dependency resolution.
//
// The catalog is one explicit ordered slice (see modules.go). Everything that
// describes a module — compose services, Caddy sites, .env keys, docs — is
// generated from it, so a module is described in exactly one place.
package catalog

import (
	"fmt"
	"slices"
)

// Version of the catalog, recorded in a project's fast-saas.yaml so that a
// project can be regenerated with the definitions it was created with.
const Version = "2026.11.1"

// Layer groups modules; every layer but essential is a Compose profile.
type Layer string

// The five layers, in order.
const (
	Essential Layer = "essential"
	Core      Layer = "core"
	Ops       Layer = "ops"
	Growth    Layer = "growth"
	AI        Layer = "ai"
)

// Layers returns every layer in order.
func Layers() []Layer { return []Layer{Essential, Core, Ops, Growth, AI} }

// Profile is the Compose profile of the layer: "" for essential (always on),
// the layer name otherwise.
func (l Layer) Profile() string {
	if l == Essential {
		return ""
	}
	return string(l)
}

// Valid reports whether l is one of Layers().
func (l Layer) Valid() bool { return slices.Contains(Layers(), l) }

// ParseLayer turns a name into a Layer, rejecting unknown names.
func ParseLayer(s string) (Layer, error) {
	l := Layer(s)
	if !l.Valid() {
		return "", fmt.Errorf("unknown layer %q (layers: essential, core, ops, growth, ai)", s)
	}
	return l, nil
}

// Module is one selectable unit of the stack.
type Module struct {
	ID           string
	Name         string
	Description  string
	Layer        Layer
	Default      bool     // part of the default selection
	Dependencies []string // module ids that must be selected too
	Containers   []Container
	Routes       []Route
	Secrets      []Secret  // .env keys we generate
	Settings     []Setting // .env keys with defaults or user-provided values
	Database     *Database // own database + role on the shared Postgres
	Metrics      []Scrape  // Prometheus scrape targets
	MemoryMB     int       // RAM estimate for `doctor`
	Note         string    // post-setup note for the docs
	// External is set for modules that are connected, not run: no containers
	// are generated and Note explains how to install the upstream.
	External bool
}

// Route is a public HTTPS site: <Subdomain>.<domain> → Service:Port.
type Route struct {
	Subdomain string
	Service   string // compose service name
	Port      int
	// AdminConsole marks a console where the first visitor becomes admin.
	// Caddy puts basic auth in front of it unless turned off per module.
	AdminConsole bool
	HealthPath   string // HTTP path that answers 2xx when healthy ("" = none)
}

// Scrape is a Prometheus target inside the compose network.
type Scrape struct {
	Job, Service string
	Port         int
	Path         string // "" = /metrics
}

// Setting is a non-secret .env key.
type Setting struct {
	Key, Default, Description string
	// Required settings have no usable default: the user must supply a value.
	Required bool
}

// Database asks for an own database and role on the shared Postgres.
type Database struct {
	Name        string // database name
	Role        string // login role, owner of the database
	PasswordKey string // .env key of the role's password (a Secret of the module)
	// CreateRole grants CREATEROLE (Logto's seed creates its own roles).
	CreateRole bool
}

// Container is one compose service of a module.
type Container struct {
	Name       string   // compose service name, unique across the catalog
	Image      string   // pinned image reference (images.go)
	Build      bool     // built from the generated Dockerfile (our own image)
	Entrypoint []string // nil = image default
	Command    []string // nil = image default
	User       string
	Env        []EnvVar
	Ports      []int // ports the container listens on inside the network
	Volumes    []Mount
	Health     *Health
	DependsOn  []Dependency
	// OneShot containers run to completion (migrations, seeds, init jobs):
	// restart "no", dependants wait for service_completed_successfully.
	OneShot    bool
	HostPorts  []HostPort // published host ports (only caddy and the mail server)
	Privileged bool
	PIDHost    bool
	Devices    []string
	Edge       bool // also joins the edge network (caddy)
	// GPU reserves NVIDIA GPUs when the generator is asked to (ollama).
	GPU bool
}

// EnvVar is one environment entry. Value may reference .env keys as ${KEY}.
type EnvVar struct {
	Name, Value string
	// If names a module id: the variable is set only when that module is
	// selected (references between modules, e.g. saas-api → lago).
	If string
}

// Mount is a volume or bind mount. Source is a named volume unless it starts
// with "./" or "/" (bind mount of a generated file or host path).
type Mount struct {
	Source, Target string
	ReadOnly       bool
}

// IsBind reports whether the mount is a bind mount rather than a named volume.
func (m Mount) IsBind() bool {
	return len(m.Source) > 0 && (m.Source[0] == '.' || m.Source[0] == '/')
}

// Health is a compose health check.
type Health struct {
	Test        []string // "CMD", … or "CMD-SHELL", "…"
	StartPeriod string   // e.g. "60s"; "" = generator default
}

// Condition is a compose depends_on condition.
type Condition string

// The depends_on conditions we use.
const (
	Healthy   Condition = "service_healthy"
	Completed Condition = "service_completed_successfully"
	Started   Condition = "service_started"
)

// Dependency is one depends_on entry.
type Dependency struct {
	Service   string
	Condition Condition
}

// HostPort publishes a container port on the host.
type HostPort struct {
	Host, Container int
	Protocol        string // "" = tcp, or "udp"
}
