package mcpserver

import (
	"context"
	"encoding/json"

	"github.com/fast-saas/fast-saas/internal/catalog"
)

// catalogModule is one module of the catalog resource.
type catalogModule struct {
	ID           string   `json:"id"`
	Name         string   `json:"name"`
	Description  string   `json:"description"`
	Layer        string   `json:"layer"`
	Default      bool     `json:"default"`
	Dependencies []string `json:"dependencies"`
	Subdomains   []string `json:"subdomains"`
	MemoryMB     int      `json:"memory_mb"`
	External     bool     `json:"external,omitempty"`
	Note         string   `json:"note,omitempty"`
}

// CatalogResource offers the module catalog (the services a fast-saas
// stack can run, by layer, with their dependencies).
func CatalogResource() Resource {
	return Resource{URI: "fast-saas://catalog/modules", Name: "module-catalog", Title: "Module catalog",
		Description: "Every module a fast-saas stack can run: layer, default selection, dependencies, subdomains.",
		MIMEType:    "application/json",
		Read: func(context.Context) ([]byte, error) {
			mods := catalog.Default().Modules()
			out := make([]catalogModule, 0, len(mods))
			for _, m := range mods {
				cm := catalogModule{ID: m.ID, Name: m.Name, Description: m.Description, Layer: string(m.Layer), Default: m.Default,
					Dependencies: append([]string{}, m.Dependencies...), Subdomains: []string{}, MemoryMB: m.MemoryMB, External: m.External, Note: m.Note}
				for _, r := range m.Routes {
					cm.Subdomains = append(cm.Subdomains, r.Subdomain)
				}
				out = append(out, cm)
			}
			return json.Marshal(out)
		}}
}

// OpenAPIResource offers the API's OpenAPI 3.1 document, read by fetch.
func OpenAPIResource(fetch func(ctx context.Context) ([]byte, error)) Resource {
	return Resource{URI: "fast-saas://openapi.json", Name: "openapi", Title: "OpenAPI document",
		Description: "The REST API's OpenAPI 3.1 document (the same operations as the tools).",
		MIMEType:    "application/json", Read: fetch}
}
