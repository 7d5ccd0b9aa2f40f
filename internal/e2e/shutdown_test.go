package e2e

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/fast-saas/fast-saas/client"
	"github.com/fast-saas/fast-saas/internal/testenv"
)

// TestGracefulShutdownFlushesUsage: API calls metered into the embedded
// in-process buffer are all in the store after a SIGINT, as a restart on
// the same data directory shows. The first platform key is printed only
// on the first start.
func TestGracefulShutdownFlushesUsage(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := startIn(t, dir, "DATABASE_URL=", "REDIS_URL=", "FASTSAAS_IP_RATE_LIMIT=-1")
	ctx := context.Background()
	admin := client.New(s.base, s.platformKey)
	tenant, keyed := tenantWithKey(t, admin, "flush", "pro")
	const calls = 200
	for i := 0; i < calls; i++ {
		if _, err := keyed.GetTenant(ctx, tenant.ID); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	s.stop(t)

	// Restart: no new platform key is printed, the old one still works.
	s2 := restartNoKey(t, dir)
	q, err := client.New(s2, s.platformKey).UsageLimit(ctx, tenant.ID)
	if err != nil {
		t.Fatal(err)
	}
	if q.Used != calls {
		t.Errorf("after restart %v api_calls recorded, want %d (usage lost on shutdown?)", q.Used, calls)
	}
}

// restartNoKey starts serve on an existing data directory, where it must
// not print a platform key, and returns its base URL.
func restartNoKey(t *testing.T, dir string) string {
	t.Helper()
	s := startIn(t, dir, "DATABASE_URL=", "REDIS_URL=")
	if s.platformKey != "" {
		t.Fatal("a second start printed a new platform key")
	}
	if resp, err := http.Get(s.base + "/health"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("restarted server: %v %v", resp, err)
	}
	return s.base
}

// TestGracefulShutdownWritesMeteredCallsToRedis: with Postgres and Redis,
// API calls metered with either FASTSAAS_METERED_CALLS setting are all
// counted once the server has stopped on SIGINT and a second replica's
// consumer has stored the stream. Buffered, the events the first server
// still held in memory are appended to the stream as it shuts down.
func TestGracefulShutdownWritesMeteredCallsToRedis(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{"buffered", "durable"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			pg := testenv.Postgres(t)
			_, prefix := testenv.Redis(t)
			env := []string{"DATABASE_URL=" + pg, "REDIS_URL=" + testenv.RedisURL(t), "FASTSAAS_REDIS_PREFIX=" + prefix,
				"FASTSAAS_IP_RATE_LIMIT=-1", "FASTSAAS_METERED_CALLS=" + mode}
			s := start(t, env...)
			ctx := context.Background()
			admin := client.New(s.base, s.platformKey)
			tenant, keyed := tenantWithKey(t, admin, "flush-"+mode, "pro")
			const calls = 300
			for i := range calls {
				if _, err := keyed.GetTenant(ctx, tenant.ID); err != nil {
					t.Fatalf("call %d: %v", i, err)
				}
			}
			s.stop(t)

			s2 := start(t, env...)
			other := client.New(s2.base, s.platformKey)
			var used float64
			for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
				q, err := other.UsageLimit(ctx, tenant.ID)
				if err != nil {
					t.Fatal(err)
				}
				if used = q.Used; used >= calls {
					break
				}
			}
			if used != calls {
				t.Errorf("%v api_calls recorded after the restart, want %d (metered calls lost on shutdown?)", used, calls)
			}
		})
	}
}
