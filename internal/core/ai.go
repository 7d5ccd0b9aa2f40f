package core

import (
	"context"
	"errors"
	"net/http"

	"github.com/fast-saas/fast-saas/internal/ai"
	"github.com/fast-saas/fast-saas/internal/store"
)

// mayUseAI: platform, a key with scope ai, or a user who is at least a
// member of some tenant (the role that may "use AI proxies").
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
			if m.Role.AtLeast(store.RoleMember) {
				return nil
			}
		}
		return Forbidden("AI proxies need the member role in a tenant")
	}
	return Unauthenticated()
}

// aiErr maps an internal/ai error to the API's: upstream statuses are
// preserved (never reported as success), unconfigured upstreams are 503.
func aiErr(err error) error {
	if err == nil {
		return nil
	}
	status, ok := ai.HTTPStatus(err)
	if !ok {
		return err // our own fault: 500, cause logged
	}
	code := CodeUpstream
	switch {
	case errors.Is(err, ai.ErrNotConfigured):
		code = CodeUnavailable
	case errors.Is(err, ai.ErrInvalidArgument):
		code = CodeInvalid
	}
	detail := "AI upstream error"
	var ue *ai.UpstreamError
	if errors.As(err, &ue) {
		detail = ue.Service + ": " + ue.Op + ": upstream answered " + http.StatusText(ue.Status)
		if ue.Message != "" {
			detail += ": " + ue.Message
		}
	} else if errors.Is(err, ai.ErrNotConfigured) {
		detail = "this AI upstream is not configured"
	}
	return &Error{Status: status, Code: code, Detail: detail, cause: err}
}

// jobOwner scopes agent jobs: a tenant key's jobs belong to its tenant, a
// user's to the user; platform admins see every job.
func jobOwner(c *Call) string {
	switch c.Caller.Kind {
	case TenantKeyCaller:
		return "tenant:" + c.Caller.TenantID
	case UserCaller:
		return "user:" + c.Caller.UserID
	}
	return ""
}

type ollamaPullInput struct{ Body ai.PullRequest }
type ollamaGenerateInput struct{ Body ai.GenerateRequest }
type ollamaChatInput struct{ Body ai.ChatRequest }
type ollamaModelInput struct {
	Name string `path:"name" maxLength:"200" doc:"Model name, e.g. llama3.2:1b"`
}
type flowInput struct {
	ID string `path:"id" maxLength:"200" doc:"Flow id or endpoint name"`
}
type runFlowInput struct {
	ID   string `path:"id" maxLength:"200" doc:"Flow id or endpoint name"`
	Body ai.RunFlowRequest
}
type runAgentInput struct {
	Body struct {
		Prompt       string   `json:"prompt" minLength:"1" maxLength:"100000"`
		Workdir      string   `json:"workdir,omitempty" maxLength:"1000"`
		MaxTurns     int      `json:"max_turns,omitempty" minimum:"0" maximum:"1000"`
		AllowedTools []string `json:"allowed_tools,omitempty" maxItems:"100"`
	}
}
type listJobsInput struct {
	ListParams
	Status string `query:"status" maxLength:"32"`
}
type jobInput struct {
	ID string `path:"id" maxLength:"200" doc:"Job id"`
}

// aiOp builds an AI operation: authorized like every other, then gated by
// mayUseAI (the role/scope rule of the AI proxies).
func aiOp[I, O any](s *Service, meta Operation, h func(ctx context.Context, c *Call, in *I) (*O, error)) Operation {
	meta.Group, meta.Access = "ai", authenticated
	return newOp(s, meta, func(ctx context.Context, c *Call, in *I) (*O, error) {
		if err := s.mayUseAI(ctx, c); err != nil {
			return nil, err
		}
		out, err := h(ctx, c, in)
		return out, aiErr(err)
	})
}

func (s *Service) aiClients() *ai.Clients {
	if s.AI == nil {
		return &ai.Clients{} // every client nil: ErrNotConfigured → 503
	}
	return s.AI
}

