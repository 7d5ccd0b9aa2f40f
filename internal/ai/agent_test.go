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

func newAgent(t *testing.T) (*aifake.Agent, *ai.Agent) {
	t.Helper()
	fake := aifake.NewAgent(t, testAgentKey)
	c, err := ai.NewAgent(fake.URL, ai.Options{APIKey: testAgentKey})
	if err != nil {
		t.Fatal(err)
	}
	return fake, c
}

func TestAgentJobLifecycle(t *testing.T) {
	t.Parallel()
	fake, c := newAgent(t)
	clock := time.Date(2026, 11, 26, 1, 0, 0, 0, time.UTC)
	fake.Now = func() time.Time { clock = clock.Add(time.Second); return clock }
	ctx := context.Background()

	job, err := c.CreateJob(ctx, ai.JobRequest{Prompt: "write docs", Workdir: "projects/acme", MaxTurns: 5,
		AllowedTools: []string{"Read", "Bash(git diff:*)"}, Owner: "tenant:a"})
	if err != nil {
		t.Fatal(err)
	}
	if job.ID == "" || job.Status != ai.JobQueued || job.MaxTurns != 5 || job.Workdir != "projects/acme" ||
		job.Owner != "tenant:a" || job.StartedAt != nil || job.FinishedAt != nil || job.CreatedAt.IsZero() {
		t.Fatalf("created job = %+v", job)
	}
	if got := fake.LastRequest().Header.Get("Authorization"); got != "Bearer "+testAgentKey {
		t.Fatalf("Authorization = %q, want the bearer key", got)
	}

	if err := fake.Start(job.ID); err != nil {
		t.Fatal(err)
	}
	if err := fake.Succeed(job.ID, "done"); err != nil {
		t.Fatal(err)
	}
	got, err := c.GetJob(ctx, job.ID, "tenant:a")
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != ai.JobSucceeded || got.Output != "done" || got.StartedAt == nil || got.FinishedAt == nil ||
		!got.FinishedAt.After(*got.StartedAt) || !ai.JobFinal(got.Status) {
		t.Fatalf("finished job = %+v", got)
	}

	// Cancelling a finished job is the agent's 409, preserved.
	_, err = c.CancelJob(ctx, job.ID, "")
	var ue *ai.UpstreamError
	if !errors.As(err, &ue) || ue.Status != http.StatusConflict || ue.Code != "job_finished" || ue.ProxyStatus() != http.StatusConflict {
		t.Fatalf("cancel finished: err = %v, want 409 job_finished", err)
	}

	// A queued job cancels at once.
	job2, err := c.CreateJob(ctx, ai.JobRequest{Prompt: "second"})
	if err != nil {
		t.Fatal(err)
	}
	if job2.MaxTurns != 20 {
		t.Fatalf("default max_turns = %d, want 20", job2.MaxTurns)
	}
	cancelled, err := c.CancelJob(ctx, job2.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	if cancelled.Status != ai.JobCancelled || cancelled.FinishedAt == nil {
		t.Fatalf("cancelled = %+v", cancelled)
	}
}

// TestAgentOwnerScoping: with an owner, another owner's job is
// indistinguishable from a missing one (404), so the API can keep tenants
// apart.
func TestAgentOwnerScoping(t *testing.T) {
	t.Parallel()
	_, c := newAgent(t)
	ctx := context.Background()
	job, err := c.CreateJob(ctx, ai.JobRequest{Prompt: "p", Owner: "tenant:a"})
	if err != nil {
		t.Fatal(err)
	}
	_, errOther := c.GetJob(ctx, job.ID, "tenant:b")
	_, errMissing := c.GetJob(ctx, "0193a5c8-7d2e-7cc1-9d5e-2b1b3e0f4a10", "tenant:b")
	_, errCancel := c.CancelJob(ctx, job.ID, "tenant:b")
	for _, err := range []error{errOther, errMissing, errCancel} {
		var ue *ai.UpstreamError
		if !errors.As(err, &ue) || ue.Status != http.StatusNotFound || ue.Code != "not_found" {
			t.Fatalf("err = %v, want 404 not_found", err)
		}
	}
	page, err := c.ListJobs(ctx, ai.ListJobsOptions{Owner: "tenant:b"})
	if err != nil || len(page.Items) != 0 {
		t.Fatalf("other owner's list = %+v, %v; want empty", page, err)
	}
	if got, err := c.GetJob(ctx, job.ID, "tenant:a"); err != nil || got.Status != ai.JobQueued {
		t.Fatalf("own job = %+v, %v", got, err)
	}
}

func TestAgentListPagination(t *testing.T) {
	t.Parallel()
	fake, c := newAgent(t)
	clock := time.Date(2026, 11, 26, 1, 0, 0, 0, time.UTC)
	fake.Now = func() time.Time { clock = clock.Add(time.Second); return clock }
	ctx := context.Background()
	var ids []string
	for i := range 5 {
		j, err := c.CreateJob(ctx, ai.JobRequest{Prompt: strings.Repeat("p", i+1)})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, j.ID)
	}
	var seen []string
	cursor := ""
	for pages := 0; ; pages++ {
		if pages > 5 {
			t.Fatal("pagination does not end")
		}
		page, err := c.ListJobs(ctx, ai.ListJobsOptions{Limit: 2, Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		for _, j := range page.Items {
			seen = append(seen, j.ID)
		}
		if page.NextCursor == "" {
			break
		}
		cursor = page.NextCursor
	}
	want := []string{ids[4], ids[3], ids[2], ids[1], ids[0]} // newest first
	if strings.Join(seen, ",") != strings.Join(want, ",") {
		t.Fatalf("seen %v, want %v", seen, want)
	}
	if q := fake.LastRequest().Query; q.Get("limit") != "2" || q.Get("cursor") == "" {
		t.Fatalf("query = %v", q)
	}

	_, err := c.ListJobs(ctx, ai.ListJobsOptions{Cursor: "not base64!"})
	var ue *ai.UpstreamError
	if !errors.As(err, &ue) || ue.Status != http.StatusBadRequest {
		t.Fatalf("bad cursor: err = %v, want 400", err)
	}
}

func TestAgentValidationIsPreserved(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		req  ai.JobRequest
	}{
		{"escaping workdir", ai.JobRequest{Prompt: "p", Workdir: "../etc"}},
		{"absolute workdir", ai.JobRequest{Prompt: "p", Workdir: "/etc"}},
		{"unclean workdir", ai.JobRequest{Prompt: "p", Workdir: "a//b"}},
		{"too many turns", ai.JobRequest{Prompt: "p", MaxTurns: 201}},
		{"negative turns", ai.JobRequest{Prompt: "p", MaxTurns: -1}},
		{"huge prompt", ai.JobRequest{Prompt: strings.Repeat("x", 100_001)}},
		{"control char tool", ai.JobRequest{Prompt: "p", AllowedTools: []string{"Read\n"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, c := newAgent(t)
			_, err := c.CreateJob(context.Background(), tc.req)
			var ue *ai.UpstreamError
			if !errors.As(err, &ue) || ue.Status != http.StatusUnprocessableEntity || ue.Code != "validation_failed" {
				t.Fatalf("err = %v, want 422 validation_failed", err)
			}
			if ue.ProxyStatus() != http.StatusUnprocessableEntity {
				t.Fatalf("ProxyStatus = %d, want 422", ue.ProxyStatus())
			}
		})
	}
}

func TestAgentAuthAndEscaping(t *testing.T) {
	t.Parallel()
	fake := aifake.NewAgent(t, testAgentKey)
	if _, err := ai.NewAgent(fake.URL, ai.Options{}); err == nil {
		t.Fatal("NewAgent without a key: want an error")
	}
	wrong, err := ai.NewAgent(fake.URL, ai.Options{APIKey: "wrong-key"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = wrong.ListJobs(context.Background(), ai.ListJobsOptions{})
	var ue *ai.UpstreamError
	if !errors.As(err, &ue) || ue.Status != http.StatusUnauthorized || ue.ProxyStatus() != http.StatusBadGateway {
		t.Fatalf("wrong key: err = %v, want 401 mapped to 502", err)
	}
	if strings.Contains(err.Error(), "wrong-key") {
		t.Fatalf("error echoes the key: %v", err)
	}
	// Health needs no key.
	if _, err := wrong.Ping(context.Background()); err != nil {
		t.Fatalf("ping with a wrong key: %v", err)
	}

	c, _ := ai.NewAgent(fake.URL, ai.Options{APIKey: testAgentKey})
	_, err = c.GetJob(context.Background(), "a/b?c", "tenant x")
	if !errors.As(err, &ue) || ue.Status != http.StatusNotFound {
		t.Fatalf("err = %v, want 404", err)
	}
	req := fake.LastRequest()
	if req.EscapedPath != "/v1/jobs/a%2Fb%3Fc" || req.Query.Get("owner") != "tenant x" {
		t.Fatalf("request = %s ? %v", req.EscapedPath, req.Query)
	}
	_, err = c.CancelJob(context.Background(), "../x", "a&b=c")
	if !errors.As(err, &ue) || ue.Status != http.StatusNotFound {
		t.Fatalf("cancel: err = %v, want 404", err)
	}
	req = fake.LastRequest()
	if req.Method != http.MethodDelete || req.EscapedPath != "/v1/jobs/..%2Fx" || req.Query.Get("owner") != "a&b=c" || len(req.Query) != 1 {
		t.Fatalf("cancel request = %s %s ? %v", req.Method, req.EscapedPath, req.Query)
	}
	for _, bad := range []string{"", ".", ".."} {
		if _, err := c.CancelJob(context.Background(), bad, ""); !errors.Is(err, ai.ErrInvalidArgument) {
			t.Fatalf("cancel %q: err = %v, want ErrInvalidArgument", bad, err)
		}
	}
}

func TestLangfuseHealth(t *testing.T) {
	t.Parallel()
	fake := aifake.NewLangfuse(t)
	c, err := ai.NewLangfuse(fake.URL, ai.Options{})
	if err != nil {
		t.Fatal(err)
	}
	h, err := c.Health(context.Background())
	if err != nil || h.Status != "OK" || h.Version != fake.Version {
		t.Fatalf("health = %+v, %v", h, err)
	}
	fake.SetDatabaseDown(true)
	_, err = c.Health(context.Background())
	var ue *ai.UpstreamError
	if !errors.As(err, &ue) || ue.Status != http.StatusServiceUnavailable || ue.ProxyStatus() != http.StatusServiceUnavailable {
		t.Fatalf("db down: err = %v, want 503 preserved", err)
	}
}
