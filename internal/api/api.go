// Package api is the REST adapter of the operation table: it derives routes
// and the OpenAPI 3.1 document (huma on the stdlib ServeMux) from
// internal/core, renders every error as problem+json, and wraps the mux in
// the request chain (request id, recover, access log + metrics, CORS,
// authentication).
package api

import (
	"encoding/json"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"

	"github.com/fast-saas/fast-saas/internal/core"
	"github.com/fast-saas/fast-saas/internal/metrics"
)

// Options configure the handler. Service and Auth are required.
type Options struct {
	Service      *core.Service
	Auth         *Authenticator
	Logger       *slog.Logger
	Registry     *metrics.Registry // nil: no /metrics
	Report       Reporter
	MaxBodyBytes int64
	CORSOrigins  []string
	Version      string
	// Traffic configures rate limits, quota and metering.
	Traffic Traffic
	// Mounts are extra handlers behind the same chain (authentication
	// included), by ServeMux pattern, e.g. "/mcp" for the MCP endpoint.
	Mounts map[string]http.Handler

	// humaHealth turns the fast GET /health path off, so tests and
	// benchmarks can compare it with the operation's huma path.
	humaHealth bool
	// countLimited counts saas_rate_limited_total (set by New when there
	// is a Registry).
	countLimited func(plan, scope string)
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
	if o.Registry != nil {
		limited, err := o.Registry.Counter("saas_rate_limited_total", "Requests refused with 429 by the rate limiter.", "plan", "scope")
		if err != nil {
			return nil, err
		}
		o.countLimited = func(plan, scope string) { limited.WithLabelValues(plan, scope).Inc() }
	}
	mux := http.NewServeMux()
	cfg := huma.DefaultConfig("fast-saas API", o.Version)
	cfg.CreateHooks = nil // no $schema links injected into bodies
	cfg.Formats = jsonFormats(cfg.Formats)
	cfg.Info.Description = "Multi-tenant SaaS API. Authenticate with `Authorization: Bearer <platform key fsp_…, tenant key fsk_… or Logto access token>`."
	cfg.Components.SecuritySchemes = map[string]*huma.SecurityScheme{
		"bearer": {Type: "http", Scheme: "bearer", Description: "Platform key (fsp_…), tenant API key (fsk_…) or Logto access token"},
	}
	api := humago.New(mux, cfg)
	// The inbound endpoints (Lago's webhooks) are REST and OpenAPI only.
	ops := append(o.Service.Operations(), o.Service.InboundOperations()...)
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
		if decodesItself(op.Input) {
			// The body checks itself in one pass (core.BodyDecoder, given
			// the raw body by unmarshalJSON); the schema still documents it.
			hop.SkipValidateBody = true
		}
		if op.FailStatus != 0 {
			// The failure answer carries the output body too (readiness:
			// 503 with the check list): document it with the body's schema.
			if bf, ok := op.Output.FieldByName("Body"); ok {
				hop.Responses = map[string]*huma.Response{strconv.Itoa(op.FailStatus): {
					Description: http.StatusText(op.FailStatus),
					Content:     map[string]*huma.MediaType{"application/json": {Schema: api.OpenAPI().Components.Schemas.Schema(bf.Type, true, bf.Type.Name())}},
				}}
			}
		}
		op.Register(api, hop)
		if op.BodySchema != nil {
			// A raw body is documented as bytes; say what it really is. (The
			// handler reads it raw either way: huma decided at Register.)
			if reg := registered(api, op); reg != nil && reg.RequestBody != nil {
				reg.RequestBody.Content = map[string]*huma.MediaType{"application/json": {Schema: op.BodySchema}}
			}
		}
	}
	h := &Handler{API: api, Ops: ops}
	if o.Registry != nil {
		exposition := o.Registry.Handler()
		mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
			setRoute(r.Context(), "/metrics")
			exposition.ServeHTTP(w, r)
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

	var httpMetrics *Metrics
	if o.Registry != nil {
		var err error
		if httpMetrics, err = NewMetrics(o.Registry); err != nil {
			return nil, err
		}
	}
	var next http.Handler = mux
	if !o.humaHealth {
		next = fastHealth(next)
	}
	next = o.Auth.middleware(next)
	next = ipChain(o.Traffic, o, next)
	next = cors(o.CORSOrigins, next)
	next = observe(o.Logger, httpMetrics, o.Report, next)
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
	for _, st := range op.Errors {
		if !slices.Contains(s, st) {
			s = append(s, st)
		}
	}
	return s
}

// registered is op as the OpenAPI document holds it.
func registered(api huma.API, op core.Operation) *huma.Operation {
	item := api.OpenAPI().Paths[op.Path]
	if item == nil {
		return nil
	}
	for _, o := range []*huma.Operation{item.Get, item.Post, item.Put, item.Patch, item.Delete} {
		if o != nil && o.OperationID == op.ID {
			return o
		}
	}
	return nil
}

// fastRoutes are operations whose REST route is answered by a
// hand-written handler in front of the mux, because they are hot enough
// that huma's per-request work shows: GET /health is what every load
// balancer and orchestrator polls. The operation stays in the table
// (OpenAPI, MCP, client); a test checks that both paths answer alike.
var fastRoutes = map[string]string{"getHealth": "/health"}

// fastHealth answers GET (and HEAD) /health with core.HealthBody, exactly
// as the getHealth operation would, without huma's input and output
// processing.
func fastHealth(next http.Handler) http.Handler {
	body, path := []byte(core.HealthBody), fastRoutes["getHealth"]
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != path || (r.Method != http.MethodGet && r.Method != http.MethodHead) {
			next.ServeHTTP(w, r)
			return
		}
		setRoute(r.Context(), path)
		h := w.Header()
		h["Content-Type"] = []string{"application/json"}
		h["Cache-Control"] = []string{"no-store"}
		_, _ = w.Write(body)
	})
}

// jsonFormats replaces the JSON formats of huma's defaults with one that
// writes a body's ready-made JSON (core.Encoded: a cached tenant page)
// as it is and encodes everything else with core.EncodeJSON, which is
// what huma's own format does; and that hands a core.BodyDecoder its raw
// body.
func jsonFormats(defaults map[string]huma.Format) map[string]huma.Format {
	f := huma.Format{Marshal: marshalJSON, Unmarshal: unmarshalJSON}
	out := make(map[string]huma.Format, len(defaults)+2)
	maps.Copy(out, defaults)
	out["application/json"], out["json"] = f, f
	return out
}

// unmarshalJSON decodes a request body. A core.BodyDecoder gets the raw
// bytes, even when they are not JSON: it keeps what is wrong for its
// handler to answer (400 or 422, naming the field), since an error from
// here would reach the client as huma's generic 422.
func unmarshalJSON(data []byte, v any) error {
	if d, ok := v.(core.BodyDecoder); ok {
		d.DecodeBody(data)
		return nil
	}
	return json.Unmarshal(data, v)
}

// decodesItself reports whether an operation's input has a Body that is a
// core.BodyDecoder.
func decodesItself(input reflect.Type) bool {
	f, ok := input.FieldByName("Body")
	return ok && reflect.PointerTo(f.Type).Implements(reflect.TypeFor[core.BodyDecoder]())
}

func marshalJSON(w io.Writer, v any) error {
	if e, ok := v.(core.Encoded); ok {
		if b := e.EncodedJSON(); b != nil {
			_, err := w.Write(b)
			return err
		}
	}
	return core.EncodeJSON(w, v)
}
