package metering_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fast-saas/fast-saas/middleware/metering"
	"github.com/fast-saas/fast-saas/middleware/problem"
	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
)

// memRecorder keeps events in memory.
type memRecorder struct {
	mu     sync.Mutex
	events []metering.Event
	ctxErr []error
	err    error
}

func (m *memRecorder) Record(ctx context.Context, e metering.Event) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.ctxErr = append(m.ctxErr, ctx.Err())
	if m.err != nil {
		return m.err
	}
	m.events = append(m.events, e)
	return nil
}

func (m *memRecorder) all() []metering.Event {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]metering.Event(nil), m.events...)
}

// tenantHeader stands in for the tenancy middleware in these tests.
func tenantHeader(r *http.Request) (string, bool) {
	t := r.Header.Get("X-Test-Tenant")
	return t, t != ""
}

var fixedNow = time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)

func TestMiddlewareRecordsByStatus(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		tenant    string
		handler   http.HandlerFunc
		wantEvent bool
		wantCode  int
	}{
		{name: "200 written", tenant: "t1", handler: func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }, wantEvent: true, wantCode: 200},
		{name: "nothing written means 200", tenant: "t1", handler: func(w http.ResponseWriter, r *http.Request) {}, wantEvent: true, wantCode: 200},
		{name: "201", tenant: "t1", handler: func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(201) }, wantEvent: true, wantCode: 201},
		{name: "404 is the client's request", tenant: "t1", handler: func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(404) }, wantEvent: true, wantCode: 404},
		{name: "499 counted", tenant: "t1", handler: func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(499) }, wantEvent: true, wantCode: 499},
		{name: "500 not billed", tenant: "t1", handler: func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(500) }},
		{name: "503 not billed", tenant: "t1", handler: func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(503) }},
		{name: "1xx then 500", tenant: "t1", handler: func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(103); w.WriteHeader(500) }},
		{name: "no tenant, no event", handler: func(w http.ResponseWriter, r *http.Request) {}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := &memRecorder{}
			h := metering.Middleware(metering.Options{Recorder: rec, TenantID: tenantHeader, Now: func() time.Time { return fixedNow }})(tt.handler)
			r := httptest.NewRequest(http.MethodPost, "/x", nil)
			if tt.tenant != "" {
				r.Header.Set("X-Test-Tenant", tt.tenant)
			}
			h.ServeHTTP(httptest.NewRecorder(), r)
			got := rec.all()
			if !tt.wantEvent {
				if len(got) != 0 {
					t.Fatalf("recorded %d events, want none: %+v", len(got), got)
				}
				return
			}
			if len(got) != 1 {
				t.Fatalf("recorded %d events, want 1", len(got))
			}
			e := got[0]
			id, err := uuid.Parse(e.ID)
			if err != nil || id.Version() != 7 {
				t.Errorf("event ID %q: want a UUIDv7 (parse error %v)", e.ID, err)
			}
			want := metering.Event{ID: e.ID, TenantID: tt.tenant, Metric: "api_calls", Quantity: 1, OccurredAt: fixedNow, Mergeable: true,
				Properties: map[string]any{"method": "POST", "status": tt.wantCode}}
			if diff := cmp.Diff(want, e); diff != "" {
				t.Errorf("event mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestMiddlewareOptions(t *testing.T) {
	t.Parallel()
	rec := &memRecorder{}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /things/{id}", func(w http.ResponseWriter, r *http.Request) {})
	h := metering.Middleware(metering.Options{Recorder: rec, TenantID: tenantHeader, Metric: "widget_reads"})(mux)
	r := httptest.NewRequest(http.MethodGet, "/things/42", nil)
	r.Header.Set("X-Test-Tenant", "t9")
	h.ServeHTTP(httptest.NewRecorder(), r)
	got := rec.all()
	if len(got) != 1 {
		t.Fatalf("recorded %d events, want 1", len(got))
	}
	if got[0].Metric != "widget_reads" {
		t.Errorf("Metric = %q, want %q", got[0].Metric, "widget_reads")
	}
	// The properties are built after the handler ran, so even wrapped
	// around the mux the middleware sees the pattern the mux matched.
	if route := got[0].Properties["route"]; route != "GET /things/{id}" {
		t.Errorf("route property outside the mux = %v, want %q", route, "GET /things/{id}")
	}

	inner := http.NewServeMux()
	inner.Handle("GET /things/{id}", metering.Middleware(metering.Options{Recorder: rec, TenantID: tenantHeader})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})))
	r2 := httptest.NewRequest(http.MethodGet, "/things/43", nil)
	r2.Header.Set("X-Test-Tenant", "t9")
	inner.ServeHTTP(httptest.NewRecorder(), r2)
	got = rec.all()
	if route := got[len(got)-1].Properties["route"]; route != "GET /things/{id}" {
		t.Errorf("route property = %v, want %q", route, "GET /things/{id}")
	}
}

