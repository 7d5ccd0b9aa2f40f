// Package middleware_test benchmarks the whole public middleware chain of a
// tenant request against the bare handler it protects.
package middleware_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/fast-saas/fast-saas/internal/testenv"
	"github.com/fast-saas/fast-saas/middleware/apikey"
	"github.com/fast-saas/fast-saas/middleware/authn"
	"github.com/fast-saas/fast-saas/middleware/entitlements"
	"github.com/fast-saas/fast-saas/middleware/metering"
	"github.com/fast-saas/fast-saas/middleware/ratelimit"
	"github.com/fast-saas/fast-saas/middleware/tenancy"
	"github.com/redis/go-redis/v9"
)

const benchTenant = "0190b6a4-0000-7000-8000-000000000001"

// oneKeyStore knows exactly one tenant API key.
type oneKeyStore struct{ rec authn.KeyRecord }

func (s oneKeyStore) LookupKey(_ context.Context, hash [32]byte) (authn.KeyRecord, error) {
	if hash != s.rec.Hash {
		return authn.KeyRecord{}, authn.ErrKeyNotFound
	}
	return s.rec, nil
}

// oneTenant resolves every reference to the benchmark tenant, on a plan
// whose per-minute rate is overridden far above what the benchmark can
// reach, so every request takes the full allowed path.
type oneTenant struct{}

func (oneTenant) Resolve(_ context.Context, p authn.Principal, ref string) (tenancy.Tenant, tenancy.Role, error) {
	if ref != benchTenant {
		return tenancy.Tenant{}, "", tenancy.ErrNotFound
	}
	rate := int64(1_000_000_000)
	return tenancy.Tenant{ID: benchTenant, Slug: "bench", Plan: "pro", Status: tenancy.StatusActive,
		Overrides: entitlements.Overrides{RateLimitPerMinute: &rate}}, tenancy.RoleMember, nil
}

// countingRecorder stands in for an asynchronous usage pipeline: Record
// returns at once. The pipeline's own throughput is benchmarked in
// internal/usage.
type countingRecorder struct{ n atomic.Int64 }

func (c *countingRecorder) Record(context.Context, metering.Event) error { c.n.Add(1); return nil }

func tenantOf(r *http.Request) (string, bool) {
	info, ok := tenancy.FromContext(r.Context())
	return info.Tenant.ID, ok
}

// planRate maps the tenant's plan (after overrides) to its rate limit.
func planRate(r *http.Request) (string, ratelimit.Limit, bool) {
	info, ok := tenancy.FromContext(r.Context())
	if !ok {
		return "", ratelimit.Limit{}, false
	}
	n := info.Entitlement.Limits.RateLimitPerMinute
	if n < 0 {
		return info.Tenant.ID, ratelimit.Limit{Rate: -1}, true
	}
	return info.Tenant.ID, ratelimit.PerMinute(int(n)), true
}

func trivial(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") }

func chain(b *testing.B, limiter ratelimit.Limiter, rec metering.Recorder) http.Handler {
	key, err := apikey.Generate(apikey.KindTenant)
	if err != nil {
		b.Fatal(err)
	}
	auth, err := authn.New(context.Background(), authn.Options{Keys: oneKeyStore{rec: authn.KeyRecord{
		ID: "key-1", Kind: apikey.KindTenant, TenantID: benchTenant, Hash: key.Hash, Scopes: []string{"read"},
	}}})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { auth.Close() })
	ten, err := tenancy.New(tenancy.Options{Resolver: oneTenant{}})
	if err != nil {
		b.Fatal(err)
	}
	h := http.Handler(http.HandlerFunc(trivial))
	h = metering.Middleware(metering.Options{Recorder: rec, TenantID: tenantOf})(h)
	h = ratelimit.Middleware(ratelimit.Options{Limiter: limiter, KeyFunc: planRate, Scope: ratelimit.ScopeTenant})(h)
	h = ten.Handler(h)
	h = auth.Middleware(h)
	// Every request of the benchmark carries the same key: a cache hit after the first.
	return withKey(h, key.Secret)
}

// withKey sets the Authorization header server-side, so the client side of
// the benchmark is identical for the bare and the full chain.
func withKey(next http.Handler, key string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Header.Set("Authorization", "Bearer "+key)
		next.ServeHTTP(w, r)
	})
}

func serve(b *testing.B, h http.Handler) {
	srv := httptest.NewServer(h)
	b.Cleanup(srv.Close)
	client := &http.Client{Transport: &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256}}
	b.Cleanup(client.CloseIdleConnections)
	var bad atomic.Int64
	b.ReportAllocs()
	b.SetParallelism(8) // several requests in flight per core, like a loaded server
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := client.Get(srv.URL + "/api/v1/things")
			if err != nil {
				bad.Add(1)
				continue
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				bad.Add(1)
			}
		}
	})
	b.StopTimer()
	if n := bad.Load(); n > 0 {
		b.Fatalf("%d requests failed or were not 200", n)
	}
}

