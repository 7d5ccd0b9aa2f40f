// Package core holds the domain operations of the SaaS API and the
// operation table that declares each of them once: id, method, path,
// summary, typed input and output, required permission and handler.
// REST (internal/api), OpenAPI and MCP are adapters derived from the table;
// authorization happens here, in one place, whatever the adapter.
package core

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fast-saas/fast-saas/internal/ai"
	"github.com/fast-saas/fast-saas/internal/lago"
	"github.com/fast-saas/fast-saas/internal/store"
)

// Plan is one plan's limits and features as the API shows them.
// -1 means unlimited.
type Plan struct {
	ID                 string          `json:"id"`
	Name               string          `json:"name"`
	APICallsPerMonth   int64           `json:"api_calls_per_month"`
	RateLimitPerMinute int64           `json:"rate_limit_per_minute"`
	StorageMB          int64           `json:"storage_mb"`
	TeamMembers        int64           `json:"team_members"`
	Features           map[string]bool `json:"features"`
}

// PlanCatalog is the plan table as core needs it (implemented over
// middleware/entitlements by the composition root). Each plan's Features
// lists every known feature key, true or false.
type PlanCatalog interface {
	Plans() []Plan
	Plan(id string) (Plan, bool)
}

// ModuleLister lists the catalog modules for the admin view (optional).
type ModuleLister interface {
	Modules() []Module
}

// Module is one catalog module as the admin view shows it.
type Module struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Layer       string `json:"layer"`
	Description string `json:"description,omitempty"`
	Default     bool   `json:"default"`
	// Health is the module's health when the server can observe it;
	// absent when it is not checked from here.
	Health string `json:"health,omitempty"`
}

