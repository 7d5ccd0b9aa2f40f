// Package generate turns a resolved module selection into the files of a
// fast-saas project: docker-compose.yml, its --local override, the Caddyfile,
// .env and .env.example, the Postgres init script, ops placeholders and the
// Dockerfile of our own image. Generators are pure and deterministic: the
// same Input gives byte-identical output.
package generate

import (
	"io/fs"

	"github.com/fast-saas/fast-saas/internal/catalog"
)

// Input is everything the generators need.
type Input struct {
	Catalog *catalog.Catalog
	Modules []catalog.Module // resolved (catalog.Resolve), in order
	Domain  string           // e.g. example.com or localhost
	Email   string           // ACME account email
	// Env holds the value of every secret and setting key (.env contents).
	// Missing settings fall back to their defaults.
	Env map[string]string
	// Version is the fast-saas release our own image is built from
	// (FASTSAAS_VERSION default).
	Version string
	// NoBasicAuth lists module ids whose admin consoles are published without
	// Caddy basic auth (the operator turned it off after creating the admin).
	NoBasicAuth []string
	// GPU reserves NVIDIA GPUs for the containers that can use them (ollama).
	GPU bool
}

// File is one generated file, relative to the project directory.
type File struct {
	Path string
	Mode fs.FileMode
	Data []byte
}

// EnvKey is one .env key in output order.
type EnvKey struct {
	Key     string
	Secret  *catalog.Secret // nil for settings
	Default string
	Comment string
	Module  string // module id, "" for stack-wide keys
	// Required keys must be non-empty for the stack to start.
	Required bool
}
