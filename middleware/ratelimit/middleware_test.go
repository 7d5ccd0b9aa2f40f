package ratelimit_test

import (
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/fast-saas/fast-saas/middleware/problem"
	"github.com/fast-saas/fast-saas/middleware/ratelimit"
	"github.com/fast-saas/fast-saas/middleware/ratelimit/ratelimittest"
	"github.com/google/go-cmp/cmp"
)

func tenantKey(limit ratelimit.Limit) func(r *http.Request) (string, ratelimit.Limit, bool) {
	return func(r *http.Request) (string, ratelimit.Limit, bool) {
		t := r.Header.Get("X-Test-Tenant")
		return t, limit, t != ""
	}
}

var okHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })

func get(h http.Handler, tenant string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	if tenant != "" {
		r.Header.Set("X-Test-Tenant", tenant)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func headers(w *httptest.ResponseRecorder, names ...string) map[string]string {
	m := map[string]string{}
	for _, n := range names {
		if v := w.Header().Get(n); v != "" {
			m[n] = v
		}
	}
	return m
}

var rlHeaders = []string{"RateLimit-Policy", "RateLimit", "X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset", "Retry-After"}

func TestMiddlewareHeadersAnd429(t *testing.T) {
	t.Parallel()
	clock := ratelimittest.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	var counted syncCounts
	h := ratelimit.Middleware(ratelimit.Options{
		Limiter:      ratelimit.NewMemory(ratelimit.MemoryOptions{Now: clock.Now}),
		KeyFunc:      tenantKey(ratelimit.Limit{Rate: 3, Period: time.Minute}),
		Scope:        ratelimit.ScopeTenant,
		Plan:         func(*http.Request) string { return "free" },
		CountLimited: counted.add,
	})(okHandler)

	wantAllowed := []map[string]string{
		{"RateLimit-Policy": `"tenant";q=3;w=60`, "RateLimit": `"tenant";r=2;t=20`, "X-RateLimit-Limit": "3", "X-RateLimit-Remaining": "2", "X-RateLimit-Reset": "20"},
		{"RateLimit-Policy": `"tenant";q=3;w=60`, "RateLimit": `"tenant";r=1;t=40`, "X-RateLimit-Limit": "3", "X-RateLimit-Remaining": "1", "X-RateLimit-Reset": "40"},
		{"RateLimit-Policy": `"tenant";q=3;w=60`, "RateLimit": `"tenant";r=0;t=60`, "X-RateLimit-Limit": "3", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "60"},
	}
	for i, want := range wantAllowed {
		w := get(h, "t1")
		if w.Code != http.StatusNoContent {
			t.Fatalf("request %d: status %d, want 204", i+1, w.Code)
		}
		if diff := cmp.Diff(want, headers(w, rlHeaders...)); diff != "" {
			t.Errorf("request %d headers (-want +got):\n%s", i+1, diff)
		}
	}
	clock.Advance(5 * time.Second)
	w := get(h, "t1")
	if w.Code != http.StatusTooManyRequests {
		t.Fatalf("4th request: status %d, want 429", w.Code)
	}
	want := map[string]string{"RateLimit-Policy": `"tenant";q=3;w=60`, "RateLimit": `"tenant";r=0;t=55`, "X-RateLimit-Limit": "3", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "55", "Retry-After": "15"}
	if diff := cmp.Diff(want, headers(w, rlHeaders...)); diff != "" {
		t.Errorf("429 headers (-want +got):\n%s", diff)
	}
	if ct := w.Header().Get("Content-Type"); ct != problem.ContentType {
		t.Errorf("Content-Type = %q, want %q", ct, problem.ContentType)
	}
	var body map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
		t.Fatal(err)
	}
	if body["code"] != "rate_limited" || body["type"] != problem.TypeFor("rate_limited") || body["status"] != float64(429) {
		t.Errorf("problem body = %v, want code/type rate_limited, status 429", body)
	}
	if got := counted.get(); !maps.Equal(got, map[string]int{"free/tenant": 1}) {
		t.Errorf("counted refusals %v, want one of plan free, scope tenant", got)
	}
	// Another tenant is unaffected.
	if got := get(h, "t2").Code; got != http.StatusNoContent {
		t.Errorf("other tenant: status %d, want 204", got)
	}
}

// syncCounts counts CountLimited calls by plan/scope.
type syncCounts struct {
	mu sync.Mutex
	m  map[string]int
}

func (c *syncCounts) add(plan, scope string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]int{}
	}
	c.m[plan+"/"+scope]++
}

func (c *syncCounts) get() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.m)
}

