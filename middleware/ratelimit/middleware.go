package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/fast-saas/fast-saas/middleware/problem"
)

// Scopes name what a limit applies to. The scope is the metric label, the
// policy name in the RateLimit headers and a namespace for keys, so a
// tenant id can never collide with an IP address.
const (
	ScopeTenant = "tenant"
	ScopeIP     = "ip"
)

// Options configure Middleware.
type Options struct {
	// Limiter takes the decisions. Required.
	Limiter Limiter
	// KeyFunc returns the key (tenant id, client IP…) and the limit for r.
	// ok=false lets the request through unlimited and without headers (for
	// example an anonymous request in a tenant-scoped limiter). Required.
	KeyFunc func(r *http.Request) (key string, limit Limit, ok bool)
	// Scope is ScopeTenant or ScopeIP (any short token works); default
	// ScopeTenant.
	Scope string
	// Plan returns the plan of r that CountLimited receives; nil or "" means
	// "none". Keep it low-cardinality (plan ids, not tenant ids): it is a
	// metric label.
	Plan func(r *http.Request) string
	// OnLimited writes the response for a denied request. The RateLimit,
	// X-RateLimit-* and Retry-After headers are already set. nil writes a
	// 429 problem+json with code "rate_limited".
	OnLimited func(w http.ResponseWriter, r *http.Request, d Decision)
	// OnError writes the response when the limiter fails (fail-closed Redis
	// outage, invalid limit). nil answers 503 for ErrUnavailable and 500
	// otherwise.
	OnError func(w http.ResponseWriter, r *http.Request, err error)
	// CountLimited, when set, is called for every request refused with 429,
	// with the plan (Plan's answer, "none" without one) and the scope: the
	// place to count saas_rate_limited_total{plan,scope} in whatever metrics
	// library the service uses, e.g. with the Prometheus client:
	//
	//	CountLimited: func(plan, scope string) { vec.WithLabelValues(plan, scope).Inc() }
	CountLimited func(plan, scope string)
}

// Middleware limits each request with opts.Limiter under the key and limit
// opts.KeyFunc returns. It sets, on every limited-scope response:
//
//	RateLimit-Policy: "<scope>";q=<burst>;w=<seconds to refill the burst>
//	RateLimit: "<scope>";r=<remaining>;t=<seconds until fully reset>
//	X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset (seconds)
//
// and on a denied request Retry-After plus a 429 problem. When two limiters
// are chained (per IP, then per tenant) the inner one's headers replace the
// outer one's: a client sees the most specific policy that applied.
//
// Middleware panics when opts is unusable (nil Limiter or KeyFunc): that is
// a wiring bug, found at startup.
func Middleware(opts Options) func(http.Handler) http.Handler {
	if opts.Limiter == nil || opts.KeyFunc == nil {
		panic("ratelimit.Middleware: Limiter and KeyFunc are required")
	}
	scope := opts.Scope
	if scope == "" {
		scope = ScopeTenant
	}
	onLimited := opts.OnLimited
	if onLimited == nil {
		onLimited = func(w http.ResponseWriter, r *http.Request, d Decision) {
			writeLimited(w, scope, d)
		}
	}
	onError := opts.OnError
	if onError == nil {
		onError = writeError
	}
	policyName := `"` + scope + `"`
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			key, limit, ok := opts.KeyFunc(r)
			if !ok || limit.Unlimited() {
				next.ServeHTTP(w, r)
				return
			}
			d, err := opts.Limiter.Allow(r.Context(), scope+":"+key, limit)
			if err != nil {
				if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
					return // the client went away; nobody reads an answer
				}
				onError(w, r, err)
				return
			}
			setHeaders(w.Header(), policyName, limit, d)
			if d.Allowed {
				next.ServeHTTP(w, r)
				return
			}
			w.Header().Set("Retry-After", strconv.FormatInt(ceilSeconds(d.RetryAfter, 1), 10))
			if opts.CountLimited != nil {
				plan := ""
				if opts.Plan != nil {
					plan = opts.Plan(r)
				}
				if plan == "" {
					plan = "none"
				}
				opts.CountLimited(plan, scope)
			}
			onLimited(w, r, d)
		})
	}
}

// setHeaders writes the IETF draft fields and their X- predecessors. The
// policy quota is the burst with the window it takes to refill: that is how
// a GCRA/token bucket maps onto a quota-per-window policy.
func setHeaders(h http.Header, policyName string, limit Limit, d Decision) {
	burst := limit.burst()
	if d.Limit > 0 {
		burst = d.Limit // what the limiter enforces (Redis leases lower it slightly)
	}
	window := ceilSeconds(time.Duration(int64(burst)*limit.intervalMicros())*time.Microsecond, 1)
	reset := ceilSeconds(d.ResetAfter, 0)
	q := strconv.Itoa(burst)
	r := strconv.Itoa(d.Remaining)
	t := strconv.FormatInt(reset, 10)
	// Direct map writes with pre-canonicalised names: Header.Set would
	// canonicalise (and allocate) each mixed-case name on every request.
	h[hdrPolicy] = []string{policyName + ";q=" + q + ";w=" + strconv.FormatInt(window, 10)}
	h[hdrRateLimit] = []string{policyName + ";r=" + r + ";t=" + t}
	h[hdrXLimit] = []string{q}
	h[hdrXRemaining] = []string{r}
	h[hdrXReset] = []string{t}
}

// Canonical forms of the header names (what Header.Get looks up).
var (
	hdrPolicy     = http.CanonicalHeaderKey("RateLimit-Policy")
	hdrRateLimit  = http.CanonicalHeaderKey("RateLimit")
	hdrXLimit     = http.CanonicalHeaderKey("X-RateLimit-Limit")
	hdrXRemaining = http.CanonicalHeaderKey("X-RateLimit-Remaining")
	hdrXReset     = http.CanonicalHeaderKey("X-RateLimit-Reset")
)

// ceilSeconds rounds d up to whole seconds, at least min: telling a client
// to retry after 0 s while it is still limited invites a busy loop.
func ceilSeconds(d time.Duration, min int64) int64 {
	s := int64((d + time.Second - 1) / time.Second)
	if s < min {
		return min
	}
	return s
}

func writeLimited(w http.ResponseWriter, scope string, d Decision) {
	retry := ceilSeconds(d.RetryAfter, 1)
	who := "this tenant"
	if scope == ScopeIP {
		who = "this client address"
	} else if scope != ScopeTenant {
		who = "this " + scope
	}
	p := problem.New(http.StatusTooManyRequests, problem.CodeRateLimited,
		fmt.Sprintf("rate limit exceeded for %s (burst of %d); retry in %d s", who, d.Limit, retry))
	p.Title = "Rate limit exceeded"
	p.Extensions = map[string]any{"retry_after": retry, "scope": scope}
	problem.Write(w, http.StatusTooManyRequests, p)
}

func writeError(w http.ResponseWriter, _ *http.Request, err error) {
	if errors.Is(err, ErrUnavailable) {
		w.Header().Set("Retry-After", "1")
		problem.Error(w, http.StatusServiceUnavailable, problem.CodeUnavailable, "rate limiter unavailable; retry shortly")
		return
	}
	// The cause may name internal hosts: keep it out of the response.
	problem.Error(w, http.StatusInternalServerError, problem.CodeInternal, "rate limiter failed")
}
