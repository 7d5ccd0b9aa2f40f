package ratelimit_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/fast-saas/fast-saas/middleware/apikey"
	"github.com/fast-saas/fast-saas/middleware/authn"
	"github.com/fast-saas/fast-saas/middleware/entitlements"
	"github.com/fast-saas/fast-saas/middleware/metering"
	"github.com/fast-saas/fast-saas/middleware/ratelimit"
	"github.com/fast-saas/fast-saas/middleware/tenancy"
)

// keyStore and tenants stand in for your database.
type keyStore map[[32]byte]authn.KeyRecord

func (s keyStore) LookupKey(_ context.Context, h [32]byte) (authn.KeyRecord, error) {
	if rec, ok := s[h]; ok {
		return rec, nil
	}
	return authn.KeyRecord{}, authn.ErrKeyNotFound
}

type tenants map[string]tenancy.Tenant

func (t tenants) Resolve(_ context.Context, _ authn.Principal, ref string) (tenancy.Tenant, tenancy.Role, error) {
	if tn, ok := t[ref]; ok {
		return tn, tenancy.RoleMember, nil
	}
	return tenancy.Tenant{}, "", tenancy.ErrNotFound
}

// The tenant chain of the fast-saas API: authenticate → resolve tenant and
// plan → rate limit by plan → monthly quota → record usage → handler.
// The rate and the quota come from the tenant's entitlement (its plan in
// the plan table, after per-tenant overrides).
func Example_tenantChain() {
	key, _ := apikey.Generate(apikey.KindTenant)
	auth, _ := authn.New(context.Background(), authn.Options{Keys: keyStore{
		key.Hash: {ID: "k1", Kind: apikey.KindTenant, TenantID: "acme", Hash: key.Hash},
	}})
	defer auth.Close()
	two := int64(2) // override: 2 requests a minute, to show a 429 quickly
	ten, _ := tenancy.New(tenancy.Options{Resolver: tenants{
		"acme": {ID: "acme", Plan: "free", Status: tenancy.StatusActive, Overrides: entitlements.Overrides{RateLimitPerMinute: &two}},
	}})

	tenantID := func(r *http.Request) (string, bool) {
		info, ok := tenancy.FromContext(r.Context())
		return info.Tenant.ID, ok
	}
	byPlan := func(r *http.Request) (string, ratelimit.Limit, bool) {
		info, ok := tenancy.FromContext(r.Context())
		if !ok || info.Entitlement.Plan == "" {
			return "", ratelimit.Limit{}, false // no tenant (or unknown plan): the per-IP limit still applies
		}
		return info.Tenant.ID, ratelimit.PerMinute(int(info.Entitlement.Limits.RateLimitPerMinute)), true
	}
	usage := metering.RecorderFunc(func(_ context.Context, e metering.Event) error {
		fmt.Println("usage:", e.TenantID, e.Metric)
		return nil
	})
	monthly := metering.UsageCounterFunc(func(context.Context, string, string, time.Time) (int64, error) {
		return 10, nil // calls so far this month, from your usage store
	})

	var h http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
	h = metering.Middleware(metering.Options{Recorder: usage, TenantID: tenantID})(h)
	h = metering.Quota(metering.QuotaOptions{Counter: monthly, TenantID: tenantID, Limit: func(r *http.Request) int64 {
		e, _ := entitlements.FromContext(r.Context())
		return e.Limits.APICallsPerMonth // 1000 on the free plan; -1 = unlimited
	}})(h)
	h = ratelimit.Middleware(ratelimit.Options{
		Limiter: ratelimit.NewMemory(ratelimit.MemoryOptions{}), // ratelimit.NewRedis with several replicas
		KeyFunc: byPlan,
		Scope:   ratelimit.ScopeTenant,
		Plan:    func(r *http.Request) string { e, _ := entitlements.FromContext(r.Context()); return e.Plan },
	})(h)
	h = ten.Handler(h)
	h = auth.Middleware(h)

	for range 3 {
		r := httptest.NewRequest(http.MethodGet, "/api/v1/things", nil)
		r.Header.Set("Authorization", "Bearer "+key.Secret)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		fmt.Println(w.Code, w.Header().Get("RateLimit"))
	}
	// Output:
	// usage: acme api_calls
	// 200 "tenant";r=1;t=30
	// usage: acme api_calls
	// 200 "tenant";r=0;t=60
	// 429 "tenant";r=0;t=60
}