func TestMiddlewareKeepsFlusherAndIgnoresClientCancel(t *testing.T) {
	t.Parallel()
	rec := &memRecorder{}
	h := metering.Middleware(metering.Options{Recorder: rec, TenantID: tenantHeader})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := w.(http.Flusher); !ok {
			t.Error("wrapped writer is not an http.Flusher")
		}
		w.Write([]byte("chunk"))
		if err := http.NewResponseController(w).Flush(); err != nil {
			t.Errorf("ResponseController.Flush: %v", err)
		}
	}))
	ctx, cancel := context.WithCancel(context.Background())
	r := httptest.NewRequest(http.MethodGet, "/", nil).WithContext(ctx)
	r.Header.Set("X-Test-Tenant", "t1")
	w := httptest.NewRecorder()
	cancel() // the client is gone before the event is recorded
	h.ServeHTTP(w, r)
	if !w.Flushed {
		t.Error("underlying writer was not flushed")
	}
	if len(rec.ctxErr) != 1 || rec.ctxErr[0] != nil {
		t.Errorf("Record ctx errors = %v, want [nil]: a client hang-up must not cancel recording", rec.ctxErr)
	}
}

func TestMiddlewareOnError(t *testing.T) {
	t.Parallel()
	boom := errors.New("buffer full")
	rec := &memRecorder{err: boom}
	var got error
	h := metering.Middleware(metering.Options{Recorder: rec, TenantID: tenantHeader, OnError: func(r *http.Request, e metering.Event, err error) { got = err }})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set("X-Test-Tenant", "t1")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if !errors.Is(got, boom) {
		t.Errorf("OnError got %v, want %v", got, boom)
	}
	if w.Code != 200 {
		t.Errorf("status = %d, want 200: a recording failure must not change the response", w.Code)
	}
}

// countingCounter is a UsageCounter with a settable answer that counts calls.
type countingCounter struct {
	mu     sync.Mutex
	n      int64
	err    error
	calls  int
	months []time.Time
}

func (c *countingCounter) MonthlyCount(ctx context.Context, tenantID, metric string, monthStart time.Time) (int64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls++
	c.months = append(c.months, monthStart)
	return c.n, c.err
}

func (c *countingCounter) set(n int64, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n, c.err = n, err
}

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func quotaHandler(counter metering.UsageCounter, clk *clock, limit int64, failClosed bool) http.Handler {
	return metering.Quota(metering.QuotaOptions{
		Counter:    counter,
		TenantID:   tenantHeader,
		Limit:      func(*http.Request) int64 { return limit },
		Now:        clk.Now,
		FailClosed: failClosed,
	})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
}

func do(h http.Handler, tenant string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	if tenant != "" {
		r.Header.Set("X-Test-Tenant", tenant)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestQuotaCountsLocallyBetweenRefreshes(t *testing.T) {
	t.Parallel()
	counter := &countingCounter{n: 8}
	clk := &clock{now: fixedNow}
	h := quotaHandler(counter, clk, 10, false)
	var codes []int
	for range 4 {
		codes = append(codes, do(h, "t1").Code)
	}
	if diff := cmp.Diff([]int{200, 200, 429, 429}, codes); diff != "" {
		t.Errorf("codes with 8 of 10 used (-want +got):\n%s", diff)
	}
	if counter.calls != 1 {
		t.Errorf("counter calls = %d, want 1 within the cache TTL", counter.calls)
	}
	if got, want := counter.months[0], time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("monthStart = %v, want %v", got, want)
	}

	// After the TTL the store is asked again; say the usage was lower (some
	// admitted requests failed with 5xx and were not billed).
	counter.set(9, nil)
	clk.Advance(5 * time.Second)
	if got := do(h, "t1").Code; got != 200 {
		t.Errorf("after refresh with 9 of 10 used: status %d, want 200", got)
	}
	if got := do(h, "t1").Code; got != 429 {
		t.Errorf("after the 10th: status %d, want 429", got)
	}
	if counter.calls != 2 {
		t.Errorf("counter calls = %d, want 2", counter.calls)
	}

	// Another tenant has its own count.
	counter.set(0, nil)
	if got := do(h, "t2").Code; got != 200 {
		t.Errorf("other tenant: status %d, want 200", got)
	}
}

func TestQuotaProblemResponse(t *testing.T) {
	t.Parallel()
	clk := &clock{now: fixedNow}
	w := do(quotaHandler(&countingCounter{n: 1000}, clk, 1000, false), "t1")
	if w.Code != http.StatusTooManyRequests {
		t.Fatalf("status = %d, want 429", w.Code)
	}
	if ct := w.Header().Get("Content-Type"); ct != problem.ContentType {
		t.Errorf("Content-Type = %q, want %q", ct, problem.ContentType)
	}
	// 2026-04-01T00:00:00Z minus 2026-03-14T15:09:26Z, rounded up.
	if got, want := w.Header().Get("Retry-After"), "1500635"; got != want {
		t.Errorf("Retry-After = %q, want %q (seconds to next month)", got, want)
	}
	var body map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
		t.Fatal(err)
	}
	if body["code"] != "quota_exceeded" || body["type"] != problem.TypeFor("quota_exceeded") {
		t.Errorf("code/type = %v / %v, want quota_exceeded", body["code"], body["type"])
	}
	if d, _ := body["detail"].(string); !strings.Contains(d, "monthly quota") || !strings.Contains(d, "2026-04-01T00:00:00Z") {
		t.Errorf("detail = %q, want it to say the monthly quota is used up and when it resets", d)
	}
	if body["limit"] != float64(1000) || body["used"] != float64(1000) {
		t.Errorf("limit/used = %v/%v, want 1000/1000", body["limit"], body["used"])
	}
}

