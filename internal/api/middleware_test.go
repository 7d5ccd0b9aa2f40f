package api

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/fast-saas/fast-saas/internal/metrics"
)

func TestObservePanicRequestIDAndMetrics(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	reg := metrics.NewRegistry()
	m, err := NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	var reported []error
	h := observe(slog.New(slog.NewJSONHandler(&logs, nil)), m, func(_ context.Context, err error) { reported = append(reported, err) },
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			setRoute(r.Context(), "/boom")
			panic("kaboom")
		}))
	r := httptest.NewRequest(http.MethodGet, "/boom", nil)
	r.Header.Set("X-Request-Id", "abc-123")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	if rec.Code != 500 || rec.Header().Get("Content-Type") != "application/problem+json" || rec.Header().Get("X-Request-Id") != "abc-123" {
		t.Fatalf("panic answer: %d %v", rec.Code, rec.Header())
	}
	var body map[string]any
	_ = json.Unmarshal(rec.Body.Bytes(), &body)
	if body["request_id"] != "abc-123" || strings.Contains(rec.Body.String(), "kaboom") {
		t.Errorf("body %s: want the request id and not the panic value", rec.Body)
	}
	if len(reported) != 1 || !strings.Contains(reported[0].Error(), "kaboom") {
		t.Errorf("reported %v, want the panic", reported)
	}
	if !strings.Contains(logs.String(), `"request_id":"abc-123"`) || !strings.Contains(logs.String(), `"route":"/boom"`) {
		t.Errorf("logs lack request id or route: %s", logs.String())
	}
	for _, s := range [][]string{{"saas_api_requests_total", "/boom", "GET", "500"}, {"saas_api_errors_total", "/boom", "500"},
		{"saas_request_duration_seconds", "/boom", "GET"}} {
		if v, ok := reg.Value(s[0], s[1:]...); v != 1 {
			t.Errorf("%v = %v (present %v), want 1", s, v, ok)
		}
	}
	// A hostile request id is replaced, never echoed into logs.
	r = httptest.NewRequest(http.MethodGet, "/boom", nil)
	r.Header.Set("X-Request-Id", "evil\nline")
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	if got := rec.Header().Get("X-Request-Id"); got == "" || strings.ContainsAny(got, "\n") {
		t.Errorf("request id %q", got)
	}
}

func TestCORS(t *testing.T) {
	t.Parallel()
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
	tests := []struct {
		name, origin, method string
		origins              []string
		wantAllow            string
		wantStatus           int
	}{
		{"off by default", "https://app.example.com", http.MethodGet, nil, "", 200},
		{"allowed origin", "https://app.example.com", http.MethodGet, []string{"https://app.example.com"}, "https://app.example.com", 200},
		{"other origin", "https://evil.example.com", http.MethodGet, []string{"https://app.example.com"}, "", 200},
		{"preflight", "https://app.example.com", http.MethodOptions, []string{"https://app.example.com"}, "https://app.example.com", 204},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(tt.method, "/api/v1/tenants", nil)
			r.Header.Set("Origin", tt.origin)
			if tt.method == http.MethodOptions {
				r.Header.Set("Access-Control-Request-Method", "POST")
			}
			rec := httptest.NewRecorder()
			cors(tt.origins, ok).ServeHTTP(rec, r)
			if got := rec.Header().Get("Access-Control-Allow-Origin"); got != tt.wantAllow || rec.Code != tt.wantStatus {
				t.Errorf("allow %q status %d, want %q %d", got, rec.Code, tt.wantAllow, tt.wantStatus)
			}
		})
	}
}

// Methods a client invents are one "other" series, not one series each:
// every series lives as long as the process.
func TestMetricsBoundMethods(t *testing.T) {
	t.Parallel()
	reg := metrics.NewRegistry()
	m, err := NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	h := observe(slog.New(slog.DiscardHandler), m, nil, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		setRoute(r.Context(), "/x")
		w.WriteHeader(http.StatusNoContent)
	}))
	for _, method := range []string{"GET", "BREW", "WHEN", "GET", "X-1"} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(method, "/x", nil))
	}
	if v, _ := reg.Value("saas_api_requests_total", "/x", "GET", "204"); v != 2 {
		t.Errorf("GET counted %v times, want 2", v)
	}
	if v, _ := reg.Value("saas_api_requests_total", "/x", "other", "204"); v != 3 {
		t.Errorf("invented methods counted %v times as other, want 3", v)
	}
	if _, ok := reg.Value("saas_api_requests_total", "/x", "BREW", "204"); ok {
		t.Error("an invented method got its own series")
	}
	// A handler that writes nothing answers 200 (net/http's default), and
	// is counted so.
	silent := observe(slog.New(slog.DiscardHandler), m, nil, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		setRoute(r.Context(), "/silent")
	}))
	silent.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/silent", nil))
	if v, _ := reg.Value("saas_api_requests_total", "/silent", "GET", "200"); v != 1 {
		t.Errorf("a request answered without a write counted %v times as 200, want 1", v)
	}
}
