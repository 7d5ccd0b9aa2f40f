package ai_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/fast-saas/fast-saas/internal/ai"
	"github.com/fast-saas/fast-saas/internal/ai/aifake"
)

const (
	testLangflowKey = "lf-test-key-3f1c"
	testAgentKey    = "agent-test-key-9a2b"
)

// world is one set of fakes and the clients pointed at them.
type world struct {
	ollamaFake   *aifake.Ollama
	langflowFake *aifake.Langflow
	langfuseFake *aifake.Langfuse
	agentFake    *aifake.Agent

	ollama   *ai.Ollama
	langflow *ai.Langflow
	langfuse *ai.Langfuse
	agent    *ai.Agent

	flowID string
	jobID  string
}

func newWorld(t *testing.T, opts ai.Options) *world {
	t.Helper()
	w := &world{
		ollamaFake:   aifake.NewOllama(t),
		langflowFake: aifake.NewLangflow(t, testLangflowKey),
		langfuseFake: aifake.NewLangfuse(t),
		agentFake:    aifake.NewAgent(t, testAgentKey),
	}
	w.ollamaFake.AddModel("llama3.2", 2<<30)
	w.ollamaFake.AddRemote("qwen2.5:0.5b", 1000, 3000)
	w.flowID = w.langflowFake.AddFlow(aifake.FakeFlow{Name: "Support bot", EndpointName: "support"})

	var err error
	if w.ollama, err = ai.NewOllama(w.ollamaFake.URL, opts); err != nil {
		t.Fatal(err)
	}
	lo := opts
	lo.APIKey = testLangflowKey
	if w.langflow, err = ai.NewLangflow(w.langflowFake.URL, lo); err != nil {
		t.Fatal(err)
	}
	if w.langfuse, err = ai.NewLangfuse(w.langfuseFake.URL, opts); err != nil {
		t.Fatal(err)
	}
	ao := opts
	ao.APIKey = testAgentKey
	if w.agent, err = ai.NewAgent(w.agentFake.URL, ao); err != nil {
		t.Fatal(err)
	}
	// A job to read and cancel, created through a client with default
	// options so the matrix's tiny limits do not interfere.
	setup, err := ai.NewAgent(w.agentFake.URL, ai.Options{APIKey: testAgentKey})
	if err != nil {
		t.Fatal(err)
	}
	job, err := setup.CreateJob(context.Background(), ai.JobRequest{Prompt: "hello"})
	if err != nil {
		t.Fatalf("create setup job: %v", err)
	}
	w.jobID = job.ID
	return w
}

// endpoint is one client method and the fake route it calls.
type endpoint struct {
	name  string
	route string
	fake  func(*world) interface{ FailNext(string, aifake.Fault) }
	call  func(context.Context, *world) error
}

func drainPull(ctx context.Context, w *world) error {
	for _, err := range w.ollama.PullStream(ctx, ai.PullRequest{Model: "qwen2.5:0.5b"}) {
		if err != nil {
			return err
		}
	}
	return nil
}

