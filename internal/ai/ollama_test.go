package ai_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/fast-saas/fast-saas/internal/ai"
	"github.com/fast-saas/fast-saas/internal/ai/aifake"
	"github.com/google/go-cmp/cmp"
)

func newOllama(t *testing.T, opts ai.Options) (*aifake.Ollama, *ai.Ollama) {
	t.Helper()
	fake := aifake.NewOllama(t)
	c, err := ai.NewOllama(fake.URL, opts)
	if err != nil {
		t.Fatal(err)
	}
	return fake, c
}

func TestOllamaListModels(t *testing.T) {
	t.Parallel()
	fake, c := newOllama(t, ai.Options{})
	ctx := context.Background()

	got, err := c.ListModels(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got == nil || len(got) != 0 {
		t.Fatalf("empty server: got %#v, want an empty non-nil slice", got)
	}

	fake.AddModel("llama3.2", 3825819519)
	fake.AddModel("library/codellama:13b", 7365960935)
	got, err = c.ListModels(ctx)
	if err != nil {
		t.Fatal(err)
	}
	names := []string{}
	for _, m := range got {
		names = append(names, m.Name)
		if m.Digest == "" || m.Details.Format != "gguf" || m.ModifiedAt.IsZero() {
			t.Errorf("model %q: missing fields: %+v", m.Name, m)
		}
	}
	if diff := cmp.Diff([]string{"library/codellama:13b", "llama3.2:latest"}, names); diff != "" {
		t.Fatalf("names (-want +got):\n%s", diff)
	}
	if got[1].Size != 3825819519 {
		t.Errorf("size = %d, want 3825819519", got[1].Size)
	}
}

func TestOllamaPullStream(t *testing.T) {
	t.Parallel()
	fake, c := newOllama(t, ai.Options{})
	fake.AddRemote("team/model:7b", 1000, 3000)
	ctx := context.Background()

	var got []ai.PullProgress
	for p, err := range c.PullStream(ctx, ai.PullRequest{Model: "team/model:7b"}) {
		if err != nil {
			t.Fatalf("progress: %v", err)
		}
		got = append(got, p)
	}
	if len(got) != 10 { // manifest, 2 layers × 3, verifying, writing, success
		t.Fatalf("got %d lines, want 10: %+v", len(got), got)
	}
	if got[0].Status != "pulling manifest" || !got[len(got)-1].Done() {
		t.Fatalf("first/last = %+v / %+v", got[0], got[len(got)-1])
	}
	layer := got[3]
	if layer.Digest == "" || layer.Total != 1000 || layer.Completed != 1000 {
		t.Fatalf("layer line = %+v, want total=completed=1000 with a digest", layer)
	}
	if got[1].Completed != 0 {
		t.Fatalf("first layer line completed = %d, want 0 (absent)", got[1].Completed)
	}
	if !fake.HasModel("team/model:7b") {
		t.Fatal("model not installed after a successful pull")
	}

	var body struct {
		Model  string `json:"model"`
		Stream *bool  `json:"stream"`
	}
	if err := json.Unmarshal(fake.LastRequest().Body, &body); err != nil {
		t.Fatal(err)
	}
	if body.Model != "team/model:7b" || body.Stream == nil || !*body.Stream {
		t.Fatalf("request body = %s, want model and stream:true", fake.LastRequest().Body)
	}
}

func TestOllamaPullStreamEarlyStop(t *testing.T) {
	t.Parallel()
	fake, c := newOllama(t, ai.Options{})
	fake.AddRemote("m", 10)
	n := 0
	for _, err := range c.PullStream(context.Background(), ai.PullRequest{Model: "m"}) {
		if err != nil {
			t.Fatal(err)
		}
		n++
		if n == 2 {
			break // must not panic (yield after break) nor leak
		}
	}
	if n != 2 {
		t.Fatalf("n = %d", n)
	}
}

func TestOllamaPullErrors(t *testing.T) {
	t.Parallel()
	fake, c := newOllama(t, ai.Options{Timeout: 200 * time.Millisecond})
	ctx := context.Background()

	t.Run("unknown model, streamed: error line after 200", func(t *testing.T) {
		var last error
		lines := 0
		for _, err := range c.PullStream(ctx, ai.PullRequest{Model: "nope"}) {
			if err != nil {
				last = err
				continue
			}
			lines++
		}
		var ue *ai.UpstreamError
		if !errors.As(last, &ue) || ue.Message != "pull model manifest: file does not exist" {
			t.Fatalf("err = %v, want UpstreamError with Ollama's message", last)
		}
		if got := ue.ProxyStatus(); got != http.StatusBadGateway {
			t.Fatalf("ProxyStatus = %d, want 502", got)
		}
		if lines != 1 {
			t.Fatalf("lines before the error = %d, want 1 (pulling manifest)", lines)
		}
	})
	t.Run("unknown model, not streamed: 500", func(t *testing.T) {
		_, err := c.Pull(ctx, ai.PullRequest{Model: "nope"})
		var ue *ai.UpstreamError
		if !errors.As(err, &ue) || ue.Status != http.StatusInternalServerError {
			t.Fatalf("err = %v, want UpstreamError 500", err)
		}
	})
	t.Run("stalled stream hits the idle timeout", func(t *testing.T) {
		fake.AddRemote("slow", 10)
		fake.FailNext("POST /api/pull", aifake.Fault{StallStream: true})
		var last error
		for _, err := range c.PullStream(ctx, ai.PullRequest{Model: "slow"}) {
			if err != nil {
				last = err
			}
		}
		if !errors.Is(last, ai.ErrTimeout) {
			t.Fatalf("err = %v, want ErrTimeout", last)
		}
	})
	t.Run("missing model is refused before sending", func(t *testing.T) {
		before := len(fake.Requests())
		_, err := c.Pull(ctx, ai.PullRequest{})
		if !errors.Is(err, ai.ErrInvalidArgument) {
			t.Fatalf("err = %v, want ErrInvalidArgument", err)
		}
		for _, err := range c.PullStream(ctx, ai.PullRequest{}) {
			if !errors.Is(err, ai.ErrInvalidArgument) {
				t.Fatalf("stream err = %v, want ErrInvalidArgument", err)
			}
		}
		if after := len(fake.Requests()); after != before {
			t.Fatalf("%d requests sent for an invalid call", after-before)
		}
	})
}

func TestOllamaPullNotStreamed(t *testing.T) {
	t.Parallel()
	fake, c := newOllama(t, ai.Options{})
	fake.AddRemote("phi3", 5)
	got, err := c.Pull(context.Background(), ai.PullRequest{Model: "phi3", Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	if !got.Done() {
		t.Fatalf("got %+v, want status success", got)
	}
	var body map[string]any
	if err := json.Unmarshal(fake.LastRequest().Body, &body); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]any{"model": "phi3", "insecure": true, "stream": false}, body); diff != "" {
		t.Fatalf("request body (-want +got):\n%s", diff)
	}
}

func TestOllamaGenerateAndChat(t *testing.T) {
	t.Parallel()
	fake, c := newOllama(t, ai.Options{})
	fake.AddModel("llama3.2", 1)
	ctx := context.Background()

	gen, err := c.Generate(ctx, ai.GenerateRequest{
		Model: "llama3.2", Prompt: "Why is the sky blue?",
		Options: json.RawMessage(`{"temperature":0}`), Format: json.RawMessage(`"json"`),
	})
	if err != nil {
		t.Fatal(err)
	}
	if gen.Response != "echo: Why is the sky blue?" || !gen.Done || gen.EvalCount == 0 || gen.DoneReason != "stop" {
		t.Fatalf("generate = %+v", gen)
	}
	var sent map[string]any
	if err := json.Unmarshal(fake.LastRequest().Body, &sent); err != nil {
		t.Fatal(err)
	}
	if sent["stream"] != false || sent["format"] != "json" || sent["options"].(map[string]any)["temperature"] != 0.0 {
		t.Fatalf("generate body = %s", fake.LastRequest().Body)
	}

	chat, err := c.Chat(ctx, ai.ChatRequest{Model: "llama3.2", Messages: []ai.ChatMessage{
		{Role: "system", Content: "be brief"}, {Role: "user", Content: "hello"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if chat.Message.Role != "assistant" || chat.Message.Content != "echo: hello" || !chat.Done {
		t.Fatalf("chat = %+v", chat)
	}

	_, err = c.Generate(ctx, ai.GenerateRequest{Model: "missing", Prompt: "x"})
	var ue *ai.UpstreamError
	if !errors.As(err, &ue) || ue.Status != http.StatusNotFound || ue.ProxyStatus() != http.StatusNotFound {
		t.Fatalf("unknown model: err = %v, want upstream 404 preserved", err)
	}
	_, err = c.Chat(ctx, ai.ChatRequest{Model: "llama3.2", Messages: []ai.ChatMessage{{Role: "wizard", Content: "x"}}})
	if !errors.As(err, &ue) || ue.Status != http.StatusBadRequest {
		t.Fatalf("bad role: err = %v, want upstream 400", err)
	}
}

// TestOllamaModelNamesReachUpstreamIntact: model names travel in JSON
// bodies, so '/', '?', '#', '%' and spaces must arrive unchanged.
func TestOllamaModelNamesReachUpstreamIntact(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"team/model:7b", "we?ird#name", "50%/x y", "../../etc/passwd"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			fake, c := newOllama(t, ai.Options{})
			fake.AddRemote(name, 1)
			if _, err := c.Pull(context.Background(), ai.PullRequest{Model: name}); err != nil {
				t.Fatal(err)
			}
			if err := c.DeleteModel(context.Background(), name); err != nil {
				t.Fatalf("delete: %v", err)
			}
			req := fake.LastRequest()
			if req.Method != http.MethodDelete || req.EscapedPath != "/api/delete" || len(req.Query) != 0 {
				t.Fatalf("request = %s %s?%v, want DELETE /api/delete", req.Method, req.EscapedPath, req.Query)
			}
			var body struct{ Model string }
			if err := json.Unmarshal(req.Body, &body); err != nil || body.Model != name {
				t.Fatalf("body = %s, want model %q", req.Body, name)
			}
			if fake.HasModel(name) {
				t.Fatal("model still present after delete")
			}
		})
	}
}

func TestOllamaDeleteUnknown(t *testing.T) {
	t.Parallel()
	_, c := newOllama(t, ai.Options{})
	err := c.DeleteModel(context.Background(), "ghost")
	var ue *ai.UpstreamError
	if !errors.As(err, &ue) || ue.Status != http.StatusNotFound || ue.Message != "model 'ghost' not found" {
		t.Fatalf("err = %v, want Ollama's 404", err)
	}
}

func TestNilClientsAreNotConfigured(t *testing.T) {
	t.Parallel()
	var (
		o  *ai.Ollama
		lf *ai.Langflow
		lu *ai.Langfuse
		ag *ai.Agent
	)
	ctx := context.Background()
	_, e1 := o.ListModels(ctx)
	_, e2 := lf.ListFlows(ctx, ai.ListFlowsOptions{})
	_, e3 := lu.Health(ctx)
	_, e4 := ag.ListJobs(ctx, ai.ListJobsOptions{})
	var e5 error
	for _, err := range o.PullStream(ctx, ai.PullRequest{Model: "m"}) {
		e5 = err
	}
	for i, err := range []error{e1, e2, e3, e4, e5} {
		if !errors.Is(err, ai.ErrNotConfigured) {
			t.Errorf("call %d: err = %v, want ErrNotConfigured", i, err)
		}
		if got, _ := ai.HTTPStatus(err); got != http.StatusServiceUnavailable {
			t.Errorf("call %d: HTTPStatus = %d, want 503", i, got)
		}
	}
}

func TestPullSummary(t *testing.T) {
	t.Parallel()
	fake, c := newOllama(t, ai.Options{})
	fake.AddRemote("m", 1000, 3000)
	var s ai.PullSummary
	var percents []float64
	for p, err := range c.PullStream(context.Background(), ai.PullRequest{Model: "m"}) {
		if err != nil {
			t.Fatal(err)
		}
		s.Add(p)
		percents = append(percents, s.Percent())
	}
	if !s.Done || s.Total != 4000 || s.Completed != 4000 || s.Percent() != 100 || s.Status != "success" {
		t.Fatalf("summary = %+v (%.1f%%)", s, s.Percent())
	}
	// Once the second layer appears the total grows, so the percentage may
	// drop; within one layer it never does.
	want := []float64{0, 0, 50, 100, 25, 62.5, 100, 100, 100, 100}
	if diff := cmp.Diff(want, percents); diff != "" {
		t.Fatalf("percent series (-want +got):\n%s", diff)
	}

	// A repeated, lower line for a layer (resumed pull) does not go backwards.
	var r ai.PullSummary
	r.Add(ai.PullProgress{Status: "pulling a", Digest: "sha256:a", Total: 10, Completed: 8})
	r.Add(ai.PullProgress{Status: "pulling a", Digest: "sha256:a", Total: 10, Completed: 2})
	if r.Completed != 8 || r.Total != 10 || r.Done {
		t.Fatalf("resumed = %+v", r)
	}
}
