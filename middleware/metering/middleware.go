package metering

import (
	"context"
	"net/http"
	"time"
)

// Options configure Middleware.
type Options struct {
	// Recorder receives the events. Required.
	Recorder Recorder
	// TenantID returns the tenant billed for r; ok=false means the request
	// is not a tenant request and is not metered. Required. With the
	// fast-saas tenancy middleware this is a one-liner over
	// tenancy.FromContext.
	TenantID func(r *http.Request) (tenantID string, ok bool)
	// Metric is the metric code; "" means DefaultMetric ("api_calls").
	Metric string
	// Properties returns the event's properties; nil records method, route
	// pattern and status. Called after the handler, with the final status.
	Properties func(r *http.Request, status int) map[string]any
	// Timeout, when positive, puts a deadline on the context of each Record
	// call. The default (0) adds none, because a deadline costs a timer per
	// request and a Recorder is expected to bound its own calls (the
	// fast-saas usage pipeline does); set it when yours might block, since
	// the response is only complete once Record returns.
	Timeout time.Duration
	// OnError is told about events that could not be recorded (the
	// response has already been sent). nil ignores them; the Recorder is
	// expected to count its own failures.
	OnError func(r *http.Request, e Event, err error)
	// Now is the clock for OccurredAt; nil means time.Now.
	Now func() time.Time
}

// Middleware records one event (Quantity 1, Mergeable) per tenant request
// whose response status is below 500: server errors are our fault and are
// not billed. Requests refused earlier in the chain (401, 404, 429 from the
// rate limiter or the quota) never reach it and are therefore not counted
// either — put it after those middlewares.
//
// The event is recorded after the handler returns, so it never delays the
// response's first byte; how long Record takes is up to the Recorder (see
// Recorder). Middleware panics when Recorder or TenantID is nil.
func Middleware(opts Options) func(http.Handler) http.Handler {
	if opts.Recorder == nil || opts.TenantID == nil {
		panic("metering.Middleware: Recorder and TenantID are required")
	}
	metric := opts.Metric
	if metric == "" {
		metric = DefaultMetric
	}
	props := opts.Properties
	if props == nil {
		props = defaultProperties
	}
	timeout := opts.Timeout
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			tenant, ok := opts.TenantID(r)
			if !ok {
				next.ServeHTTP(w, r)
				return
			}
			sw := &statusWriter{ResponseWriter: w}
			next.ServeHTTP(sw, r)
			status := sw.status
			if status == 0 {
				status = http.StatusOK // the handler wrote nothing: net/http sends 200
			}
			if status >= 500 {
				return
			}
			at := now()
			e := Event{ID: newEventID(at), TenantID: tenant, Metric: metric, Quantity: 1, Properties: props(r, status), OccurredAt: at.UTC(), Mergeable: true}
			// The usage happened even if the client hangs up now: do not let
			// its cancellation drop the event.
			ctx := context.WithoutCancel(r.Context())
			var err error
			if timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, timeout)
				err = opts.Recorder.Record(ctx, e)
				cancel()
			} else {
				err = opts.Recorder.Record(ctx, e)
			}
			if err != nil && opts.OnError != nil {
				opts.OnError(r, e, err)
			}
		})
	}
}

func defaultProperties(r *http.Request, status int) map[string]any {
	p := map[string]any{"method": r.Method, "status": status}
	if r.Pattern != "" {
		// The route pattern, not the path: bounded cardinality, no ids.
		p["route"] = r.Pattern
	}
	return p
}

// statusWriter remembers the status code. It exposes the wrapped writer
// through Unwrap, so http.ResponseController reaches Flush, Hijack,
// SetWriteDeadline… of the real writer, and implements http.Flusher
// itself for handlers that still type-assert.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	// 1xx responses are informational; the final status comes later.
	if w.status == 0 && code >= 200 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Flush() {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