// BenchmarkChain compares, in one run, the bare handler with the full
// tenant chain: API-key auth (cache hit) → tenant resolution (cached) →
// rate limit (Redis, and memory for comparison) → metering.
func BenchmarkChain(b *testing.B) {
	b.Run("bare", func(b *testing.B) {
		serve(b, http.HandlerFunc(trivial))
	})
	b.Run("full-memory-limiter", func(b *testing.B) {
		rec := &countingRecorder{}
		serve(b, chain(b, ratelimit.NewMemory(ratelimit.MemoryOptions{}), rec))
		if rec.n.Load() == 0 {
			b.Fatal("no usage events recorded")
		}
	})
	b.Run("full-redis-limiter", func(b *testing.B) { benchRedisChain(b, 0) })
	b.Run("full-redis-limiter-unbatched", func(b *testing.B) { benchRedisChain(b, -1) })
}

// benchRedisChain runs the chain with the Redis limiter; batchWorkers as in
// ratelimit.RedisOptions (0 default batching, -1 one round trip per request).
func benchRedisChain(b *testing.B, batchWorkers int) {
	_, prefix := testenv.Redis(b)
	opts, err := redis.ParseURL(testenv.RedisURL(b))
	if err != nil {
		b.Fatal(err)
	}
	opts.ContextTimeoutEnabled = true
	client := redis.NewClient(opts)
	b.Cleanup(func() { client.Close() })
	// Fail-closed with a generous timeout: every decision really goes
	// through Redis (no silent fallback) even when the two shared cores
	// are saturated by client, server and Redis at once.
	lim, err := ratelimit.NewRedis(client, ratelimit.RedisOptions{Prefix: prefix, FailClosed: true, Timeout: time.Second, BatchWorkers: batchWorkers})
	if err != nil {
		b.Fatal(err)
	}
	rec := &countingRecorder{}
	serve(b, chain(b, lim, rec))
	if rec.n.Load() == 0 {
		b.Fatal("no usage events recorded")
	}
}

// BenchmarkChainRatio measures the full chain's throughput relative to the
// bare handler's, interleaving short rounds of each so that the load other
// processes put on a shared machine hits both alike. Each iteration sends
// 400 requests (16 concurrent clients) to each server. Reported:
//
//   - full/bare-throughput: bare wall time / full wall time (1 = no
//     overhead; the target is ≥ 0.5);
//   - full/bare-cpu: bare CPU per request / full CPU per request, where CPU
//     is this process (HTTP client and server) plus, for the Redis
//     variants, the private redis-server the limiter talks to. On a
//     CPU-bound machine throughput is inversely proportional to it, and it
//     is much less sensitive to other tenants of the machine than wall time.
func BenchmarkChainRatio(b *testing.B) {
	b.Run("redis", func(b *testing.B) { lim, cpu := privateRedisLimiter(b, 0, 0); benchRatio(b, lim, cpu) })
	b.Run("redis-lease", func(b *testing.B) {
		lim, cpu := privateRedisLimiter(b, 0, ratelimit.DefaultLease)
		benchRatio(b, lim, cpu)
	})
	b.Run("redis-unbatched", func(b *testing.B) { lim, cpu := privateRedisLimiter(b, -1, 0); benchRatio(b, lim, cpu) })
	b.Run("redis-2-workers", func(b *testing.B) { lim, cpu := privateRedisLimiter(b, 2, 0); benchRatio(b, lim, cpu) })
	b.Run("memory", func(b *testing.B) { benchRatio(b, ratelimit.NewMemory(ratelimit.MemoryOptions{}), nil) })
}

// privateRedisLimiter starts a redis-server of its own, so that its CPU
// time can be attributed to this benchmark alone.
func privateRedisLimiter(b *testing.B, batchWorkers int, lease time.Duration) (ratelimit.Limiter, func() time.Duration) {
	bin := testenv.Tool(b, "redis-server")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, port, _ := net.SplitHostPort(addr)
	cmd := exec.Command(bin, "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no")
	if err := cmd.Start(); err != nil {
		b.Fatalf("start redis-server: %v", err)
	}
	b.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	client := redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: true})
	b.Cleanup(func() { client.Close() })
	for i := 0; client.Ping(context.Background()).Err() != nil; i++ {
		if i == 100 {
			b.Fatal("private redis-server does not answer")
		}
		time.Sleep(50 * time.Millisecond)
	}
	lim, err := ratelimit.NewRedis(client, ratelimit.RedisOptions{Prefix: "bench:", FailClosed: true, Timeout: time.Second, BatchWorkers: batchWorkers, Lease: lease})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { lim.Close() })
	cpu := func() time.Duration {
		info, err := client.Info(context.Background(), "cpu").Result()
		if err != nil {
			b.Fatalf("redis INFO cpu: %v", err)
		}
		var total float64
		for _, line := range strings.Split(info, "\n") {
			k, v, _ := strings.Cut(strings.TrimSpace(line), ":")
			if k == "used_cpu_sys" || k == "used_cpu_user" {
				f, err := strconv.ParseFloat(v, 64)
				if err != nil {
					b.Fatalf("redis INFO %s=%q: %v", k, v, err)
				}
				total += f
			}
		}
		return time.Duration(total * float64(time.Second))
	}
	return lim, cpu
}

func selfCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func benchRatio(b *testing.B, lim ratelimit.Limiter, extraCPU func() time.Duration) {
	bare := httptest.NewServer(http.HandlerFunc(trivial))
	b.Cleanup(bare.Close)
	full := httptest.NewServer(chain(b, lim, &countingRecorder{}))
	b.Cleanup(full.Close)
	httpc := &http.Client{Transport: &http.Transport{MaxIdleConns: 64, MaxIdleConnsPerHost: 64}}
	b.Cleanup(httpc.CloseIdleConnections)
	cpuNow := func() time.Duration {
		if extraCPU == nil {
			return selfCPU()
		}
		return selfCPU() + extraCPU()
	}

	const clients, perClient = 16, 25
	round := func(url string) (wall, cpu time.Duration) {
		var bad atomic.Int64
		start, startCPU := time.Now(), cpuNow()
		done := make(chan struct{})
		for range clients {
			go func() {
				defer func() { done <- struct{}{} }()
				for range perClient {
					resp, err := httpc.Get(url)
					if err != nil {
						bad.Add(1)
						continue
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK {
						bad.Add(1)
					}
				}
			}()
		}
		for range clients {
			<-done
		}
		if n := bad.Load(); n > 0 {
			b.Fatalf("%s: %d requests failed or were not 200", url, n)
		}
		return time.Since(start), cpuNow() - startCPU
	}
	round(bare.URL) // warm connections and caches
	round(full.URL)
	var bareWall, fullWall, bareCPU, fullCPU, extra time.Duration
	for b.Loop() {
		w, c := round(bare.URL)
		bareWall, bareCPU = bareWall+w, bareCPU+c
		var before time.Duration
		if extraCPU != nil {
			before = extraCPU()
		}
		w, c = round(full.URL)
		fullWall, fullCPU = fullWall+w, fullCPU+c
		if extraCPU != nil {
			extra += extraCPU() - before
		}
	}
	reqs := float64(b.N * clients * perClient)
	b.ReportMetric(float64(bareWall)/float64(fullWall), "full/bare-throughput")
	b.ReportMetric(float64(bareCPU)/float64(fullCPU), "full/bare-cpu")
	b.ReportMetric(float64(bareCPU.Nanoseconds())/reqs/1e3, "bare-cpu-µs/req")
	b.ReportMetric(float64(fullCPU.Nanoseconds())/reqs/1e3, "full-cpu-µs/req")
	if extraCPU != nil {
		b.ReportMetric(float64(extra.Nanoseconds())/reqs/1e3, "redis-server-cpu-µs/req")
	}
}

// BenchmarkInProcess measures each piece's own cost without HTTP: the
// handler called directly with a recorder (the chain's authn/tenancy
// caches are warm after the first iteration).
func BenchmarkInProcess(b *testing.B) {
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	w := httptest.NewRecorder()
	key := func(r *http.Request) (string, ratelimit.Limit, bool) {
		return "t", ratelimit.PerMinute(1_000_000_000), true
	}
	b.Run("ratelimit-memory", func(b *testing.B) {
		h := ratelimit.Middleware(ratelimit.Options{Limiter: ratelimit.NewMemory(ratelimit.MemoryOptions{}), KeyFunc: key})(http.HandlerFunc(trivial))
		b.ReportAllocs()
		for b.Loop() {
			h.ServeHTTP(w, r)
		}
	})
	b.Run("metering", func(b *testing.B) {
		h := metering.Middleware(metering.Options{Recorder: &countingRecorder{}, TenantID: func(*http.Request) (string, bool) { return "t", true }})(http.HandlerFunc(trivial))
		b.ReportAllocs()
		for b.Loop() {
			h.ServeHTTP(w, r)
		}
	})
	b.Run("full-memory", func(b *testing.B) {
		h := chain(b, ratelimit.NewMemory(ratelimit.MemoryOptions{}), &countingRecorder{})
		b.ReportAllocs()
		for b.Loop() {
			h.ServeHTTP(w, r)
		}
	})
	b.Run("bare", func(b *testing.B) {
		h := http.HandlerFunc(trivial)
		b.ReportAllocs()
		for b.Loop() {
			h.ServeHTTP(w, r)
		}
	})
}
