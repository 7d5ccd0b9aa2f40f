package catalog

// Default returns the real catalog. The list is explicit and ordered: the
// order is the order of docs, .env sections and compose services.
func Default() *Catalog {
	c, err := New(modules())
	if err != nil {
		// The list is static and covered by tests; a failure is a programming error.
		panic("catalog: invalid built-in catalog: " + err.Error())
	}
	return c
}

func modules() []Module {
	return []Module{
		{ID: "postgres", Name: "PostgreSQL", Layer: Essential, Default: true},
		{ID: "redis", Name: "Redis", Layer: Essential, Default: true},
		{ID: "caddy", Name: "Caddy", Layer: Essential, Default: true},
		{ID: "logto", Name: "Logto", Layer: Core, Default: true, Dependencies: []string{"postgres"}},
		{ID: "lago", Name: "Lago", Layer: Core, Default: true, Dependencies: []string{"postgres", "redis"}},
		{ID: "rustfs", Name: "RustFS", Layer: Core, Default: true},
		{ID: "saas-api", Name: "fast-saas API", Layer: Core, Default: true, Dependencies: []string{"postgres", "redis"}},
		{ID: "glitchtip", Name: "GlitchTip", Layer: Ops, Default: true, Dependencies: []string{"postgres", "redis"}},
		{ID: "uptime-kuma", Name: "Uptime Kuma", Layer: Ops, Default: true},
		{ID: "grafana-stack", Name: "Grafana, Prometheus, Loki", Layer: Ops, Default: true},
		{ID: "matomo", Name: "Matomo", Layer: Growth},
		{ID: "posthog", Name: "PostHog", Layer: Growth},
		{ID: "mautic", Name: "Mautic", Layer: Growth},
		{ID: "stalwart", Name: "Stalwart", Layer: Growth},
		{ID: "nocodb", Name: "NocoDB", Layer: Growth, Dependencies: []string{"postgres"}},
		{ID: "n8n", Name: "n8n", Layer: Growth, Dependencies: []string{"postgres"}},
		{ID: "appsmith", Name: "Appsmith", Layer: Growth},
		{ID: "docmost", Name: "Docmost", Layer: Growth, Dependencies: []string{"postgres", "redis"}},
		{ID: "librechat", Name: "LibreChat", Layer: AI},
		{ID: "langflow", Name: "Langflow", Layer: AI, Dependencies: []string{"postgres"}},
		{ID: "ollama", Name: "Ollama", Layer: AI},
		{ID: "claude-agent", Name: "Claude agent", Layer: AI},
		{ID: "langfuse", Name: "Langfuse", Layer: AI, Dependencies: []string{"postgres", "redis", "rustfs"}},
	}
}
