package core

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/fast-saas/fast-saas/internal/store"
)

// AIClients proxies a call to one AI upstream ("ollama", "langflow",
// "agent", "langfuse") and returns its status and JSON body unchanged, so
// an upstream 4xx/5xx is never reported as success. The composition root
// implements it over internal/ai; nil means no AI upstream is configured.
type AIClients interface {
	Call(ctx context.Context, upstream, op string, params map[string]string, body json.RawMessage) (status int, resp json.RawMessage, err error)
}

// AIResult is an upstream's answer, passed through.
type AIResult struct {
	Body json.RawMessage
}

type aiBodyInput struct {
	Body json.RawMessage `required:"false"`
}

type aiNameInput struct {
	Name string `path:"name" maxLength:"200"`
}

type aiIDInput struct {
	ID string `path:"id" maxLength:"200"`
}

type aiIDBodyInput struct {
	ID   string          `path:"id" maxLength:"200"`
	Body json.RawMessage `required:"false"`
}

// mayUseAI: platform, a key with scope ai, or a user who is at least a
// member of some active tenant (the role that may "use AI proxies").
func (s *Service) mayUseAI(ctx context.Context, c *Call) error {
	switch c.Caller.Kind {
	case PlatformCaller:
		return nil
	case TenantKeyCaller:
		if c.Caller.HasScope(ScopeAI) {
			return nil
		}
		return &Error{Status: http.StatusForbidden, Code: CodeInsufficientScope, Detail: "API key lacks scope ai"}
	case UserCaller:
		ms, err := s.Store.MembershipsOfUser(ctx, c.Caller.UserID)
		if err != nil {
			return storeErr(err, "memberships")
		}
		for _, m := range ms {
			if m.Role.Rank() >= store.RoleMember.Rank() {
				return nil
			}
		}
		return Forbidden("AI proxies need the member role in a tenant")
	}
	return Unauthenticated()
}

func (s *Service) proxy(ctx context.Context, c *Call, upstream, op string, params map[string]string, body json.RawMessage) (*AIResult, error) {
	if err := s.mayUseAI(ctx, c); err != nil {
		return nil, err
	}
	if s.AI == nil {
		return nil, Unavailable(upstream+" is not configured", nil)
	}
	status, resp, err := s.AI.Call(ctx, upstream, op, params, body)
	if err != nil {
		return nil, &Error{Status: http.StatusBadGateway, Code: CodeUpstream, Detail: upstream + " is unreachable", cause: err}
	}
	if status >= 400 {
		return nil, &Error{Status: status, Code: CodeUpstream, Detail: upstream + " answered " + http.StatusText(status)}
	}
	return &AIResult{Body: resp}, nil
}

func (s *Service) aiOps() []Operation {
	const g = "ai"
	type op struct {
		id, method, path, summary, upstream string
	}
	noInput := func(o op) Operation {
		return newOp(s, Operation{ID: o.id, Method: o.method, Path: o.path, Summary: o.summary, Group: g, Access: authenticated},
			func(ctx context.Context, c *Call, in *struct{}) (*AIResult, error) {
				return s.proxy(ctx, c, o.upstream, o.id, nil, nil)
			})
	}
	withBody := func(o op, status int) Operation {
		return newOp(s, Operation{ID: o.id, Method: o.method, Path: o.path, Summary: o.summary, Group: g, Access: authenticated, Status: status},
			func(ctx context.Context, c *Call, in *aiBodyInput) (*AIResult, error) {
				return s.proxy(ctx, c, o.upstream, o.id, nil, in.Body)
			})
	}
	withID := func(o op) Operation {
		return newOp(s, Operation{ID: o.id, Method: o.method, Path: o.path, Summary: o.summary, Group: g, Access: authenticated},
			func(ctx context.Context, c *Call, in *aiIDInput) (*AIResult, error) {
				return s.proxy(ctx, c, o.upstream, o.id, map[string]string{"id": in.ID}, nil)
			})
	}
	return []Operation{
		noInput(op{"listOllamaModels", http.MethodGet, "/api/v1/ai/ollama/models", "List Ollama models", "ollama"}),
		withBody(op{"pullOllamaModel", http.MethodPost, "/api/v1/ai/ollama/pull", "Pull an Ollama model (async)", "ollama"}, http.StatusAccepted),
		withBody(op{"ollamaGenerate", http.MethodPost, "/api/v1/ai/ollama/generate", "Generate a completion with Ollama", "ollama"}, 0),
		withBody(op{"ollamaChat", http.MethodPost, "/api/v1/ai/ollama/chat", "Chat with an Ollama model", "ollama"}, 0),
		newOp(s, Operation{ID: "deleteOllamaModel", Method: http.MethodDelete, Path: "/api/v1/ai/ollama/models/{name}", Summary: "Delete an Ollama model", Group: g, Access: authenticated},
			func(ctx context.Context, c *Call, in *aiNameInput) (*AIResult, error) {
				return s.proxy(ctx, c, "ollama", "deleteOllamaModel", map[string]string{"name": in.Name}, nil)
			}),
		noInput(op{"listLangflowFlows", http.MethodGet, "/api/v1/ai/langflow/flows", "List Langflow flows", "langflow"}),
		withID(op{"getLangflowFlow", http.MethodGet, "/api/v1/ai/langflow/flows/{id}", "Get a Langflow flow", "langflow"}),
		newOp(s, Operation{ID: "runLangflowFlow", Method: http.MethodPost, Path: "/api/v1/ai/langflow/flows/{id}/run", Summary: "Run a Langflow flow", Group: g, Access: authenticated},
			func(ctx context.Context, c *Call, in *aiIDBodyInput) (*AIResult, error) {
				return s.proxy(ctx, c, "langflow", "runLangflowFlow", map[string]string{"id": in.ID}, in.Body)
			}),
		noInput(op{"listLangflowComponents", http.MethodGet, "/api/v1/ai/langflow/components", "List Langflow components", "langflow"}),
		withBody(op{"runClaudeAgent", http.MethodPost, "/api/v1/ai/claude/run", "Start a Claude agent job", "agent"}, http.StatusAccepted),
		noInput(op{"listClaudeJobs", http.MethodGet, "/api/v1/ai/claude/jobs", "List Claude agent jobs", "agent"}),
		withID(op{"getClaudeJob", http.MethodGet, "/api/v1/ai/claude/jobs/{id}", "Get a Claude agent job", "agent"}),
		withID(op{"cancelClaudeJob", http.MethodDelete, "/api/v1/ai/claude/jobs/{id}", "Cancel a Claude agent job", "agent"}),
		noInput(op{"getAIHealth", http.MethodGet, "/api/v1/ai/health", "Health of each AI upstream", "system"}),
		noInput(op{"getLangfuseHealth", http.MethodGet, "/api/v1/ai/langfuse/health", "Langfuse health", "langfuse"}),
	}
}
