package project

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/fast-saas/fast-saas/internal/catalog"
)

// ManifestFile is the name of the project manifest inside the project dir.
const ManifestFile = "fast-saas.yaml"

// maxManifestSize bounds what Load reads: a manifest is a few hundred bytes,
// anything near this size is not one.
const maxManifestSize = 1 << 20

// Manifest is fast-saas.yaml: everything needed to regenerate the project's
// files reproducibly. Secrets are not in it; they live in .env.
type Manifest struct {
	// CatalogVersion is the catalog the files were generated with.
	CatalogVersion string `yaml:"catalog_version"`
	// Domain is the public base domain; routes are <subdomain>.<domain>.
	// "localhost" or a *.localhost name gives a local stack with Caddy's
	// internal CA.
	Domain string `yaml:"domain"`
	// Email is the ACME account email (Let's Encrypt notices).
	Email string `yaml:"email,omitempty"`
	// Modules are the module ids as the user chose them. Dependencies are
	// added at resolution time and are not listed unless chosen.
	Modules []string `yaml:"modules"`
	// Layers are the layers of the resolved selection, i.e. the Compose
	// profiles in use. Rewritten on every save; informational on load.
	Layers []string `yaml:"layers,omitempty"`
	// Options tune generation.
	Options Options `yaml:"options,omitempty"`
}

// Options are the generation switches recorded in the manifest.
type Options struct {
	// Local also writes docker-compose.local.yml, publishing service ports
	// on 127.0.0.1 for development.
	Local bool `yaml:"local,omitempty"`
	// GPU reserves NVIDIA GPUs for the modules that can use them (ollama).
	GPU bool `yaml:"gpu,omitempty"`
	// NoBasicAuth lists module ids whose admin consoles are NOT put behind
	// Caddy basic auth (the operator finished their first-visitor setup).
	NoBasicAuth []string `yaml:"no_basic_auth,omitempty"`
}

// ErrNoProject is returned by Open when the directory has no manifest.
var ErrNoProject = errors.New("not a fast-saas project")

// ParseManifest decodes and validates a manifest strictly: unknown fields,
// unknown modules and layers, and malformed domains are errors naming the
// offending field or value.
func ParseManifest(data []byte, cat *catalog.Catalog) (Manifest, error) {
	var m Manifest
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&m); err != nil {
		if errors.Is(err, io.EOF) {
			return Manifest{}, fmt.Errorf("%s is empty", ManifestFile)
		}
		return Manifest{}, fmt.Errorf("%s: %v", ManifestFile, yamlMessage(err))
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return Manifest{}, fmt.Errorf("%s: more than one YAML document", ManifestFile)
	}
	if err := m.Validate(cat); err != nil {
		return Manifest{}, fmt.Errorf("%s: %w", ManifestFile, err)
	}
	return m, nil
}

// yamlMessage flattens yaml's errors into one line: type errors come one
// per line and quote the offending value, which may itself contain line
// breaks (found by FuzzParseManifest).
func yamlMessage(err error) string {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	var te *yaml.TypeError
	if errors.As(err, &te) {
		msg = strings.Join(te.Errors, "; ")
	}
	return strings.NewReplacer("\r\n", `\n`, "\n", `\n`, "\r", `\r`).Replace(msg)
}

// Validate checks the manifest against cat.
func (m Manifest) Validate(cat *catalog.Catalog) error {
	if m.CatalogVersion == "" {
		return errors.New("field catalog_version is missing")
	}
	if err := ValidateDomain(m.Domain); err != nil {
		return fmt.Errorf("field domain: %w", err)
	}
	if m.Email != "" {
		if err := ValidateEmail(m.Email); err != nil {
			return fmt.Errorf("field email: %w", err)
		}
	}
	if len(m.Modules) == 0 {
		return errors.New("field modules is empty: select at least one module")
	}
	if err := checkModuleIDs(cat, "modules", m.Modules); err != nil {
		return err
	}
	for _, l := range m.Layers {
		if !catalog.Layer(l).Valid() {
			return fmt.Errorf("field layers: unknown layer %q (layers: %s)", l, layerNames())
		}
	}
	return checkModuleIDs(cat, "options.no_basic_auth", m.Options.NoBasicAuth)
}

