package aifake

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// Ollama fakes the Ollama API (https://docs.ollama.com/api, docs/api.md in
// ollama/ollama): GET /, GET /api/version, GET /api/tags, POST /api/pull
// (NDJSON progress unless "stream": false), POST /api/generate,
// POST /api/chat, DELETE /api/delete. Errors are {"error": "..."} with
// Ollama's statuses: 400 for a missing model field, 404 for an unknown
// local model, and for a pull of an unknown model either 500
// (non-streamed) or a 200 stream ending in an {"error": ...} line.
type Ollama struct {
	script
	Server  *httptest.Server
	URL     string
	Version string

	mu     sync.Mutex
	local  map[string]ollamaModel
	remote map[string][]int64 // pullable models → layer sizes
	now    func() time.Time
}

type ollamaModel struct {
	Name       string             `json:"name"`
	Model      string             `json:"model"`
	ModifiedAt time.Time          `json:"modified_at"`
	Size       int64              `json:"size"`
	Digest     string             `json:"digest"`
	Details    ollamaModelDetails `json:"details"`
}

type ollamaModelDetails struct {
	ParentModel       string   `json:"parent_model"`
	Format            string   `json:"format"`
	Family            string   `json:"family"`
	Families          []string `json:"families"`
	ParameterSize     string   `json:"parameter_size"`
	QuantizationLevel string   `json:"quantization_level"`
}

// NewOllama starts a fake Ollama, closed when the test ends.
func NewOllama(t testing.TB) *Ollama {
	o := &Ollama{
		Version: "0.12.6",
		local:   map[string]ollamaModel{},
		remote:  map[string][]int64{},
		now:     func() time.Time { return time.Date(2026, 11, 26, 1, 2, 3, 0, time.UTC) },
	}
	mux := http.NewServeMux()
	o.handle(mux, "GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, "Ollama is running")
	})
	o.handle(mux, "GET /api/version", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"version": o.Version})
	})
	o.handle(mux, "GET /api/tags", o.tags)
	o.handle(mux, "POST /api/pull", o.pull)
	o.handle(mux, "POST /api/generate", o.generate)
	o.handle(mux, "POST /api/chat", o.chat)
	o.handle(mux, "DELETE /api/delete", o.delete)
	o.Server = httptest.NewServer(mux)
	o.URL = o.Server.URL
	t.Cleanup(o.Server.Close)
	return o
}

func digestOf(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// normalize adds the default ":latest" tag, as Ollama does.
func normalize(name string) string {
	if i := strings.LastIndex(name, ":"); i < 0 || strings.Contains(name[i:], "/") {
		return name + ":latest"
	}
	return name
}

// AddModel makes a model available locally.
func (o *Ollama) AddModel(name string, size int64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	n := normalize(name)
	o.local[n] = ollamaModel{
		Name: n, Model: n, ModifiedAt: o.now(), Size: size, Digest: digestOf(n),
		Details: ollamaModelDetails{Format: "gguf", Family: "llama", Families: []string{"llama"}, ParameterSize: "1B", QuantizationLevel: "Q4_0"},
	}
}

// AddRemote makes a model pullable from the (fake) library; each layer is
// reported with its own progress lines.
func (o *Ollama) AddRemote(name string, layerSizes ...int64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(layerSizes) == 0 {
		layerSizes = []int64{1 << 20}
	}
	o.remote[normalize(name)] = layerSizes
}

// HasModel reports whether a model is available locally.
func (o *Ollama) HasModel(name string) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	_, ok := o.local[normalize(name)]
	return ok
}

func ollamaError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

func (o *Ollama) tags(w http.ResponseWriter, _ *http.Request) {
	o.mu.Lock()
	models := make([]ollamaModel, 0, len(o.local))
	for _, m := range o.local {
		models = append(models, m)
	}
	o.mu.Unlock()
	sort.Slice(models, func(i, j int) bool { return models[i].Name < models[j].Name })
	writeJSON(w, http.StatusOK, map[string]any{"models": models})
}

// modelField reads "model", falling back to the deprecated "name".
type modelField struct {
	Model  string `json:"model"`
	Name   string `json:"name"`
	Stream *bool  `json:"stream"`
}

func (m modelField) model() string {
	if m.Model != "" {
		return m.Model
	}
	return m.Name
}

func (m modelField) streaming() bool { return m.Stream == nil || *m.Stream }

