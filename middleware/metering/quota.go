package metering

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/fast-saas/fast-saas/middleware/problem"
)

// UsageCounter reports how much of a metric a tenant used in the UTC month
// that starts at monthStart (the first instant of the current UTC month).
type UsageCounter interface {
	MonthlyCount(ctx context.Context, tenantID, metric string, monthStart time.Time) (int64, error)
}

// UsageCounterFunc adapts a function to UsageCounter.
type UsageCounterFunc func(ctx context.Context, tenantID, metric string, monthStart time.Time) (int64, error)

// MonthlyCount calls f.
func (f UsageCounterFunc) MonthlyCount(ctx context.Context, tenantID, metric string, monthStart time.Time) (int64, error) {
	return f(ctx, tenantID, metric, monthStart)
}

// Unlimited is the quota value meaning "no limit", as in the plan table.
const Unlimited = -1

// QuotaOptions configure Quota.
type QuotaOptions struct {
	// Counter reports the month's usage so far. Required.
	Counter UsageCounter
	// TenantID returns the tenant of r; ok=false skips the check. Required.
	TenantID func(r *http.Request) (tenantID string, ok bool)
	// Limit returns the tenant's monthly quota for Metric (the plan's
	// api_calls_per_month after overrides); Unlimited (-1) skips the check.
	// Required.
	Limit func(r *http.Request) int64
	// Metric is the metered metric; "" means DefaultMetric.
	Metric string
	// CacheTTL is how long a tenant's count is reused before Counter is
	// asked again; 0 means 5 s. Between refreshes the middleware adds the
	// requests it admitted itself, so a burst cannot run far past the quota
	// on one replica while the cache is warm.
	CacheTTL time.Duration
	// Timeout bounds one Counter call; 0 means 2 s.
	Timeout time.Duration
	// FailClosed refuses requests (503) when the count cannot be read and
	// no earlier count is cached. The default lets them through: a quota
	// is a billing boundary, not a safety one, and an outage of the usage
	// store should not take the API down with it.
	FailClosed bool
	// OnError is told about Counter failures; nil ignores them.
	OnError func(r *http.Request, err error)
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Quota refuses requests of tenants that used up their monthly quota with
// 429 and a problem of type/code "quota_exceeded", whose detail says that
// the monthly quota is exhausted and when it resets; Retry-After points at
// the start of next month (UTC). Refused requests go no further, so the
// metering middleware placed after Quota does not count them.
//
// The check is deliberately approximate, in exchange for not reading the
// usage store on every request: the count comes from the store (which lags
// the usage pipeline by its flush interval) plus the requests this replica
// admitted since it last asked, so each replica may admit up to the
// requests it serves in one CacheTTL beyond the quota. The billing system
// still counts every recorded event.
//
// Quota panics when a required option is nil.
func Quota(opts QuotaOptions) func(http.Handler) http.Handler {
	if opts.Counter == nil || opts.TenantID == nil || opts.Limit == nil {
		panic("metering.Quota: Counter, TenantID and Limit are required")
	}
	q := &quota{opts: opts, entries: make(map[string]*quotaEntry)}
	if q.opts.Metric == "" {
		q.opts.Metric = DefaultMetric
	}
	if q.opts.CacheTTL <= 0 {
		q.opts.CacheTTL = 5 * time.Second
	}
	if q.opts.Timeout <= 0 {
		q.opts.Timeout = 2 * time.Second
	}
	if q.opts.Now == nil {
		q.opts.Now = time.Now
	}
	return q.middleware
}

type quota struct {
	opts      QuotaOptions
	mu        sync.Mutex
	entries   map[string]*quotaEntry
	lastSweep time.Time
}

// quotaEntry caches one tenant's count. Its mutex is held while the count
// is fetched, so concurrent requests of a tenant share one Counter call.
type quotaEntry struct {
	mu      sync.Mutex
	month   time.Time // month the count belongs to
	fetched time.Time // zero: never loaded
	base    int64     // Counter's answer
	local   int64     // requests admitted here since the fetch
}

// maxIdleEntries is how many cached tenants trigger a sweep of stale ones.
const maxIdleEntries = 4096

func (q *quota) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tenant, ok := q.opts.TenantID(r)
		if !ok {
			next.ServeHTTP(w, r)
			return
		}
		limit := q.opts.Limit(r)
		if limit < 0 {
			next.ServeHTTP(w, r)
			return
		}
		now := q.opts.Now().UTC()
		used, err := q.admit(r, tenant, limit, now)
		switch {
		case err != nil && q.opts.FailClosed:
			w.Header().Set("Retry-After", "1")
			problem.Error(w, http.StatusServiceUnavailable, problem.CodeUnavailable, "usage quota cannot be checked right now; retry shortly")
			return
		case err != nil:
			next.ServeHTTP(w, r) // fail open, see QuotaOptions.FailClosed
			return
		case used >= limit:
			writeQuotaExceeded(w, q.opts.Metric, limit, used, now)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// admit returns the usage before this request and, when it is under limit,
// counts the request as admitted. err is non-nil only when no count at all
// is available.
func (q *quota) admit(r *http.Request, tenant string, limit int64, now time.Time) (int64, error) {
	month := MonthStart(now)
	e := q.entry(tenant, now)
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.fetched.IsZero() || !e.month.Equal(month) || now.Sub(e.fetched) >= q.opts.CacheTTL {
		ctx, cancel := context.WithTimeout(r.Context(), q.opts.Timeout)
		n, err := q.opts.Counter.MonthlyCount(ctx, tenant, q.opts.Metric, month)
		cancel()
		switch {
		case err == nil:
			e.month, e.fetched, e.base, e.local = month, now, n, 0
		case !e.fetched.IsZero() && e.month.Equal(month):
			// Keep answering from the last count of this month, and retry
			// after another TTL rather than on every request.
			e.fetched = now
			q.reportError(r, err)
		default:
			q.reportError(r, err)
			return 0, fmt.Errorf("monthly usage of tenant %s: %w", tenant, err)
		}
	}
	used := e.base + e.local
	if used < limit {
		e.local++
	}
	return used, nil
}

func (q *quota) reportError(r *http.Request, err error) {
	if q.opts.OnError != nil {
		q.opts.OnError(r, err)
	}
}

func (q *quota) entry(tenant string, now time.Time) *quotaEntry {
	q.mu.Lock()
	defer q.mu.Unlock()
	e, ok := q.entries[tenant]
	if !ok {
		if len(q.entries) >= maxIdleEntries && now.Sub(q.lastSweep) >= q.opts.CacheTTL {
			q.sweep(now)
		}
		e = &quotaEntry{}
		q.entries[tenant] = e
	}
	return e
}

// sweep forgets tenants whose count is long stale; called with q.mu held.
func (q *quota) sweep(now time.Time) {
	q.lastSweep = now
	for k, e := range q.entries {
		if e.mu.TryLock() {
			stale := !e.fetched.IsZero() && now.Sub(e.fetched) > 10*q.opts.CacheTTL
			e.mu.Unlock()
			if stale {
				delete(q.entries, k)
			}
		}
	}
}

func writeQuotaExceeded(w http.ResponseWriter, metric string, limit, used int64, now time.Time) {
	reset := MonthStart(now).AddDate(0, 1, 0)
	w.Header().Set("Retry-After", strconv.FormatInt(int64(reset.Sub(now).Seconds())+1, 10))
	p := problem.New(http.StatusTooManyRequests, problem.CodeQuotaExceeded,
		fmt.Sprintf("the monthly quota of %d %s for this tenant's plan is used up; it resets at %s (or upgrade the plan)",
			limit, metric, reset.Format(time.RFC3339)))
	p.Title = "Monthly quota exceeded"
	p.Extensions = map[string]any{"metric": metric, "limit": limit, "used": used, "resets_at": reset.Format(time.RFC3339)}
	problem.Write(w, http.StatusTooManyRequests, p)
}

// MonthStart returns the first instant of t's month in UTC: the start of a
// quota period.
func MonthStart(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
}
