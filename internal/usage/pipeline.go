package usage

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/fast-saas/fast-saas/internal/metrics"
	"github.com/fast-saas/fast-saas/middleware/metering"
	"github.com/redis/go-redis/v9"
)

// Store is what the whole pipeline needs from the store; store.Store has it.
type Store interface {
	BatchWriter
	Outbox
	TenantPlans
}

// PipelineOptions choose the pipeline's shape. Store is required.
type PipelineOptions struct {
	Store Store
	// Redis selects the distributed mode (stream + consumer); nil selects the
	// embedded mode (in-process buffer).
	Redis redis.UniversalClient
	// RedisPrefix is put before the stream keys (e.g. "fastsaas:").
	RedisPrefix string
	// Consumers is how many stream consumers this process runs; 0 = 2, so
	// one decodes and acks while the other waits on its store write.
	Consumers int
	// Lago, when set, starts a Forwarder; nil leaves outbox rows pending
	// (they are sent once Lago is configured).
	Lago LagoAPI
	// Registry receives the metrics; nil = not exported.
	Registry *metrics.Registry
	Logger   *slog.Logger
}

// Pipeline is the running usage pipeline of one process: a
// metering.Recorder for the middleware, Ingest for the API, and the
// background consumer and forwarder.
type Pipeline struct {
	rec interface {
		RecordBatch(context.Context, []metering.Event) error
	}
	single metering.Recorder
	redis  *RedisRecorder
	memory *MemoryBuffer
	stop   context.CancelFunc
	wg     sync.WaitGroup
}

var _ metering.Recorder = (*Pipeline)(nil)

// StartPipeline starts the pipeline's goroutines; Close stops them.
func StartPipeline(ctx context.Context, opts PipelineOptions) (*Pipeline, error) {
	if opts.Store == nil {
		return nil, errors.New("usage: pipeline needs a Store")
	}
	m, err := NewMetrics(opts.Registry)
	if err != nil {
		return nil, fmt.Errorf("usage: register metrics: %w", err)
	}
	runCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	p := &Pipeline{stop: stop}
	if opts.Redis != nil {
		rec, err := NewRedisRecorder(RedisOptions{Client: opts.Redis, Prefix: opts.RedisPrefix, Metrics: m})
		if err != nil {
			stop()
			return nil, err
		}
		p.rec, p.single, p.redis = rec, rec, rec
		n := opts.Consumers
		if n <= 0 {
			n = 2
		}
		for range n {
			c, err := NewConsumer(ctx, ConsumerOptions{Client: opts.Redis, Prefix: opts.RedisPrefix, Writer: opts.Store, Metrics: m, Logger: opts.Logger})
			if err != nil {
				p.Close(ctx)
				return nil, err
			}
			p.run(func() { _ = c.Run(runCtx) })
		}
	} else {
		buf, err := NewMemoryBuffer(MemoryOptions{Writer: opts.Store, Metrics: m, Logger: opts.Logger})
		if err != nil {
			stop()
			return nil, err
		}
		p.memory, p.single = buf, buf
	}
	if opts.Lago != nil {
		f, err := NewForwarder(ForwarderOptions{Outbox: opts.Store, Lago: opts.Lago, Tenants: opts.Store, Metrics: m, Logger: opts.Logger})
		if err != nil {
			p.Close(ctx)
			return nil, err
		}
		p.run(func() { _ = f.Run(runCtx) })
	}
	return p, nil
}

func (p *Pipeline) run(f func()) {
	p.wg.Add(1)
	go func() { defer p.wg.Done(); f() }()
}

// Record hands one event to the buffer (the metering middleware's call).
func (p *Pipeline) Record(ctx context.Context, e metering.Event) error {
	return p.single.Record(ctx, e)
}

// Ingest makes events durable before it returns — the write an API 202
// stands on: XADD in the distributed mode, a store write in the embedded one.
// Re-ingesting an event id is harmless (counted once).
func (p *Pipeline) Ingest(ctx context.Context, events []metering.Event) error {
	if p.memory != nil {
		_, _, err := p.memory.RecordSync(ctx, events)
		return err
	}
	return p.rec.RecordBatch(ctx, events)
}

// Close stops the consumer and forwarder and flushes the in-process buffer
// (bounded by ctx). Entries in Redis need no flush: they wait in the stream.
func (p *Pipeline) Close(ctx context.Context) error {
	var err error
	if p.memory != nil {
		err = p.memory.Close(ctx)
	}
	if p.redis != nil {
		err = errors.Join(err, p.redis.Close(ctx))
	}
	p.stop()
	p.wg.Wait()
	return err
}