// Service runs the operations. Fields are its dependencies.
type Service struct {
	Store store.Store
	Plans PlanCatalog
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Lago enables enqueuing Lago sync commands in the outbox.
	Lago bool
	// Modules feeds GET /admin/modules; nil lists none.
	Modules ModuleLister
	// KeyRevoked is told about every revoked key hash so authentication
	// caches can drop it at once (nil = nothing to tell).
	KeyRevoked func(hash []byte)
	// CacheTTL is how long authorization lookups (tenant, membership,
	// provisioned user) are reused; 0 = 2 s, negative = no cache. Changes
	// made through this process apply at once; through another replica,
	// within the TTL.
	CacheTTL time.Duration

	cacheOnce sync.Once
	tenants   *ttlCache[string, cachedTenant]
	roles     *ttlCache[[2]string, store.Role] // (tenant, user) → role, "" = not a member
	users     *ttlCache[string, store.User]    // Logto sub → user
	lists     *ttlCache[tenantListKey, *Body[List[Tenant]]]
	// listGen counts list invalidations: a page read from the store
	// before an invalidation is not cached after it.
	listGen atomic.Uint64

	// AI holds the upstream proxies; nil upstreams answer 503.
	AI *ai.Clients

	// Ready are the readiness checks of GET /health/ready; CheckTimeout
	// bounds each one (0 = 1 s).
	Ready        []Check
	CheckTimeout time.Duration

	// LagoWebhooks verifies and counts Lago's webhooks; nil answers them
	// 503 (not configured).
	LagoWebhooks *lago.Receiver
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

func (s *Service) caches() {
	s.cacheOnce.Do(func() {
		ttl := s.CacheTTL
		if ttl == 0 {
			ttl = 2 * time.Second
		}
		s.tenants = newTTLCache[string, cachedTenant](ttl, 100_000)
		s.roles = newTTLCache[[2]string, store.Role](ttl, 100_000)
		s.users = newTTLCache[string, store.User](30*ttl, 100_000)
		s.lists = newTTLCache[tenantListKey, *Body[List[Tenant]]](ttl, maxCachedLists)
	})
}

// cachedTenant is a tenant as the tenant cache keeps it, with the list page
// a tenant key is answered (its one tenant; see listTenants): made on first
// use, as most cached tenants are never listed by a key, then shared, its
// JSON encoded once for all the requests that reuse the entry.
type cachedTenant struct {
	t    store.Tenant
	page *keyPage
}

type keyPage struct {
	once sync.Once
	body *Body[List[Tenant]]
}

// keyPage returns the page listing the tenant alone.
func (e cachedTenant) keyPage() *Body[List[Tenant]] {
	e.page.once.Do(func() {
		e.page.body = keepJSON(listOf([]store.Tenant{e.t}, "", tenantView))
	})
	return e.page.body
}

// tenant returns a tenant, from the cache when fresh.
func (s *Service) tenant(ctx context.Context, id string) (store.Tenant, error) {
	e, err := s.tenantEntry(ctx, id)
	return e.t, err
}

// tenantEntry returns a tenant's cache entry, reading the tenant from the
// store when the cache has no fresh one.
func (s *Service) tenantEntry(ctx context.Context, id string) (cachedTenant, error) {
	s.caches()
	now := time.Now()
	if e, ok := s.tenants.get(id, now); ok {
		return e, nil
	}
	t, err := s.Store.GetTenant(ctx, id)
	if err != nil {
		return cachedTenant{t: t}, err
	}
	e := cachedTenant{t: t, page: new(keyPage)}
	s.tenants.put(id, e, now)
	return e, nil
}

// role returns the user's role in the tenant ("" when not a member).
func (s *Service) role(ctx context.Context, tenantID, userID string) (store.Role, error) {
	s.caches()
	now := time.Now()
	k := [2]string{tenantID, userID}
	if r, ok := s.roles.get(k, now); ok {
		return r, nil
	}
	m, err := s.Store.GetMember(ctx, tenantID, userID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		m.Role = ""
	case err != nil:
		return "", err
	}
	s.roles.put(k, m.Role, now)
	return m.Role, nil
}

// forgetTenant drops cached state of a tenant after a change to it
// (including every cached tenant list, which may show it).
func (s *Service) forgetTenant(id string) {
	s.caches()
	s.tenants.drop(id)
	s.forgetLists()
}

// forgetMembers drops cached roles and tenant lists (a user's list is
// their memberships) after a membership change.
func (s *Service) forgetMembers() {
	s.caches()
	s.roles.dropAll()
	s.forgetLists()
}

// forgetLists drops every cached tenant list page.
func (s *Service) forgetLists() {
	s.listGen.Add(1)
	s.lists.dropAll()
}

// Operations returns the operation table bound to s. The order is the
// documentation order.
func (s *Service) Operations() []Operation {
	var ops []Operation
	ops = append(ops, s.healthOps()...)
	ops = append(ops, s.planOps()...)
	ops = append(ops, s.tenantOps()...)
	ops = append(ops, s.userOps()...)
	ops = append(ops, s.memberOps()...)
	ops = append(ops, s.keyOps()...)
	ops = append(ops, s.usageOps()...)
	ops = append(ops, s.auditOps()...)
	ops = append(ops, s.adminOps()...)
	ops = append(ops, s.aiOps()...)
	return ops
}

// audit appends an audit row for a mutation; it runs inside the mutation's
// transaction so the two are committed together.
func audit(ctx context.Context, q store.Queries, c *Call, tenantID, action, target string, details any) error {
	var raw json.RawMessage
	if details != nil {
		b, err := json.Marshal(details)
		if err != nil {
			return fmt.Errorf("audit %s: %w", action, err)
		}
		raw = b
	}
	if _, err := q.AppendAudit(ctx, store.AuditEntry{
		TenantID: tenantID, Principal: c.Caller.principalLabel(), Action: action, Target: target, Details: raw,
	}); err != nil {
		return fmt.Errorf("audit %s: %w", action, err)
	}
	return nil
}

func (c Caller) principalLabel() string {
	switch c.Kind {
	case UserCaller:
		return "user:" + c.UserID
	case TenantKeyCaller:
		return "key:" + c.KeyID
	case PlatformCaller:
		if c.KeyID != "" {
			return "platform:" + c.KeyID
		}
		return "platform"
	}
	return "anonymous"
}
