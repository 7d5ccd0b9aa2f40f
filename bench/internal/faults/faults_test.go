package faults

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/fast-saas/fast-saas/bench/internal/harness"
	"github.com/fast-saas/fast-saas/internal/testenv"
)

// TestSmoke is the CI-sized fault run: 20,000 events through the real
// binary on Postgres (a fresh database of the machine's server) and a
// dedicated Redis, with one SIGKILL of serve, a Redis crash and a Lago
// outage. Postgres is not stopped here: that needs a cluster of our own
// (make bench-faults does it). Every event must be stored and forwarded
// to Lago exactly once.
func TestSmoke(t *testing.T) {
	if testing.Short() {
		if testenv.Required() {
			t.Fatalf("-short with %s=1: this service-backed test must run", testenv.RequireVar)
		}
		t.Skipf("builds and runs the server: skipped under -short (CI sets %s=1, which refuses -short here)", testenv.RequireVar)
	}
	pgURL := testenv.Postgres(t)
	testenv.Tool(t, "redis-server")
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	dir := t.TempDir()
	bin, err := harness.Build(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	var progress strings.Builder
	rep, err := Run(ctx, Options{
		Binary: bin, Dir: dir, PostgresURL: pgURL,
		Events: 20_000, Batch: 500, Tenants: 4, Workers: 4,
		Kills: 1, RedisRestart: true, LagoDown: 3 * time.Second,
		DrainTimeout: 2 * time.Minute, Progress: &progress,
	})
	var table strings.Builder
	rep.Print(&table)
	t.Logf("progress:\n%s\nreport:\n%s", progress.String(), table.String())
	if err != nil {
		if log, rerr := os.ReadFile(dir + "/serve.log"); rerr == nil {
			t.Logf("serve log (tail):\n%s", tail(string(log), 4000))
		}
		t.Fatalf("run: %v", err)
	}
	if rep.Stored != rep.Events || rep.StoreLost != 0 || rep.StoreDup != 0 || rep.StoreWrongTenant != 0 || rep.StoreForeign != 0 {
		t.Errorf("store: got %d stored (%d lost, %d duplicated, %d wrong tenant, %d unknown), want exactly %d once each",
			rep.Stored, rep.StoreLost, rep.StoreDup, rep.StoreWrongTenant, rep.StoreForeign, rep.Events)
	}
	if rep.Lago != rep.Events || rep.LagoLost != 0 || rep.LagoDup != 0 || rep.LagoWrongTenant != 0 || rep.LagoForeign != 0 {
		t.Errorf("lago: got %d delivered (%d lost, %d duplicated, %d wrong tenant, %d unknown), want exactly %d once each",
			rep.Lago, rep.LagoLost, rep.LagoDup, rep.LagoWrongTenant, rep.LagoForeign, rep.Events)
	}
	if rep.Daily != rep.Events || rep.DailyLost != 0 || rep.DailyDup != 0 || rep.DailyForeign != 0 {
		t.Errorf("daily totals: got %d events counted (%d short, %d over, %d of unknown tenants), want %d",
			rep.Daily, rep.DailyLost, rep.DailyDup, rep.DailyForeign, rep.Events)
	}
	if got := len(rep.Faults); got != 3 {
		t.Errorf("faults injected: got %d, want 3 (kill, Redis crash, Lago outage): %+v", got, rep.Faults)
	}
}

// TestParseTx checks the counting key: the
// transaction ids map back to their index, and foreign ids are not counted
// as ours.
func TestParseTx(t *testing.T) {
	t.Parallel()
	tests := []struct {
		tx     string
		batch  int
		want   int
		wantOK bool
	}{
		{txID(0, 0), 1000, 0, true},
		{txID(3, 999), 1000, 3999, true},
		{txID(2, 5), 10, 25, true},
		{"ft-2-10", 10, 0, false}, // index beyond the batch
		{"ft-x-1", 10, 0, false},
		{"ft--1-1", 10, 0, false},
		{"other-1-1", 10, 0, false},
		{"ft-1", 10, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.tx, func(t *testing.T) {
			got, ok := parseTx(tt.tx, tt.batch)
			if ok != tt.wantOK || (ok && got != tt.want) {
				t.Errorf("parseTx(%q, %d) = %d, %v; want %d, %v", tt.tx, tt.batch, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestReportOK(t *testing.T) {
	t.Parallel()
	good := Report{Events: 10, Stored: 10, Lago: 10, Daily: 10}
	tests := []struct {
		name string
		mod  func(*Report)
		want bool
	}{
		{"exact", func(*Report) {}, true},
		{"store lost", func(r *Report) { r.Stored, r.StoreLost = 9, 1 }, false},
		{"store duplicate", func(r *Report) { r.Stored, r.StoreDup = 11, 1 }, false},
		{"lago lost", func(r *Report) { r.Lago, r.LagoLost = 9, 1 }, false},
		{"lago duplicate", func(r *Report) { r.Lago, r.LagoDup = 11, 1 }, false},
		{"lago wrong tenant", func(r *Report) { r.LagoWrongTenant = 1 }, false},
		{"store foreign id", func(r *Report) { r.StoreForeign = 1 }, false},
		{"daily totals short", func(r *Report) { r.Daily, r.DailyLost = 9, 1 }, false},
		{"daily totals over", func(r *Report) { r.Daily, r.DailyDup = 11, 1 }, false},
		{"daily totals of another tenant", func(r *Report) { r.DailyForeign = 1 }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := good
			tt.mod(&r)
			if got := r.OK(); got != tt.want {
				t.Errorf("OK() = %v, want %v for %+v", got, tt.want, r)
			}
		})
	}
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[len(s)-n:]
}

// FuzzParseTx: any string parses to an index only if it is exactly the id
// txID gives that index, so no stored row can be miscounted as ours.
func FuzzParseTx(f *testing.F) {
	for _, s := range []string{"ft-0-0", "ft-12-999", "ft-1-1000", "ft-+1-2", "ft-01-2", "ft--0-0", "x"} {
		f.Add(s, 1000)
	}
	f.Fuzz(func(t *testing.T, tx string, batch int) {
		if batch <= 0 || batch > 1_000_000 {
			return
		}
		i, ok := parseTx(tx, batch)
		if !ok {
			return
		}
		if got := txID(i/batch, i%batch); got != tx {
			t.Errorf("parseTx(%q, %d) = %d, but txID gives %q for it", tx, batch, i, got)
		}
	})
}
