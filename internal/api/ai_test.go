package api

import (
	"net/http"
	"testing"

	"github.com/fast-saas/fast-saas/internal/ai"
	"github.com/fast-saas/fast-saas/internal/ai/aifake"
)

// TestAIProxyPreservesUpstreamStatus runs the Ollama operations against
// the contract fake: successes pass through, upstream 4xx/5xx keep their
// meaning (never a 200).
func TestAIProxyPreservesUpstreamStatus(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "")
	fake := aifake.NewOllama(t)
	fake.AddModel("llama3.2:1b", 1<<20)
	clients, err := ai.NewClients(ai.Endpoints{OllamaURL: fake.URL}, ai.Options{})
	if err != nil {
		t.Fatal(err)
	}
	w.svc.AI = clients
	key := w.tokens["key"]

	code, body := do(t, w.h, http.MethodGet, "/api/v1/ai/ollama/models", key, "")
	items, _ := body["items"].([]any)
	if code != http.StatusOK || len(items) != 1 {
		t.Fatalf("list models: %d %v, want 200 with one model", code, body)
	}
	code, body = do(t, w.h, http.MethodDelete, "/api/v1/ai/ollama/models/no-such-model", key, "")
	if code != http.StatusNotFound || body["code"] != "upstream_error" {
		t.Errorf("delete unknown model: %d %v, want the upstream's 404 as upstream_error", code, body)
	}
	fake.FailNext("GET /api/tags", aifake.Fault{Status: http.StatusInternalServerError, Body: `{"error":"boom"}`})
	code, body = do(t, w.h, http.MethodGet, "/api/v1/ai/ollama/models", key, "")
	if code != http.StatusBadGateway || body["code"] != "upstream_error" {
		t.Errorf("upstream 500: %d %v, want 502 upstream_error", code, body)
	}
	code, body = do(t, w.h, http.MethodGet, "/api/v1/ai/langflow/flows", key, "")
	if code != http.StatusServiceUnavailable || body["code"] != "unavailable" {
		t.Errorf("unconfigured langflow: %d %v, want 503 unavailable", code, body)
	}
}
