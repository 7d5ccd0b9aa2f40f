package ai

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
)

// Langflow is a client for the Langflow API (https://docs.langflow.org/api-reference-api-examples):
// GET /api/v1/flows/, GET /api/v1/flows/{id}, POST /api/v1/run/{flow_id},
// GET /api/v1/all, GET /health_check. It authenticates with the x-api-key header
// (Options.APIKey).
type Langflow struct {
	b *base
}

// NewLangflow returns a client for the Langflow server at baseURL
// (e.g. http://langflow:7860), which must come from configuration.
func NewLangflow(baseURL string, opts Options) (*Langflow, error) {
	b, err := newBase("langflow", baseURL, opts)
	if err != nil {
		return nil, err
	}
	if key := opts.APIKey; key != "" {
		b.auth = func(r *http.Request) { r.Header.Set("x-api-key", key) }
	}
	return &Langflow{b: b}, nil
}

func (l *Langflow) base() *base {
	if l == nil {
		return unconfigured("langflow")
	}
	return l.b
}

// Service names the upstream in health reports and errors.
func (l *Langflow) Service() string { return "langflow" }

// Configured reports whether the client exists (nil means not configured).
func (l *Langflow) Configured() bool { return l != nil }

// Flow is a Langflow flow as GET /api/v1/flows returns it. Data (the graph)
// is passed through untouched; ListFlows omits it unless asked.
type Flow struct {
	ID           string          `json:"id"`
	Name         string          `json:"name"`
	Description  string          `json:"description,omitempty"`
	EndpointName string          `json:"endpoint_name,omitempty"`
	IsComponent  bool            `json:"is_component,omitempty"`
	Tags         []string        `json:"tags,omitempty"`
	UpdatedAt    string          `json:"updated_at,omitempty"`
	FolderID     string          `json:"folder_id,omitempty"`
	UserID       string          `json:"user_id,omitempty"`
	Data         json.RawMessage `json:"data,omitempty"`
}

// ListFlowsOptions are the query parameters of GET /api/v1/flows/.
type ListFlowsOptions struct {
	// RemoveExampleFlows hides Langflow's starter examples.
	RemoveExampleFlows bool
	// HeaderFlows asks Langflow for flow headers only (no graph data);
	// lighter for listings.
	HeaderFlows bool
	// FolderID restricts the list to one Langflow project.
	FolderID string
}

// ListFlows lists the flows visible to the API key (GET /api/v1/flows/
// with get_all=true, so the answer is one JSON array).
func (l *Langflow) ListFlows(ctx context.Context, opts ListFlowsOptions) ([]Flow, error) {
	q := url.Values{}
	q.Set("get_all", "true")
	q.Set("remove_example_flows", strconv.FormatBool(opts.RemoveExampleFlows))
	q.Set("header_flows", strconv.FormatBool(opts.HeaderFlows))
	if opts.FolderID != "" {
		q.Set("folder_id", opts.FolderID)
	}
	var out []Flow
	if err := l.base().callJSON(ctx, "list flows", http.MethodGet, "/api/v1/flows/", q, nil, &out); err != nil {
		return nil, err
	}
	if out == nil {
		out = []Flow{}
	}
	return out, nil
}

// GetFlow reads one flow (GET /api/v1/flows/{id}), graph data included.
func (l *Langflow) GetFlow(ctx context.Context, id string) (Flow, error) {
	seg, err := segment("flow id", id)
	if err != nil {
		return Flow{}, fmt.Errorf("langflow: get flow: %w", err)
	}
	var out Flow
	if err := l.base().callJSON(ctx, "get flow", http.MethodGet, "/api/v1/flows/"+seg, nil, nil, &out); err != nil {
		return Flow{}, err
	}
	return out, nil
}

// RunFlowRequest is the body of POST /api/v1/run/{flow_id}
// (Langflow's SimplifiedAPIRequest). Empty fields take Langflow's defaults
// (input and output type "chat").
type RunFlowRequest struct {
	InputValue      string          `json:"input_value,omitempty"`
	InputType       string          `json:"input_type,omitempty"`  // chat, text or any
	OutputType      string          `json:"output_type,omitempty"` // chat, text, any or debug
	OutputComponent string          `json:"output_component,omitempty"`
	Tweaks          json.RawMessage `json:"tweaks,omitempty"` // {"Component-id": {"field": value}}
	SessionID       string          `json:"session_id,omitempty"`
}

// RunFlowResponse is Langflow's RunResponse. Outputs (one entry per input,
// each with the components' results) is passed through untouched: its
// shape depends on the flow's components.
type RunFlowResponse struct {
	SessionID string          `json:"session_id"`
	Outputs   json.RawMessage `json:"outputs"`
}

// RunFlow runs a flow by ID or endpoint name and waits for its result
// (POST /api/v1/run/{flow_id}?stream=false).
func (l *Langflow) RunFlow(ctx context.Context, flowID string, req RunFlowRequest) (RunFlowResponse, error) {
	seg, err := segment("flow id", flowID)
	if err != nil {
		return RunFlowResponse{}, fmt.Errorf("langflow: run flow: %w", err)
	}
	q := url.Values{"stream": {"false"}}
	var out RunFlowResponse
	if err := l.base().callJSON(ctx, "run flow", http.MethodPost, "/api/v1/run/"+seg, q, req, &out); err != nil {
		return RunFlowResponse{}, err
	}
	if len(out.Outputs) == 0 || string(out.Outputs) == "null" {
		out.Outputs = json.RawMessage("[]")
	}
	return out, nil
}

// ComponentCatalog is GET /api/v1/all: component category → component name
// → the component's template (passed through untouched).
type ComponentCatalog map[string]map[string]json.RawMessage

// Components lists every component type Langflow offers (GET /api/v1/all).
func (l *Langflow) Components(ctx context.Context) (ComponentCatalog, error) {
	var out ComponentCatalog
	if err := l.base().callJSON(ctx, "list components", http.MethodGet, "/api/v1/all", nil, nil, &out); err != nil {
		return nil, err
	}
	if out == nil {
		out = ComponentCatalog{}
	}
	return out, nil
}

// Ping checks GET /health_check, Langflow's reliable probe: it queries the
// database and the chat cache and answers {"status": "ok", "chat": "ok",
// "db": "ok"}, or 500 when one fails. (GET /health is answered by the ASGI
// server before Langflow is up, so it proves little.)
func (l *Langflow) Ping(ctx context.Context) (string, error) {
	var out struct {
		Status string `json:"status"`
		Chat   string `json:"chat"`
		DB     string `json:"db"`
	}
	if err := l.base().callJSON(ctx, "health", http.MethodGet, "/health_check", nil, nil, &out); err != nil {
		return "", err
	}
	if out.Status != "ok" {
		return "", fmt.Errorf("langflow: health: %w: status %q", ErrInvalidResponse, safeSnippet([]byte(out.Status), 64))
	}
	return "db " + safeSnippet([]byte(out.DB), 32) + ", chat " + safeSnippet([]byte(out.Chat), 32), nil
}
