package ratelimit

import (
	"context"
	"fmt"
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
// decisions. Each EVALSHA in the pipeline is still atomic on its own.
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
	done chan batchResult // buffered: a worker never blocks on a caller that gave up
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

// do queues one decision and waits for it, or for ctx.
func (b *batcher) do(ctx context.Context, keys []string, t, burst, now int64) ([]int64, error) {
	if b.direct && b.inflight.CompareAndSwap(0, 1) {
		defer b.inflight.Add(-1)
		return gcraScript.Run(ctx, b.scripter, keys, t, burst, now).Int64Slice()
	}
	b.inflight.Add(1)
	defer b.inflight.Add(-1)
	p := &pending{keys: keys, args: [3]any{t, burst, now}, done: make(chan batchResult, 1)}
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
		p := batch[0]
		vals, err := gcraScript.Run(ctx, b.scripter, p.keys, p.args[:]...).Int64Slice()
		p.done <- batchResult{vals, err}
		return
	}
	cmds := b.pipeline(ctx, batch)
	var retry []*pending
	for i, p := range batch {
		vals, err := cmds[i].Int64Slice()
		if err != nil && redis.HasErrorPrefix(err, "NOSCRIPT") {
			retry = append(retry, p) // Redis lost its script cache (restart, failover)
			continue
		}
		p.done <- batchResult{vals, err}
	}
	if len(retry) == 0 {
		return
	}
	if err := gcraScript.Load(ctx, b.scripter).Err(); err != nil {
		for _, p := range retry {
			p.done <- batchResult{nil, fmt.Errorf("load gcra script: %w", err)}
		}
		return
	}
	cmds = b.pipeline(ctx, retry)
	for i, p := range retry {
		vals, err := cmds[i].Int64Slice()
		p.done <- batchResult{vals, err}
	}
}

func (b *batcher) pipeline(ctx context.Context, batch []*pending) []*redis.Cmd {
	pipe := b.client.Pipeline()
	cmds := make([]*redis.Cmd, len(batch))
	for i, p := range batch {
		cmds[i] = gcraScript.EvalSha(ctx, pipe, p.keys, p.args[:]...)
	}
	// Per-command errors are read from cmds; Exec's error is the first of
	// them (or the connection error every command then carries).
	_, _ = pipe.Exec(ctx)
	return cmds
}
