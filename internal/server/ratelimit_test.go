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
	"github.com/fast-saas/fast-saas/internal/usage"
	"github.com/fast-saas/fast-saas/middleware/apikey"
	"github.com/redis/go-redis/v9"
)

// redisWorld is a server on SQLite and the test Redis (under its own key
// prefix), composed as `serve` composes it but with no background workers
// running, and one tenant on plan pro at 60,000 requests a minute with a
// read key.
type redisWorld struct {
	srv    *Server
	redis  *redis.Client // the test Redis, for looking at what serve wrote
	prefix string
	tenant string
	secret string
}

func newRedisWorld(t *testing.T, configure func(*config.Config)) *redisWorld {
	t.Helper()
	ctx := context.Background()
	client, prefix := testenv.Redis(t)
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.IPRateLimit = -1
	cfg.RedisURL, cfg.RedisPrefix = testenv.RedisURL(t), prefix
	configure(&cfg)
	srv, err := New(ctx, cfg, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	tn, err := srv.Store.CreateTenant(ctx, store.Tenant{Slug: "acme", Name: "Acme", Plan: "pro"}, "")
	if err != nil {
		t.Fatal(err)
	}
	perMinute := int64(60000)
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
	return &redisWorld{srv: srv, redis: client, prefix: prefix, tenant: tn.ID, secret: k.Secret}
}

// getTenant serves GET /api/v1/tenants/{id} with the tenant's key.
func (w *redisWorld) getTenant(t *testing.T) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, "/api/v1/tenants/"+w.tenant, nil)
	req.Header.Set("Authorization", "Bearer "+w.secret)
	rec := httptest.NewRecorder()
	w.srv.Handler.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	return rec
}

// FASTSAAS_RATE_LIMIT_LEASE reaches the Redis limiter: a tenant key's
// answers announce the burst the limiter enforces, which leases lower by
// ⌈lease / interval⌉ tokens (60,000/min is one token per ms, so a 20 ms
// lease keeps 20 in reserve); without a lease the burst is the limit.
func TestRateLimitLease(t *testing.T) {
	t.Parallel()
	for lease, wantPolicy := range map[time.Duration]string{0: `"tenant";q=60000;w=60`, 20 * time.Millisecond: `"tenant";q=59980;w=60`} {
		w := newRedisWorld(t, func(c *config.Config) { c.RateLimitLease = lease })
		if got := w.getTenant(t).Header().Get("RateLimit-Policy"); got != wantPolicy {
			t.Errorf("lease %v: RateLimit-Policy %q, want %q", lease, got, wantPolicy)
		}
	}
}

// FASTSAAS_METERED_CALLS reaches the usage recorder. Durable, a metered
// call's event is in the Redis stream when the call answers; buffered, it
// is there once the server has closed (which writes the queue). No
// consumer runs here, so the stream keeps what was appended.
func TestMeteredCalls(t *testing.T) {
	t.Parallel()
	for _, durable := range []bool{true, false} {
		w := newRedisWorld(t, func(c *config.Config) { c.MeteredCallsDurable = durable })
		w.getTenant(t)
		if durable {
			if n, err := usage.Backlog(context.Background(), w.redis, w.prefix, ""); err != nil || n != 1 {
				t.Errorf("durable: %d stream entries once the call answered, %v; want 1", n, err)
			}
		}
		if err := w.srv.Close(); err != nil {
			t.Fatal(err)
		}
		if n, err := usage.Backlog(context.Background(), w.redis, w.prefix, ""); err != nil || n != 1 {
			t.Errorf("durable %v: %d stream entries after Close, %v; want 1", durable, n, err)
		}
	}
}
