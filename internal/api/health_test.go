package api

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fast-saas/fast-saas/internal/core"
	"github.com/fast-saas/fast-saas/internal/metrics"
	"github.com/fast-saas/fast-saas/internal/store/sqlite"
	"github.com/fast-saas/fast-saas/internal/store/sqlite/sqlitetest"
	"github.com/fast-saas/fast-saas/middleware/ratelimit"
)

// healthHandler is the API as `serve` composes it for anonymous traffic
// (metrics, per-IP limit), with the given readiness checks; humaHealth
// answers GET /health through the operation's huma path instead of the
// fast one.
func healthHandler(tb testing.TB, humaHealth bool, checks []core.Check, timeout time.Duration) *Handler {
	tb.Helper()
	st := sqlitetest.Open(tb, sqlite.Options{})
	svc := &core.Service{Store: st, Plans: testPlans{}, Ready: checks, CheckTimeout: timeout}
	lim := ratelimit.NewMemory(ratelimit.MemoryOptions{})
	h, err := New(Options{Service: svc, Auth: &Authenticator{Service: svc}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Registry: metrics.NewRegistry(), Traffic: Traffic{Limiter: lim, IPLimit: ratelimit.PerMinute(1 << 30)}, humaHealth: humaHealth})
	if err != nil {
		tb.Fatal(err)
	}
	return h
}

// TestFastHealthAnswersAsTheOperation: the hand-written GET /health path
// answers exactly what the getHealth operation answers through huma, and
// every fast route is an operation of the table at the same path.
func TestFastHealthAnswersAsTheOperation(t *testing.T) {
	t.Parallel()
	fast, slow := healthHandler(t, false, nil, 0), healthHandler(t, true, nil, 0)
	byID := map[string]core.Operation{}
	for _, op := range fast.Ops {
		byID[op.ID] = op
	}
	for id, path := range fastRoutes {
		if op, ok := byID[id]; !ok || op.Path != path || op.Method != http.MethodGet {
			t.Errorf("fast route %s %s is not the table's GET operation (%+v)", id, path, op)
		}
	}
	for _, method := range []string{http.MethodGet, http.MethodHead} {
		var recs [2]*httptest.ResponseRecorder
		for i, h := range []http.Handler{fast, slow} {
			recs[i] = httptest.NewRecorder()
			h.ServeHTTP(recs[i], httptest.NewRequest(method, "/health", nil))
		}
		f, s := recs[0], recs[1]
		if f.Code != http.StatusOK || s.Code != f.Code {
			t.Errorf("%s /health: fast %d, huma %d", method, f.Code, s.Code)
		}
		for _, hdr := range []string{"Content-Type", "Cache-Control"} {
			if f.Header().Get(hdr) != s.Header().Get(hdr) {
				t.Errorf("%s /health %s: fast %q, huma %q", method, hdr, f.Header().Get(hdr), s.Header().Get(hdr))
			}
		}
		if f.Body.String() != s.Body.String() {
			t.Errorf("%s /health body: fast %q, huma %q", method, f.Body.String(), s.Body.String())
		}
		if method == http.MethodGet && f.Body.String() != core.HealthBody {
			t.Errorf("GET /health body %q, want %q", f.Body.String(), core.HealthBody)
		}
	}
	// Other methods still reach the mux: 405 with Allow.
	rec := httptest.NewRecorder()
	fast.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/health", nil))
	if rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST /health: %d, want 405", rec.Code)
	}
}

// TestReadiness: each check is bounded by the timeout (a check that never
// returns is reported down, not waited for), a failing check makes the
// answer 503 with the whole check list, all ok is 200.
func TestReadiness(t *testing.T) {
	t.Parallel()
	stuck := make(chan struct{})
	t.Cleanup(func() { close(stuck) })
	ok := core.Check{Name: "store", Fn: func(context.Context) error { return nil }}
	down := core.Check{Name: "redis", Fn: func(context.Context) error { return errors.New("dial tcp: connection refused") }}
	hangs := core.Check{Name: "usage_pipeline", Fn: func(context.Context) error { <-stuck; return nil }} // ignores ctx
	tests := []struct {
		name   string
		checks []core.Check
		status int
		want   map[string]string
	}{
		{"all ok", []core.Check{ok}, http.StatusOK, map[string]string{"store": "ok"}},
		{"one down", []core.Check{ok, down}, http.StatusServiceUnavailable, map[string]string{"store": "ok", "redis": "down"}},
		{"one stuck", []core.Check{ok, hangs}, http.StatusServiceUnavailable, map[string]string{"store": "ok", "usage_pipeline": "down"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := healthHandler(t, false, tt.checks, 50*time.Millisecond)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/health/ready", nil))
			if rec.Code != tt.status {
				t.Errorf("status %d, want %d; body %s", rec.Code, tt.status, rec.Body)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("content type %q", ct)
			}
			if cc := rec.Header().Get("Cache-Control"); cc != "no-store" {
				t.Errorf("cache control %q", cc)
			}
			var body core.Readiness
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
				t.Fatal(err)
			}
			got := map[string]string{}
			for name, c := range body.Checks {
				got[name] = c.Status
				if c.Status == "down" && c.Error == "" {
					t.Errorf("check %s is down without an error", name)
				}
			}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("checks (-want +got):\n%s", d)
			}
			if wantStatus := map[bool]string{true: "ok", false: "down"}[tt.status == http.StatusOK]; body.Status != wantStatus {
				t.Errorf("status field %q, want %q", body.Status, wantStatus)
			}
		})
	}
}

// BenchmarkHealth compares GET /health through the fast path and through
// the getHealth operation's huma path, over the same chain (request id,
// metrics, per-IP limit, authentication). Run with -count and compare
// medians: go test ./internal/api -run '^$' -bench Health -count 6
func BenchmarkHealth(b *testing.B) {
	for _, v := range []struct {
		name string
		huma bool
	}{{"fast", false}, {"huma", true}} {
		b.Run(v.name, func(b *testing.B) {
			h := healthHandler(b, v.huma, nil, 0)
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				r := httptest.NewRequest(http.MethodGet, "/health", nil)
				r.RemoteAddr = "192.0.2.1:1234"
				for pb.Next() {
					w := &discardWriter{h: http.Header{}}
					h.ServeHTTP(w, r)
					if w.code != http.StatusOK {
						b.Fatalf("status %d", w.code)
					}
				}
			})
		})
	}
}

// discardWriter is a cheap ResponseWriter for benchmarks.
type discardWriter struct {
	h    http.Header
	code int
}

func (w *discardWriter) Header() http.Header { return w.h }
func (w *discardWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return len(b), nil
}
func (w *discardWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
}