func TestQuotaUnlimitedAndNoTenantSkipCounter(t *testing.T) {
	t.Parallel()
	counter := &countingCounter{n: 1 << 40}
	clk := &clock{now: fixedNow}
	if got := do(quotaHandler(counter, clk, metering.Unlimited, false), "t1").Code; got != 200 {
		t.Errorf("unlimited: status %d, want 200", got)
	}
	if got := do(quotaHandler(counter, clk, 10, false), "").Code; got != 200 {
		t.Errorf("no tenant: status %d, want 200", got)
	}
	if counter.calls != 0 {
		t.Errorf("counter calls = %d, want 0", counter.calls)
	}
}

func TestQuotaMonthRollover(t *testing.T) {
	t.Parallel()
	counter := &countingCounter{n: 10}
	clk := &clock{now: time.Date(2026, 1, 31, 23, 59, 59, 0, time.UTC)}
	h := quotaHandler(counter, clk, 10, false)
	if got := do(h, "t1").Code; got != 429 {
		t.Fatalf("January, 10 of 10: status %d, want 429", got)
	}
	counter.set(0, nil)
	clk.Advance(2 * time.Second) // inside the TTL, but a new month
	if got := do(h, "t1").Code; got != 200 {
		t.Errorf("February: status %d, want 200", got)
	}
	if got, want := counter.months[len(counter.months)-1], time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("monthStart = %v, want %v", got, want)
	}
}

func TestQuotaCounterFailure(t *testing.T) {
	t.Parallel()
	down := errors.New("store down")
	t.Run("fail open by default", func(t *testing.T) {
		t.Parallel()
		counter := &countingCounter{err: down}
		if got := do(quotaHandler(counter, &clock{now: fixedNow}, 10, false), "t1").Code; got != 200 {
			t.Errorf("status %d, want 200", got)
		}
	})
	t.Run("fail closed", func(t *testing.T) {
		t.Parallel()
		counter := &countingCounter{err: down}
		w := do(quotaHandler(counter, &clock{now: fixedNow}, 10, true), "t1")
		if w.Code != 503 {
			t.Errorf("status %d, want 503", w.Code)
		}
	})
	t.Run("stale count is kept", func(t *testing.T) {
		t.Parallel()
		counter := &countingCounter{n: 10}
		clk := &clock{now: fixedNow}
		h := quotaHandler(counter, clk, 10, true)
		do(h, "t1")
		counter.set(0, down)
		clk.Advance(time.Minute)
		if got := do(h, "t1").Code; got != 429 {
			t.Errorf("store down after a count of 10/10: status %d, want 429 from the last known count", got)
		}
	})
}

func TestQuotaThenMeteringDoesNotRecordDenied(t *testing.T) {
	t.Parallel()
	rec := &memRecorder{}
	counter := &countingCounter{n: 3}
	clk := &clock{now: fixedNow}
	h := metering.Quota(metering.QuotaOptions{Counter: counter, TenantID: tenantHeader, Limit: func(*http.Request) int64 { return 5 }, Now: clk.Now})(
		metering.Middleware(metering.Options{Recorder: rec, TenantID: tenantHeader})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})))
	denied := 0
	for range 10 {
		if do(h, "t1").Code == 429 {
			denied++
		}
	}
	if got, want := len(rec.all()), 2; got != want {
		t.Errorf("recorded %d events, want %d (only admitted requests)", got, want)
	}
	if denied != 8 {
		t.Errorf("denied %d, want 8", denied)
	}
}

func TestMonthStart(t *testing.T) {
	t.Parallel()
	loc := time.FixedZone("UTC+10", 10*3600)
	// 1 March 05:00 at UTC+10 is still February in UTC.
	got := metering.MonthStart(time.Date(2026, 3, 1, 5, 0, 0, 0, loc))
	if want := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("MonthStart = %v, want %v", got, want)
	}
}

func TestQuotaConcurrentRequestsShareOneFetchAndNeverOverAdmit(t *testing.T) {
	t.Parallel()
	counter := &countingCounter{n: 0}
	clk := &clock{now: fixedNow}
	h := quotaHandler(counter, clk, 20, false)
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		allowed int
	)
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if do(h, "t1").Code == http.StatusOK {
				mu.Lock()
				allowed++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if allowed != 20 {
		t.Errorf("allowed %d of 50 concurrent requests, want exactly 20 (the quota)", allowed)
	}
	if counter.calls != 1 {
		t.Errorf("counter calls = %d, want 1 (concurrent misses share one fetch)", counter.calls)
	}
}
