package aifake

import (
	"bytes"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fast-saas/fast-saas/middleware/problem"
	"github.com/google/uuid"
)

// Agent fakes our agent runner exactly as docs/design/agent-api.md defines
// it: bearer-key auth, POST/GET /v1/jobs, GET/DELETE /v1/jobs/{id},
// GET /health, problem+json errors. Jobs stay queued until the test moves
// them with Start, Succeed or Fail.
type Agent struct {
	script
	Server *httptest.Server
	URL    string
	// MaxQueued is the queue capacity; a submit beyond it answers 429.
	MaxQueued int
	// Now is the agent's clock.
	Now func() time.Time

	key      string
	mu       sync.Mutex
	jobs     map[string]*agentJob
	draining bool
}

// Limits of docs/design/agent-api.md.
const (
	agentMaxBody      = 256 << 10
	agentMaxPrompt    = 100_000
	agentMaxTurns     = 200
	agentDefaultTurns = 20
	agentMaxTools     = 64
	agentMaxToolLen   = 200
	agentMaxWorkdir   = 255
	agentMaxOwner     = 128
	agentMaxOutput    = 1 << 20
)

type agentJob struct {
	ID           string     `json:"id"`
	Status       string     `json:"status"`
	Owner        string     `json:"owner"`
	Prompt       string     `json:"prompt"`
	Workdir      string     `json:"workdir"`
	MaxTurns     int        `json:"max_turns"`
	AllowedTools []string   `json:"allowed_tools"`
	CreatedAt    time.Time  `json:"created_at"`
	StartedAt    *time.Time `json:"started_at"`
	FinishedAt   *time.Time `json:"finished_at"`
	Output       string     `json:"output"`
	Error        string     `json:"error"`
}

// NewAgent starts a fake agent that accepts key, closed when the test ends.
func NewAgent(t testing.TB, key string) *Agent {
	a := &Agent{key: key, MaxQueued: 100, Now: time.Now, jobs: map[string]*agentJob{}}
	mux := http.NewServeMux()
	a.handle(mux, "GET /health", func(w http.ResponseWriter, _ *http.Request) {
		a.mu.Lock()
		draining := a.draining
		a.mu.Unlock()
		if draining {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "draining"})
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	a.handle(mux, "POST /v1/jobs", a.auth(a.create))
	a.handle(mux, "GET /v1/jobs", a.auth(a.list))
	a.handle(mux, "GET /v1/jobs/{id}", a.auth(a.get))
	a.handle(mux, "DELETE /v1/jobs/{id}", a.auth(a.cancel))
	a.Server = httptest.NewServer(mux)
	a.URL = a.Server.URL
	t.Cleanup(a.Server.Close)
	return a
}

// SetDraining makes GET /health answer 503 {"status": "draining"}.
func (a *Agent) SetDraining(v bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.draining = v
}

// errNoJob and errJobState are returned by the scripting methods.
var (
	errNoJob    = errors.New("aifake: no such job")
	errJobState = errors.New("aifake: job is not in the required status")
)

func (a *Agent) move(id string, from []string, to func(j *agentJob, now time.Time)) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	j, ok := a.jobs[id]
	if !ok {
		return errNoJob
	}
	for _, s := range from {
		if j.Status == s {
			to(j, a.Now().UTC())
			return nil
		}
	}
	return fmt.Errorf("%w: %s is %s", errJobState, id, j.Status)
}

// Start moves a queued job to running.
func (a *Agent) Start(id string) error {
	return a.move(id, []string{"queued"}, func(j *agentJob, now time.Time) {
		j.Status, j.StartedAt = "running", &now
	})
}

// Succeed finishes a running job with output (cut at 1 MiB as documented).
func (a *Agent) Succeed(id, output string) error {
	return a.move(id, []string{"running"}, func(j *agentJob, now time.Time) {
		if len(output) > agentMaxOutput {
			output = output[:agentMaxOutput] + "…[truncated]"
		}
		j.Status, j.FinishedAt, j.Output = "succeeded", &now, output
	})
}

// Fail finishes a running job with an error.
func (a *Agent) Fail(id, msg string) error {
	return a.move(id, []string{"running"}, func(j *agentJob, now time.Time) {
		j.Status, j.FinishedAt, j.Error = "failed", &now, msg
	})
}

func agentProblem(w http.ResponseWriter, status int, code, detail string) {
	problem.Error(w, status, code, detail)
}

