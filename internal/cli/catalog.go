package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/fast-saas/fast-saas/internal/catalog"
)

// catalogEntry is the JSON shape of one module in `catalog --json`; field
// names are a public contract (scripts read them).
type catalogEntry struct {
	ID           string         `json:"id"`
	Name         string         `json:"name"`
	Description  string         `json:"description"`
	Layer        string         `json:"layer"`
	Profile      string         `json:"profile"`
	Default      bool           `json:"default"`
	Dependencies []string       `json:"dependencies"`
	Routes       []catalogRoute `json:"routes"`
	Containers   []string       `json:"containers"`
	MemoryMB     int            `json:"memory_mb"`
	External     bool           `json:"external,omitempty"`
	Note         string         `json:"note,omitempty"`
}

type catalogRoute struct {
	Subdomain    string `json:"subdomain"`
	Service      string `json:"service"`
	Port         int    `json:"port"`
	AdminConsole bool   `json:"admin_console"`
	HealthPath   string `json:"health_path,omitempty"`
}

func newCatalogCmd(io IO) *cobra.Command {
	var (
		asJSON bool
		layers string
	)
	cmd := &cobra.Command{
		Use:   "catalog",
		Short: "List the modules you can select, by layer",
		Long: `List every module of the catalog: its layer (= compose profile), whether it
is in the default selection, what it depends on and its public subdomains.

Layer essential is always on; core and ops form the default selection with it.`,
		Example: `  fast-saas catalog
  fast-saas catalog --layer ai
  fast-saas catalog --json | jq -r '.[].id'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			want, err := parseLayers(layers)
			if err != nil {
				return err
			}
			var mods []catalog.Module
			for _, m := range catalog.Default().Modules() {
				if len(want) == 0 || containsLayer(want, m.Layer) {
					mods = append(mods, m)
				}
			}
			if asJSON {
				return writeCatalogJSON(io.Out, mods)
			}
			return writeCatalogTable(io.Out, mods)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print a JSON array of modules")
	cmd.Flags().StringVar(&layers, "layer", "", "only these layers (comma-separated): essential, core, ops, growth, ai")
	return cmd
}

func writeCatalogJSON(w io.Writer, mods []catalog.Module) error {
	entries := make([]catalogEntry, 0, len(mods))
	for _, m := range mods {
		e := catalogEntry{
			ID: m.ID, Name: m.Name, Description: m.Description,
			Layer: string(m.Layer), Profile: m.Layer.Profile(), Default: m.Default,
			Dependencies: nonNil(m.Dependencies), Routes: []catalogRoute{}, Containers: []string{},
			MemoryMB: m.MemoryMB, External: m.External, Note: m.Note,
		}
		for _, r := range m.Routes {
			e.Routes = append(e.Routes, catalogRoute{r.Subdomain, r.Service, r.Port, r.AdminConsole, r.HealthPath})
		}
		for _, c := range m.Containers {
			e.Containers = append(e.Containers, c.Name)
		}
		entries = append(entries, e)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(entries)
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func writeCatalogTable(w io.Writer, mods []catalog.Module) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "LAYER\tMODULE\tDEFAULT\tDEPENDS ON\tSUBDOMAINS\tDESCRIPTION")
	for _, m := range mods {
		def := ""
		if m.Default {
			def = "yes"
		}
		var subs []string
		for _, r := range m.Routes {
			subs = append(subs, r.Subdomain)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", m.Layer, m.ID, def, dash(strings.Join(m.Dependencies, ",")), dash(strings.Join(subs, ",")), m.Description)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "\n%d modules. Add one to a project with: fast-saas add <module>\n", len(mods))
	return err
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
