package sqlite_test

import (
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/fast-saas/fast-saas/internal/store"
)

// BenchmarkInsertUsageBatch measures durable ingest of 1000-event batches
// (multi-row prepared INSERT … ON CONFLICT DO NOTHING, one transaction per
// batch) in two shapes of traffic:
//
//   - live: each batch's events occur after the previous batch's, as events
//     reported as they happen do; the time indexes grow at their ends.
//   - backfill: every batch covers the same second (a re-import of past
//     events), so each batch inserts all over the time indexes: the worst
//     case, many more pages written per batch.
//   - live-400: live, in batches of 400, which are not a multiple of the
//     500-row statement.
func BenchmarkInsertUsageBatch(b *testing.B) {
	for _, tc := range []struct {
		name    string
		advance time.Duration // occurred_at offset between batches
		batch   int
	}{
		{"live", time.Second, 1000},
		{"backfill", 0, 1000},
		// What the usage buffer flushes of metered requests at about
		// 8,000 a second: 50 ms of them, not a multiple of the chunk.
		{"live-400", time.Second, 400},
	} {
		b.Run(tc.name, func(b *testing.B) { benchIngest(b, tc.advance, tc.batch) })
	}
}

func benchIngest(b *testing.B, advance time.Duration, batch int) {
	s := open(b, nil)
	ctx := context.Background()
	var tenants []string
	for i := range 10 {
		tn, err := s.CreateTenant(ctx, store.Tenant{Slug: fmt.Sprintf("bench-%d", i), Name: "B", Plan: "free"}, "")
		if err != nil {
			b.Fatal(err)
		}
		tenants = append(tenants, tn.ID)
	}
	at := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	batches := make([][]store.UsageEvent, b.N)
	for n := range batches {
		evs := make([]store.UsageEvent, batch)
		for i := range evs {
			evs[i] = store.UsageEvent{TenantID: tenants[i%len(tenants)], Metric: "api_calls", Quantity: 1,
				Properties:    []byte(`{"route":"/api/v1/things","method":"GET"}`),
				TransactionID: fmt.Sprintf("b%d-%d", n, i), OccurredAt: at.Add(time.Duration(n)*advance + time.Duration(i)*time.Millisecond)}
		}
		batches[n] = evs
	}
	// Warm up outside the timer (statement preparation, page cache).
	warm := append([]store.UsageEvent(nil), batches[0]...)
	for i := range warm {
		warm[i].TransactionID = "warm-" + warm[i].TransactionID
	}
	if _, _, err := s.InsertUsageBatch(ctx, warm); err != nil {
		b.Fatal(err)
	}
	cpu0 := cpuTime(b)
	b.ResetTimer()
	for n := range b.N {
		ins, _, err := s.InsertUsageBatch(ctx, batches[n])
		if err != nil || ins != batch {
			b.Fatalf("inserted %d: %v", ins, err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "events/s")
	// SQLite runs in this process, so events per CPU-second of the process
	// estimates the rate on an unloaded machine (the shared test machine's
	// load makes wall-clock rates mostly a measure of the neighbours).
	b.ReportMetric(float64(b.N*batch)/(cpuTime(b)-cpu0).Seconds(), "events/cpu-s")
}

// cpuTime is the user+system CPU time of this process so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkUsageTotal sums a month of 200,000 events of one tenant (an
// event every 13 s), the quota check's question:
//
//   - month: the whole month, as the quota and the gauges ask it — whole
//     days, read from the daily totals;
//   - to-now: from the month's start to a moment 13 hours into its 26th
//     day, as the usage summary asks — whole days plus that day's events.
//   - within-a-day: 13 hours of one day — events only.
func BenchmarkUsageTotal(b *testing.B) {
	s := open(b, nil)
	ctx := context.Background()
	tn, err := s.CreateTenant(ctx, store.Tenant{Slug: "total", Name: "T", Plan: "free"}, "")
	if err != nil {
		b.Fatal(err)
	}
	month := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	const events, every = 200_000, 13 * time.Second
	for n := 0; n < events; n += 1000 {
		batch := make([]store.UsageEvent, 1000)
		for i := range batch {
			batch[i] = store.UsageEvent{TenantID: tn.ID, Metric: "api_calls", Quantity: 1,
				TransactionID: fmt.Sprintf("t%d", n+i), OccurredAt: month.Add(time.Duration(n+i) * every)}
		}
		if _, _, err := s.InsertUsageBatch(ctx, batch); err != nil {
			b.Fatal(err)
		}
	}
	day26 := month.AddDate(0, 0, 25)
	for _, r := range []struct {
		name     string
		from, to time.Time
	}{
		{"month", month, month.AddDate(0, 1, 0)},
		{"to-now", month, day26.Add(13 * time.Hour)},
		{"within-a-day", day26, day26.Add(13 * time.Hour)},
	} {
		b.Run(r.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := s.UsageTotal(ctx, tn.ID, "api_calls", r.from, r.to); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
