package ratelimit_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fast-saas/fast-saas/internal/testenv"
	"github.com/fast-saas/fast-saas/middleware/ratelimit"
	"github.com/redis/go-redis/v9"
)

// silentServer accepts connections and never answers: the worst kind of
// Redis outage, where nothing fails fast.
func silentServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	return ln.Addr().String()
}

// closedPort returns an address nothing listens on: connection refused.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestRedisOutage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		addr       func(t *testing.T) string
		ctxTimeout bool // go-redis ContextTimeoutEnabled: direct call vs watchdog goroutine
		failClosed bool
		batched    bool
	}{
		{name: "hung server, fail-open, watchdog", addr: silentServer},
		{name: "hung server, fail-closed, watchdog", addr: silentServer, failClosed: true},
		{name: "hung server, fail-open, context timeouts", addr: silentServer, ctxTimeout: true},
		{name: "hung server, fail-closed, context timeouts", addr: silentServer, ctxTimeout: true, failClosed: true},
		{name: "connection refused, fail-open", addr: closedPort},
		{name: "connection refused, fail-closed", addr: closedPort, failClosed: true},
		{name: "batched, hung server, fail-open", addr: silentServer, batched: true},
		{name: "batched, hung server, fail-closed", addr: silentServer, failClosed: true, batched: true},
		{name: "batched, connection refused, fail-open", addr: closedPort, batched: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			client := redis.NewClient(&redis.Options{Addr: tt.addr(t), MaxRetries: -1, ContextTimeoutEnabled: tt.ctxTimeout})
			t.Cleanup(func() { client.Close() })
			var errCount atomic.Int64
			var logs syncBuffer
			l, err := ratelimit.NewRedis(client, ratelimit.RedisOptions{
				Timeout:    20 * time.Millisecond,
				FailClosed: tt.failClosed,
				CountError: func() { errCount.Add(1) },
				Logger:     slog.New(slog.NewTextHandler(&logs, nil)),
				LogEvery:   time.Hour,
				BatchWorkers: func() int {
					if tt.batched {
						return 2
					}
					return -1
				}(),
			})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { l.Close() })
			limit := ratelimit.Limit{Rate: 2, Period: time.Hour}
			var allowed int
			const attempts = 4
			for range attempts {
				// If the bound did not hold this call would block for the
				// client's 3 s read timeout or forever; the test would then
				// hit the go test deadline instead of passing.
				d, err := l.Allow(context.Background(), "k", limit)
				if tt.failClosed {
					if !errors.Is(err, ratelimit.ErrUnavailable) {
						t.Fatalf("fail-closed: error = %v, want ErrUnavailable", err)
					}
					continue
				}
				if err != nil {
					t.Fatalf("fail-open: error = %v, want nil", err)
				}
				if d.Allowed {
					allowed++
				}
			}
			if !tt.failClosed && allowed != limit.Rate {
				t.Errorf("fail-open: allowed %d of %d, want %d: the local fallback must still enforce the limit", allowed, attempts, limit.Rate)
			}
			if n := errCount.Load(); n != attempts {
				t.Errorf("CountError called %d times, want %d", n, attempts)
			}
			if n := strings.Count(logs.String(), "redis unavailable"); n != 1 {
				t.Errorf("%d log lines about the outage, want 1 (rate-limited logging):\n%s", n, logs.String())
			}
		})
	}
}

func TestRedisSurvivesScriptFlush(t *testing.T) {
	t.Parallel()
	t.Run("batched", func(t *testing.T) { t.Parallel(); testScriptFlush(t, 0) })
	t.Run("unbatched", func(t *testing.T) { t.Parallel(); testScriptFlush(t, -1) })
}

