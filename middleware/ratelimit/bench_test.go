package ratelimit_test

import (
	"context"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/fast-saas/fast-saas/internal/testenv"
	"github.com/fast-saas/fast-saas/middleware/ratelimit"
	"github.com/redis/go-redis/v9"
)

// benchLimit admits practically everything, so the benchmarks measure the
// full allowed path (read, decide, write), not the cheaper denial.
var benchLimit = ratelimit.Limit{Rate: 1_000_000, Period: time.Second}

func BenchmarkMemoryAllow(b *testing.B) {
	l := ratelimit.NewMemory(ratelimit.MemoryOptions{})
	ctx := context.Background()
	b.Run("one key", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := l.Allow(ctx, "tenant", benchLimit); err != nil {
				b.Fatal(err)
			}
		}
	})
	keys := make([]string, 1024)
	for i := range keys {
		keys[i] = "tenant-" + strconv.Itoa(i)
	}
	b.Run("1024 keys parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				if _, err := l.Allow(ctx, keys[i%len(keys)], benchLimit); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	})
}

func newBenchRedis(b *testing.B, batchWorkers int) *ratelimit.Redis {
	_, prefix := testenv.Redis(b)
	opts, err := redis.ParseURL(testenv.RedisURL(b))
	if err != nil {
		b.Fatal(err)
	}
	opts.ContextTimeoutEnabled = true
	client := redis.NewClient(opts)
	b.Cleanup(func() { client.Close() })
	l, err := ratelimit.NewRedis(client, ratelimit.RedisOptions{Prefix: prefix, FailClosed: true, Timeout: time.Second, BatchWorkers: batchWorkers})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { l.Close() })
	return l
}

// BenchmarkRedisAllow reports the latency distribution of one decision
// (one EVALSHA round trip) as p50-µs and p99-µs.
func BenchmarkRedisAllow(b *testing.B) {
	b.Run("batched", func(b *testing.B) { benchRedisAllow(b, newBenchRedis(b, 0)) })
	b.Run("unbatched", func(b *testing.B) { benchRedisAllow(b, newBenchRedis(b, -1)) })
}

func benchRedisAllow(b *testing.B, l *ratelimit.Redis) {
	ctx := context.Background()
	b.Run("sequential", func(b *testing.B) {
		b.ReportAllocs()
		lat := make([]time.Duration, 0, 1<<16)
		for b.Loop() {
			start := time.Now()
			if _, err := l.Allow(ctx, "tenant", benchLimit); err != nil {
				b.Fatal(err)
			}
			lat = append(lat, time.Since(start))
		}
		slices.Sort(lat)
		b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds())/1e3, "p50-µs")
		b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds())/1e3, "p99-µs")
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.SetParallelism(16) // 32 concurrent deciders: a busy API replica
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := l.Allow(ctx, "tenant", benchLimit); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
}