func (a *Agent) auth(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(token), []byte(a.key)) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="fast-saas-agent"`)
			agentProblem(w, http.StatusUnauthorized, "unauthorized", "a valid bearer key is required")
			return
		}
		h(w, r)
	}
}

func (a *Agent) create(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, agentMaxBody+1))
	if err != nil {
		agentProblem(w, http.StatusBadRequest, "invalid_request", "read body: "+err.Error())
		return
	}
	if len(body) > agentMaxBody {
		agentProblem(w, http.StatusRequestEntityTooLarge, "body_too_large", "request body is larger than 256 KiB")
		return
	}
	var req struct {
		Prompt       string   `json:"prompt"`
		Workdir      string   `json:"workdir"`
		MaxTurns     *int     `json:"max_turns"`
		AllowedTools []string `json:"allowed_tools"`
		Owner        string   `json:"owner"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		agentProblem(w, http.StatusBadRequest, "invalid_request", "malformed JSON: "+err.Error())
		return
	}
	if dec.More() {
		agentProblem(w, http.StatusBadRequest, "invalid_request", "trailing data after the JSON object")
		return
	}
	if msg := validateJob(req.Prompt, req.Workdir, req.MaxTurns, req.AllowedTools, req.Owner); msg != "" {
		agentProblem(w, http.StatusUnprocessableEntity, "validation_failed", msg)
		return
	}
	turns := agentDefaultTurns
	if req.MaxTurns != nil {
		turns = *req.MaxTurns
	}
	a.mu.Lock()
	queued := 0
	for _, j := range a.jobs {
		if j.Status == "queued" {
			queued++
		}
	}
	if queued >= a.MaxQueued {
		a.mu.Unlock()
		w.Header().Set("Retry-After", "30")
		agentProblem(w, http.StatusTooManyRequests, "queue_full", "the job queue is full")
		return
	}
	id, err := uuid.NewV7()
	if err != nil {
		a.mu.Unlock()
		agentProblem(w, http.StatusInternalServerError, "internal", "generate id")
		return
	}
	j := &agentJob{
		ID: id.String(), Status: "queued", Owner: req.Owner, Prompt: req.Prompt, Workdir: req.Workdir,
		MaxTurns: turns, AllowedTools: req.AllowedTools, CreatedAt: a.Now().UTC(),
	}
	a.jobs[j.ID] = j
	out := *j
	a.mu.Unlock()
	w.Header().Set("Location", "/v1/jobs/"+j.ID)
	writeJSON(w, http.StatusAccepted, out)
}

// validateJob applies the limits of the submit table; "" means valid.
func validateJob(prompt, workdir string, maxTurns *int, tools []string, owner string) string {
	switch {
	case prompt == "":
		return "prompt is required"
	case len(prompt) > agentMaxPrompt:
		return "prompt is longer than 100000 bytes"
	case len(workdir) > agentMaxWorkdir:
		return "workdir is longer than 255 bytes"
	case workdir != "" && (path.IsAbs(workdir) || path.Clean(workdir) != workdir ||
		workdir == ".." || strings.HasPrefix(workdir, "../")):
		return "workdir must be a clean relative path inside the workspace"
	case maxTurns != nil && (*maxTurns < 1 || *maxTurns > agentMaxTurns):
		return "max_turns must be between 1 and 200"
	case len(tools) > agentMaxTools:
		return "allowed_tools has more than 64 entries"
	case len(owner) > agentMaxOwner:
		return "owner is longer than 128 bytes"
	}
	for _, t := range tools {
		if t == "" || len(t) > agentMaxToolLen {
			return "each allowed_tools entry must be 1 to 200 bytes"
		}
		for i := 0; i < len(t); i++ {
			if t[i] < 0x20 || t[i] > 0x7e {
				return "allowed_tools entries must be printable ASCII"
			}
		}
	}
	return ""
}

// visible finds a job, hiding other owners' jobs behind a 404.
func (a *Agent) visible(w http.ResponseWriter, r *http.Request) (*agentJob, bool) {
	id := r.PathValue("id")
	owner := r.URL.Query().Get("owner")
	j, ok := a.jobs[id]
	if !ok || (owner != "" && j.Owner != owner) {
		agentProblem(w, http.StatusNotFound, "not_found", "job "+id+" not found")
		return nil, false
	}
	return j, true
}

func (a *Agent) get(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	j, ok := a.visible(w, r)
	var out agentJob
	if ok {
		out = *j
	}
	a.mu.Unlock()
	if ok {
		writeJSON(w, http.StatusOK, out)
	}
}

func (a *Agent) cancel(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	j, ok := a.visible(w, r)
	if !ok {
		a.mu.Unlock()
		return
	}
	if j.Status != "queued" && j.Status != "running" {
		status := j.Status
		a.mu.Unlock()
		agentProblem(w, http.StatusConflict, "job_finished", "job is already "+status)
		return
	}
	now := a.Now().UTC()
	j.Status, j.FinishedAt, j.Error = "cancelled", &now, "cancelled by request"
	out := *j
	a.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
}

func (a *Agent) list(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit := 20
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			agentProblem(w, http.StatusBadRequest, "invalid_request", "limit must be an integer between 1 and 100")
			return
		}
		limit = n
	}
	status := q.Get("status")
	if status != "" && !oneOf(status, "queued", "running", "succeeded", "failed", "cancelled") {
		agentProblem(w, http.StatusBadRequest, "invalid_request", "unknown status "+strconv.Quote(status))
		return
	}
	var after string
	if c := q.Get("cursor"); c != "" {
		raw, err := base64.RawURLEncoding.DecodeString(c)
		if err != nil || uuid.Validate(string(raw)) != nil {
			agentProblem(w, http.StatusBadRequest, "invalid_request", "malformed cursor")
			return
		}
		after = string(raw)
	}
	owner := q.Get("owner")

	a.mu.Lock()
	all := make([]agentJob, 0, len(a.jobs))
	for _, j := range a.jobs {
		if (status == "" || j.Status == status) && (owner == "" || j.Owner == owner) {
			all = append(all, *j)
		}
	}
	a.mu.Unlock()
	// Newest first: created_at, then id (UUIDv7 ids sort by creation too).
	sort.Slice(all, func(i, k int) bool {
		if !all[i].CreatedAt.Equal(all[k].CreatedAt) {
			return all[i].CreatedAt.After(all[k].CreatedAt)
		}
		return all[i].ID > all[k].ID
	})
	start := 0
	if after != "" {
		start = len(all)
		for i, j := range all {
			if j.ID == after {
				start = i + 1
				break
			}
		}
	}
	end := min(start+limit, len(all))
	page := all[start:end]
	next := ""
	if end < len(all) && len(page) > 0 {
		next = base64.RawURLEncoding.EncodeToString([]byte(page[len(page)-1].ID))
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": page, "next_cursor": next})
}
