package ai_test

import (
	"context"
	"errors"
	"testing"

	"github.com/fast-saas/fast-saas/internal/ai"
	"github.com/fast-saas/fast-saas/internal/ai/aifake"
)

func TestNewClients(t *testing.T) {
	t.Parallel()
	lf := aifake.NewLangflow(t, testLangflowKey)
	ag := aifake.NewAgent(t, testAgentKey)

	c, err := ai.NewClients(ai.Endpoints{
		LangflowURL: lf.URL, LangflowAPIKey: testLangflowKey,
		AgentURL: ag.URL, AgentKey: testAgentKey,
	}, ai.Options{APIKey: "must-not-leak-to-any-upstream"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Ollama != nil || c.Langfuse != nil || c.Langflow == nil || c.Agent == nil {
		t.Fatalf("clients = %+v, want only Langflow and the agent", c)
	}
	got := c.Health(context.Background(), ai.HealthChecker{})
	statuses := map[string]string{}
	for _, r := range got {
		statuses[r.Service] = r.Status
	}
	want := map[string]string{"ollama": "not_configured", "langflow": "healthy", "langfuse": "not_configured", "agent": "healthy"}
	for k, v := range want {
		if statuses[k] != v {
			t.Errorf("%s = %q, want %q (all: %+v)", k, statuses[k], v, got)
		}
	}
	// Each upstream got its own key.
	if _, err := c.Langflow.ListFlows(context.Background(), ai.ListFlowsOptions{}); err != nil {
		t.Fatalf("langflow with its key: %v", err)
	}
	if _, err := c.Agent.ListJobs(context.Background(), ai.ListJobsOptions{}); err != nil {
		t.Fatalf("agent with its key: %v", err)
	}
	if _, err := c.Ollama.ListModels(context.Background()); !errors.Is(err, ai.ErrNotConfigured) {
		t.Fatalf("ollama: err = %v, want ErrNotConfigured", err)
	}

	for name, e := range map[string]ai.Endpoints{
		"bad url":        {OllamaURL: "ftp://x"},
		"agent sans key": {AgentURL: ag.URL},
	} {
		if _, err := ai.NewClients(e, ai.Options{}); err == nil {
			t.Errorf("%s: want an error", name)
		}
	}
}
