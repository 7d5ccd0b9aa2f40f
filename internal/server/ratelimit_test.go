package server

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/fast-saas/fast-saas/internal/config"
	"github.com/fast-saas/fast-saas/internal/store"
	"github.com/fast-saas/fast-saas/internal/testenv"
	"github.com/fast-saas/fast-saas/middleware/apikey"
)

// FASTSAAS_RATE_LIMIT_LEASE reaches the Redis limiter: a tenant key's
// answers announce the burst the limiter enforces, which leases lower by
// ⌈lease / interval⌉ tokens (6,000/min is one token per 10 ms, so a 20 ms
// lease keeps 2 in reserve); without a lease the burst is the limit.
func TestRateLimitLease(t *testing.T) {
	t.Parallel()
	_, prefix := testenv.Redis(t)
	redisURL := testenv.RedisURL(t)
	for lease, wantPolicy := range map[time.Duration]string{0: `"tenant";q=6000;w=60`, 20 * time.Millisecond: `"tenant";q=5998;w=60`} {
		ctx := context.Background()
		cfg := config.Default()
		cfg.DataDir = t.TempDir()
		cfg.IPRateLimit = -1
		cfg.RedisURL, cfg.RedisPrefix = redisURL, prefix+lease.String()+":"
		cfg.RateLimitLease = lease
		srv, err := New(ctx, cfg, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = srv.Close() })
		tn, err := srv.Store.CreateTenant(ctx, store.Tenant{Slug: "acme", Name: "Acme", Plan: "pro"}, "")
		if err != nil {
			t.Fatal(err)
		}
		perMinute := int64(6000)
		if _, err := srv.Store.SetOverrides(ctx, tn.ID, store.PlanOverrides{RateLimitPerMinute: &perMinute}); err != nil {
			t.Fatal(err)
		}
		k, err := apikey.Generate(apikey.KindTenant)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := srv.Store.CreateAPIKey(ctx, store.APIKey{TenantID: tn.ID, Name: "k", Prefix: k.Display, Hash: k.Hash[:], Scopes: []string{"read"}}); err != nil {
			t.Fatal(err)
		}
		req := httptest.NewRequest(http.MethodGet, "/api/v1/tenants/"+tn.ID, nil)
		req.Header.Set("Authorization", "Bearer "+k.Secret)
		rec := httptest.NewRecorder()
		srv.Handler.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			t.Fatalf("lease %v: status %d: %s", lease, rec.Code, rec.Body)
		}
		if got := rec.Header().Get("RateLimit-Policy"); got != wantPolicy {
			t.Errorf("lease %v: RateLimit-Policy %q, want %q", lease, got, wantPolicy)
		}
	}
}
