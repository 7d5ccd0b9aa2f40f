package ratelimit

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// gcraScript is the GCRA step of gcra() in Lua, run atomically by Redis,
// for n requests of one key arriving together (n = 1 is gcra() exactly).
//
//	KEYS[1] the key; ARGV[1] T (µs); ARGV[2] burst; ARGV[3] now (Unix µs) or
//	-1 to use the Redis server's clock; ARGV[4] n, the number of requests
//	(absent = 1).
//
// It admits the first g = min(n, what the bucket holds) of them, as n
// single steps at the same instant would, and returns {g, remaining,
// reset_after_µs, retry_after_µs} as of after the g admissions; retry_after
// is when the next request would be admitted (0 if it would be now). A
// request that is denied writes nothing. The stored TAT expires when the
// bucket is full again, at which point an absent key means the same thing.
//
// The j-th request (1-based) fits when now ≥ TAT + j·T − burst·T, so
// g = ⌊(now − TAT + burst·T) / T⌋, capped at n.
//
// TAT is written with %.0f because Lua's default number formatting keeps
// only 14 significant digits, fewer than a Unix time in microseconds has.
var gcraScript = redis.NewScript(`
local t = tonumber(ARGV[1])
local b = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local n = tonumber(ARGV[4] or '1')
if now < 0 then
  local tm = redis.call('TIME')
  now = tonumber(tm[1]) * 1000000 + tonumber(tm[2])
end
local tat = tonumber(redis.call('GET', KEYS[1]))
if tat == nil or tat < now then tat = now end
local g = math.floor((now - tat + b * t) / t)
if g > n then g = n end
if g < 1 then
  return {0, 0, tat - now, tat + t - b * t - now}
end
local nxt = tat + g * t
local ttl = math.ceil((nxt - now) / 1000)
if ttl < 1 then ttl = 1 end
redis.call('SET', KEYS[1], string.format('%.0f', nxt), 'PX', ttl)
local retry = nxt + t - b * t - now
if retry < 0 then retry = 0 end
return {g, math.floor((now - nxt + b * t) / t), nxt - now, retry}
`)

// DefaultRedisTimeout bounds one Redis decision. A healthy loopback or
// same-zone Redis answers in well under a millisecond; past this the
// limiter treats Redis as failing rather than stall the request.
const DefaultRedisTimeout = 50 * time.Millisecond

// RedisOptions configure NewRedis. The zero value works.
type RedisOptions struct {
	// Prefix is prepended to every key, e.g. "fastsaas:rl:".
	Prefix string
	// Timeout bounds each decision; 0 means DefaultRedisTimeout.
	Timeout time.Duration
	// FailClosed makes Allow return ErrUnavailable when Redis fails, so the
	// middleware answers 503. The default (false) is fail-open: the decision
	// is taken by a local in-memory limiter instead, so limits still hold
	// per replica while Redis is down.
	FailClosed bool
	// Now is the clock that timestamps decisions. nil (the default, and the
	// right choice with several replicas) uses the Redis server's clock,
	// so replicas with skewed clocks still agree. Tests inject a fake clock.
	Now func() time.Time
	// CountError, when set, is called once per decision Redis failed to
	// take (timeout, connection error): the place to count
	// saas_ratelimit_backend_errors_total.
	CountError func()
	// Logger receives at most one line per LogEvery about Redis failures;
	// nil means slog.Default().
	Logger *slog.Logger
	// LogEvery is the minimum interval between failure log lines; 0 means
	// 10 s. Failures in between are counted and reported with the next line.
	LogEvery time.Duration
	// BatchWorkers is the number of goroutines that pipeline concurrent
	// decisions to Redis (see Close); 0 means 1. One worker makes the
	// largest batches — whatever queues during one round trip goes in the
	// next — which measured cheapest in CPU per decision, on both sides;
	// more workers send smaller batches in parallel. Negative disables
	// batching: every decision is then its own EVALSHA round trip. Batching
	// needs a client with a Pipeline method (*redis.Client,
	// *redis.ClusterClient, redis.UniversalClient); other clients are never
	// batched.
	BatchWorkers int
	// Lease is how long a replica may admit requests for a busy key from
	// tokens it took from Redis ahead of them (see DefaultLease and
	// lease.go): a busy tenant then costs one round trip per lease, not
	// per request, with the same guarantee against over-admission. Only
	// keys allowed at least 4 requests per lease time lease (12,000/min
	// with DefaultLease), and they run with a burst lowered by ⌈Lease/T⌉
	// tokens (at most 2%); other keys keep their full burst and one
	// decision per request. 0 or negative: no leases (the default). Use
	// the same value on every replica sharing the Redis.
	//
	// A leased token that is not used before its lease ends is lost, so a
	// key hammered at its limit by replicas the scheduler stalls gets a
	// little less than the limit: 99.6–99.9% with 3 replicas on 2 busy
	// cores (make bench-load), against 100% without leases.
	Lease time.Duration
}

