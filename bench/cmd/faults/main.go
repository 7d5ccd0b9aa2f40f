// Command faults is the fault harness behind `make bench-faults`: it ingests
// usage events through `fast-saas serve` (Postgres + Redis, Lago = an
// in-process fake on a real port) while killing serve with SIGKILL,
// crashing Redis, stopping Postgres and taking Lago down, then checks that
// every event was stored exactly once and forwarded to Lago exactly once.
// It exits 1 on any lost or duplicated event.
//
//	go run ./bench/cmd/faults [-events 1000000] [-kills 3] [-postgres-stop 30s] [-lago-down 60s]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"time"

	"github.com/fast-saas/fast-saas/bench/internal/faults"
	"github.com/fast-saas/fast-saas/bench/internal/harness"
)

func main() {
	var o faults.Options
	flag.IntVar(&o.Events, "events", 1_000_000, "usage events to ingest")
	flag.IntVar(&o.Batch, "batch", 1000, "events per ingest request")
	flag.IntVar(&o.Tenants, "tenants", 10, "tenants the events are spread over")
	flag.IntVar(&o.Workers, "workers", 8, "concurrent producers")
	flag.IntVar(&o.Kills, "kills", 3, "SIGKILLs of serve during ingest (-1: none)")
	flag.BoolVar(&o.RedisRestart, "redis-restart", true, "crash and restart Redis mid-run")
	flag.DurationVar(&o.PostgresStop, "postgres-stop", 30*time.Second, "stop the dedicated Postgres this long mid-run (0: never)")
	flag.DurationVar(&o.LagoDown, "lago-down", 60*time.Second, "the fake Lago refuses connections this long (0: never)")
	flag.DurationVar(&o.DrainTimeout, "drain-timeout", 7*time.Minute, "longest wait for Lago to receive every event after ingest")
	keep := flag.Bool("keep", false, "keep the scratch directory (serve.log, redis.log, postgres.log)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	dir, err := os.MkdirTemp("", "fast-saas-bench-faults")
	if err != nil {
		fail(err)
	}
	if *keep {
		fmt.Println("scratch directory:", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	// The dedicated Postgres cluster runs as the postgres user when we are root.
	if err := os.Chmod(dir, 0o755); err != nil {
		fail(err)
	}
	fmt.Println("building fast-saas (CGO_ENABLED=0)…")
	bin, err := harness.Build(ctx, dir)
	if err != nil {
		fail(err)
	}
	o.Binary, o.Dir, o.OwnPostgres, o.Progress = bin, dir, true, os.Stdout
	start := time.Now()
	rep, err := faults.Run(ctx, o)
	if err != nil {
		fail(err)
	}
	fmt.Printf("\nfast-saas faults — %s, %d events, nproc %d, total %s\n\n", time.Now().UTC().Format(time.RFC3339), o.Events, runtime.NumCPU(), time.Since(start).Round(time.Second))
	rep.Print(os.Stdout)
	if !rep.OK() {
		fmt.Fprintln(os.Stderr, "bench-faults: events were lost or duplicated")
		if !*keep {
			os.RemoveAll(dir)
		}
		os.Exit(1)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "bench-faults:", err)
	os.Exit(1)
}