func (o *Ollama) pull(w http.ResponseWriter, r *http.Request) {
	var req struct {
		modelField
		Insecure bool `json:"insecure"`
	}
	if err := decodeJSON(r, &req); err != nil {
		ollamaError(w, http.StatusBadRequest, "invalid request body: "+err.Error())
		return
	}
	if req.model() == "" {
		ollamaError(w, http.StatusBadRequest, "model is required")
		return
	}
	name := normalize(req.model())
	o.mu.Lock()
	layers, known := o.remote[name]
	o.mu.Unlock()
	const notFound = "pull model manifest: file does not exist"

	if !req.streaming() {
		if !known {
			ollamaError(w, http.StatusInternalServerError, notFound)
			return
		}
		o.install(name, layers)
		writeJSON(w, http.StatusOK, map[string]string{"status": "success"})
		return
	}

	w.Header().Set("Content-Type", "application/x-ndjson")
	w.WriteHeader(http.StatusOK)
	flusher, _ := w.(http.Flusher)
	enc := json.NewEncoder(w)
	send := func(v any) {
		_ = enc.Encode(v)
		if flusher != nil {
			flusher.Flush()
		}
	}
	send(map[string]string{"status": "pulling manifest"})
	if f, ok := faultFrom(r.Context()); ok && f.StallStream {
		<-r.Context().Done()
		return
	}
	if !known {
		send(map[string]string{"error": notFound})
		return
	}
	for i, size := range layers {
		digest := "sha256:" + digestOf(fmt.Sprintf("%s/%d", name, i))
		status := "pulling " + digest[len("sha256:"):len("sha256:")+12]
		for _, done := range []int64{0, size / 2, size} {
			line := map[string]any{"status": status, "digest": digest, "total": size}
			if done > 0 { // Ollama omits "completed" until bytes arrived
				line["completed"] = done
			}
			send(line)
		}
	}
	send(map[string]string{"status": "verifying sha256 digest"})
	send(map[string]string{"status": "writing manifest"})
	o.install(name, layers)
	send(map[string]string{"status": "success"})
}

func (o *Ollama) install(name string, layers []int64) {
	var total int64
	for _, s := range layers {
		total += s
	}
	o.AddModel(name, total)
}

// known reports whether model is local, answering 404 like Ollama if not.
func (o *Ollama) requireLocal(w http.ResponseWriter, model string) bool {
	if model == "" {
		ollamaError(w, http.StatusBadRequest, "model is required")
		return false
	}
	if !o.HasModel(model) {
		ollamaError(w, http.StatusNotFound, fmt.Sprintf("model %q not found, try pulling it first", model))
		return false
	}
	return true
}

func (o *Ollama) generate(w http.ResponseWriter, r *http.Request) {
	var req struct {
		modelField
		Prompt string `json:"prompt"`
	}
	if err := decodeJSON(r, &req); err != nil {
		ollamaError(w, http.StatusBadRequest, "invalid request body: "+err.Error())
		return
	}
	if !o.requireLocal(w, req.model()) {
		return
	}
	reply := "echo: " + req.Prompt
	final := map[string]any{
		"model": req.model(), "created_at": o.now(), "response": reply, "done": true,
		"done_reason": "stop", "context": []int{1, 2, 3}, "total_duration": 5043500667,
		"load_duration": 5025959, "prompt_eval_count": 26, "prompt_eval_duration": 325953000,
		"eval_count": 290, "eval_duration": 4709213000,
	}
	if !req.streaming() {
		writeJSON(w, http.StatusOK, final)
		return
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	enc := json.NewEncoder(w)
	_ = enc.Encode(map[string]any{"model": req.model(), "created_at": o.now(), "response": reply, "done": false})
	final["response"] = ""
	_ = enc.Encode(final)
}

func (o *Ollama) chat(w http.ResponseWriter, r *http.Request) {
	var req struct {
		modelField
		Messages []struct {
			Role    string `json:"role"`
			Content string `json:"content"`
		} `json:"messages"`
	}
	if err := decodeJSON(r, &req); err != nil {
		ollamaError(w, http.StatusBadRequest, "invalid request body: "+err.Error())
		return
	}
	if !o.requireLocal(w, req.model()) {
		return
	}
	for _, m := range req.Messages {
		switch m.Role {
		case "system", "user", "assistant", "tool":
		default:
			ollamaError(w, http.StatusBadRequest, fmt.Sprintf("invalid role %q", m.Role))
			return
		}
	}
	last := ""
	for _, m := range req.Messages {
		if m.Role == "user" {
			last = m.Content
		}
	}
	resp := map[string]any{
		"model": req.model(), "created_at": o.now(),
		"message":     map[string]any{"role": "assistant", "content": "echo: " + last},
		"done_reason": "stop", "done": true, "total_duration": 5191566416, "load_duration": 2154458,
		"prompt_eval_count": 26, "prompt_eval_duration": 383809000, "eval_count": 298, "eval_duration": 4799921000,
	}
	if len(req.Messages) == 0 {
		resp["message"] = map[string]any{"role": "assistant", "content": ""}
		resp["done_reason"] = "load"
	}
	if !req.streaming() {
		writeJSON(w, http.StatusOK, resp)
		return
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	_ = json.NewEncoder(w).Encode(resp)
}

func (o *Ollama) delete(w http.ResponseWriter, r *http.Request) {
	var req modelField
	if err := decodeJSON(r, &req); err != nil {
		ollamaError(w, http.StatusBadRequest, "invalid request body: "+err.Error())
		return
	}
	if req.model() == "" {
		ollamaError(w, http.StatusBadRequest, "model is required")
		return
	}
	name := normalize(req.model())
	o.mu.Lock()
	_, ok := o.local[name]
	delete(o.local, name)
	o.mu.Unlock()
	if !ok {
		ollamaError(w, http.StatusNotFound, fmt.Sprintf("model '%s' not found", req.model()))
		return
	}
	w.WriteHeader(http.StatusOK)
}
