package ai

import (
	"context"
	"encoding/json"
	"fmt"
	"iter"
	"net/http"
	"time"
)

// Ollama is a client for the Ollama HTTP API (https://docs.ollama.com/api):
// GET /api/tags, POST /api/pull, POST /api/generate, POST /api/chat,
// DELETE /api/delete, GET /api/version. Ollama has no authentication.
type Ollama struct {
	b *base
}

// NewOllama returns a client for the Ollama server at baseURL
// (e.g. http://ollama:11434), which must come from configuration.
func NewOllama(baseURL string, opts Options) (*Ollama, error) {
	b, err := newBase("ollama", baseURL, opts)
	if err != nil {
		return nil, err
	}
	return &Ollama{b: b}, nil
}

func (o *Ollama) base() *base {
	if o == nil {
		return unconfigured("ollama")
	}
	return o.b
}

// Service names the upstream in health reports and errors.
func (o *Ollama) Service() string { return "ollama" }

// Configured reports whether the client exists; a nil *Ollama stands for
// "FASTSAAS_OLLAMA_URL not set".
func (o *Ollama) Configured() bool { return o != nil }

// OllamaModel is one entry of GET /api/tags.
type OllamaModel struct {
	Name       string             `json:"name"`
	Model      string             `json:"model,omitempty"`
	ModifiedAt time.Time          `json:"modified_at"`
	Size       int64              `json:"size"`
	Digest     string             `json:"digest"`
	Details    OllamaModelDetails `json:"details"`
}

// OllamaModelDetails describes a model's format and size class.
type OllamaModelDetails struct {
	ParentModel       string   `json:"parent_model,omitempty"`
	Format            string   `json:"format,omitempty"`
	Family            string   `json:"family,omitempty"`
	Families          []string `json:"families,omitempty"`
	ParameterSize     string   `json:"parameter_size,omitempty"`
	QuantizationLevel string   `json:"quantization_level,omitempty"`
}

// ListModels lists the models available locally (GET /api/tags).
func (o *Ollama) ListModels(ctx context.Context) ([]OllamaModel, error) {
	var out struct {
		Models []OllamaModel `json:"models"`
	}
	if err := o.base().callJSON(ctx, "list models", http.MethodGet, "/api/tags", nil, nil, &out); err != nil {
		return nil, err
	}
	if out.Models == nil {
		out.Models = []OllamaModel{}
	}
	return out.Models, nil
}

// Version returns the server version (GET /api/version).
func (o *Ollama) Version(ctx context.Context) (string, error) {
	var out struct {
		Version string `json:"version"`
	}
	if err := o.base().callJSON(ctx, "version", http.MethodGet, "/api/version", nil, nil, &out); err != nil {
		return "", err
	}
	return out.Version, nil
}

// Ping checks that Ollama answers; the detail is its version.
func (o *Ollama) Ping(ctx context.Context) (string, error) {
	v, err := o.Version(ctx)
	if err != nil {
		return "", err
	}
	return "version " + v, nil
}

// PullRequest is the body of POST /api/pull.
type PullRequest struct {
	Model string `json:"model"`
	// Insecure allows pulling from a registry over plain HTTP.
	Insecure bool `json:"insecure,omitempty"`
}

// PullProgress is one line of the pull stream (or the single answer of a
// non-streamed pull). Digest, Total and Completed describe the layer being
// downloaded; they are absent on the other status lines.
type PullProgress struct {
	Status    string `json:"status"`
	Digest    string `json:"digest,omitempty"`
	Total     int64  `json:"total,omitempty"`
	Completed int64  `json:"completed,omitempty"`
}

// Done reports whether this is the final, successful line.
func (p PullProgress) Done() bool { return p.Status == "success" }

type pullBody struct {
	PullRequest
	Stream bool `json:"stream"`
}

// Pull downloads a model and waits for the end (POST /api/pull with
// "stream": false). The whole download must fit in Options.Timeout; use
// PullStream for large models.
func (o *Ollama) Pull(ctx context.Context, req PullRequest) (PullProgress, error) {
	if req.Model == "" {
		return PullProgress{}, fmt.Errorf("ollama: pull: %w: model is required", ErrInvalidArgument)
	}
	var out PullProgress
	err := o.base().callJSON(ctx, "pull", http.MethodPost, "/api/pull", nil, pullBody{req, false}, &out)
	if err != nil {
		return PullProgress{}, err
	}
	return out, nil
}