// Redis is a GCRA limiter whose state lives in Redis, shared by every
// replica that uses the same Redis and Prefix.
type Redis struct {
	client     redis.Scripter
	prefix     string
	timeout    time.Duration
	failClosed bool
	now        func() time.Time
	// ctxBounded: the client enforces context deadlines on socket I/O
	// itself (go-redis ContextTimeoutEnabled), so no watchdog goroutine is
	// needed to honour Timeout.
	ctxBounded bool
	fallback   *Memory
	batch      *batcher // nil: one round trip per decision
	lease      time.Duration
	leases     leases
	countError func()
	log        *throttledLog
}

// NewRedis returns a limiter backed by client (a *redis.Client,
// *redis.ClusterClient or anything that runs scripts).
//
// For the tightest timeout behaviour create the client with
// ContextTimeoutEnabled: true; otherwise each call runs in a goroutine that
// Allow stops waiting for after Timeout, and the call itself ends at the
// client's ReadTimeout.
func NewRedis(client redis.Scripter, opts RedisOptions) (*Redis, error) {
	r := &Redis{
		client:     client,
		prefix:     opts.Prefix,
		timeout:    opts.Timeout,
		failClosed: opts.FailClosed,
		now:        opts.Now,
		fallback:   NewMemory(MemoryOptions{Now: opts.Now}),
		lease:      opts.Lease,
	}
	if r.timeout <= 0 {
		r.timeout = DefaultRedisTimeout
	}
	if c, ok := client.(interface{ Options() *redis.Options }); ok {
		r.ctxBounded = c.Options().ContextTimeoutEnabled
	}
	if p, ok := client.(pipeliner); ok && opts.BatchWorkers >= 0 {
		workers := opts.BatchWorkers
		if workers == 0 {
			workers = 1
		}
		r.batch = newBatcher(p, client, workers, r.timeout, r.ctxBounded)
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.Default()
	}
	every := opts.LogEvery
	if every <= 0 {
		every = 10 * time.Second
	}
	r.log = &throttledLog{logger: logger, every: every}
	r.countError = opts.CountError
	return r, nil
}

// Allow implements Limiter.
func (r *Redis) Allow(ctx context.Context, key string, limit Limit) (Decision, error) {
	if limit.Unlimited() {
		return Decision{Allowed: true, Limit: -1, Remaining: -1}, nil
	}
	if err := limit.Validate(); err != nil {
		return Decision{}, err
	}
	clock := time.Now
	if r.now != nil {
		clock = r.now
	}
	lim := limit
	var l *lease
	var extra int64
	if reserve, ok := leaseReserve(r.lease, limit); ok {
		lim.Burst = limit.burst() - reserve
		l = r.leases.get(key, clock())
		if d, ok := l.take(clock()); ok {
			return d, nil
		}
		extra = l.want(clock(), r.lease)
	}
	now := int64(-1)
	start := clock()
	if r.now != nil {
		now = start.UnixMicro()
	}
	d, surplus, err := r.eval(ctx, key, lim, now, extra)
	if err == nil {
		d.Limit = lim.burst() // the script does not echo it back
	}
	if l != nil {
		l.got(start, r.lease, extra, surplus, d, err == nil)
	}
	if err == nil {
		return d, nil
	}
	if ctx.Err() != nil {
		// The caller gave up (client disconnected): not a Redis failure.
		return Decision{}, fmt.Errorf("rate limit %q: %w", key, ctx.Err())
	}
	if r.countError != nil {
		r.countError()
	}
	r.log.failure(err, r.failClosed)
	if r.failClosed {
		return Decision{}, fmt.Errorf("rate limit via redis: %w: %w", ErrUnavailable, err)
	}
	return r.fallback.Allow(ctx, key, limit)
}