func testScriptFlush(t *testing.T, batchWorkers int) {
	// SCRIPT FLUSH is server-wide: run it on a private server, never on the
	// Redis that other tests (and other packages' scripts) share.
	client := privateRedis(t)
	l, err := ratelimit.NewRedis(client, ratelimit.RedisOptions{FailClosed: true, Timeout: 5 * time.Second, BatchWorkers: batchWorkers})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	// A SCRIPT FLUSH (Redis restart, failover to a replica without the
	// script cache) must be survived: EVALSHA fails with NOSCRIPT and the
	// script is sent again.
	limit := ratelimit.Limit{Rate: 3, Period: time.Hour}
	if _, err := l.Allow(context.Background(), "k", limit); err != nil {
		t.Fatal(err)
	}
	if err := client.ScriptFlush(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
	d, err := l.Allow(context.Background(), "k", limit)
	if err != nil {
		t.Fatalf("after SCRIPT FLUSH: %v", err)
	}
	if !d.Allowed || d.Remaining != 1 {
		t.Errorf("after SCRIPT FLUSH: %+v, want allowed with 1 remaining (state kept)", d)
	}
}

// privateRedis starts a throw-away redis-server for tests that must do
// server-wide things.
func privateRedis(t *testing.T) *redis.Client {
	t.Helper()
	bin := testenv.Tool(t, "redis-server")
	addr := closedPort(t)
	_, port, _ := net.SplitHostPort(addr)
	cmd := exec.Command(bin, "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no")
	if err := cmd.Start(); err != nil {
		t.Fatalf("start redis-server: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	client := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { client.Close() })
	for i := 0; ; i++ {
		err := client.Ping(context.Background()).Err()
		if err == nil {
			return client
		}
		if i == 100 {
			t.Fatalf("private redis-server on %s did not answer: %v", addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestRedisKeyExpires(t *testing.T) {
	t.Parallel()
	client, prefix := testenv.Redis(t)
	l, err := ratelimit.NewRedis(client, ratelimit.RedisOptions{Prefix: prefix, Timeout: time.Second, FailClosed: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Allow(context.Background(), "tenant-1", ratelimit.Limit{Rate: 10, Period: time.Minute}); err != nil {
		t.Fatal(err)
	}
	ttl, err := client.PTTL(context.Background(), prefix+"tenant-1").Result()
	if err != nil {
		t.Fatal(err)
	}
	// One request into a 10/min bucket: full again after one 6 s interval,
	// after which the key is useless and must not linger.
	if ttl <= 0 || ttl > 6*time.Second {
		t.Errorf("PTTL = %v, want in (0, 6s]", ttl)
	}
}

func TestRedisPipelineSurvivesScriptFlush(t *testing.T) {
	t.Parallel()
	client := privateRedis(t)
	l, err := ratelimit.NewRedis(client, ratelimit.RedisOptions{FailClosed: true, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	limit := ratelimit.Limit{Rate: 4, Period: time.Hour}
	if err := client.ScriptFlush(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
	// Twelve decisions for two keys in one pipeline against an empty script
	// cache: every EVALSHA fails with NOSCRIPT, the script is loaded and
	// the batch retried, and the decisions are still exact.
	keys := make([]string, 12)
	for i := range keys {
		keys[i] = []string{"a", "b"}[i%2]
	}
	ds, errs := l.AllowBatch(keys, limit)
	allowed := map[string]int{}
	for i, d := range ds {
		if errs[i] != nil {
			t.Fatalf("decision %d: %v", i, errs[i])
		}
		if d.Allowed {
			allowed[keys[i]]++
		}
	}
	if allowed["a"] != 4 || allowed["b"] != 4 {
		t.Errorf("allowed %v of 6 each in one pipeline, want 4 each", allowed)
	}
}

// TestRedisCoalescedMatchesSequential: requests of one key in one batch
// share a script call; each must get the decision and headers that the
// same requests one after the other would have got from the in-memory
// GCRA at one instant.
func TestRedisCoalescedMatchesSequential(t *testing.T) {
	t.Parallel()
	client := privateRedis(t)
	// A fixed clock: the batch and the sequential reference decide at the
	// same instant, so their answers must be equal, field by field.
	now := time.Unix(1_800_000_000, 0)
	clock := func() time.Time { return now }
	l, err := ratelimit.NewRedis(client, ratelimit.RedisOptions{FailClosed: true, Timeout: 5 * time.Second, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	mem := ratelimit.NewMemory(ratelimit.MemoryOptions{Now: clock})
	limit := ratelimit.Limit{Rate: 5, Period: time.Minute}
	for _, round := range []int{3, 4, 2} { // 9 requests into a burst of 5: the last batch is denied
		keys := make([]string, round)
		for i := range keys {
			keys[i] = "k"
		}
		got, errs := l.AllowBatch(keys, limit)
		for i := range got {
			if errs[i] != nil {
				t.Fatalf("decision %d: %v", i, errs[i])
			}
			want, err := mem.Allow(context.Background(), "k", limit)
			if err != nil {
				t.Fatal(err)
			}
			if got[i] != want {
				t.Errorf("round of %d, request %d: coalesced %+v, sequential %+v", round, i, got[i], want)
			}
		}
	}
}
