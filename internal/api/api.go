// Package api is the REST adapter of the operation table: it derives routes
// and the OpenAPI 3.1 document (huma on the stdlib ServeMux) from
// internal/core, renders every error as problem+json, and wraps the mux in
// the request chain (request id, recover, access log + metrics, CORS,
// authentication).
package api

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/fast-saas/fast-saas/internal/core"
)

// Check is one readiness check.
type Check struct {
	Name string
	Fn   func(ctx context.Context) error
}

// Options configure the handler. Service and Auth are required.
type Options struct {
	Service      *core.Service
	Auth         *Authenticator
	Logger       *slog.Logger
	Registry     *prometheus.Registry // nil: no /metrics
	Report       Reporter
	MaxBodyBytes int64
	CORSOrigins  []string
	Version      string
	Ready        []Check
	// CheckTimeout bounds each readiness check (default 1 s).
	CheckTimeout time.Duration
	// Traffic configures rate limits, quota and metering.
	Traffic Traffic
	// Mounts are extra handlers behind the same chain (authentication
	// included), by ServeMux pattern, e.g. "/mcp" for the MCP endpoint.
	Mounts map[string]http.Handler
}

// Handler is the REST API.
type Handler struct {
	http.Handler
	API huma.API
	// Ops is the operation table the routes were derived from.
	Ops []core.Operation
}

// New builds the REST handler.
func New(o Options) (*Handler, error) {
	installErrorModel()
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Version == "" {
		o.Version = "dev"
	}
	if o.MaxBodyBytes == 0 {
		o.MaxBodyBytes = 1 << 20
	}
	mux := http.NewServeMux()
	cfg := huma.DefaultConfig("fast-saas API", o.Version)
	cfg.CreateHooks = nil // no $schema links injected into bodies
	cfg.Info.Description = "Multi-tenant SaaS API. Authenticate with `Authorization: Bearer <platform key fsp_…, tenant key fsk_… or Logto access token>`."
	cfg.Components.SecuritySchemes = map[string]*huma.SecurityScheme{
		"bearer": {Type: "http", Scheme: "bearer", Description: "Platform key (fsp_…), tenant API key (fsk_…) or Logto access token"},
	}
	api := humago.New(mux, cfg)
	ops := o.Service.Operations()
	byID := make(map[string]core.Operation, len(ops))
	for _, op := range ops {
		byID[op.ID] = op
	}
	api.UseMiddleware(operationMiddleware(api, o, byID))
	for _, op := range ops {
		hop := huma.Operation{
			OperationID:   op.ID,
			Method:        op.Method,
			Path:          op.Path,
			Summary:       op.Summary,
			Description:   op.Access.Describe(),
			Tags:          []string{op.Group},
			DefaultStatus: op.Status,
			MaxBodyBytes:  o.MaxBodyBytes,
			Errors:        errorStatuses(op),
		}
		if !op.Access.Anonymous {
			hop.Security = []map[string][]string{{"bearer": {}}}
		}
		op.Register(api, hop)
	}
	h := &Handler{API: api, Ops: ops}

	mux.HandleFunc("GET /health", func(w http.ResponseWriter, r *http.Request) {
		setRoute(r.Context(), "/health")
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write([]byte(`{"status":"ok"}` + "\n"))
	})
	mux.HandleFunc("GET /health/ready", func(w http.ResponseWriter, r *http.Request) {
		setRoute(r.Context(), "/health/ready")
		ready(w, r, o.Ready, o.CheckTimeout)
	})
	if o.Registry != nil {
		metrics := promhttp.HandlerFor(o.Registry, promhttp.HandlerOpts{})
		mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
			setRoute(r.Context(), "/metrics")
			metrics.ServeHTTP(w, r)
		})
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/" && r.Method == http.MethodGet {
			setRoute(r.Context(), "/")
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(map[string]string{"name": "fast-saas", "version": o.Version, "docs": "/docs", "openapi": "/openapi.json"})
			return
		}
		// The catch-all hides the mux's own 405: find the methods the path
		// does serve so a wrong method is 405 with Allow, not 404.
		var allow []string
		for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
			r2 := r.Clone(r.Context())
			r2.Method = m
			if _, pattern := mux.Handler(r2); pattern != "/" && pattern != "" {
				allow = append(allow, m)
			}
		}
		if len(allow) > 0 {
			w.Header().Set("Allow", strings.Join(allow, ", "))
			writeProblem(w, r, http.StatusMethodNotAllowed, "method_not_allowed", r.Method+" is not allowed on "+r.URL.Path)
			return
		}
		writeProblem(w, r, http.StatusNotFound, core.CodeNotFound, "no route for "+r.Method+" "+r.URL.Path)
	})

	for pattern, mh := range o.Mounts {
		mux.Handle(pattern, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			setRoute(r.Context(), pattern)
			mh.ServeHTTP(w, r)
		}))
	}

	var metrics *Metrics
	if o.Registry != nil {
		var err error
		if metrics, err = NewMetrics(o.Registry); err != nil {
			return nil, err
		}
	}
	var next http.Handler = mux
	next = o.Auth.middleware(next)
	next = ipChain(o.Traffic, o, next)
	next = cors(o.CORSOrigins, next)
	next = observe(o.Logger, metrics, o.Report, next)
	h.Handler = next
	return h, nil
}

func errorStatuses(op core.Operation) []int {
	s := []int{http.StatusBadRequest, http.StatusUnprocessableEntity}
	if !op.Access.Anonymous {
		s = append(s, http.StatusUnauthorized, http.StatusForbidden)
	}
	if strings.Contains(op.Path, "{") {
		s = append(s, http.StatusNotFound)
	}
	return s
}

type checkResult struct {
	Status    string `json:"status"`
	Error     string `json:"error,omitempty"`
	LatencyMS int64  `json:"latency_ms"`
}

// ready runs every check concurrently, each bounded by timeout, so one dead
// dependency is reported within about a second instead of hanging.
func ready(w http.ResponseWriter, r *http.Request, checks []Check, timeout time.Duration) {
	if timeout <= 0 {
		timeout = time.Second
	}
	type res struct {
		name string
		checkResult
	}
	out := make(chan res, len(checks))
	for _, c := range checks {
		go func() {
			ctx, cancel := context.WithTimeout(r.Context(), timeout)
			defer cancel()
			start := time.Now()
			errc := make(chan error, 1)
			go func() { errc <- c.Fn(ctx) }()
			var err error
			select {
			case err = <-errc:
			case <-ctx.Done():
				err = ctx.Err()
			}
			cr := checkResult{Status: "ok", LatencyMS: time.Since(start).Milliseconds()}
			if err != nil {
				cr.Status, cr.Error = "down", err.Error()
			}
			out <- res{c.Name, cr}
		}()
	}
	body := struct {
		Status string                 `json:"status"`
		Checks map[string]checkResult `json:"checks"`
	}{Status: "ok", Checks: map[string]checkResult{}}
	for range checks {
		r := <-out
		body.Checks[r.name] = r.checkResult
		if r.Status != "ok" {
			body.Status = "down"
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if body.Status != "ok" {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	_ = json.NewEncoder(w).Encode(body)
}
