package e2e

import (
	"context"
	"net/http"
	"testing"

	"github.com/fast-saas/fast-saas/client"
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
