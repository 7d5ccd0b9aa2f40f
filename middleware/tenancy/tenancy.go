// Package tenancy resolves the tenant a request acts on, and the caller's
// role in it, after authentication.
//
// The tenant reference comes from the request (by default the {id} path
// value, else the tenant of a tenant API key) and is resolved by the
// caller's TenantResolver — membership for users, the key's own tenant for
// tenant keys, any tenant for platform admins — with a small TTL cache.
// A tenant the principal may not see answers 404, never 403, so tenant
// existence does not leak; a suspended or cancelled tenant answers 403
// "tenant_suspended" except to platform admins. The resolved tenant, role
// and plan entitlement are put in the request context (FromContext,
// entitlements.FromContext).
package tenancy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/fast-saas/fast-saas/middleware/authn"
	"github.com/fast-saas/fast-saas/middleware/entitlements"
	"github.com/fast-saas/fast-saas/middleware/problem"
)

// Role is a member's role in a tenant: owner > admin > member > viewer.
type Role string

// Roles, from most to least powerful.
const (
	RoleOwner  Role = "owner"
	RoleAdmin  Role = "admin"
	RoleMember Role = "member"
	RoleViewer Role = "viewer"
)

func (r Role) rank() int {
	switch r {
	case RoleOwner:
		return 4
	case RoleAdmin:
		return 3
	case RoleMember:
		return 2
	case RoleViewer:
		return 1
	}
	return 0
}

// Valid reports whether r is one of the four roles.
func (r Role) Valid() bool { return r.rank() > 0 }

// AtLeast reports whether r is min or more powerful. Unknown roles are
// below everything, and no role is at least an unknown role.
func (r Role) AtLeast(min Role) bool {
	return r.rank() > 0 && min.rank() > 0 && r.rank() >= min.rank()
}

// ParseRole returns the role named s.
func ParseRole(s string) (Role, error) {
	if r := Role(s); r.Valid() {
		return r, nil
	}
	return "", fmt.Errorf("tenancy: unknown role %q (want owner, admin, member or viewer)", s)
}

// Tenant statuses that matter here; others are treated as active.
const (
	StatusActive    = "active"
	StatusSuspended = "suspended"
	StatusCancelled = "cancelled"
)

// Tenant is what the middleware needs to know about a tenant.
type Tenant struct {
	ID     string
	Slug   string
	Plan   string // a plan id of the entitlements table
	Status string
	// Overrides are the tenant's per-tenant limits and features.
	Overrides entitlements.Overrides
}

// ErrNotFound is returned by a TenantResolver when the tenant does not
// exist or the principal may not see it (the two must look the same).
var ErrNotFound = errors.New("tenancy: tenant not found")

// TenantResolver finds the tenant named by tenantRef (an id or a slug, as
// the resolver likes; possibly empty, e.g. for a Logto organization token
// whose OrganizationID selects the tenant) and the principal's role in it.
// For platform principals any tenant resolves; an empty role is then
// treated as owner. Errors other than ErrNotFound are treated as outages.
type TenantResolver interface {
	Resolve(ctx context.Context, p authn.Principal, tenantRef string) (Tenant, Role, error)
}

// Options configure the middleware. Resolver is required.
type Options struct {
	Resolver TenantResolver
	// TenantRef extracts the tenant reference from a request. Default: the
	// {id} path value, else the principal's own tenant (tenant keys).
	TenantRef func(r *http.Request, p authn.Principal) string
	// Plans is the plan table entitlements are computed from (default
	// entitlements.Default()).
	Plans *entitlements.Plans
	// CacheTTL is how long a resolution is reused (default 5 s; negative
	// disables the cache). Forget drops a tenant's entries at once.
	CacheTTL time.Duration
	// CacheSize bounds the cache (default 10000 entries).
	CacheSize int
	// Now returns the current time (default time.Now).
	Now func() time.Time
	// Logger receives warnings (default slog.Default()).
	Logger *slog.Logger
}

// Info is the resolved tenant context of a request.
type Info struct {
	Tenant Tenant
	Role   Role
	// Entitlement is the plan's limits and features after overrides; its
	// Plan is empty when the tenant's plan is not in the table.
	Entitlement entitlements.Entitlement
}

type ctxKey struct{}

// NewContext returns ctx carrying info (and its entitlement, for package
// entitlements). The middleware does this; it is exported for tests.
func NewContext(ctx context.Context, info Info) context.Context {
	ctx = context.WithValue(ctx, ctxKey{}, &info)
	if info.Entitlement.Plan != "" {
		ctx = entitlements.NewContext(ctx, &info.Entitlement)
	}
	return ctx
}

// FromContext returns the tenant context of the request.
func FromContext(ctx context.Context) (Info, bool) {
	i, ok := ctx.Value(ctxKey{}).(*Info)
	if !ok || i == nil {
		return Info{}, false
	}
	return *i, true
}

// Middleware resolves tenants; it is safe for concurrent use.
type Middleware struct {
	resolver TenantResolver
	ref      func(*http.Request, authn.Principal) string
	plans    *entitlements.Plans
	ttl      time.Duration
	now      func() time.Time
	logger   *slog.Logger
	cache    *cache
}

