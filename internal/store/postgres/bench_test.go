package postgres_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/fast-saas/fast-saas/internal/store"
	"github.com/fast-saas/fast-saas/internal/store/internal/sqlcore"
	"github.com/fast-saas/fast-saas/internal/store/postgres"
)

const benchBatch = 1000

// benchEvents makes n events spread over tenants, unique per call (seq),
// occurring from start on, 1 ms apart.
func benchEvents(tenants []string, seq, n int, start time.Time) []store.UsageEvent {
	at := start
	out := make([]store.UsageEvent, n)
	for i := range out {
		out[i] = store.UsageEvent{
			TenantID: tenants[i%len(tenants)], Metric: "api_calls", Quantity: 1,
			Properties:    []byte(`{"route":"/api/v1/things","method":"GET"}`),
			TransactionID: fmt.Sprintf("b%d-%d", seq, i), OccurredAt: at.Add(time.Duration(i) * time.Millisecond),
		}
	}
	return out
}

func benchTenants(b *testing.B, s store.Store, n int) []string {
	var ids []string
	for i := range n {
		tn, err := s.CreateTenant(context.Background(), store.Tenant{Slug: fmt.Sprintf("bench-%d", i), Name: "B", Plan: "free"}, "")
		if err != nil {
			b.Fatal(err)
		}
		ids = append(ids, tn.ID)
	}
	return ids
}

// BenchmarkIngest compares InsertUsageBatch (COPY to staging + INSERT, as
// the RLS-bound app role) with a raw COPY (CopyEvents) of the same kind of
// rows straight into usage_events (as the admin: COPY FROM is not allowed
// into a table under row-level security). The two alternate batch by batch
// on the same database, so both see the same machine load; the ratio is
// reported as copy-ratio-%.
//
// On the shared test machine wall-clock rates mostly measure the
// neighbours, so each side also reports events per CPU-second, counting
// this process and the Postgres backends serving it (read from /proc), and
// per CPU-second of those backends alone: estimates of the rate on an idle
// machine (background WAL writer and checkpointer are not counted).
//
// Two shapes of traffic: "live" (each batch's events occur after the
// previous batch's, as events reported as they happen do: the time indexes
// grow at their ends) and "backfill" (every batch covers the same second:
// inserts all over the time indexes, the worst case).
func BenchmarkIngest(b *testing.B) {
	for _, tc := range []struct {
		name    string
		advance time.Duration // occurred_at offset between batches
	}{
		{"live", time.Second},
		{"backfill", 0},
	} {
		b.Run(tc.name, func(b *testing.B) { benchIngest(b, tc.advance) })
	}
}

