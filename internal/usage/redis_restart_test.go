package usage

import (
	"context"
	"errors"
	"net"
	"os/exec"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/fast-saas/fast-saas/internal/testenv"
	"github.com/fast-saas/fast-saas/middleware/metering"
	"github.com/redis/go-redis/v9"
)

// redisServer is a private redis-server with an append-only file fsynced on
// every write, so a SIGKILL loses nothing it acknowledged.
type redisServer struct {
	t    *testing.T
	bin  string
	dir  string
	port int
	cmd  *exec.Cmd
}

func startRedis(t *testing.T) *redisServer {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	s := &redisServer{t: t, bin: testenv.Tool(t, "redis-server"), dir: t.TempDir(), port: port}
	s.start()
	t.Cleanup(s.kill)
	return s
}

func (s *redisServer) start() {
	s.t.Helper()
	s.cmd = exec.Command(s.bin, "--bind", "127.0.0.1", "--port", strconv.Itoa(s.port), "--dir", s.dir,
		"--appendonly", "yes", "--appendfsync", "always", "--save", "")
	if err := s.cmd.Start(); err != nil {
		s.t.Fatalf("start redis-server: %v", err)
	}
	c := redis.NewClient(&redis.Options{Addr: s.addr()})
	defer c.Close()
	for i := 0; ; i++ {
		if c.Ping(context.Background()).Err() == nil {
			return
		}
		if i > 500 {
			s.t.Fatal("redis-server did not answer")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (s *redisServer) addr() string { return "127.0.0.1:" + strconv.Itoa(s.port) }

// client is a client of s that gives up quickly while s is down.
func (s *redisServer) client() *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: s.addr(), MaxRetries: 1, DialTimeout: 200 * time.Millisecond,
		ReadTimeout: 500 * time.Millisecond, WriteTimeout: 500 * time.Millisecond})
	s.t.Cleanup(func() { c.Close() })
	return c
}

func (s *redisServer) kill() {
	if s.cmd != nil && s.cmd.Process != nil {
		_ = s.cmd.Process.Kill()
		_ = s.cmd.Wait()
		s.cmd = nil
	}
}

// runConsumer runs a consumer of prefix's stream into st. The function it
// returns waits until st holds n events and the stream is empty (a
// consumer deletes its entries just after storing them), then stops it.
func runConsumer(t *testing.T, client *redis.Client, prefix string, st *memStore) func(n int) {
	t.Helper()
	c, err := NewConsumer(context.Background(), ConsumerOptions{Client: client, Prefix: prefix, Name: "c1", Writer: st,
		BatchSize: 50, ClaimIdle: 200 * time.Millisecond, Backoff: Backoff{Base: 10 * time.Millisecond, Max: 100 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); _ = c.Run(ctx) }()
	return func(n int) {
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			if l, err := client.XLen(context.Background(), prefix+DefaultStream).Result(); st.count() >= n && err == nil && l == 0 {
				break
			}
		}
		cancel()
		wg.Wait()
	}
}

// TestRedisKilledAndRestarted: events are recorded while a consumer runs;
// Redis is killed with SIGKILL mid-run and restarted from its AOF. Every
// event whose Record succeeded (and every failed one, re-recorded by the
// caller as an API client would retry a 503) is stored exactly once.
func TestRedisKilledAndRestarted(t *testing.T) {
	t.Parallel()
	srv := startRedis(t)
	client := srv.client()
	st := newMemStore()
	rec, err := NewRedisRecorder(RedisOptions{Client: client, Prefix: "restart:", Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Close(context.Background())
	stopConsumer := runConsumer(t, client, "restart:", st)

	evs, ids := testEvents(t, "t1", 1500)
	record := func(batch []metering.Event) (failed []metering.Event) {
		for _, e := range batch {
			if err := rec.Record(context.Background(), e); err != nil {
				if !errors.Is(err, ErrUnavailable) {
					t.Fatalf("Record: %v, want nil or ErrUnavailable", err)
				}
				failed = append(failed, e)
			}
		}
		return failed
	}
	if f := record(evs[:500]); len(f) != 0 {
		t.Fatalf("%d Records failed with Redis up", len(f))
	}
	srv.kill()
	failed := record(evs[500:505]) // Redis down: callers get errors
	if len(failed) == 0 {
		t.Fatal("every Record succeeded with Redis killed")
	}
	srv.start()
	// The callers retry (an API client retrying its 503). The first writes
	// after a restart may still meet connections the kill broke.
	retry := failed
	for i := 0; len(retry) > 0 && i < 100; i++ {
		retry = record(retry)
		if len(retry) > 0 {
			time.Sleep(50 * time.Millisecond)
		}
	}
	if len(retry) != 0 {
		t.Fatalf("%d retried Records still failed after the restart", len(retry))
	}
	var accepted []string
	accepted = append(accepted, ids[:500]...)
	for _, e := range evs[500:505] {
		accepted = append(accepted, e.ID) // succeeded first time or on retry
	}
	if f := record(evs[505:]); len(f) != 0 {
		t.Fatalf("%d Records failed once Redis was back", len(f))
	}
	accepted = append(accepted, ids[505:]...)

	stopConsumer(len(accepted))
	if err := st.exactlyOnce("t1", accepted); err != nil {
		t.Error(err)
	}
	if n, err := client.XLen(context.Background(), "restart:"+DefaultStream).Result(); err != nil || n != 0 {
		t.Errorf("stream length = %d, %v; want 0", n, err)
	}
	t.Logf("%d Records failed while Redis was down and were retried", len(failed))
}

// TestBufferedRecorderRidesOutRedisRestart: a buffered recorder answers
// every Record while Redis is killed and restarted, keeps the events in
// its queue and appends them once Redis is back. Every event is stored
// exactly once, where a recorder that waits for Redis fails its callers.
func TestBufferedRecorderRidesOutRedisRestart(t *testing.T) {
	t.Parallel()
	srv := startRedis(t)
	client := srv.client()
	st := newMemStore()
	rec, err := NewRedisRecorder(RedisOptions{Client: client, Prefix: "buffered:", Timeout: 2 * time.Second, Buffered: true,
		Backoff: Backoff{Base: 10 * time.Millisecond, Max: 50 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	stopConsumer := runConsumer(t, client, "buffered:", st)

	evs, ids := testEvents(t, "t1", 1500)
	record := func(batch []metering.Event) {
		t.Helper()
		for _, e := range batch {
			if err := rec.Record(context.Background(), e); err != nil {
				t.Fatalf("Record: %v", err)
			}
		}
	}
	record(evs[:500])
	srv.kill()
	record(evs[500:1000]) // queued: the writer retries
	time.Sleep(100 * time.Millisecond)
	srv.start()
	record(evs[1000:])
	closeCtx, closeCancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer closeCancel()
	if err := rec.Close(closeCtx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	stopConsumer(len(ids))
	if err := st.exactlyOnce("t1", ids); err != nil {
		t.Error(err)
	}
}
