package health

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/redis/go-redis/v9"

	"github.com/fast-saas/fast-saas/internal/testenv"
)

func ok(context.Context) error { return nil }

func failing(msg string) func(context.Context) error {
	return func(context.Context) error { return errors.New(msg) }
}

func get(t *testing.T, h http.Handler) (int, Report) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/health/ready", nil))
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
	var rep Report
	if err := json.Unmarshal(rec.Body.Bytes(), &rep); err != nil {
		t.Fatalf("body %q: %v", rec.Body, err)
	}
	return rec.Code, rep
}

var ignoreLatency = cmpopts.IgnoreFields(Result{}, "LatencyMS")

func TestHandler(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		h        Handler
		wantCode int
		want     Report
	}{
		{"liveness", Handler{}, 200, Report{Status: "ok"}},
		{"all ok", Handler{Checks: []Check{{Name: "store", Fn: ok}, {Name: "redis", Fn: ok}}}, 200,
			Report{Status: "ok", Checks: map[string]Result{"store": {Status: "ok"}, "redis": {Status: "ok"}}}},
		{"required down", Handler{Checks: []Check{{Name: "store", Fn: ok}, {Name: "redis", Fn: failing("connection refused")}}}, 503,
			Report{Status: "down", Checks: map[string]Result{"store": {Status: "ok"}, "redis": {Status: "down", Error: "connection refused"}}}},
		{"optional down is degraded", Handler{Checks: []Check{{Name: "store", Fn: ok}, {Name: "lago", Optional: true, Fn: failing("502")}}}, 200,
			Report{Status: "degraded", Checks: map[string]Result{"store": {Status: "ok"}, "lago": {Status: "down", Error: "502"}}}},
		{"required beats optional", Handler{Checks: []Check{{Name: "a", Optional: true, Fn: failing("x")}, {Name: "b", Fn: failing("y")}}}, 503,
			Report{Status: "down", Checks: map[string]Result{"a": {Status: "down", Error: "x"}, "b": {Status: "down", Error: "y"}}}},
		{"hidden errors", Handler{HideErrors: true, Checks: []Check{{Name: "redis", Fn: failing("dial tcp 10.0.0.7:6379")}}}, 503,
			Report{Status: "down", Checks: map[string]Result{"redis": {Status: "down"}}}},
		{"panic is down", Handler{Checks: []Check{{Name: "p", Fn: func(context.Context) error { panic("boom") }}}}, 503,
			Report{Status: "down", Checks: map[string]Result{"p": {Status: "down", Error: "check panicked: boom"}}}},
		{"nil fn is down", Handler{Checks: []Check{{Name: "n"}}}, 503,
			Report{Status: "down", Checks: map[string]Result{"n": {Status: "down", Error: "no check function"}}}},
		{"duplicate names kept apart", Handler{Checks: []Check{{Name: "db", Fn: ok}, {Name: "db", Fn: failing("x")}}}, 503,
			Report{Status: "down", Checks: map[string]Result{"db": {Status: "ok"}, "db#2": {Status: "down", Error: "x"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			code, rep := get(t, tt.h)
			if code != tt.wantCode {
				t.Errorf("status code = %d, want %d", code, tt.wantCode)
			}
			if diff := cmp.Diff(tt.want, rep, ignoreLatency); diff != "" {
				t.Errorf("report (-want +got):\n%s", diff)
			}
		})
	}
}

// A check that ignores its context must not hold up the report.
func TestHangingCheckTimesOut(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	h := Handler{Checks: []Check{
		{Name: "stuck", Timeout: 50 * time.Millisecond, Fn: func(context.Context) error { <-release; return nil }},
		{Name: "fine", Fn: ok},
	}}
	code, rep := get(t, h)
	if code != http.StatusServiceUnavailable {
		t.Errorf("code = %d, want 503", code)
	}
	got := rep.Checks["stuck"]
	if got.Status != StatusDown || !strings.Contains(got.Error, "timed out after 50ms") {
		t.Errorf("stuck = %+v, want down with a timeout error", got)
	}
	if rep.Checks["fine"].Status != StatusOK {
		t.Errorf("fine = %+v", rep.Checks["fine"])
	}
}

// Checks run concurrently: each waits until all have started, which would
// deadlock (and time out) if they ran one after the other.
func TestChecksRunConcurrently(t *testing.T) {
	t.Parallel()
	const n = 4
	var wg sync.WaitGroup
	wg.Add(n)
	barrier := func(ctx context.Context) error {
		wg.Done()
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		select {
		case <-done:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	var checks []Check
	for i := range n {
		checks = append(checks, Check{Name: fmt.Sprint(i), Timeout: 10 * time.Second, Fn: barrier})
	}
	rep := Run(context.Background(), checks)
	if rep.Status != StatusOK {
		t.Fatalf("report = %+v, want all ok (checks did not run concurrently)", rep)
	}
}

func TestRedisChecks(t *testing.T) {
	t.Parallel()
	live, _ := testenv.Redis(t)

	// A "Redis" that accepts connections and never answers.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() })
		}
	}()
	hung := redis.NewClient(&redis.Options{Addr: ln.Addr().String(), MaxRetries: -1})
	t.Cleanup(func() { hung.Close() })

	ping := func(c *redis.Client) func(context.Context) error {
		return func(ctx context.Context) error { return c.Ping(ctx).Err() }
	}
	code, rep := get(t, Handler{Checks: []Check{
		{Name: "redis", Fn: ping(live)},
		{Name: "redis-hung", Fn: ping(hung)},
	}})
	if code != http.StatusServiceUnavailable {
		t.Errorf("code = %d, want 503", code)
	}
	if rep.Checks["redis"].Status != StatusOK {
		t.Errorf("live redis = %+v, want ok", rep.Checks["redis"])
	}
	if got := rep.Checks["redis-hung"]; got.Status != StatusDown || got.Error == "" {
		t.Errorf("hung redis = %+v, want down with an error", got)
	}
}

func ExampleHandler() {
	mux := http.NewServeMux()
	mux.Handle("GET /health", Handler{}) // liveness: the process answers
	mux.Handle("GET /health/ready", Handler{Checks: []Check{
		{Name: "store", Fn: func(ctx context.Context) error { return nil /* db.PingContext(ctx) */ }},
		{Name: "redis", Timeout: 500 * time.Millisecond, Fn: func(ctx context.Context) error {
			return errors.New("connection refused") // rdb.Ping(ctx).Err()
		}},
	}})

	for _, path := range []string{"/health", "/health/ready"} {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		var rep Report
		_ = json.Unmarshal(rec.Body.Bytes(), &rep)
		fmt.Println(path, rec.Code, rep.Status, len(rep.Checks))
	}
	// Output:
	// /health 200 ok 0
	// /health/ready 503 down 2
}
