package ratelimit_test

import (
	"testing"
	"time"

	"github.com/fast-saas/fast-saas/internal/testenv"
	"github.com/fast-saas/fast-saas/middleware/ratelimit"
	"github.com/fast-saas/fast-saas/middleware/ratelimit/ratelimittest"
	"github.com/redis/go-redis/v9"
)

func TestMemoryConformance(t *testing.T) {
	t.Parallel()
	ratelimittest.Run(t, func(t *testing.T, now func() time.Time, n int) []ratelimit.Limiter {
		// One process, one limiter: "instances" of the memory backend are
		// the same object, which is what sharing means in memory.
		m := ratelimit.NewMemory(ratelimit.MemoryOptions{Now: now})
		out := make([]ratelimit.Limiter, n)
		for i := range out {
			out[i] = m
		}
		return out
	})
}

func TestRedisConformance(t *testing.T) {
	t.Parallel()
	t.Run("batched", func(t *testing.T) { t.Parallel(); runRedisConformance(t, 0) })
	t.Run("unbatched", func(t *testing.T) { t.Parallel(); runRedisConformance(t, -1) })
}

func runRedisConformance(t *testing.T, batchWorkers int) {
	ratelimittest.Run(t, func(t *testing.T, now func() time.Time, n int) []ratelimit.Limiter {
		_, prefix := testenv.Redis(t)
		url := testenv.RedisURL(t)
		out := make([]ratelimit.Limiter, n)
		for i := range out {
			// A client per instance, as separate replicas would have.
			opts, err := redis.ParseURL(url)
			if err != nil {
				t.Fatal(err)
			}
			opts.ContextTimeoutEnabled = true
			client := redis.NewClient(opts)
			t.Cleanup(func() { client.Close() })
			l, err := ratelimit.NewRedis(client, ratelimit.RedisOptions{
				Prefix:       prefix,
				Now:          now,
				FailClosed:   true,        // an outage must fail the test, not hide behind the fallback
				Timeout:      time.Second, // the shared machine is noisy; correctness, not latency, is tested here
				BatchWorkers: batchWorkers,
			})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { l.Close() })
			out[i] = l
		}
		return out
	})
}
