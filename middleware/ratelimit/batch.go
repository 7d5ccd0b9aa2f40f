package ratelimit

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// maxBatch bounds one pipeline: large enough to absorb a burst, small
// enough that one slow batch does not hold many requests.
const maxBatch = 128

// batcher sends the decisions of concurrent requests to Redis as one
// pipeline ("natural batching"): a worker takes the first waiting request,
// adds whatever else is already queued, and sends them together. An idle
// limiter therefore sends batches of one with no added wait, and a busy
// one pays one round trip — one write and one read on each side — for many
// decisions. Each EVALSHA in the pipeline is still atomic on its own, and
// decisions of one batch for the same key and limit share one EVALSHA (see
// group).
//
// When nothing at all is in flight, and the client enforces context
// deadlines itself, the caller skips the queue and runs its EVALSHA
// directly: an idle limiter then pays no goroutine hand-off either.
type batcher struct {
	client   pipeliner
	scripter redis.Scripter
	timeout  time.Duration
	direct   bool         // the client honours ctx deadlines (see Redis.ctxBounded)
	inflight atomic.Int32 // decisions asked and not yet answered
	queue    chan *pending
	stop     chan struct{}
	stopOnce sync.Once
}

type pipeliner interface {
	Pipeline() redis.Pipeliner
}

type pending struct {
	keys []string
	args [3]any
	// extra is how many tokens beyond its own the caller asks for, to
	// lease locally (see lease.go); its reply's first value is then 1 +
	// the extra tokens granted.
	extra int64
	done  chan batchResult // buffered: a worker never blocks on a caller that gave up
}

type batchResult struct {
	vals []int64
	err  error
}

func newBatcher(client pipeliner, scripter redis.Scripter, workers int, timeout time.Duration, direct bool) *batcher {
	b := &batcher{client: client, scripter: scripter, timeout: timeout, direct: direct, queue: make(chan *pending, maxBatch*workers), stop: make(chan struct{})}
	for range workers {
		go b.run()
	}
	return b
}

// close tells the workers to stop after their current batch. It does not
// wait: a worker stuck in a read from a hung Redis (a client without
// ContextTimeoutEnabled) only returns at the client's ReadTimeout.
func (b *batcher) close() {
	b.stopOnce.Do(func() { close(b.stop) })
}

// do queues one decision (plus extra tokens to lease) and waits for it, or
// for ctx.
func (b *batcher) do(ctx context.Context, keys []string, t, burst, now, extra int64) ([]int64, error) {
	p := &pending{keys: keys, args: [3]any{t, burst, now}, extra: extra, done: make(chan batchResult, 1)}
	if b.direct && b.inflight.CompareAndSwap(0, 1) {
		defer b.inflight.Add(-1)
		g := group{ps: []*pending{p}}
		g.answer(gcraScript.Run(ctx, b.scripter, g.keys(), g.args()...).Int64Slice())
		r := <-p.done
		return r.vals, r.err
	}
	b.inflight.Add(1)
	defer b.inflight.Add(-1)
	select {
	case b.queue <- p:
	case <-ctx.Done():
		return nil, fmt.Errorf("queue for redis: %w", ctx.Err())
	}
	select {
	case r := <-p.done:
		return r.vals, r.err
	case <-ctx.Done():
		return nil, fmt.Errorf("wait for redis: %w", ctx.Err())
	}
}

func (b *batcher) run() {
	batch := make([]*pending, 0, maxBatch)
	for {
		select {
		case <-b.stop:
			return
		case p := <-b.queue:
			batch = append(batch[:0], p)
		}
		// Let requests that are about to ask (runnable on this P) join
		// this batch instead of the next one; with nothing runnable this
		// returns at once.
		runtime.Gosched()
	fill:
		for len(batch) < maxBatch {
			select {
			case p := <-b.queue:
				batch = append(batch, p)
			default:
				break fill
			}
		}
		b.exec(batch)
		clear(batch) // drop references to finished requests
	}
}

