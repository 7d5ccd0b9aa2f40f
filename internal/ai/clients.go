package ai

import (
	"context"
	"fmt"
)

// Endpoints are the AI upstreams' settings as configuration holds them
// (FASTSAAS_OLLAMA_URL, FASTSAAS_LANGFLOW_URL, FASTSAAS_LANGFLOW_API_KEY,
// FASTSAAS_LANGFUSE_URL, FASTSAAS_AGENT_URL, FASTSAAS_AGENT_KEY). An empty
// URL means the upstream is not configured.
type Endpoints struct {
	OllamaURL      string
	LangflowURL    string
	LangflowAPIKey string
	LangfuseURL    string
	AgentURL       string
	AgentKey       string
}

// Clients holds one client per upstream; an unconfigured upstream's client
// is nil, and calling it returns ErrNotConfigured (the API answers 503).
type Clients struct {
	Ollama   *Ollama
	Langflow *Langflow
	Langfuse *Langfuse
	Agent    *Agent
}

// NewClients builds the clients of every configured upstream with opts
// (Options.APIKey is ignored: each upstream gets its own key from e).
func NewClients(e Endpoints, opts Options) (*Clients, error) {
	opts.APIKey = ""
	c := &Clients{}
	var err error
	if e.OllamaURL != "" {
		if c.Ollama, err = NewOllama(e.OllamaURL, opts); err != nil {
			return nil, fmt.Errorf("ai clients: %w", err)
		}
	}
	if e.LangflowURL != "" {
		lo := opts
		lo.APIKey = e.LangflowAPIKey
		if c.Langflow, err = NewLangflow(e.LangflowURL, lo); err != nil {
			return nil, fmt.Errorf("ai clients: %w", err)
		}
	}
	if e.LangfuseURL != "" {
		if c.Langfuse, err = NewLangfuse(e.LangfuseURL, opts); err != nil {
			return nil, fmt.Errorf("ai clients: %w", err)
		}
	}
	if e.AgentURL != "" {
		ao := opts
		ao.APIKey = e.AgentKey
		if c.Agent, err = NewAgent(e.AgentURL, ao); err != nil {
			return nil, fmt.Errorf("ai clients: %w", err)
		}
	}
	return c, nil
}

// Health checks all four upstreams (unconfigured ones report
// "not_configured") in the order Ollama, Langflow, Langfuse, agent.
func (c *Clients) Health(ctx context.Context, checker HealthChecker) []HealthResult {
	return checker.Check(ctx, c.Ollama, c.Langflow, c.Langfuse, c.Agent)
}
