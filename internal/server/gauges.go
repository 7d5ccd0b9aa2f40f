package server

import (
	"context"
	"log/slog"
	"time"

	"github.com/fast-saas/fast-saas/internal/core"
	"github.com/fast-saas/fast-saas/internal/metrics"
	"github.com/fast-saas/fast-saas/internal/store"
)

// tenantGauges exports the tenant-level gauges of spec/plans-and-metrics.md,
// recomputed from the store on an interval (they feed the
// TenantOverUsageLimit alert and the Tenant Usage dashboard):
//
//	saas_tenants_active_total{plan}
//	saas_tenant_usage_ratio{plan}   highest used/quota this month among the plan's tenants
//	saas_tenants_over_quota{plan}
type tenantGauges struct {
	active, ratio, over *metrics.GaugeVec
	svc                 *core.Service
	st                  store.Store
	log                 *slog.Logger
}

func newTenantGauges(reg *metrics.Registry, svc *core.Service, st store.Store, log *slog.Logger) (*tenantGauges, error) {
	g := &tenantGauges{svc: svc, st: st, log: log}
	var err error
	if g.active, err = reg.Gauge("saas_tenants_active_total", "Active tenants by plan.", "plan"); err != nil {
		return nil, err
	}
	if g.ratio, err = reg.Gauge("saas_tenant_usage_ratio",
		"Highest ratio of this month's API calls to the monthly quota among the plan's active tenants.", "plan"); err != nil {
		return nil, err
	}
	if g.over, err = reg.Gauge("saas_tenants_over_quota", "Active tenants at or over their monthly API call quota, by plan.", "plan"); err != nil {
		return nil, err
	}
	return g, nil
}

// refresh walks the active tenants once. It is O(tenants) store calls,
// fine for the embedded and small deployments it runs in every replica of.
func (g *tenantGauges) refresh(ctx context.Context) error {
	now := time.Now().UTC()
	month := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
	active, ratio, over := map[string]float64{}, map[string]float64{}, map[string]float64{}
	for _, p := range g.svc.Plans.Plans() {
		active[p.ID], ratio[p.ID], over[p.ID] = 0, 0, 0
	}
	page := store.Page{Limit: store.MaxLimit}
	for {
		ts, next, err := g.st.ListTenants(ctx, store.TenantFilter{Status: store.TenantActive}, page)
		if err != nil {
			return err
		}
		for _, t := range ts {
			active[t.Plan]++
			_, quota, err := g.svc.Limits(ctx, t)
			if err != nil {
				return err
			}
			if quota < 0 {
				continue
			}
			used, err := g.st.UsageTotal(ctx, t.ID, core.MetricAPICalls, month, month.AddDate(0, 1, 0))
			if err != nil {
				return err
			}
			r := 1.0
			if quota > 0 {
				r = used / float64(quota)
			} else if used == 0 {
				r = 0
			}
			ratio[t.Plan] = max(ratio[t.Plan], r)
			if used >= float64(quota) {
				over[t.Plan]++
			}
		}
		if next == "" {
			break
		}
		page.Cursor = next
	}
	for plan, v := range active {
		g.active.WithLabelValues(plan).Set(v)
		g.ratio.WithLabelValues(plan).Set(ratio[plan])
		g.over.WithLabelValues(plan).Set(over[plan])
	}
	return nil
}

func (g *tenantGauges) run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		rctx, cancel := context.WithTimeout(ctx, every)
		if err := g.refresh(rctx); err != nil && ctx.Err() == nil {
			g.log.Warn("tenant gauges not refreshed", slog.String("error", err.Error()))
		}
		cancel()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
