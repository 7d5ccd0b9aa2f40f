package generate

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/fast-saas/fast-saas/internal/catalog"
)

// Generated file names.
const (
	ComposeFile      = "docker-compose.yml"
	ComposeLocalFile = "docker-compose.local.yml"
	CaddyFile        = "Caddyfile"
	EnvFile          = ".env"
	EnvExampleFile   = ".env.example"
	DockerFile       = "Dockerfile"
)

// Project returns every generated file except .env (which the caller writes
// with mode 0600 from DotEnv, after merging existing secrets), sorted by the
// order below. It fails when the selection is not self-consistent: a missing
// dependency, a clash of service names, or a value that no .env key provides.
func Project(in Input) ([]File, error) {
	if err := ValidDomain(in.Domain); err != nil {
		return nil, fmt.Errorf("generate: %w", err)
	}
	if err := validEmail(in.Email); err != nil {
		return nil, fmt.Errorf("generate: %w", err)
	}
	for _, m := range in.Modules {
		for _, d := range m.Dependencies {
			if !hasModule(in.Modules, d) {
				return nil, fmt.Errorf("generate: module %q needs %q, which is not in the selection (resolve it first)", m.ID, d)
			}
		}
	}
	p, err := newPlan(in)
	if err != nil {
		return nil, fmt.Errorf("generate: %w", err)
	}
	compose, err := p.compose()
	if err != nil {
		return nil, fmt.Errorf("generate compose: %w", err)
	}
	const (
		rw  fs.FileMode = 0o644
		exe fs.FileMode = 0o755
	)
	files := []File{
		{Path: ComposeFile, Mode: rw, Data: compose},
		{Path: ComposeLocalFile, Mode: rw, Data: p.composeLocal()},
		{Path: CaddyFile, Mode: rw, Data: p.caddyfile()},
		{Path: EnvExampleFile, Mode: rw, Data: EnvExample(in.Modules)},
	}
	if hasModule(in.Modules, "postgres") {
		files = append(files, File{Path: InitScriptPath, Mode: exe, Data: initScript(in.Modules)})
	}
	if needsImageBuild(in.Modules) {
		files = append(files,
			File{Path: DockerFile, Mode: rw, Data: dockerfile()},
			File{Path: ".dockerignore", Mode: rw, Data: []byte(dockerignore)},
		)
	}
	if hasModule(in.Modules, "grafana-stack") {
		files = append(files,
			File{Path: "ops/prometheus/prometheus.yml", Mode: rw, Data: prometheusConfig(in.Modules)},
			File{Path: "ops/loki/loki.yml", Mode: rw, Data: []byte(lokiConfig)},
			File{Path: "ops/alloy/config.alloy", Mode: rw, Data: []byte(alloyConfig)},
			File{Path: "ops/grafana/provisioning/datasources/fast-saas.yml", Mode: rw, Data: []byte(grafanaDatasources)},
			File{Path: "ops/grafana/provisioning/dashboards/fast-saas.yml", Mode: rw, Data: []byte(grafanaDashboards)},
		)
	}
	if hasModule(in.Modules, "n8n") {
		files = append(files, File{Path: "ops/n8n/workflows/README.md", Mode: rw, Data: []byte(n8nWorkflowsReadme)})
	}
	return files, nil
}

// dnsName reports whether s is dot-separated DNS labels, each 1 to 63
// lowercase letters, digits and hyphens, not starting or ending with a
// hyphen: the regular expression
// ^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$
// written out, because its compiled form (both bounded repetitions unrolled)
// every command of the binary paid for at start-up.
func dnsName(s string) bool {
	for {
		label, rest, more := strings.Cut(s, ".")
		if len(label) == 0 || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			if c := label[i]; !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
				return false
			}
		}
		if !more {
			return true
		}
		s = rest
	}
}

// ValidDomain checks that domain is a lowercase DNS name. It ends up in the
// Caddyfile and in URLs, so anything else (spaces, braces, a scheme, a
// port) is refused rather than escaped.
func ValidDomain(domain string) error {
	switch {
	case domain == "":
		return errors.New("domain is empty")
	case len(domain) > 253:
		return fmt.Errorf("domain %.20q… is longer than 253 characters", domain)
	case !dnsName(domain):
		return fmt.Errorf("domain %q is not a lowercase DNS name like example.com (no scheme, port or path)", domain)
	}
	return nil
}

// validEmail accepts "" (no ACME account email) or an address without
// characters that could change the meaning of the Caddyfile or .env it is
// written to. The ACME server does the real validation.
func validEmail(email string) error {
	if email == "" {
		return nil
	}
	local, domain, ok := strings.Cut(email, "@")
	if !ok || local == "" || ValidDomain(domain) != nil || strings.ContainsAny(email, " \t\r\n{}'\"`$\\#") {
		return fmt.Errorf("email %q is not an address like ops@example.com", email)
	}
	return nil
}

// Resolve is a convenience for callers and tests: resolve ids in c and fill
// Input.Catalog and Input.Modules.
func Resolve(c *catalog.Catalog, ids []string, in Input) (Input, catalog.Resolution, error) {
	res, err := c.Resolve(ids)
	if err != nil {
		return in, res, err
	}
	in.Catalog = c
	in.Modules = res.Modules
	return in, res, nil
}
