package generate

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/fast-saas/fast-saas/internal/catalog"
)

// ModulesDoc renders docs/modules.md from the catalog: one table of every
// module and a section per module with its routes and post-setup note. A
// test keeps the committed file in sync (one source of truth).
func ModulesDoc(c *catalog.Catalog) []byte {
	var b bytes.Buffer
	b.WriteString("# Modules\n\n")
	b.WriteString("<!-- Generated from internal/catalog by `go test ./internal/generate -run TestModulesDoc -update`. Do not edit. -->\n\n")
	fmt.Fprintf(&b, "Catalog version %s. Layer `essential` is always on; the other layers are Compose profiles. ", catalog.Version)
	b.WriteString("The default selection is essential + core + ops. Public routes are `https://<subdomain>.<your domain>`; ")
	b.WriteString("a 🔒 marks a console that is behind Caddy basic auth by default.\n\n")
	b.WriteString("| Module | Name | Layer | Default | Depends on | Public routes | Containers | RAM (MB) |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|\n")
	for _, m := range c.Modules() {
		def := ""
		if m.Default {
			def = "yes"
		}
		var routes, ctrs []string
		for _, r := range m.Routes {
			s := "`" + r.Subdomain + "`"
			if r.AdminConsole {
				s += " 🔒"
			}
			routes = append(routes, s)
		}
		var hostPorts []string
		for _, ctr := range m.Containers {
			ctrs = append(ctrs, ctr.Name)
			for _, hp := range ctr.HostPorts {
				p := fmt.Sprint(hp.Host)
				if hp.Protocol != "" {
					p += "/" + hp.Protocol
				}
				hostPorts = append(hostPorts, p)
			}
		}
		if len(hostPorts) > 0 {
			routes = append(routes, "host ports "+strings.Join(hostPorts, ", "))
		}
		switch {
		case m.External:
			routes = []string{"external"}
		case len(routes) == 0:
			routes = []string{"internal only"}
		}
		mem := "—"
		if m.MemoryMB > 0 {
			mem = fmt.Sprint(m.MemoryMB)
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s | %s | %s | %s |\n", m.ID, m.Name, m.Layer, def,
			orDash(strings.Join(m.Dependencies, ", ")), strings.Join(routes, ", "), orDash(strings.Join(ctrs, ", ")), mem)
	}
	b.WriteString("\n## Images\n\n| Container | Image |\n|---|---|\n")
	for _, m := range c.Modules() {
		for _, ctr := range m.Containers {
			fmt.Fprintf(&b, "| %s | `%s` |\n", ctr.Name, ctr.Image)
		}
	}
	b.WriteString("\n## After setup\n")
	for _, m := range c.Modules() {
		fmt.Fprintf(&b, "\n### %s (`%s`)\n\n%s.\n\n%s\n", m.Name, m.ID, m.Description, m.Note)
		if len(m.Secrets)+len(m.Settings) > 0 {
			var keys []string
			for _, s := range m.Secrets {
				if s.FirstBoot {
					keys = append(keys, "`"+s.Key+"` (optional, made on first boot)")
					continue
				}
				keys = append(keys, "`"+s.Key+"`")
			}
			for _, s := range m.Settings {
				keys = append(keys, "`"+s.Key+"`")
			}
			fmt.Fprintf(&b, "\n.env keys: %s.\n", strings.Join(keys, ", "))
		}
	}
	return b.Bytes()
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}