// PullStream downloads a model, yielding each NDJSON progress line as it
// arrives (POST /api/pull, streamed). Options.Timeout bounds the wait for
// the first answer and then for each next line, not the whole download;
// the caller's ctx bounds the whole. The sequence ends after the "success"
// line, or with exactly one non-nil error: an *UpstreamError for a non-2xx
// answer or an {"error": ...} line, ErrResponseTooLarge for a line over
// Options.MaxResponseBytes, ErrInvalidResponse for a stream that ends
// before "success".
func (o *Ollama) PullStream(ctx context.Context, req PullRequest) iter.Seq2[PullProgress, error] {
	return func(yield func(PullProgress, error) bool) {
		if req.Model == "" {
			yield(PullProgress{}, fmt.Errorf("ollama: pull: %w: model is required", ErrInvalidArgument))
			return
		}
		for p, err := range o.base().stream(ctx, "pull", http.MethodPost, "/api/pull", pullBody{req, true}) {
			if err != nil {
				yield(PullProgress{}, err)
				return
			}
			var line PullProgress
			if err := parsePullLine(p, &line); err != nil {
				yield(PullProgress{}, o.base().lineError("pull", err))
				return
			}
			if !yield(line, nil) || line.Done() {
				return
			}
		}
		yield(PullProgress{}, fmt.Errorf("ollama: pull: %w: stream ended before \"success\"", ErrInvalidResponse))
	}
}

// GenerateRequest is the body of POST /api/generate (always sent with
// "stream": false). Format, Options and KeepAlive are passed through as the
// caller gave them.
type GenerateRequest struct {
	Model     string          `json:"model"`
	Prompt    string          `json:"prompt"`
	Suffix    string          `json:"suffix,omitempty"`
	System    string          `json:"system,omitempty"`
	Template  string          `json:"template,omitempty"`
	Images    []string        `json:"images,omitempty"`
	Raw       bool            `json:"raw,omitempty"`
	Format    json.RawMessage `json:"format,omitempty"`     // "json" or a JSON schema
	Options   json.RawMessage `json:"options,omitempty"`    // model parameters, e.g. {"temperature":0}
	KeepAlive json.RawMessage `json:"keep_alive,omitempty"` // "5m" or seconds
	Think     json.RawMessage `json:"think,omitempty"`      // true/false or "low"/"medium"/"high"
}

// GenerateResponse is the answer of a non-streamed generate. Durations are
// in nanoseconds, as Ollama reports them.
type GenerateResponse struct {
	Model              string    `json:"model"`
	CreatedAt          time.Time `json:"created_at"`
	Response           string    `json:"response"`
	Thinking           string    `json:"thinking,omitempty"`
	Done               bool      `json:"done"`
	DoneReason         string    `json:"done_reason,omitempty"`
	Context            []int     `json:"context,omitempty"`
	TotalDuration      int64     `json:"total_duration,omitempty"`
	LoadDuration       int64     `json:"load_duration,omitempty"`
	PromptEvalCount    int       `json:"prompt_eval_count,omitempty"`
	PromptEvalDuration int64     `json:"prompt_eval_duration,omitempty"`
	EvalCount          int       `json:"eval_count,omitempty"`
	EvalDuration       int64     `json:"eval_duration,omitempty"`
}

type generateBody struct {
	GenerateRequest
	Stream bool `json:"stream"`
}

// Generate completes a prompt (POST /api/generate, not streamed).
func (o *Ollama) Generate(ctx context.Context, req GenerateRequest) (GenerateResponse, error) {
	if req.Model == "" {
		return GenerateResponse{}, fmt.Errorf("ollama: generate: %w: model is required", ErrInvalidArgument)
	}
	var out GenerateResponse
	if err := o.base().callJSON(ctx, "generate", http.MethodPost, "/api/generate", nil, generateBody{req, false}, &out); err != nil {
		return GenerateResponse{}, err
	}
	return out, nil
}