func (s *Service) aiOps() []Operation {
	return []Operation{
		aiOp(s, Operation{ID: "listOllamaModels", Method: http.MethodGet, Path: "/api/v1/ai/ollama/models", Summary: "List Ollama models"},
			func(ctx context.Context, c *Call, in *struct{}) (*Body[List[ai.OllamaModel]], error) {
				ms, err := s.aiClients().Ollama.ListModels(ctx)
				if ms == nil {
					ms = []ai.OllamaModel{}
				}
				return &Body[List[ai.OllamaModel]]{Body: List[ai.OllamaModel]{Items: ms}}, err
			}),
		aiOp(s, Operation{ID: "pullOllamaModel", Method: http.MethodPost, Path: "/api/v1/ai/ollama/pull", Summary: "Pull an Ollama model (waits for the download)"},
			func(ctx context.Context, c *Call, in *ollamaPullInput) (*Body[ai.PullProgress], error) {
				p, err := s.aiClients().Ollama.Pull(ctx, in.Body)
				return &Body[ai.PullProgress]{Body: p}, err
			}),
		aiOp(s, Operation{ID: "ollamaGenerate", Method: http.MethodPost, Path: "/api/v1/ai/ollama/generate", Summary: "Generate a completion with Ollama"},
			func(ctx context.Context, c *Call, in *ollamaGenerateInput) (*Body[ai.GenerateResponse], error) {
				r, err := s.aiClients().Ollama.Generate(ctx, in.Body)
				return &Body[ai.GenerateResponse]{Body: r}, err
			}),
		aiOp(s, Operation{ID: "ollamaChat", Method: http.MethodPost, Path: "/api/v1/ai/ollama/chat", Summary: "Chat with an Ollama model"},
			func(ctx context.Context, c *Call, in *ollamaChatInput) (*Body[ai.ChatResponse], error) {
				r, err := s.aiClients().Ollama.Chat(ctx, in.Body)
				return &Body[ai.ChatResponse]{Body: r}, err
			}),
		aiOp(s, Operation{ID: "deleteOllamaModel", Method: http.MethodDelete, Path: "/api/v1/ai/ollama/models/{name}", Summary: "Delete an Ollama model", Status: http.StatusNoContent},
			func(ctx context.Context, c *Call, in *ollamaModelInput) (*Empty, error) {
				return &Empty{}, s.aiClients().Ollama.DeleteModel(ctx, in.Name)
			}),
		aiOp(s, Operation{ID: "listLangflowFlows", Method: http.MethodGet, Path: "/api/v1/ai/langflow/flows", Summary: "List Langflow flows"},
			func(ctx context.Context, c *Call, in *struct{}) (*Body[List[ai.Flow]], error) {
				fs, err := s.aiClients().Langflow.ListFlows(ctx, ai.ListFlowsOptions{HeaderFlows: true})
				if fs == nil {
					fs = []ai.Flow{}
				}
				return &Body[List[ai.Flow]]{Body: List[ai.Flow]{Items: fs}}, err
			}),
		aiOp(s, Operation{ID: "getLangflowFlow", Method: http.MethodGet, Path: "/api/v1/ai/langflow/flows/{id}", Summary: "Get a Langflow flow"},
			func(ctx context.Context, c *Call, in *flowInput) (*Body[ai.Flow], error) {
				f, err := s.aiClients().Langflow.GetFlow(ctx, in.ID)
				return &Body[ai.Flow]{Body: f}, err
			}),
		aiOp(s, Operation{ID: "runLangflowFlow", Method: http.MethodPost, Path: "/api/v1/ai/langflow/flows/{id}/run", Summary: "Run a Langflow flow"},
			func(ctx context.Context, c *Call, in *runFlowInput) (*Body[ai.RunFlowResponse], error) {
				r, err := s.aiClients().Langflow.RunFlow(ctx, in.ID, in.Body)
				return &Body[ai.RunFlowResponse]{Body: r}, err
			}),
		aiOp(s, Operation{ID: "listLangflowComponents", Method: http.MethodGet, Path: "/api/v1/ai/langflow/components", Summary: "List Langflow components"},
			func(ctx context.Context, c *Call, in *struct{}) (*Body[ai.ComponentCatalog], error) {
				cc, err := s.aiClients().Langflow.Components(ctx)
				return &Body[ai.ComponentCatalog]{Body: cc}, err
			}),
		aiOp(s, Operation{ID: "runClaudeAgent", Method: http.MethodPost, Path: "/api/v1/ai/claude/run", Summary: "Start a Claude agent job (async; poll the job)", Status: http.StatusAccepted},
			func(ctx context.Context, c *Call, in *runAgentInput) (*Body[ai.Job], error) {
				b := in.Body
				j, err := s.aiClients().Agent.CreateJob(ctx, ai.JobRequest{Prompt: b.Prompt, Workdir: b.Workdir, MaxTurns: b.MaxTurns, AllowedTools: b.AllowedTools, Owner: jobOwner(c)})
				return &Body[ai.Job]{Body: j}, err
			}),
		aiOp(s, Operation{ID: "listClaudeJobs", Method: http.MethodGet, Path: "/api/v1/ai/claude/jobs", Summary: "List Claude agent jobs, newest first"},
			func(ctx context.Context, c *Call, in *listJobsInput) (*Body[ai.JobPage], error) {
				p, err := s.aiClients().Agent.ListJobs(ctx, ai.ListJobsOptions{Limit: in.Limit, Cursor: in.Cursor, Status: in.Status, Owner: jobOwner(c)})
				if p.Items == nil {
					p.Items = []ai.Job{}
				}
				return &Body[ai.JobPage]{Body: p}, err
			}),
		aiOp(s, Operation{ID: "getClaudeJob", Method: http.MethodGet, Path: "/api/v1/ai/claude/jobs/{id}", Summary: "Get a Claude agent job"},
			func(ctx context.Context, c *Call, in *jobInput) (*Body[ai.Job], error) {
				j, err := s.aiClients().Agent.GetJob(ctx, in.ID, jobOwner(c))
				return &Body[ai.Job]{Body: j}, err
			}),
		aiOp(s, Operation{ID: "cancelClaudeJob", Method: http.MethodDelete, Path: "/api/v1/ai/claude/jobs/{id}", Summary: "Cancel a Claude agent job"},
			func(ctx context.Context, c *Call, in *jobInput) (*Body[ai.Job], error) {
				j, err := s.aiClients().Agent.CancelJob(ctx, in.ID, jobOwner(c))
				return &Body[ai.Job]{Body: j}, err
			}),
		aiOp(s, Operation{ID: "getAIHealth", Method: http.MethodGet, Path: "/api/v1/ai/health", Summary: "Health of each AI upstream (healthy / unhealthy / unreachable, with latency)"},
			func(ctx context.Context, c *Call, in *struct{}) (*Body[List[ai.HealthResult]], error) {
				return &Body[List[ai.HealthResult]]{Body: List[ai.HealthResult]{Items: s.aiClients().Health(ctx, ai.HealthChecker{})}}, nil
			}),
		aiOp(s, Operation{ID: "getLangfuseHealth", Method: http.MethodGet, Path: "/api/v1/ai/langfuse/health", Summary: "Langfuse health"},
			func(ctx context.Context, c *Call, in *struct{}) (*Body[ai.HealthResult], error) {
				r := ai.HealthChecker{}.Check(ctx, s.aiClients().Langfuse)
				return &Body[ai.HealthResult]{Body: r[0]}, nil
			}),
	}
}