// eval takes one decision, plus up to extra tokens for the key's lease;
// surplus is how many of those were granted.
func (r *Redis) eval(ctx context.Context, key string, limit Limit, now, extra int64) (d Decision, surplus int64, err error) {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	keys := []string{r.prefix + key}
	t, b := limit.intervalMicros(), int64(limit.burst())
	if r.batch != nil {
		return parseReply(r.batch.do(ctx, keys, t, b, now, extra))
	}
	run := func() ([]int64, error) {
		g := group{ps: []*pending{{keys: keys, args: [3]any{t, b, now}, extra: extra, done: make(chan batchResult, 1)}}}
		g.answer(gcraScript.Run(ctx, r.client, g.keys(), g.args()...).Int64Slice())
		res := <-g.ps[0].done
		return res.vals, res.err
	}
	if r.ctxBounded {
		return parseReply(run())
	}
	type result struct {
		vals []int64
		err  error
	}
	done := make(chan result, 1) // buffered: the goroutine never blocks after we stop waiting
	go func() {
		v, err := run()
		done <- result{v, err}
	}()
	select {
	case res := <-done:
		return parseReply(res.vals, res.err)
	case <-ctx.Done():
		return Decision{}, 0, fmt.Errorf("redis gcra script: %w", ctx.Err())
	}
}

// Close stops the batching goroutines once their current batch is done;
// it does not wait for them. Allow must not be called afterwards (it would
// time out). Close does not close the Redis client.
func (r *Redis) Close() error {
	if r.batch != nil {
		r.batch.close()
	}
	return nil
}

// parseReply reads one request's reply {admitted (1 + surplus tokens) or
// 0, remaining, reset_after_µs, retry_after_µs}.
func parseReply(v []int64, err error) (Decision, int64, error) {
	if err != nil {
		return Decision{}, 0, fmt.Errorf("redis gcra script: %w", err)
	}
	if len(v) != 4 {
		return Decision{}, 0, fmt.Errorf("redis gcra script: %d values in reply, want 4", len(v))
	}
	d := Decision{
		Allowed:    v[0] >= 1,
		Remaining:  int(v[1]),
		ResetAfter: micros(v[2]),
		RetryAfter: micros(v[3]),
	}
	if !d.Allowed {
		return d, 0, nil
	}
	d.RetryAfter = 0 // the script reports the next request's wait
	return d, v[0] - 1, nil
}

// throttledLog writes at most one line per interval and counts the rest, so
// an outage produces a handful of lines, not one per request.
type throttledLog struct {
	logger     *slog.Logger
	every      time.Duration
	mu         sync.Mutex
	last       time.Time
	suppressed int
}

func (l *throttledLog) failure(err error, failClosed bool) {
	l.mu.Lock()
	now := time.Now()
	if !l.last.IsZero() && now.Sub(l.last) < l.every {
		l.suppressed++
		l.mu.Unlock()
		return
	}
	suppressed := l.suppressed
	l.last, l.suppressed = now, 0
	l.mu.Unlock()
	mode := "fail-open: local limiter decides"
	if failClosed {
		mode = "fail-closed: requests refused with 503"
	}
	l.logger.Warn("rate limiter: redis unavailable", "error", err.Error(), "mode", mode, "suppressed_since_last", suppressed)
}
