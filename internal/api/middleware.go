package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/fast-saas/fast-saas/internal/metrics"
)

type ctxKey int

const stateKey ctxKey = iota

// reqState is what observe keeps for one request, as one context value
// (two allocations with the context node, where four values took six): the
// id, the logger, where faults go and the route that inner layers name.
type reqState struct {
	id     string
	report Reporter
	log    reqLogger
	// route is set by inner layers so the access log and metrics, which
	// run outside the mux, can label by route pattern, not raw path (raw
	// paths would explode metric cardinality).
	route string
}

func stateFrom(ctx context.Context) *reqState {
	s, _ := ctx.Value(stateKey).(*reqState)
	return s
}

// RequestIDFrom returns the request id of ctx ("" outside a request).
func RequestIDFrom(ctx context.Context) string {
	if s := stateFrom(ctx); s != nil {
		return s.id
	}
	return ""
}

// reqLogger is the request's logger, built on first use: most requests
// log only their access line, which names the request id itself, so the
// hot path does not pay for Logger.With.
type reqLogger struct {
	base *slog.Logger
	id   string
	once sync.Once
	l    *slog.Logger
}

func (r *reqLogger) get() *slog.Logger {
	r.once.Do(func() { r.l = r.base.With(slog.String("request_id", r.id)) })
	return r.l
}

func loggerFrom(ctx context.Context) *slog.Logger {
	if s := stateFrom(ctx); s != nil {
		return s.log.get()
	}
	return slog.Default()
}

// Reporter sends a fault (5xx cause or panic) to error tracking.
type Reporter func(ctx context.Context, err error)

func reporterFrom(ctx context.Context) Reporter {
	if s := stateFrom(ctx); s != nil {
		return s.report
	}
	return nil
}

func setRoute(ctx context.Context, route string) {
	if s := stateFrom(ctx); s != nil {
		s.route = route
	}
}

func newRequestID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// validRequestID accepts a caller's X-Request-Id only when it is short and
// plain, so it cannot inject into logs.
func validRequestID(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for _, c := range []byte(s) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Metrics are the HTTP metrics of spec/plans-and-metrics.md.
type Metrics struct {
	requests *metrics.CounterVec
	errors   *metrics.CounterVec
	duration *metrics.HistogramVec
	// series caches each label set's children: WithLabelValues hashes and
	// looks up the labels on every call, one map read here does not.
	series sync.Map // seriesKey → *series
}

type seriesKey struct {
	route, method string
	code          int
}

type series struct {
	requests *metrics.Counter
	errors   *metrics.Counter // nil below 500
	duration *metrics.Histogram
}

// observe counts one answered request.
func (m *Metrics) observe(route, method string, code int, d time.Duration) {
	k := seriesKey{route, method, code}
	v, ok := m.series.Load(k)
	if !ok {
		c := strconv.Itoa(code)
		s := &series{requests: m.requests.WithLabelValues(route, method, c), duration: m.duration.WithLabelValues(route, method)}
		if code >= 500 {
			s.errors = m.errors.WithLabelValues(route, c)
		}
		// Routes are patterns and methods and codes few: the set is bounded.
		v, _ = m.series.LoadOrStore(k, s)
	}
	s := v.(*series)
	s.requests.Inc()
	if s.errors != nil {
		s.errors.Inc()
	}
	s.duration.Observe(d.Seconds())
}

// methodLabel is the method as a metric label: a client may send any
// token as a method, and each one would be a new series kept for the life
// of the process, so the ones HTTP defines are kept and the rest counted
// as "other".
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return m
	}
	return "other"
}

// NewMetrics registers the HTTP metrics on reg.
func NewMetrics(reg *metrics.Registry) (*Metrics, error) {
	var m Metrics
	var err error
	if m.requests, err = reg.Counter("saas_api_requests_total", "API requests by route, method and status code.", "route", "method", "code"); err != nil {
		return nil, fmt.Errorf("register http metrics: %w", err)
	}
	if m.errors, err = reg.Counter("saas_api_errors_total", "API answers with a 5xx status, by route and code.", "route", "code"); err != nil {
		return nil, fmt.Errorf("register http metrics: %w", err)
	}
	if m.duration, err = reg.Histogram("saas_request_duration_seconds", "API request latency by route and method.",
		[]float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5}, "route", "method"); err != nil {
		return nil, fmt.Errorf("register http metrics: %w", err)
	}
	return &m, nil
}

// observe is the outermost layer: request id, logger, recover, access log
// and metrics.
func observe(logger *slog.Logger, metrics *Metrics, report Reporter, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := r.Header.Get("X-Request-Id")
		if !validRequestID(id) {
			id = newRequestID()
		}
		w.Header().Set("X-Request-Id", id)
		st := &reqState{id: id, report: report, log: reqLogger{base: logger, id: id}}
		ctx := context.WithValue(r.Context(), stateKey, st)
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				err := fmt.Errorf("panic: %v", v)
				st.log.get().Error("panic", slog.String("error", err.Error()), slog.String("stack", string(debug.Stack())))
				if report != nil {
					report(ctx, err)
				}
				if sw.status == 0 {
					writeProblem(sw, r.WithContext(ctx), http.StatusInternalServerError, "internal", "internal error; quote the request id when reporting it")
				}
			}
			route := st.route
			if route == "" {
				route = "unmatched"
			}
			if sw.status == 0 {
				sw.status = http.StatusOK // nothing written: net/http answers 200
			}
			if metrics != nil {
				metrics.observe(route, methodLabel(r.Method), sw.status, time.Since(start))
			}
			if h := logger.Handler(); h.Enabled(ctx, slog.LevelInfo) {
				// The access line goes to the handler directly: Logger's
				// methods would also look up the caller's program counter,
				// which no handler here uses, once per request.
				rec := slog.NewRecord(time.Now(), slog.LevelInfo, "request", 0)
				rec.AddAttrs(slog.String("request_id", id), slog.String("method", r.Method), slog.String("route", route),
					slog.String("path", r.URL.Path), slog.Int("status", sw.status), slog.Int64("bytes", sw.bytes),
					slog.Duration("duration", time.Since(start)))
				_ = h.Handle(ctx, rec)
			}
		}()
		next.ServeHTTP(sw, r.WithContext(ctx))
	})
}

// cors allows browser calls from the configured origins only; with no
// origins it adds nothing (CORS off).
func cors(origins []string, next http.Handler) http.Handler {
	if len(origins) == 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		if origin != "" && slices.Contains(origins, origin) {
			h := w.Header()
			h.Set("Access-Control-Allow-Origin", origin)
			h.Add("Vary", "Origin")
			h.Set("Access-Control-Expose-Headers", "X-Request-Id, RateLimit, RateLimit-Policy, Retry-After")
			if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
				h.Set("Access-Control-Allow-Methods", "GET, POST, PUT, PATCH, DELETE")
				h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, X-Request-Id")
				h.Set("Access-Control-Max-Age", "600")
				w.WriteHeader(http.StatusNoContent)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}
