package usage_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/fast-saas/fast-saas/internal/metrics"
	"github.com/fast-saas/fast-saas/internal/store"
	"github.com/fast-saas/fast-saas/internal/testenv"
	"github.com/fast-saas/fast-saas/internal/usage"
	"github.com/fast-saas/fast-saas/middleware/metering"
	"github.com/redis/go-redis/v9"
)

// Benchmarks report events/s as a custom metric so the figures compare
// directly with the 100,000 events/s ingest target.

func benchEvent(b *testing.B, tenant string, i int) metering.Event {
	id, err := metering.NewEventID()
	if err != nil {
		b.Fatal(err)
	}
	return metering.Event{ID: id, TenantID: tenant, Metric: "api_calls", Quantity: 1,
		Properties: map[string]any{"route": "GET /api/v1/tenants", "status": 200}, OccurredAt: time.Now()}
}

func benchRecorder(b *testing.B) (*redis.Client, string, *usage.RedisRecorder) {
	client, prefix := testenv.Redis(b)
	rec, err := usage.NewRedisRecorder(usage.RedisOptions{Client: client, Prefix: prefix})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { rec.Close(context.Background()) })
	return client, prefix, rec
}

// BenchmarkRedisRecord: one Record per event from 32 concurrent callers
// (like API requests each recording their own event); calls are
// group-committed into shared pipelines.
func BenchmarkRedisRecord(b *testing.B) {
	client, prefix, rec := benchRecorder(b)
	b.SetParallelism(16) // × GOMAXPROCS goroutines
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		i := 0
		for pb.Next() {
			if err := rec.Record(ctx, benchEvent(b, "t", i)); err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
	b.StopTimer()
	client.Del(context.Background(), prefix+usage.DefaultStream)
}

// BenchmarkRedisRecordBatch: pipelined XADDs, 100 events per call (the
// ingest API's batch path), 4 concurrent callers.
func BenchmarkRedisRecordBatch(b *testing.B) {
	client, prefix, rec := benchRecorder(b)
	const batch = 100
	b.SetParallelism(2)
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		evs := make([]metering.Event, 0, batch)
		flush := func() {
			if err := rec.RecordBatch(ctx, evs); err != nil {
				b.Error(err)
			}
			evs = evs[:0]
		}
		for pb.Next() {
			evs = append(evs, benchEvent(b, "t", len(evs)))
			if len(evs) == batch {
				flush()
			}
		}
		if len(evs) > 0 {
			flush()
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
	b.StopTimer()
	client.Del(context.Background(), prefix+usage.DefaultStream)
}

// BenchmarkRedisToStore measures the whole path on this machine: b.N events
// pipelined into the stream by 4 writers while the consumers move them into
// the store; the clock stops when the store holds all of them.
//
// consumers is how many run (like API replicas, each with one).
var consumers = 2

func BenchmarkRedisToStore(b *testing.B) {
	for _, name := range []string{"postgres", "sqlite"} {
		b.Run(name, func(b *testing.B) {
			st := openForBench(b, name)
			ctx := context.Background()
			tn, err := st.CreateTenant(ctx, store.Tenant{Slug: "bench", Name: "bench", Plan: "free"}, "")
			if err != nil {
				b.Fatal(err)
			}
			client, prefix, rec := benchRecorder(b)
			evs := make([]metering.Event, b.N)
			for i := range evs {
				evs[i] = benchEvent(b, tn.ID, i)
			}
			runCtx, cancel := context.WithCancel(ctx)
			defer cancel()
			m, _ := usage.NewMetrics(nil)
			accepted := m.Events.WithLabelValues(usage.OutcomeAccepted)
			done := make(chan struct{}, consumers)
			for i := 0; i < consumers; i++ {
				c, err := usage.NewConsumer(ctx, usage.ConsumerOptions{Client: client, Prefix: prefix, Writer: st, Metrics: m,
					Name: fmt.Sprintf("bench-%d", i), BatchSize: 1000, Block: 5 * time.Millisecond})
				if err != nil {
					b.Fatal(err)
				}
				go func() { _ = c.Run(runCtx); done <- struct{}{} }()
			}
			b.ResetTimer()
			start := time.Now()
			const writers = 4
			errs := make(chan error, writers)
			for w := 0; w < writers; w++ {
				part := evs[w*len(evs)/writers : (w+1)*len(evs)/writers]
				go func() {
					for len(part) > 0 {
						n := min(200, len(part))
						if err := rec.RecordBatch(ctx, part[:n]); err != nil {
							errs <- err
							return
						}
						part = part[n:]
					}
					errs <- nil
				}()
			}
			for w := 0; w < writers; w++ {
				if err := <-errs; err != nil {
					b.Fatal(err)
				}
			}
			// Poll the consumers' counter, not the store: a query per poll
			// would compete with the inserts being measured.
			for counterValue(accepted) < float64(b.N) {
				time.Sleep(2 * time.Millisecond)
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
			b.StopTimer()
			from, to := time.Now().Add(-time.Hour), time.Now().Add(time.Hour)
			if total, err := st.UsageTotal(ctx, tn.ID, "api_calls", from, to); err != nil || int(total) != b.N {
				b.Fatalf("store holds %v events, %v; want %d", total, err, b.N)
			}
			cancel()
			for range consumers {
				<-done
			}
			client.Del(context.Background(), prefix+usage.DefaultStream)
		})
	}
}

// BenchmarkMemoryBufferRecord: the embedded-mode hot path (enqueue only;
// the flusher writes to SQLite concurrently).
func BenchmarkMemoryBufferRecord(b *testing.B) {
	st := openForBench(b, "sqlite")
	ctx := context.Background()
	tn, err := st.CreateTenant(ctx, store.Tenant{Slug: "bench", Name: "bench", Plan: "free"}, "")
	if err != nil {
		b.Fatal(err)
	}
	buf, err := usage.NewMemoryBuffer(usage.MemoryOptions{Writer: st, Capacity: 1 << 20})
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if err := buf.Record(ctx, benchEvent(b, tn.ID, i)); err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
	b.StopTimer()
	if err := buf.Close(ctx); err != nil {
		b.Fatal(err)
	}
}

func openForBench(b *testing.B, name string) store.Store {
	return backends()[name](b, nil)
}

// BenchmarkStoreInsertBatch is the baseline of BenchmarkRedisToStore: the
// same events written straight to the store, 1000 per call, 2 writers — the
// pipeline cannot beat it, and the ratio shows what Redis + consumers cost.
func BenchmarkStoreInsertBatch(b *testing.B) {
	for _, name := range []string{"postgres", "sqlite"} {
		b.Run(name, func(b *testing.B) {
			st := openForBench(b, name)
			ctx := context.Background()
			tn, err := st.CreateTenant(ctx, store.Tenant{Slug: "bench", Name: "bench", Plan: "free"}, "")
			if err != nil {
				b.Fatal(err)
			}
			rows := make([]store.UsageEvent, b.N)
			for i := range rows {
				e := benchEvent(b, tn.ID, i)
				rows[i] = store.UsageEvent{TenantID: e.TenantID, Metric: e.Metric, Quantity: 1,
					Properties: []byte(`{"route":"GET /api/v1/tenants","status":200}`), TransactionID: e.ID, OccurredAt: e.OccurredAt}
			}
			b.ResetTimer()
			start := time.Now()
			const writers = 2
			errs := make(chan error, writers)
			for w := 0; w < writers; w++ {
				part := rows[w*len(rows)/writers : (w+1)*len(rows)/writers]
				go func() {
					for len(part) > 0 {
						n := min(1000, len(part))
						if _, _, err := st.InsertUsageBatch(ctx, part[:n]); err != nil {
							errs <- err
							return
						}
						part = part[n:]
					}
					errs <- nil
				}()
			}
			for w := 0; w < writers; w++ {
				if err := <-errs; err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
		})
	}
}

func counterValue(c *metrics.Counter) float64 { return c.Value() }