func endpoints() []endpoint {
	ollama := func(w *world) interface{ FailNext(string, aifake.Fault) } { return w.ollamaFake }
	langflow := func(w *world) interface{ FailNext(string, aifake.Fault) } { return w.langflowFake }
	langfuse := func(w *world) interface{ FailNext(string, aifake.Fault) } { return w.langfuseFake }
	agent := func(w *world) interface{ FailNext(string, aifake.Fault) } { return w.agentFake }
	return []endpoint{
		{"ollama list models", "GET /api/tags", ollama, func(ctx context.Context, w *world) error {
			_, err := w.ollama.ListModels(ctx)
			return err
		}},
		{"ollama version", "GET /api/version", ollama, func(ctx context.Context, w *world) error {
			_, err := w.ollama.Version(ctx)
			return err
		}},
		{"ollama pull", "POST /api/pull", ollama, func(ctx context.Context, w *world) error {
			_, err := w.ollama.Pull(ctx, ai.PullRequest{Model: "qwen2.5:0.5b"})
			return err
		}},
		{"ollama pull stream", "POST /api/pull", ollama, drainPull},
		{"ollama generate", "POST /api/generate", ollama, func(ctx context.Context, w *world) error {
			_, err := w.ollama.Generate(ctx, ai.GenerateRequest{Model: "llama3.2", Prompt: "hi"})
			return err
		}},
		{"ollama chat", "POST /api/chat", ollama, func(ctx context.Context, w *world) error {
			_, err := w.ollama.Chat(ctx, ai.ChatRequest{Model: "llama3.2", Messages: []ai.ChatMessage{{Role: "user", Content: "hi"}}})
			return err
		}},
		{"ollama delete", "DELETE /api/delete", ollama, func(ctx context.Context, w *world) error {
			return w.ollama.DeleteModel(ctx, "llama3.2")
		}},
		{"langflow list flows", "GET /api/v1/flows/", langflow, func(ctx context.Context, w *world) error {
			_, err := w.langflow.ListFlows(ctx, ai.ListFlowsOptions{})
			return err
		}},
		{"langflow get flow", "GET /api/v1/flows/{flow_id}", langflow, func(ctx context.Context, w *world) error {
			_, err := w.langflow.GetFlow(ctx, w.flowID)
			return err
		}},
		{"langflow run flow", "POST /api/v1/run/{flow_id_or_name}", langflow, func(ctx context.Context, w *world) error {
			_, err := w.langflow.RunFlow(ctx, w.flowID, ai.RunFlowRequest{InputValue: "hi"})
			return err
		}},
		{"langflow components", "GET /api/v1/all", langflow, func(ctx context.Context, w *world) error {
			_, err := w.langflow.Components(ctx)
			return err
		}},
		{"langflow ping", "GET /health_check", langflow, func(ctx context.Context, w *world) error {
			_, err := w.langflow.Ping(ctx)
			return err
		}},
		{"langfuse health", "GET /api/public/health", langfuse, func(ctx context.Context, w *world) error {
			_, err := w.langfuse.Health(ctx)
			return err
		}},
		{"agent create job", "POST /v1/jobs", agent, func(ctx context.Context, w *world) error {
			_, err := w.agent.CreateJob(ctx, ai.JobRequest{Prompt: "do it"})
			return err
		}},
		{"agent list jobs", "GET /v1/jobs", agent, func(ctx context.Context, w *world) error {
			_, err := w.agent.ListJobs(ctx, ai.ListJobsOptions{})
			return err
		}},
		{"agent get job", "GET /v1/jobs/{id}", agent, func(ctx context.Context, w *world) error {
			_, err := w.agent.GetJob(ctx, w.jobID, "")
			return err
		}},
		{"agent cancel job", "DELETE /v1/jobs/{id}", agent, func(ctx context.Context, w *world) error {
			_, err := w.agent.CancelJob(ctx, w.jobID, "")
			return err
		}},
		{"agent ping", "GET /health", agent, func(ctx context.Context, w *world) error {
			_, err := w.agent.Ping(ctx)
			return err
		}},
	}
}