func benchIngest(b *testing.B, advance time.Duration) {
	s, app, admin := openBoth(b, nil)
	start := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	tenants := benchTenants(b, s, 10)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(ctx)
	monitor, err := pgx.Connect(ctx, admin) // finds the store's backends; its own CPU is not counted
	if err != nil {
		b.Fatal(err)
	}
	defer monitor.Close(ctx)
	appURL, err := url.Parse(app)
	if err != nil {
		b.Fatal(err)
	}
	appBackends := func() []int {
		var pids []int
		rows, err := monitor.Query(ctx, `SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND usename = $1`, appURL.User.Username())
		if err != nil {
			b.Fatal(err)
		}
		for rows.Next() {
			var pid int
			if err := rows.Scan(&pid); err != nil {
				b.Fatal(err)
			}
			pids = append(pids, pid)
		}
		return pids
	}
	ours := make([][]store.UsageEvent, b.N)
	raw := make([][]store.UsageEvent, b.N)
	for i := range b.N {
		ours[i] = benchEvents(tenants, 2*i, benchBatch, start.Add(time.Duration(i)*advance))
		// The raw rows get the preparation InsertUsageBatch does (ids, JSON) outside the timer.
		if raw[i], err = sqlcore.PrepareEvents(benchEvents(tenants, 2*i+1, benchBatch, start.Add(time.Duration(i)*advance)), time.Now()); err != nil {
			b.Fatal(err)
		}
	}
	// Warm up outside the timer: the first batch on a connection creates the
	// staging table and prepares statements.
	if _, _, err := s.InsertUsageBatch(ctx, benchEvents(tenants, -1, benchBatch, start)); err != nil {
		b.Fatal(err)
	}
	rawPID := []int{int(conn.PgConn().PID())}
	var oursTime, rawTime, oursCPU, rawCPU, oursSrv, rawSrv time.Duration
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		pids := appBackends()
		s0 := cpuOf(pids)
		c0 := cpuSelf(b) + s0
		b.StartTimer()
		t0 := time.Now()
		ins, _, err := s.InsertUsageBatch(ctx, ours[i])
		oursTime += time.Since(t0)
		b.StopTimer()
		s1 := cpuOf(pids)
		oursCPU += cpuSelf(b) + s1 - c0
		oursSrv += s1 - s0
		if err != nil || ins != benchBatch {
			b.Fatalf("inserted %d: %v", ins, err)
		}
		s0 = cpuOf(rawPID)
		c0 = cpuSelf(b) + s0
		b.StartTimer()
		t0 = time.Now()
		n, err := postgres.CopyEvents(ctx, conn.PgConn(), "usage_events", raw[i], true)
		rawTime += time.Since(t0)
		b.StopTimer()
		s1 = cpuOf(rawPID)
		rawCPU += cpuSelf(b) + s1 - c0
		rawSrv += s1 - s0
		b.StartTimer()
		if err != nil || n != benchBatch {
			b.Fatalf("copied %d: %v", n, err)
		}
	}
	b.StopTimer()
	events := float64(b.N * benchBatch)
	oursRate, rawRate := events/oursTime.Seconds(), events/rawTime.Seconds()
	b.ReportMetric(oursRate, "events/s")
	b.ReportMetric(rawRate, "raw-copy-events/s")
	b.ReportMetric(100*oursRate/rawRate, "copy-ratio-%")
	b.ReportMetric(events/oursCPU.Seconds(), "events/cpu-s")
	b.ReportMetric(events/rawCPU.Seconds(), "raw-copy-events/cpu-s")
	// Postgres backend CPU alone: the bound when client and server run on different cores.
	b.ReportMetric(events/oursSrv.Seconds(), "events/server-cpu-s")
	b.ReportMetric(events/rawSrv.Seconds(), "raw-copy-events/server-cpu-s")
	b.ReportMetric(0, "ns/op") // per-op time mixes both; the rates above are the result
}

// cpuSelf is the user+system CPU time of this process.
func cpuSelf(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// cpuOf sums user+system CPU of local processes (Postgres backends) from
// /proc/<pid>/stat, in clock ticks of 10 ms (USER_HZ on Linux).
func cpuOf(pids []int) time.Duration {
	var total time.Duration
	for _, pid := range pids {
		raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue // a backend that just exited, or Postgres on another host
		}
		// Fields after the parenthesized command name: state is [0], utime [11], stime [12].
		f := strings.Fields(string(raw[bytes.LastIndexByte(raw, ')')+1:]))
		if len(f) < 13 {
			continue
		}
		u, _ := strconv.ParseInt(f[11], 10, 64)
		st, _ := strconv.ParseInt(f[12], 10, 64)
		total += time.Duration(u+st) * 10 * time.Millisecond
	}
	return total
}

// BenchmarkAPIKeyByHash times single lookups among 10,000 keys and reports the median.
func BenchmarkAPIKeyByHash(b *testing.B) {
	s, _ := open(b, nil)
	tenants := benchTenants(b, s, 10)
	ctx := context.Background()
	const keys = 10000
	hashes := make([][]byte, keys)
	for i := range hashes {
		h := sha256.Sum256([]byte(fmt.Sprint("key", i)))
		hashes[i] = h[:]
	}
	// Insert keys in one transaction for setup speed.
	if err := s.Tx(ctx, func(tx store.Tx) error {
		for i, h := range hashes {
			if _, err := tx.CreateAPIKey(ctx, store.APIKey{TenantID: tenants[i%len(tenants)], Name: "k", Hash: h}); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		b.Fatal(err)
	}
	durations := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		t0 := time.Now()
		k, err := s.APIKeyByHash(ctx, hashes[i%keys])
		durations = append(durations, time.Since(t0))
		if err != nil || k.TenantID == "" {
			b.Fatalf("lookup: %v", err)
		}
	}
	b.StopTimer()
	slices.Sort(durations)
	b.ReportMetric(float64(durations[len(durations)/2].Nanoseconds())/1e3, "p50-µs")
	b.ReportMetric(float64(durations[len(durations)*99/100].Nanoseconds())/1e3, "p99-µs")
}