func TestMiddlewareSkips(t *testing.T) {
	t.Parallel()
	lim := ratelimit.NewMemory(ratelimit.MemoryOptions{})
	tests := []struct {
		name   string
		tenant string
		limit  ratelimit.Limit
	}{
		{name: "KeyFunc says not applicable", tenant: "", limit: ratelimit.PerMinute(1)},
		{name: "unlimited plan", tenant: "t1", limit: ratelimit.Limit{Rate: -1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := ratelimit.Middleware(ratelimit.Options{Limiter: lim, KeyFunc: tenantKey(tt.limit)})(okHandler)
			for range 5 {
				w := get(h, tt.tenant)
				if w.Code != http.StatusNoContent {
					t.Fatalf("status %d, want 204", w.Code)
				}
				if got := headers(w, rlHeaders...); len(got) != 0 {
					t.Fatalf("headers %v, want none", got)
				}
			}
		})
	}
}

func TestMiddlewareScopesDoNotShareKeys(t *testing.T) {
	t.Parallel()
	lim := ratelimit.NewMemory(ratelimit.MemoryOptions{})
	var counted syncCounts
	same := func(r *http.Request) (string, ratelimit.Limit, bool) { return "x", ratelimit.PerMinute(1), true }
	ip := ratelimit.Middleware(ratelimit.Options{Limiter: lim, KeyFunc: same, Scope: ratelimit.ScopeIP, CountLimited: counted.add})
	tenant := ratelimit.Middleware(ratelimit.Options{Limiter: lim, KeyFunc: same, Scope: ratelimit.ScopeTenant, CountLimited: counted.add})
	h := ip(tenant(okHandler))
	w := get(h, "")
	if w.Code != http.StatusNoContent {
		t.Fatalf("first request: status %d, want 204 (ip and tenant scopes must not share key %q)", w.Code, "x")
	}
	if got, want := w.Header().Get("RateLimit"), `"tenant";r=0;t=60`; got != want {
		t.Errorf("RateLimit = %q, want the inner (tenant) policy %q", got, want)
	}
	w = get(h, "")
	if w.Code != http.StatusTooManyRequests {
		t.Fatalf("second request: status %d, want 429", w.Code)
	}
	var body map[string]any
	_ = json.Unmarshal(w.Body.Bytes(), &body)
	if body["scope"] != "ip" {
		t.Errorf("refused by scope %v, want ip (the outer limiter)", body["scope"])
	}
	if got := counted.get(); !maps.Equal(got, map[string]int{"none/ip": 1}) {
		t.Errorf("counted refusals %v, want one of scope ip without a plan", got)
	}
}

type failingLimiter struct{ err error }

func (f failingLimiter) Allow(context.Context, string, ratelimit.Limit) (ratelimit.Decision, error) {
	return ratelimit.Decision{}, f.err
}

func TestMiddlewareLimiterErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		err  error
		want int
	}{
		{err: ratelimit.ErrUnavailable, want: http.StatusServiceUnavailable},
		{err: ratelimit.ErrInvalidLimit, want: http.StatusInternalServerError},
	}
	for _, tt := range tests {
		t.Run(tt.err.Error(), func(t *testing.T) {
			t.Parallel()
			h := ratelimit.Middleware(ratelimit.Options{Limiter: failingLimiter{err: tt.err}, KeyFunc: tenantKey(ratelimit.PerMinute(5))})(okHandler)
			w := get(h, "t1")
			if w.Code != tt.want {
				t.Errorf("status %d, want %d", w.Code, tt.want)
			}
			if ct := w.Header().Get("Content-Type"); ct != problem.ContentType {
				t.Errorf("Content-Type = %q, want %q", ct, problem.ContentType)
			}
		})
	}
}

func TestMiddlewareCustomOnLimited(t *testing.T) {
	t.Parallel()
	var got ratelimit.Decision
	h := ratelimit.Middleware(ratelimit.Options{
		Limiter: ratelimit.NewMemory(ratelimit.MemoryOptions{}),
		KeyFunc: tenantKey(ratelimit.Limit{Rate: 1, Period: time.Hour}),
		OnLimited: func(w http.ResponseWriter, r *http.Request, d ratelimit.Decision) {
			got = d
			w.WriteHeader(http.StatusTeapot)
		},
	})(okHandler)
	get(h, "t1")
	w := get(h, "t1")
	if w.Code != http.StatusTeapot {
		t.Errorf("status %d, want 418 from OnLimited", w.Code)
	}
	if got.Allowed || got.Limit != 1 || got.RetryAfter <= 0 {
		t.Errorf("OnLimited decision = %+v, want denied with Limit 1 and a RetryAfter", got)
	}
	if w.Header().Get("Retry-After") == "" {
		t.Error("Retry-After not set before OnLimited")
	}
}

func TestMiddlewarePanicsWithoutLimiter(t *testing.T) {
	t.Parallel()
	defer func() {
		if recover() == nil {
			t.Error("Middleware with nil Limiter did not panic")
		}
	}()
	ratelimit.Middleware(ratelimit.Options{KeyFunc: tenantKey(ratelimit.PerMinute(1))})
}
