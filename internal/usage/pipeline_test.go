package usage_test

import (
	"context"
	"testing"
	"time"

	"github.com/fast-saas/fast-saas/internal/lago"
	"github.com/fast-saas/fast-saas/internal/lago/lagofake"
	"github.com/fast-saas/fast-saas/internal/metrics"
	"github.com/fast-saas/fast-saas/internal/testenv"
	"github.com/fast-saas/fast-saas/internal/usage"
	"github.com/redis/go-redis/v9"
)

func TestStartPipeline(t *testing.T) {
	for _, mode := range []string{"embedded", "redis"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			st := backends()["sqlite"](t, nil)
			ctx := context.Background()
			tn := newTenant(t, st, "acme")
			var client redis.UniversalClient
			prefix := ""
			if mode == "redis" {
				client, prefix = testenv.Redis(t)
			}
			fake := lagofake.New(lagofake.Options{})
			defer fake.Close()
			lc, err := lago.New(lago.Options{BaseURL: fake.URL, APIKey: fake.APIKey()})
			if err != nil {
				t.Fatal(err)
			}
			reg := metrics.NewRegistry()
			p, err := usage.StartPipeline(ctx, usage.PipelineOptions{Store: st, Redis: client, RedisPrefix: prefix, Lago: lc, Registry: reg})
			if err != nil {
				t.Fatal(err)
			}
			evs, ids := events(t, tn.ID, 40, time.Now())
			for _, e := range evs[:20] {
				if err := p.Record(ctx, e); err != nil {
					t.Fatalf("Record: %v", err)
				}
			}
			if err := p.Ingest(ctx, evs[20:]); err != nil {
				t.Fatalf("Ingest: %v", err)
			}
			// The forwarder polls every second; wait (bounded) for Lago to have all.
			deadline := time.Now().Add(30 * time.Second)
			for len(fake.Deliveries()) < len(ids) && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
			}
			if err := p.Close(ctx); err != nil {
				t.Fatalf("Close: %v", err)
			}
			got := fake.Deliveries()
			for _, id := range ids {
				if got[id] != 1 {
					t.Errorf("event %s delivered %d times, want 1", id, got[id])
				}
			}
			for _, s := range [][]string{{"saas_usage_events_total", usage.OutcomeAccepted}, {"saas_usage_pipeline_lag_seconds", usage.StageLago},
				{"lago_forward_failures_total", usage.ReasonServerError}} {
				if _, ok := reg.Value(s[0], s[1:]...); !ok {
					t.Errorf("metric %s not registered", s)
				}
			}
			if v, _ := reg.Value("saas_usage_events_total", usage.OutcomeAccepted); v != 40 {
				t.Errorf("saas_usage_events_total{outcome=accepted} = %v, want 40", v)
			}
		})
	}
}