func checkModuleIDs(cat *catalog.Catalog, field string, ids []string) error {
	seen := make(map[string]bool, len(ids))
	for _, id := range ids {
		if _, ok := cat.Lookup(id); !ok {
			return fmt.Errorf("field %s: %w", field, &catalog.UnknownModuleError{Name: id, Suggestion: cat.Closest(id)})
		}
		if seen[id] {
			return fmt.Errorf("field %s: module %q listed twice", field, id)
		}
		seen[id] = true
	}
	return nil
}

func layerNames() string {
	var names []string
	for _, l := range catalog.Layers() {
		names = append(names, string(l))
	}
	return strings.Join(names, ", ")
}

// ValidateDomain accepts a DNS name of lowercase labels (letters, digits,
// hyphens), such as example.com or localhost.
func ValidateDomain(d string) error {
	if d == "" {
		return errors.New("domain is empty")
	}
	if len(d) > 253-16 { // leave room for the longest subdomain label
		return fmt.Errorf("domain %q is too long", d)
	}
	for _, label := range strings.Split(d, ".") {
		if label == "" || len(label) > 63 {
			return fmt.Errorf("domain %q has an empty or over-long label", d)
		}
		if label[0] == '-' || label[len(label)-1] == '-' {
			return fmt.Errorf("domain %q: a label may not start or end with '-'", d)
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return fmt.Errorf("domain %q: only lowercase letters, digits, '-' and '.' are allowed", d)
			}
		}
	}
	return nil
}

// ValidateEmail does the small check that catches typos (one '@', a dotted
// or local domain, no blanks); the ACME server does the real one.
func ValidateEmail(e string) error {
	local, domain, ok := strings.Cut(e, "@")
	if !ok || local == "" || domain == "" || strings.ContainsAny(e, " \t\r\n'\"") || strings.Contains(domain, "@") {
		return fmt.Errorf("%q is not an email address", e)
	}
	return nil
}

// IsLocalDomain reports whether d is served with Caddy's internal CA and
// has no public DNS: localhost and *.localhost.
func IsLocalDomain(d string) bool {
	return d == "localhost" || strings.HasSuffix(d, ".localhost")
}

// LoadManifest reads and validates dir/fast-saas.yaml.
func LoadManifest(dir string, cat *catalog.Catalog) (Manifest, error) {
	path := filepath.Join(dir, ManifestFile)
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return Manifest{}, fmt.Errorf("%w: %s not found in %s (run `fast-saas init` or pass --dir)", ErrNoProject, ManifestFile, dir)
		}
		return Manifest{}, fmt.Errorf("read manifest: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxManifestSize+1))
	if err != nil {
		return Manifest{}, fmt.Errorf("read manifest: %w", err)
	}
	if len(data) > maxManifestSize {
		return Manifest{}, fmt.Errorf("%s is larger than %d bytes", path, maxManifestSize)
	}
	return ParseManifest(data, cat)
}

// Marshal renders the manifest with a header explaining it.
func (m Manifest) Marshal() ([]byte, error) {
	var b bytes.Buffer
	b.WriteString("# fast-saas project manifest. Edit with `fast-saas add/remove`, or by hand\n")
	b.WriteString("# and then run `fast-saas env --regen`. Secrets live in .env, not here.\n")
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(m); err != nil {
		return nil, fmt.Errorf("encode manifest: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("encode manifest: %w", err)
	}
	return b.Bytes(), nil
}

// layersOf returns the layers of mods in catalog order.
func layersOf(mods []catalog.Module) []string {
	var out []string
	for _, l := range catalog.Layers() {
		if slices.ContainsFunc(mods, func(m catalog.Module) bool { return m.Layer == l }) {
			out = append(out, string(l))
		}
	}
	return out
}

// SplitModuleList splits a comma- or blank-separated list of module ids as
// typed on the command line ("logto, lago n8n"), dropping empty items.
func SplitModuleList(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' })
}

// Compose file names, relative to the project directory.
const (
	ComposeFile      = "docker-compose.yml"
	ComposeLocalFile = "docker-compose.local.yml"
)

// ComposeFiles returns the compose files to pass with -f, in order.
func (p *Project) ComposeFiles() []string {
	if p.Manifest.Options.Local {
		return []string{ComposeFile, ComposeLocalFile}
	}
	return []string{ComposeFile}
}
