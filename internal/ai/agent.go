package ai

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// Agent is a client for our Claude agent runner (`fast-saas agent`), whose
// HTTP contract is docs/design/agent-api.md. It authenticates with
// "Authorization: Bearer <FASTSAAS_AGENT_KEY>" (Options.APIKey).
type Agent struct {
	b *base
}

// NewAgent returns a client for the agent runner at baseURL. The key is
// required: the agent refuses every unauthenticated job call.
func NewAgent(baseURL string, opts Options) (*Agent, error) {
	if opts.APIKey == "" {
		return nil, fmt.Errorf("agent: API key (FASTSAAS_AGENT_KEY) is required")
	}
	b, err := newBase("agent", baseURL, opts)
	if err != nil {
		return nil, err
	}
	key := opts.APIKey
	b.auth = func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+key) }
	return &Agent{b: b}, nil
}

// Service names the upstream in health reports and errors.
func (a *Agent) Service() string { return "agent" }

// Configured reports whether the client exists (nil means not configured).
func (a *Agent) Configured() bool { return a != nil }

func (a *Agent) base() *base {
	if a == nil {
		return unconfigured("agent")
	}
	return a.b
}

// Job statuses (docs/design/agent-api.md).
const (
	JobQueued    = "queued"
	JobRunning   = "running"
	JobSucceeded = "succeeded"
	JobFailed    = "failed"
	JobCancelled = "cancelled"
)

// JobFinal reports whether a job status is final (the job will not change).
func JobFinal(status string) bool {
	return status == JobSucceeded || status == JobFailed || status == JobCancelled
}

// Job is an agent job.
type Job struct {
	ID           string     `json:"id"`
	Status       string     `json:"status"`
	Owner        string     `json:"owner,omitempty"`
	Prompt       string     `json:"prompt"`
	Workdir      string     `json:"workdir,omitempty"`
	MaxTurns     int        `json:"max_turns,omitempty"`
	AllowedTools []string   `json:"allowed_tools,omitempty"`
	CreatedAt    time.Time  `json:"created_at"`
	StartedAt    *time.Time `json:"started_at"`
	FinishedAt   *time.Time `json:"finished_at"`
	Output       string     `json:"output"`
	Error        string     `json:"error"`
}

// JobRequest is the body of POST /v1/jobs. Zero values mean the agent's
// defaults.
type JobRequest struct {
	Prompt       string   `json:"prompt"`
	Workdir      string   `json:"workdir,omitempty"`
	MaxTurns     int      `json:"max_turns,omitempty"`
	AllowedTools []string `json:"allowed_tools,omitempty"`
	// Owner scopes the job (the API sets the tenant); Get, Cancel and List
	// given the same owner only see that owner's jobs.
	Owner string `json:"owner,omitempty"`
}

// CreateJob submits a job (POST /v1/jobs → 202 with the queued job).
func (a *Agent) CreateJob(ctx context.Context, req JobRequest) (Job, error) {
	if req.Prompt == "" {
		return Job{}, fmt.Errorf("agent: create job: %w: prompt is required", ErrInvalidArgument)
	}
	var out Job
	if err := a.base().callJSON(ctx, "create job", http.MethodPost, "/v1/jobs", nil, req, &out); err != nil {
		return Job{}, err
	}
	return out, nil
}

func ownerQuery(owner string) url.Values {
	if owner == "" {
		return nil
	}
	return url.Values{"owner": {owner}}
}

// GetJob reads a job (GET /v1/jobs/{id}). With a non-empty owner, a job of
// another owner is a 404 *UpstreamError, like an unknown id.
func (a *Agent) GetJob(ctx context.Context, id, owner string) (Job, error) {
	seg, err := segment("job id", id)
	if err != nil {
		return Job{}, fmt.Errorf("agent: get job: %w", err)
	}
	var out Job
	if err := a.base().callJSON(ctx, "get job", http.MethodGet, "/v1/jobs/"+seg, ownerQuery(owner), nil, &out); err != nil {
		return Job{}, err
	}
	return out, nil
}

// CancelJob cancels a queued or running job (DELETE /v1/jobs/{id}) and
// returns it in status "cancelled". A finished job is a 409 *UpstreamError
// with Code "job_finished".
func (a *Agent) CancelJob(ctx context.Context, id, owner string) (Job, error) {
	seg, err := segment("job id", id)
	if err != nil {
		return Job{}, fmt.Errorf("agent: cancel job: %w", err)
	}
	var out Job
	if err := a.base().callJSON(ctx, "cancel job", http.MethodDelete, "/v1/jobs/"+seg, ownerQuery(owner), nil, &out); err != nil {
		return Job{}, err
	}
	return out, nil
}

// ListJobsOptions are the query parameters of GET /v1/jobs.
type ListJobsOptions struct {
	Limit  int    // 1–100; 0 means the agent's default (20)
	Cursor string // next_cursor of the previous page
	Status string // filter by status
	Owner  string // filter by owner
}

// JobPage is one page of GET /v1/jobs.
type JobPage struct {
	Items      []Job  `json:"items"`
	NextCursor string `json:"next_cursor"`
}

// ListJobs lists jobs, newest first (GET /v1/jobs).
func (a *Agent) ListJobs(ctx context.Context, opts ListJobsOptions) (JobPage, error) {
	q := url.Values{}
	if opts.Limit != 0 {
		q.Set("limit", strconv.Itoa(opts.Limit))
	}
	if opts.Cursor != "" {
		q.Set("cursor", opts.Cursor)
	}
	if opts.Status != "" {
		q.Set("status", opts.Status)
	}
	if opts.Owner != "" {
		q.Set("owner", opts.Owner)
	}
	var out JobPage
	if err := a.base().callJSON(ctx, "list jobs", http.MethodGet, "/v1/jobs", q, nil, &out); err != nil {
		return JobPage{}, err
	}
	if out.Items == nil {
		out.Items = []Job{}
	}
	return out, nil
}

// Ping checks GET /health ({"status": "ok"}; a draining agent answers 503).
func (a *Agent) Ping(ctx context.Context) (string, error) {
	var out struct {
		Status string `json:"status"`
	}
	if err := a.base().callJSON(ctx, "health", http.MethodGet, "/health", nil, nil, &out); err != nil {
		return "", err
	}
	if out.Status != "ok" {
		return "", fmt.Errorf("agent: health: %w: status %q", ErrInvalidResponse, safeSnippet([]byte(out.Status), 64))
	}
	return "status ok", nil
}