func (b *batcher) exec(batch []*pending) {
	ctx, cancel := context.WithTimeout(context.Background(), b.timeout)
	defer cancel()
	if len(batch) == 1 {
		// Nobody else waiting: a plain EVALSHA (EVAL on NOSCRIPT) is
		// cheaper than a pipeline of one.
		g := group{ps: batch}
		g.answer(gcraScript.Run(ctx, b.scripter, g.keys(), g.args()...).Int64Slice())
		return
	}
	groups := coalesce(batch)
	if len(groups) == 1 {
		g := groups[0]
		vals, err := gcraScript.Run(ctx, b.scripter, g.keys(), g.args()...).Int64Slice()
		g.answer(vals, err)
		return
	}
	cmds := b.pipeline(ctx, groups)
	var retry []*group
	for i, g := range groups {
		vals, err := cmds[i].Int64Slice()
		if err != nil && redis.HasErrorPrefix(err, "NOSCRIPT") {
			retry = append(retry, g) // Redis lost its script cache (restart, failover)
			continue
		}
		g.answer(vals, err)
	}
	if len(retry) == 0 {
		return
	}
	if err := gcraScript.Load(ctx, b.scripter).Err(); err != nil {
		for _, g := range retry {
			g.answer(nil, fmt.Errorf("load gcra script: %w", err))
		}
		return
	}
	cmds = b.pipeline(ctx, retry)
	for i, g := range retry {
		g.answer(cmds[i].Int64Slice())
	}
}

// group is the decisions of one batch that share key and limit: one script
// call takes them together (gcraScript with n = len(ps)), which is what n
// calls at the same instant would decide, for one command's cost in the
// client and in Redis. A busy tenant's concurrent requests are exactly
// that.
type group struct {
	ps []*pending
}

func (g *group) keys() []string { return g.ps[0].keys }

// n is how many tokens the group asks for: one per request plus the
// extra tokens asked for leases.
func (g *group) n() int64 {
	n := int64(len(g.ps))
	for _, p := range g.ps {
		n += p.extra
	}
	return n
}

func (g *group) args() []any {
	a := g.ps[0].args
	if n := g.n(); n > 1 {
		return []any{a[0], a[1], a[2], n}
	}
	return a[:]
}

// answer splits the group's reply {granted, remaining, reset, retry} (as of
// after the grants) into one reply per request, in queue order: the first
// granted requests are admitted, each seeing the bucket as it was after its
// own admission; the rest are denied with the group's retry time. Tokens
// granted beyond the requests go, in order, to the requests that asked for
// extra ones: their first value is 1 + their share.
func (g *group) answer(vals []int64, err error) {
	if err != nil || len(vals) != 4 {
		for _, p := range g.ps {
			p.done <- batchResult{vals, err}
		}
		return
	}
	granted, remaining, reset, retry := vals[0], vals[1], vals[2], vals[3]
	t := g.ps[0].args[0].(int64)
	surplus := max(0, granted-int64(len(g.ps)))
	for i, p := range g.ps {
		j := int64(i)
		if j >= granted {
			p.done <- batchResult{vals: []int64{0, 0, reset, retry}}
			continue
		}
		share := min(p.extra, surplus)
		surplus -= share
		after := granted - j - 1 // tokens granted after this request's own
		p.done <- batchResult{vals: []int64{1 + share, remaining + after, reset - after*t, 0}}
	}
}

// coalesce groups a batch by key and limit, keeping first-come order
// within each group and between groups.
func coalesce(batch []*pending) []*group {
	type gk struct {
		key            string
		t, burst, when int64
	}
	idx := make(map[gk]int, len(batch))
	groups := make([]*group, 0, len(batch))
	for _, p := range batch {
		k := gk{p.keys[0], p.args[0].(int64), p.args[1].(int64), p.args[2].(int64)}
		i, ok := idx[k]
		if !ok {
			i = len(groups)
			idx[k] = i
			groups = append(groups, &group{})
		}
		groups[i].ps = append(groups[i].ps, p)
	}
	return groups
}

func (b *batcher) pipeline(ctx context.Context, groups []*group) []*redis.Cmd {
	pipe := b.client.Pipeline()
	cmds := make([]*redis.Cmd, len(groups))
	for i, g := range groups {
		cmds[i] = gcraScript.EvalSha(ctx, pipe, g.keys(), g.args()...)
	}
	// Per-command errors are read from cmds; Exec's error is the first of
	// them (or the connection error every command then carries).
	_, _ = pipe.Exec(ctx)
	return cmds
}
