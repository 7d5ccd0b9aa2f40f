package ai_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/fast-saas/fast-saas/internal/ai"
	"github.com/fast-saas/fast-saas/internal/ai/aifake"
	"github.com/google/go-cmp/cmp"
)

func newLangflow(t *testing.T, key string) (*aifake.Langflow, *ai.Langflow) {
	t.Helper()
	fake := aifake.NewLangflow(t, testLangflowKey)
	c, err := ai.NewLangflow(fake.URL, ai.Options{APIKey: key})
	if err != nil {
		t.Fatal(err)
	}
	return fake, c
}

func TestLangflowFlows(t *testing.T) {
	t.Parallel()
	fake, c := newLangflow(t, testLangflowKey)
	ctx := context.Background()
	id := fake.AddFlow(aifake.FakeFlow{Name: "B flow", Description: "second", EndpointName: "b", Tags: []string{"x"},
		Data: json.RawMessage(`{"nodes":[{"id":"ChatInput-1"}],"edges":[]}`)})
	fake.AddFlow(aifake.FakeFlow{Name: "A flow", FolderID: "f1"})

	flows, err := c.ListFlows(ctx, ai.ListFlowsOptions{RemoveExampleFlows: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(flows) != 2 || flows[0].Name != "A flow" || flows[1].ID != id || len(flows[1].Data) == 0 {
		t.Fatalf("flows = %+v", flows)
	}
	q := fake.LastRequest().Query
	if q.Get("get_all") != "true" || q.Get("remove_example_flows") != "true" || q.Get("header_flows") != "false" {
		t.Fatalf("query = %v", q)
	}

	headers, err := c.ListFlows(ctx, ai.ListFlowsOptions{HeaderFlows: true, FolderID: "f1"})
	if err != nil {
		t.Fatal(err)
	}
	if len(headers) != 1 || headers[0].Name != "A flow" || headers[0].Data != nil {
		t.Fatalf("header flows = %+v, want one flow without data", headers)
	}

	got, err := c.GetFlow(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	want := ai.Flow{ID: id, Name: "B flow", Description: "second", EndpointName: "b", Tags: []string{"x"},
		UpdatedAt: "2026-11-26T01:02:03+00:00", Data: json.RawMessage(`{"nodes":[{"id":"ChatInput-1"}],"edges":[]}`)}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("flow (-want +got):\n%s", diff)
	}

	_, err = c.GetFlow(ctx, "0193a5c8-7d2e-7cc1-9d5e-2b1b3e0f4a10")
	var ue *ai.UpstreamError
	if !errors.As(err, &ue) || ue.Status != http.StatusNotFound || ue.Message != "Flow not found" {
		t.Fatalf("unknown flow: err = %v, want Langflow's 404", err)
	}
	_, err = c.GetFlow(ctx, "not-a-uuid")
	if !errors.As(err, &ue) || ue.Status != http.StatusUnprocessableEntity || ue.Message != "Input should be a valid UUID" {
		t.Fatalf("bad id: err = %v, want Langflow's 422 with the validation message", err)
	}
}

func TestLangflowRun(t *testing.T) {
	t.Parallel()
	fake, c := newLangflow(t, testLangflowKey)
	ctx := context.Background()
	id := fake.AddFlow(aifake.FakeFlow{Name: "bot", EndpointName: "support-bot"})

	for _, ref := range []string{id, "support-bot"} {
		out, err := c.RunFlow(ctx, ref, ai.RunFlowRequest{
			InputValue: "hello", InputType: "chat", OutputType: "chat", SessionID: "s-1",
			Tweaks: json.RawMessage(`{"ChatOutput-1":{"should_store_message":false}}`),
		})
		if err != nil {
			t.Fatalf("run %s: %v", ref, err)
		}
		if out.SessionID != "s-1" {
			t.Fatalf("session = %q", out.SessionID)
		}
		var outputs []struct {
			Outputs []struct {
				Results struct {
					Message struct{ Text string }
				}
			}
		}
		if err := json.Unmarshal(out.Outputs, &outputs); err != nil {
			t.Fatal(err)
		}
		if got := outputs[0].Outputs[0].Results.Message.Text; got != "echo: hello" {
			t.Fatalf("text = %q", got)
		}
		req := fake.LastRequest()
		if req.Query.Get("stream") != "false" {
			t.Fatalf("query = %v, want stream=false", req.Query)
		}
		var body map[string]any
		if err := json.Unmarshal(req.Body, &body); err != nil {
			t.Fatal(err)
		}
		if body["input_value"] != "hello" || body["session_id"] != "s-1" || body["tweaks"] == nil {
			t.Fatalf("body = %s", req.Body)
		}
	}

	_, err := c.RunFlow(ctx, id, ai.RunFlowRequest{InputType: "video"})
	var ue *ai.UpstreamError
	if !errors.As(err, &ue) || ue.Status != http.StatusUnprocessableEntity || ue.ProxyStatus() != http.StatusUnprocessableEntity {
		t.Fatalf("bad input type: err = %v, want 422 preserved", err)
	}
}

// TestLangflowEscaping: IDs are path segments; '/', '?', '#', '%', spaces
// must arrive as one encoded segment, and dot segments or empty IDs must
// never be sent (they would address another resource).
func TestLangflowEscaping(t *testing.T) {
	t.Parallel()
	cases := []struct {
		id          string
		wantEscaped string
	}{
		{"team/flow", "/api/v1/run/team%2Fflow"},
		{"what?x=1", "/api/v1/run/what%3Fx=1"},
		{"frag#ment", "/api/v1/run/frag%23ment"},
		{"50% off", "/api/v1/run/50%25%20off"},
		{"..%2F..", "/api/v1/run/..%252F.."},
	}
	for _, tc := range cases {
		t.Run(tc.id, func(t *testing.T) {
			t.Parallel()
			fake, c := newLangflow(t, testLangflowKey)
			fake.AddFlow(aifake.FakeFlow{Name: "f", EndpointName: tc.id})
			if _, err := c.RunFlow(context.Background(), tc.id, ai.RunFlowRequest{InputValue: "x"}); err != nil {
				t.Fatalf("run: %v", err)
			}
			req := fake.LastRequest()
			if req.EscapedPath != tc.wantEscaped {
				t.Fatalf("escaped path = %q, want %q", req.EscapedPath, tc.wantEscaped)
			}
			if req.Path != "/api/v1/run/"+tc.id {
				t.Fatalf("path = %q, want the id as one segment", req.Path)
			}
			if req.Query.Get("stream") != "false" || len(req.Query) != 1 {
				t.Fatalf("query = %v: the id leaked into the query", req.Query)
			}
		})
	}
	t.Run("get flow", func(t *testing.T) {
		t.Parallel()
		fake, c := newLangflow(t, testLangflowKey)
		_, err := c.GetFlow(context.Background(), "a/b?c#d")
		var ue *ai.UpstreamError
		if !errors.As(err, &ue) || ue.Status != http.StatusUnprocessableEntity {
			t.Fatalf("err = %v, want Langflow's 422 for a non-UUID id", err)
		}
		if req := fake.LastRequest(); req.EscapedPath != "/api/v1/flows/a%2Fb%3Fc%23d" {
			t.Fatalf("escaped path = %q", req.EscapedPath)
		}
	})
	for _, bad := range []string{"", ".", ".."} {
		t.Run("refuse "+bad, func(t *testing.T) {
			t.Parallel()
			fake, c := newLangflow(t, testLangflowKey)
			_, err1 := c.GetFlow(context.Background(), bad)
			_, err2 := c.RunFlow(context.Background(), bad, ai.RunFlowRequest{})
			for _, err := range []error{err1, err2} {
				if !errors.Is(err, ai.ErrInvalidArgument) {
					t.Fatalf("err = %v, want ErrInvalidArgument", err)
				}
			}
			if n := len(fake.Requests()); n != 0 {
				t.Fatalf("%d requests sent", n)
			}
		})
	}
}

func TestLangflowAuth(t *testing.T) {
	t.Parallel()
	fake, c := newLangflow(t, testLangflowKey)
	if _, err := c.Components(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := fake.LastRequest().Header.Get("x-api-key"); got != testLangflowKey {
		t.Fatalf("x-api-key = %q, want the configured key", got)
	}

	for _, key := range []string{"", "wrong"} {
		_, c := newLangflow(t, key)
		_, err := c.ListFlows(context.Background(), ai.ListFlowsOptions{})
		var ue *ai.UpstreamError
		if !errors.As(err, &ue) || ue.Status != http.StatusForbidden {
			t.Fatalf("key %q: err = %v, want 403", key, err)
		}
		// Our key being refused is our configuration fault, not the caller's.
		if got := ue.ProxyStatus(); got != http.StatusBadGateway {
			t.Fatalf("ProxyStatus = %d, want 502", got)
		}
		if key != "" && (strings.Contains(ue.Error(), key) || strings.Contains(ue.Body, key)) {
			t.Fatalf("error echoes the key: %v", ue)
		}
	}
}

func TestLangflowComponents(t *testing.T) {
	t.Parallel()
	_, c := newLangflow(t, testLangflowKey)
	cat, err := c.Components(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := cat["inputs"]["ChatInput"]; !ok {
		t.Fatalf("catalog = %v, want inputs/ChatInput", cat)
	}
	var tmpl struct {
		DisplayName string `json:"display_name"`
	}
	if err := json.Unmarshal(cat["outputs"]["ChatOutput"], &tmpl); err != nil || tmpl.DisplayName != "Chat Output" {
		t.Fatalf("ChatOutput template = %s (%v)", cat["outputs"]["ChatOutput"], err)
	}
}
