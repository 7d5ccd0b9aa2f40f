package server

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/fast-saas/fast-saas/internal/api"
	"github.com/fast-saas/fast-saas/internal/core"
	"github.com/fast-saas/fast-saas/internal/lago"
	"github.com/fast-saas/fast-saas/internal/metrics"
	"github.com/fast-saas/fast-saas/internal/store"
	"github.com/fast-saas/fast-saas/internal/usage"
	"github.com/fast-saas/fast-saas/middleware/clientip"
	"github.com/fast-saas/fast-saas/middleware/metering"
	"github.com/fast-saas/fast-saas/middleware/ratelimit"
)

// storeCounter is the quota's UsageCounter over the store.
type storeCounter struct{ st store.Store }

// MonthlyCount counts the whole month, events dated later in it included:
// whole days are read from the store's daily totals, not from the events.
func (c storeCounter) MonthlyCount(ctx context.Context, tenantID, metric string, monthStart time.Time) (int64, error) {
	n, err := c.st.UsageTotal(ctx, tenantID, metric, monthStart, monthStart.AddDate(0, 1, 0))
	return int64(n), err
}

// pipeline is the traffic side of the server: limiter, usage recorder and
// the goroutines that move usage to the store and to Lago.
type pipeline struct {
	traffic  api.Traffic
	buffer   *usage.MemoryBuffer  // embedded mode
	recorder *usage.RedisRecorder // Redis mode
	consumer *usage.Consumer      // Redis mode
	forward  *usage.Forwarder     // when Lago is configured
	limiter  *ratelimit.Redis
	workers  sync.WaitGroup // the goroutines run started
}

func (s *Server) buildPipeline(ctx context.Context, reg *metrics.Registry) (*pipeline, error) {
	cfg := s.Config
	usageMetrics, err := usage.NewMetrics(reg)
	if err != nil {
		return nil, err
	}
	p := &pipeline{}
	p.traffic.ClientIP = clientip.New(cfg.TrustedProxies...)
	p.traffic.Counter = storeCounter{s.Store}
	if cfg.IPRateLimit > 0 {
		p.traffic.IPLimit = ratelimit.PerMinute(cfg.IPRateLimit)
	}
	var rec metering.Recorder
	if s.redis != nil {
		countErr, err := rateLimitErrors(reg)
		if err != nil {
			return nil, err
		}
		p.limiter, err = ratelimit.NewRedis(s.redis, ratelimit.RedisOptions{Prefix: cfg.RedisPrefix + "rl:", Logger: s.Logger, CountError: countErr,
			Lease: cfg.RateLimitLease})
		if err != nil {
			return nil, fmt.Errorf("rate limiter: %w", err)
		}
		p.traffic.Limiter = p.limiter
		if p.recorder, err = usage.NewRedisRecorder(usage.RedisOptions{Client: s.redis, Prefix: s.Config.RedisPrefix, Metrics: usageMetrics, Logger: s.Logger,
			Buffered: !cfg.MeteredCallsDurable}); err != nil {
			return nil, err
		}
		rec = p.recorder
		host, _ := os.Hostname()
		p.consumer, err = usage.NewConsumer(ctx, usage.ConsumerOptions{Client: s.redis, Prefix: s.Config.RedisPrefix, Writer: s.Store,
			Name: fmt.Sprintf("%s-%d", host, os.Getpid()), Metrics: usageMetrics, Logger: s.Logger})
		if err != nil {
			// Redis down at start: serve anyway (readiness says so); usage
			// recording fails until it is back and the consumer restarts.
			s.Logger.Warn("usage consumer not started", slog.String("error", err.Error()))
		}
	} else {
		p.traffic.Limiter = ratelimit.NewMemory(ratelimit.MemoryOptions{})
		// 4,096 queued events is 0.1 s of a busy server (30,000 metered
		// requests/s), twice the 50 ms the buffer waits to fill a batch. A
		// bigger queue only holds more memory when the store is slow (callers
		// then wait): what is queued is live heap the collector scans every
		// cycle (10,000 events were 1.7 MiB, heap profile under load, issue 5).
		if p.buffer, err = usage.NewMemoryBuffer(usage.MemoryOptions{Writer: s.Store, Capacity: 4096, Metrics: usageMetrics, Logger: s.Logger}); err != nil {
			return nil, err
		}
		rec = p.buffer
	}
	p.traffic.Recorder = rec
	if cfg.LagoAPIURL != "" {
		client, err := lago.New(lago.Options{BaseURL: cfg.LagoAPIURL, APIKey: cfg.LagoAPIKey})
		if err != nil {
			return nil, err
		}
		// Lease 30 s, not the 5 min default: rows claimed by a replica that
		// crashes (SIGKILL, OOM) reach Lago 30 s late instead of 5 min late;
		// a resend after an expired lease is harmless (Lago de-duplicates by
		// transaction_id). Measured by bench/cmd/faults.
		if p.forward, err = usage.NewForwarder(usage.ForwarderOptions{Outbox: s.Store, Lago: client, Tenants: s.Store, Metrics: usageMetrics, Logger: s.Logger,
			Lease: 30 * time.Second}); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// run starts the background workers; they stop when ctx ends, and
// p.workers.Wait returns once they have (a consumer first finishes the
// batch it is storing).
func (p *pipeline) run(ctx context.Context, log *slog.Logger) {
	if p.consumer != nil {
		p.workers.Go(func() {
			if err := p.consumer.Run(ctx); err != nil {
				log.Error("usage consumer stopped", slog.String("error", err.Error()))
			}
		})
	}
	if p.forward != nil {
		p.workers.Go(func() {
			if err := p.forward.Run(ctx); err != nil {
				log.Error("lago forwarder stopped", slog.String("error", err.Error()))
			}
		})
	}
}

// close writes buffered usage to the store (embedded mode) or to the
// stream (Redis mode) and stops the limiter's workers.
func (p *pipeline) close(ctx context.Context) error {
	var err error
	if p.buffer != nil {
		err = p.buffer.Close(ctx)
	}
	if p.recorder != nil {
		err = p.recorder.Close(ctx)
	}
	if p.limiter != nil {
		p.limiter.Close()
	}
	return err
}

// pipelineCheck reports the usage pipeline lag for readiness: the oldest
// outbox row waiting for Lago, and with Redis the stream backlog.
func pipelineCheck(st store.Store, rdb *redis.Client, prefix string, lagoOn bool) core.Check {
	const maxLag = 15 * time.Minute
	return core.Check{Name: "usage_pipeline", Fn: func(ctx context.Context) error {
		if rdb != nil {
			if _, err := usage.Backlog(ctx, rdb, prefix, ""); err != nil {
				return fmt.Errorf("usage stream: %w", err)
			}
		}
		if !lagoOn {
			return nil
		}
		n, oldest, err := st.OutboxBacklog(ctx)
		if err != nil {
			return fmt.Errorf("lago outbox: %w", err)
		}
		if n > 0 && time.Since(oldest) > maxLag {
			return fmt.Errorf("lago outbox: %d rows pending, oldest %s old", n, time.Since(oldest).Round(time.Second))
		}
		return nil
	}}
}

// rateLimitErrors counts the decisions Redis failed to take
// (saas_ratelimit_backend_errors_total).
func rateLimitErrors(reg *metrics.Registry) (func(), error) {
	vec, err := reg.Counter("saas_ratelimit_backend_errors_total", "Rate limiter decisions that Redis failed to take (timeouts, connection errors).")
	if err != nil {
		return nil, err
	}
	return vec.WithLabelValues().Inc, nil
}
