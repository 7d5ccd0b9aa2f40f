package server

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/fast-saas/fast-saas/internal/core"
	"github.com/fast-saas/fast-saas/internal/metrics"
	"github.com/fast-saas/fast-saas/internal/store"
	"github.com/fast-saas/fast-saas/internal/store/sqlite"
	"github.com/fast-saas/fast-saas/internal/store/sqlite/sqlitetest"
	"github.com/fast-saas/fast-saas/middleware/entitlements"
)

func TestTenantGauges(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := sqlitetest.Open(t, sqlite.Options{})
	svc := &core.Service{Store: st, Plans: planTable{entitlements.Default()}}
	// free quota is 1,000 API calls a month.
	usage := map[string]int{"free-a": 900, "free-b": 1000, "free-c": 0, "ent": 50000, "pro-a": 10}
	plans := map[string]string{"free-a": "free", "free-b": "free", "free-c": "free", "ent": "enterprise", "pro-a": "pro"}
	for slug, n := range usage {
		tn, err := st.CreateTenant(ctx, store.Tenant{Slug: slug, Name: slug, Plan: plans[slug]}, "")
		if err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			ev := []store.UsageEvent{{TenantID: tn.ID, Metric: core.MetricAPICalls, Quantity: float64(n), TransactionID: "x", OccurredAt: time.Now()}}
			if _, _, err := st.InsertUsageBatch(ctx, ev); err != nil {
				t.Fatal(err)
			}
		}
	}
	suspended, err := st.CreateTenant(ctx, store.Tenant{Slug: "gone", Name: "gone", Plan: "free"}, "")
	if err != nil {
		t.Fatal(err)
	}
	suspended.Status = store.TenantSuspended
	if _, err := st.UpdateTenant(ctx, suspended); err != nil {
		t.Fatal(err)
	}
	g, err := newTenantGauges(metrics.NewRegistry(), svc, st, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if err := g.refresh(ctx); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		vec  *metrics.GaugeVec
		plan string
		want float64
	}{
		{g.active, "free", 3}, {g.active, "enterprise", 1}, {g.active, "pro", 1}, {g.active, "starter", 0},
		{g.ratio, "free", 1.0}, {g.ratio, "pro", 10.0 / 100000}, {g.ratio, "enterprise", 0},
		{g.over, "free", 1}, {g.over, "pro", 0}, {g.over, "enterprise", 0},
	}
	for i, tt := range tests {
		if got := tt.vec.WithLabelValues(tt.plan).Value(); got != tt.want {
			t.Errorf("gauge %d {plan=%q} = %v, want %v", i, tt.plan, got, tt.want)
		}
	}
}
