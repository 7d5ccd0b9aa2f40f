package ai_test

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fast-saas/fast-saas/internal/ai"
	"github.com/fast-saas/fast-saas/internal/ai/aifake"
	"github.com/google/go-cmp/cmp"
)

func TestHealth(t *testing.T) {
	t.Parallel()
	w := newWorld(t, ai.Options{})
	// Langflow answers 500, Langfuse's database is down, the agent hangs
	// past the check timeout; Ollama is fine.
	w.langflowFake.SetDatabaseDown(true)
	w.langfuseFake.SetDatabaseDown(true)
	w.agentFake.FailNext("GET /health", aifake.Fault{Delay: time.Minute})

	// A fake clock: every reading advances 7 ms. Checks run concurrently, so
	// readings interleave: each latency is a positive multiple of 7.
	var mu sync.Mutex
	clock := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	checker := ai.HealthChecker{Timeout: 300 * time.Millisecond, Now: func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		clock = clock.Add(7 * time.Millisecond)
		return clock
	}}
	var notConfigured *ai.Ollama
	got := checker.Check(context.Background(), w.ollama, w.langflow, w.langfuse, w.agent, notConfigured)

	want := []ai.HealthResult{
		{Service: "ollama", Status: ai.StatusHealthy, Detail: "version 0.12.6"},
		{Service: "langflow", Status: ai.StatusUnhealthy},
		{Service: "langfuse", Status: ai.StatusUnhealthy},
		{Service: "agent", Status: ai.StatusUnreachable},
		{Service: "ollama", Status: ai.StatusNotConfigured},
	}
	// Details of failures are error texts; check their gist separately.
	details := []string{"", "status 500", "status 503", "no answer within 300ms", ""}
	for i := range got {
		if configured := i < 4; configured && (got[i].LatencyMS < 7 || got[i].LatencyMS%7 != 0) {
			t.Errorf("%s latency = %d, want a positive multiple of 7", got[i].Service, got[i].LatencyMS)
		} else if !configured && got[i].LatencyMS != 0 {
			t.Errorf("not configured latency = %d, want 0", got[i].LatencyMS)
		}
		got[i].LatencyMS = 0
		if details[i] != "" {
			if !strings.Contains(got[i].Detail, details[i]) {
				t.Errorf("%s detail = %q, want it to mention %q", got[i].Service, got[i].Detail, details[i])
			}
			got[i].Detail = ""
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("health (-want +got):\n%s", diff)
	}

	// One upstream alone: exactly two clock readings, so latency is 7, in
	// the JSON shape the API returns.
	single := checker.Check(context.Background(), w.ollama)
	b, err := json.Marshal(single[0])
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != `{"service":"ollama","status":"healthy","latency_ms":7,"detail":"version 0.12.6"}` {
		t.Fatalf("json = %s", b)
	}
}

func TestHealthUnreachable(t *testing.T) {
	t.Parallel()
	fake := aifake.NewOllama(t)
	c, err := ai.NewOllama(fake.URL, ai.Options{})
	if err != nil {
		t.Fatal(err)
	}
	fake.Server.Close()
	got := ai.Health(context.Background(), c)
	if len(got) != 1 || got[0].Status != ai.StatusUnreachable || got[0].Service != "ollama" {
		t.Fatalf("got %+v, want ollama unreachable", got)
	}
	// The detail is for API callers: no internal address.
	if got[0].Detail != "connection failed" || strings.Contains(got[0].Detail, "127.0.0.1") {
		t.Fatalf("detail = %q, want %q", got[0].Detail, "connection failed")
	}
}