// TestFailureMatrix runs every client method against its fake: once
// unscripted (must succeed), then with each scripted failure, checking the
// error kind and the status the API would answer.
func TestFailureMatrix(t *testing.T) {
	t.Parallel()
	const limit = 64 << 10
	cases := []struct {
		name       string
		fault      aifake.Fault
		timeout    time.Duration
		check      func(t *testing.T, err error)
		wantStatus int
	}{
		{
			name:  "success",
			check: func(t *testing.T, err error) { t.Helper(); mustNil(t, err) },
		},
		{
			name:       "upstream 404 preserved",
			fault:      aifake.Fault{Status: http.StatusNotFound, Body: `{"error":"not here","detail":"not here"}`},
			check:      wantUpstream(http.StatusNotFound, "not here"),
			wantStatus: http.StatusNotFound,
		},
		{
			name:       "upstream 422 preserved",
			fault:      aifake.Fault{Status: http.StatusUnprocessableEntity, Body: `{"detail":[{"loc":["body"],"msg":"bad field","type":"x"}]}`},
			check:      wantUpstream(http.StatusUnprocessableEntity, "bad field"),
			wantStatus: http.StatusUnprocessableEntity,
		},
		{
			name:       "upstream 429 preserved",
			fault:      aifake.Fault{Status: http.StatusTooManyRequests, Body: `{"detail":"slow down"}`},
			check:      wantUpstream(http.StatusTooManyRequests, "slow down"),
			wantStatus: http.StatusTooManyRequests,
		},
		{
			name:       "upstream 401 is our config fault",
			fault:      aifake.Fault{Status: http.StatusUnauthorized, Body: `{"detail":"bad key"}`},
			check:      wantUpstream(http.StatusUnauthorized, "bad key"),
			wantStatus: http.StatusBadGateway,
		},
		{
			name:       "upstream 500 preserved as 502",
			fault:      aifake.Fault{Status: http.StatusInternalServerError, Body: `{"error":"boom"}`},
			check:      wantUpstream(http.StatusInternalServerError, "boom"),
			wantStatus: http.StatusBadGateway,
		},
		{
			name:       "upstream 503 preserved",
			fault:      aifake.Fault{Status: http.StatusServiceUnavailable, Body: "<html>down</html>", ContentType: "text/html"},
			check:      wantUpstream(http.StatusServiceUnavailable, ""),
			wantStatus: http.StatusServiceUnavailable,
		},
		{
			name:    "timeout",
			fault:   aifake.Fault{Delay: time.Minute},
			timeout: 150 * time.Millisecond,
			check: func(t *testing.T, err error) {
				t.Helper()
				if !errors.Is(err, ai.ErrTimeout) || !errors.Is(err, ai.ErrUnavailable) {
					t.Fatalf("err = %v, want ErrTimeout and ErrUnavailable", err)
				}
			},
			wantStatus: http.StatusGatewayTimeout,
		},
		{
			name:  "oversize body",
			fault: aifake.Fault{OversizeBytes: 2 * limit},
			check: func(t *testing.T, err error) {
				t.Helper()
				if !errors.Is(err, ai.ErrResponseTooLarge) {
					t.Fatalf("err = %v, want ErrResponseTooLarge", err)
				}
			},
			wantStatus: http.StatusBadGateway,
		},
		{
			name:  "long error message is truncated, not an error of its own",
			fault: aifake.Fault{Status: http.StatusBadRequest, Body: `{"error":"` + strings.Repeat("é", 1000) + `"}`},
			check: func(t *testing.T, err error) {
				t.Helper()
				var ue *ai.UpstreamError
				if !errors.As(err, &ue) {
					t.Fatalf("err = %v, want *UpstreamError", err)
				}
				if len(ue.Body) > 512 || len(ue.Message) > 512 {
					t.Fatalf("kept %d body / %d message bytes, want ≤ 512", len(ue.Body), len(ue.Message))
				}
			},
			wantStatus: http.StatusBadRequest,
		},
		{
			name:       "error page over the size limit keeps the upstream status",
			fault:      aifake.Fault{Status: http.StatusInternalServerError, Body: "<html>" + strings.Repeat("x", 4*limit), ContentType: "text/html"},
			check:      wantUpstream(http.StatusInternalServerError, ""),
			wantStatus: http.StatusBadGateway,
		},
	}
	for _, ep := range endpoints() {
		for _, tc := range cases {
			t.Run(ep.name+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				timeout := tc.timeout
				if timeout == 0 {
					timeout = 20 * time.Second
				}
				w := newWorld(t, ai.Options{Timeout: timeout, MaxResponseBytes: limit})
				if tc.fault != (aifake.Fault{}) {
					ep.fake(w).FailNext(ep.route, tc.fault)
				}
				err := ep.call(context.Background(), w)
				tc.check(t, err)
				got, ok := ai.HTTPStatus(err)
				if tc.wantStatus == 0 {
					if ok {
						t.Fatalf("HTTPStatus(nil) = %d, true; want false", got)
					}
					return
				}
				if !ok || got != tc.wantStatus {
					t.Fatalf("HTTPStatus = %d, %v; want %d, true", got, ok, tc.wantStatus)
				}
			})
		}
	}
}

func mustNil(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("err = %v, want nil", err)
	}
}

