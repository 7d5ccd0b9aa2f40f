package api

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"
	"github.com/google/uuid"

	"github.com/fast-saas/fast-saas/internal/core"
	"github.com/fast-saas/fast-saas/internal/store"
	"github.com/fast-saas/fast-saas/middleware/clientip"
	"github.com/fast-saas/fast-saas/middleware/metering"
	"github.com/fast-saas/fast-saas/middleware/ratelimit"
)

// Traffic are the per-tenant and per-IP traffic controls of the chain.
// Every field is optional: nil Limiter means no rate limiting, nil
// Recorder no metering, nil Counter no quota.
type Traffic struct {
	Limiter ratelimit.Limiter
	// IPLimit limits every request per client address before
	// authentication; a zero Rate disables it.
	IPLimit  ratelimit.Limit
	ClientIP *clientip.Resolver
	Recorder metering.Recorder
	Counter  metering.UsageCounter
	// LimitsTTL is how long a tenant's plan limits (with overrides) are
	// reused; 0 = 5 s.
	LimitsTTL time.Duration
	// QuotaCacheTTL is how long a tenant's monthly count is reused by the
	// quota check; 0 = metering's default (5 s).
	QuotaCacheTTL time.Duration
}

// billed is the tenant a request is charged to, after authorization.
type billed struct {
	tenant store.Tenant
	rate   int64 // per minute, -1 unlimited
	quota  int64 // API calls per month, -1 unlimited
}

type billedKey struct{}
type nextKey struct{}

type limitsEntry struct {
	tenant      store.Tenant
	rate, quota int64
	until       time.Time
}

// limitsCache keeps tenants' effective limits for a few seconds so the hot
// path does not read plan overrides on every request.
type limitsCache struct {
	svc *core.Service
	ttl time.Duration
	mu  sync.Mutex
	m   map[string]limitsEntry
}

func (c *limitsCache) get(ctx context.Context, tenantID string, fresh *store.Tenant) (billed, error) {
	now := time.Now()
	c.mu.Lock()
	e, ok := c.m[tenantID]
	c.mu.Unlock()
	if !ok || now.After(e.until) || (fresh != nil && fresh.Plan != e.tenant.Plan) {
		t := store.Tenant{}
		if fresh != nil {
			t = *fresh
		} else {
			var err error
			if t, err = c.svc.Store.GetTenant(ctx, tenantID); err != nil {
				return billed{}, err
			}
		}
		rate, quota, err := c.svc.Limits(ctx, t)
		if err != nil {
			return billed{}, err
		}
		e = limitsEntry{tenant: t, rate: rate, quota: quota, until: now.Add(c.ttl)}
		c.mu.Lock()
		if c.m == nil || len(c.m) > 100_000 {
			c.m = map[string]limitsEntry{}
		}
		c.m[tenantID] = e
		c.mu.Unlock()
	}
	if fresh != nil {
		e.tenant = *fresh
	}
	return billed{tenant: e.tenant, rate: e.rate, quota: e.quota}, nil
}

func billedFrom(r *http.Request) (billed, bool) {
	b, ok := r.Context().Value(billedKey{}).(billed)
	return b, ok
}

// tenantChain is rate limit (per tenant, by plan) → quota → usage record
// → handler, for requests billed to a tenant.
func tenantChain(t Traffic, o Options) http.Handler {
	var h http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next := r.Context().Value(nextKey{}).(func(huma.Context))
		op := r.Context().Value(opKey{}).(*huma.Operation)
		next(humago.NewContext(op, r, w))
	})
	tenantID := func(r *http.Request) (string, bool) {
		b, ok := billedFrom(r)
		return b.tenant.ID, ok
	}
	if t.Recorder != nil {
		h = metering.Middleware(metering.Options{Recorder: t.Recorder, TenantID: tenantID, Metric: core.MetricAPICalls,
			Properties: func(r *http.Request, status int) map[string]any {
				route := ""
				if op, ok := r.Context().Value(opKey{}).(*huma.Operation); ok {
					route = op.Path
				}
				return map[string]any{"method": r.Method, "route": route, "status": status}
			},
			OnError: func(r *http.Request, e metering.Event, err error) {
				loggerFrom(r.Context()).Warn("usage event not recorded", "tenant_id", e.TenantID, "error", err.Error())
			}})(h)
	}
	if t.Counter != nil {
		h = metering.Quota(metering.QuotaOptions{Counter: t.Counter, TenantID: tenantID, Metric: core.MetricAPICalls, CacheTTL: t.QuotaCacheTTL,
			Limit: func(r *http.Request) int64 { b, _ := billedFrom(r); return b.quota }})(h)
	}
	if t.Limiter != nil {
		h = ratelimit.Middleware(ratelimit.Options{Limiter: t.Limiter, Scope: ratelimit.ScopeTenant, CountLimited: o.countLimited,
			KeyFunc: func(r *http.Request) (string, ratelimit.Limit, bool) {
				b, ok := billedFrom(r)
				if !ok || b.rate < 0 {
					return "", ratelimit.Limit{}, false
				}
				return b.tenant.ID, ratelimit.PerMinute(int(b.rate)), true
			},
			Plan: func(r *http.Request) string { b, _ := billedFrom(r); return b.tenant.Plan }})(h)
		// A plan (or override) of 0 requests per minute admits nothing;
		// the limiter cannot express that, so refuse here.
		limited := h
		h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if b, ok := billedFrom(r); ok && b.rate == 0 {
				writeProblem(w, r, http.StatusTooManyRequests, "rate_limited", "this tenant's plan allows no API requests")
				return
			}
			limited.ServeHTTP(w, r)
		})
	}
	return h
}