// ChatMessage is one message of a chat. ToolCalls is passed through.
type ChatMessage struct {
	Role      string          `json:"role"` // system, user, assistant or tool
	Content   string          `json:"content"`
	Thinking  string          `json:"thinking,omitempty"`
	Images    []string        `json:"images,omitempty"`
	ToolCalls json.RawMessage `json:"tool_calls,omitempty"`
	ToolName  string          `json:"tool_name,omitempty"`
}

// ChatRequest is the body of POST /api/chat (always sent with
// "stream": false).
type ChatRequest struct {
	Model     string          `json:"model"`
	Messages  []ChatMessage   `json:"messages"`
	Tools     json.RawMessage `json:"tools,omitempty"`
	Format    json.RawMessage `json:"format,omitempty"`
	Options   json.RawMessage `json:"options,omitempty"`
	KeepAlive json.RawMessage `json:"keep_alive,omitempty"`
	Think     json.RawMessage `json:"think,omitempty"`
}

// ChatResponse is the answer of a non-streamed chat.
type ChatResponse struct {
	Model              string      `json:"model"`
	CreatedAt          time.Time   `json:"created_at"`
	Message            ChatMessage `json:"message"`
	Done               bool        `json:"done"`
	DoneReason         string      `json:"done_reason,omitempty"`
	TotalDuration      int64       `json:"total_duration,omitempty"`
	LoadDuration       int64       `json:"load_duration,omitempty"`
	PromptEvalCount    int         `json:"prompt_eval_count,omitempty"`
	PromptEvalDuration int64       `json:"prompt_eval_duration,omitempty"`
	EvalCount          int         `json:"eval_count,omitempty"`
	EvalDuration       int64       `json:"eval_duration,omitempty"`
}

type chatBody struct {
	ChatRequest
	Stream bool `json:"stream"`
}

// Chat generates the next chat message (POST /api/chat, not streamed).
func (o *Ollama) Chat(ctx context.Context, req ChatRequest) (ChatResponse, error) {
	if req.Model == "" {
		return ChatResponse{}, fmt.Errorf("ollama: chat: %w: model is required", ErrInvalidArgument)
	}
	if req.Messages == nil {
		req.Messages = []ChatMessage{} // Ollama expects an array, not null
	}
	var out ChatResponse
	if err := o.base().callJSON(ctx, "chat", http.MethodPost, "/api/chat", nil, chatBody{req, false}, &out); err != nil {
		return ChatResponse{}, err
	}
	return out, nil
}

// DeleteModel deletes a local model (DELETE /api/delete {"model": name}).
// An unknown model is an *UpstreamError with Status 404.
func (o *Ollama) DeleteModel(ctx context.Context, name string) error {
	if name == "" {
		return fmt.Errorf("ollama: delete model: %w: model is required", ErrInvalidArgument)
	}
	body := struct {
		Model string `json:"model"`
	}{name}
	_, err := o.base().call(ctx, "delete model", http.MethodDelete, "/api/delete", nil, body)
	return err
}

// PullSummary folds a pull stream into overall progress, for the API's
// asynchronous pull operation. Ollama reports each layer separately (its
// "total" is the layer's size), so the overall figures sum the layers seen
// so far. The zero value is ready to use.
type PullSummary struct {
	Status    string `json:"status"`    // the latest status line
	Completed int64  `json:"completed"` // bytes downloaded, all layers seen
	Total     int64  `json:"total"`     // bytes to download, all layers seen
	Done      bool   `json:"done"`      // the "success" line arrived

	layers map[string][2]int64 // digest → completed, total
}

// Add folds one progress line in.
func (s *PullSummary) Add(p PullProgress) {
	s.Status = p.Status
	if p.Done() {
		s.Done = true
	}
	if p.Digest == "" {
		return
	}
	if s.layers == nil {
		s.layers = map[string][2]int64{}
	}
	prev := s.layers[p.Digest]
	// Lines of one layer never move backwards; a resumed pull may repeat
	// a layer from an earlier offset, which must not shrink the total.
	cur := [2]int64{max(prev[0], p.Completed), max(prev[1], p.Total)}
	s.layers[p.Digest] = cur
	s.Completed += cur[0] - prev[0]
	s.Total += cur[1] - prev[1]
}

// Percent is Completed/Total in 0–100, or 0 before any layer is known.
func (s *PullSummary) Percent() float64 {
	if s.Total <= 0 {
		return 0
	}
	return min(100, 100*float64(s.Completed)/float64(s.Total))
}