// New returns the middleware configured by opts.
func New(opts Options) (*Middleware, error) {
	if opts.Resolver == nil {
		return nil, errors.New("tenancy: Options.Resolver is required")
	}
	m := &Middleware{resolver: opts.Resolver, ref: opts.TenantRef, plans: opts.Plans, ttl: opts.CacheTTL,
		now: opts.Now, logger: opts.Logger, cache: newCache(opts.CacheSize)}
	if m.ref == nil {
		m.ref = DefaultTenantRef
	}
	if m.plans == nil {
		m.plans = entitlements.Default()
	}
	if m.ttl == 0 {
		m.ttl = 5 * time.Second
	}
	if m.now == nil {
		m.now = time.Now
	}
	if m.logger == nil {
		m.logger = slog.Default()
	}
	return m, nil
}

// DefaultTenantRef is the {id} path value, else the principal's own tenant.
func DefaultTenantRef(r *http.Request, p authn.Principal) string {
	if id := r.PathValue("id"); id != "" {
		return id
	}
	return p.TenantID
}

// Forget drops cached resolutions of a tenant, e.g. right after it is
// suspended or its plan changes. Other replicas catch up within CacheTTL.
func (m *Middleware) Forget(tenantID string) { m.cache.forget(tenantID) }

// Handler resolves the tenant of each request; it must run after
// authn's middleware.
func (m *Middleware) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		p, ok := authn.FromContext(ctx)
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="fast-saas"`)
			problem.Error(w, http.StatusUnauthorized, problem.CodeUnauthorized, "authentication is required")
			return
		}
		info, err := m.resolve(ctx, p, m.ref(r, p))
		switch {
		case errors.Is(err, ErrNotFound):
			problem.Error(w, http.StatusNotFound, problem.CodeNotFound, "tenant not found")
			return
		case err != nil:
			m.logger.WarnContext(ctx, "tenancy: resolve tenant", "error", err)
			w.Header().Set("Retry-After", "5")
			problem.Error(w, http.StatusServiceUnavailable, problem.CodeUnavailable, "the tenant cannot be looked up right now")
			return
		}
		if !p.IsPlatform() && (info.Tenant.Status == StatusSuspended || info.Tenant.Status == StatusCancelled) {
			problem.Write(w, http.StatusForbidden, problem.Problem{
				Code:       problem.CodeTenantSuspended,
				Detail:     "this tenant is " + info.Tenant.Status + "; contact the platform administrator",
				Extensions: map[string]any{"tenant_status": info.Tenant.Status},
			})
			return
		}
		ctx = context.WithValue(ctx, ctxKey{}, info)
		if info.Entitlement.Plan != "" {
			ctx = entitlements.NewContext(ctx, &info.Entitlement)
		}
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// resolve returns the (possibly cached) tenant context. The returned Info
// is shared: never modify it.
func (m *Middleware) resolve(ctx context.Context, p authn.Principal, ref string) (*Info, error) {
	key := cacheKey{kind: p.Kind, subject: p.Subject, org: p.OrganizationID, ref: ref}
	now := m.now()
	if m.ttl > 0 {
		if info, ok := m.cache.get(key, now); ok {
			return info, nil
		}
	}
	gen := m.cache.generation()
	t, role, err := m.resolver.Resolve(ctx, p, ref)
	if err != nil {
		return nil, fmt.Errorf("resolve tenant: %w", err)
	}
	// A second wall behind the resolver: a tenant key only ever reaches
	// its own tenant.
	if p.Kind == authn.KindTenantKey && t.ID != p.TenantID {
		return nil, ErrNotFound
	}
	if p.IsPlatform() && role == "" {
		role = RoleOwner
	}
	if !role.Valid() {
		return nil, ErrNotFound
	}
	info := &Info{Tenant: t, Role: role}
	if e, err := m.plans.Resolve(t.Plan, t.Overrides); err != nil {
		m.logger.WarnContext(ctx, "tenancy: tenant has a plan that is not in the plan table", "tenant_id", t.ID, "plan", t.Plan)
	} else {
		info.Entitlement = e
	}
	if m.ttl > 0 {
		m.cache.put(key, info, now.Add(m.ttl), gen, now)
	}
	return info, nil
}

type cacheKey struct {
	kind    authn.Kind
	subject string
	org     string
	ref     string
}

type cacheEntry struct {
	info  *Info
	until time.Time
}

// cache is a bounded TTL map of resolutions.
type cache struct {
	mu  sync.RWMutex
	max int
	m   map[cacheKey]cacheEntry
	gen uint64
}

func newCache(max int) *cache {
	if max <= 0 {
		max = 10000
	}
	return &cache{max: max, m: make(map[cacheKey]cacheEntry)}
}

func (c *cache) get(k cacheKey, now time.Time) (*Info, bool) {
	c.mu.RLock()
	e, ok := c.m[k]
	c.mu.RUnlock()
	if !ok || !now.Before(e.until) {
		return nil, false
	}
	return e.info, true
}

func (c *cache) generation() uint64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.gen
}

func (c *cache) put(k cacheKey, info *Info, until time.Time, gen uint64, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return // a Forget happened meanwhile: what we read may be stale
	}
	if _, exists := c.m[k]; !exists && len(c.m) >= c.max {
		for key, e := range c.m {
			if !now.Before(e.until) {
				delete(c.m, key)
			}
		}
		for key := range c.m {
			if len(c.m) < c.max-c.max/16 {
				break
			}
			delete(c.m, key)
		}
	}
	c.m[k] = cacheEntry{info: info, until: until}
}

func (c *cache) forget(tenantID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	for k, e := range c.m {
		if e.info.Tenant.ID == tenantID {
			delete(c.m, k)
		}
	}
}

func (c *cache) len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.m)
}