type opKey struct{}

// ipChain limits requests per client address before authentication.
func ipChain(t Traffic, o Options, next http.Handler) http.Handler {
	if t.Limiter == nil || t.IPLimit.Rate == 0 {
		return next
	}
	res := t.ClientIP
	if res == nil {
		res = clientip.New()
	}
	return ratelimit.Middleware(ratelimit.Options{Limiter: t.Limiter, Scope: ratelimit.ScopeIP, CountLimited: o.countLimited,
		KeyFunc: func(r *http.Request) (string, ratelimit.Limit, bool) {
			a := res.ClientIP(r)
			if !a.IsValid() {
				return "", ratelimit.Limit{}, false
			}
			return a.String(), t.IPLimit, true
		}})(next)
}

// operationMiddleware runs inside huma after routing: it labels metrics
// with the route, authorizes the operation up front, and sends requests
// billed to a tenant through the tenant chain.
func operationMiddleware(api huma.API, o Options, byID map[string]core.Operation) func(huma.Context, func(huma.Context)) {
	cache := &limitsCache{svc: o.Service, ttl: o.Traffic.LimitsTTL}
	if cache.ttl <= 0 {
		cache.ttl = 5 * time.Second
	}
	chain := tenantChain(o.Traffic, o)
	active := o.Traffic.Limiter != nil || o.Traffic.Recorder != nil || o.Traffic.Counter != nil
	return func(ctx huma.Context, next func(huma.Context)) {
		hop := ctx.Operation()
		setRoute(ctx.Context(), hop.Path)
		op, ok := byID[hop.OperationID]
		if !ok || op.Access.Anonymous {
			next(ctx)
			return
		}
		caller := core.CallerFrom(ctx.Context())
		if caller.Kind == core.Anonymous {
			// Refuse before input validation: an anonymous caller learns
			// nothing about an operation's inputs, and gets 401, not 422.
			ctx.SetHeader("WWW-Authenticate", `Bearer realm="fast-saas"`)
			_ = huma.WriteErr(api, ctx, http.StatusUnauthorized, "", core.Unauthenticated())
			return
		}
		if !active || caller.Kind == core.PlatformCaller {
			// Platform admins act for the operator, not for a tenant: they
			// are neither billed nor limited per tenant.
			next(ctx)
			return
		}
		ref := ""
		if op.TenantScoped() {
			ref = ctx.Param("id")
			if uuid.Validate(ref) != nil {
				next(ctx) // let input validation answer 422
				return
			}
		}
		actx, call, err := o.Service.Authorize(ctx.Context(), op, ref)
		if err != nil {
			_ = huma.WriteErr(api, ctx, 500, "", err)
			return
		}
		var b billed
		switch {
		case call.Tenant.ID != "":
			b, err = cache.get(actx, call.Tenant.ID, &call.Tenant)
		case caller.Kind == core.TenantKeyCaller:
			b, err = cache.get(actx, caller.TenantID, nil)
		default:
			next(huma.WithContext(ctx, actx)) // a user outside any tenant
			return
		}
		if err != nil {
			_ = huma.WriteErr(api, ctx, 500, "", err)
			return
		}
		r, w := humago.Unwrap(ctx)
		rctx := context.WithValue(actx, billedKey{}, b)
		rctx = context.WithValue(rctx, nextKey{}, next)
		rctx = context.WithValue(rctx, opKey{}, hop)
		chain.ServeHTTP(w, r.WithContext(rctx))
	}
}