func wantUpstream(status int, msg string) func(*testing.T, error) {
	return func(t *testing.T, err error) {
		t.Helper()
		var ue *ai.UpstreamError
		if !errors.As(err, &ue) {
			t.Fatalf("err = %v (%T), want *ai.UpstreamError", err, err)
		}
		if ue.Status != status {
			t.Fatalf("Status = %d, want %d", ue.Status, status)
		}
		if ue.Message != msg {
			t.Fatalf("Message = %q, want %q", ue.Message, msg)
		}
		if errors.Is(err, ai.ErrUnavailable) {
			t.Fatalf("an upstream answer must not be ErrUnavailable: %v", err)
		}
	}
}

// TestUnreachable points every client at a closed port.
func TestUnreachable(t *testing.T) {
	t.Parallel()
	w := newWorld(t, ai.Options{Timeout: 10 * time.Second})
	for _, f := range []interface{ Close() }{w.ollamaFake.Server, w.langflowFake.Server, w.langfuseFake.Server, w.agentFake.Server} {
		f.Close()
	}
	for _, ep := range endpoints() {
		t.Run(ep.name, func(t *testing.T) {
			err := ep.call(context.Background(), w)
			if !errors.Is(err, ai.ErrUnavailable) {
				t.Fatalf("err = %v, want ErrUnavailable", err)
			}
			if errors.Is(err, ai.ErrTimeout) {
				t.Fatalf("a refused connection is not a timeout: %v", err)
			}
			if got, _ := ai.HTTPStatus(err); got != http.StatusServiceUnavailable {
				t.Fatalf("HTTPStatus = %d, want 503", got)
			}
		})
	}
}

// TestCallerCancellation: a caller that gives up gets its context error,
// not an upstream outage.
func TestCallerCancellation(t *testing.T) {
	t.Parallel()
	for _, ep := range endpoints() {
		t.Run(ep.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, ai.Options{Timeout: time.Minute})
			ep.fake(w).FailNext(ep.route, aifake.Fault{Delay: time.Minute})
			ctx, cancel := context.WithCancel(context.Background())
			before := requestsTo(w, ep.route)
			go func() {
				// Cancel once the request reached the fake.
				for range 2000 {
					if requestsTo(w, ep.route) > before {
						break
					}
					time.Sleep(5 * time.Millisecond)
				}
				cancel()
			}()
			err := ep.call(ctx, w)
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("err = %v, want context.Canceled", err)
			}
			if errors.Is(err, ai.ErrUnavailable) {
				t.Fatalf("caller cancellation reported as outage: %v", err)
			}
		})
	}
}

func requestsTo(w *world, route string) int {
	method, path, _ := strings.Cut(route, " ")
	prefix, wildcard := path, false
	if i := strings.Index(path, "{"); i >= 0 {
		prefix, wildcard = path[:i], true
	}
	n := 0
	for _, s := range []interface{ Requests() []aifake.Request }{w.ollamaFake, w.langflowFake, w.langfuseFake, w.agentFake} {
		for _, r := range s.Requests() {
			if r.Method != method {
				continue
			}
			if r.Path == path || (wildcard && strings.HasPrefix(r.Path, prefix)) {
				n++
			}
		}
	}
	return n
}

// TestCredentialsOnEveryCall: every Langflow request carries x-api-key and
// every agent request the bearer key; Ollama and Langfuse get neither.
func TestCredentialsOnEveryCall(t *testing.T) {
	t.Parallel()
	w := newWorld(t, ai.Options{})
	for _, ep := range endpoints() {
		if err := ep.call(context.Background(), w); err != nil {
			t.Fatalf("%s: %v", ep.name, err)
		}
	}
	check := func(name string, reqs []aifake.Request, header, want string) {
		t.Helper()
		if len(reqs) == 0 {
			t.Fatalf("%s: no requests recorded", name)
		}
		for _, r := range reqs {
			if got := r.Header.Get(header); got != want {
				t.Errorf("%s %s %s: %s = %q, want %q", name, r.Method, r.Path, header, got, want)
			}
		}
	}
	check("langflow", w.langflowFake.Requests(), "x-api-key", testLangflowKey)
	check("agent", w.agentFake.Requests(), "Authorization", "Bearer "+testAgentKey)
	for name, reqs := range map[string][]aifake.Request{"ollama": w.ollamaFake.Requests(), "langfuse": w.langfuseFake.Requests()} {
		check(name, reqs, "Authorization", "")
		check(name, reqs, "x-api-key", "")
	}
}
