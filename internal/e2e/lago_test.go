package e2e

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/fast-saas/fast-saas/client"
	"github.com/fast-saas/fast-saas/internal/lago/lagofake"
	"github.com/fast-saas/fast-saas/internal/testenv"
)

// TestLagoSync: creating a tenant makes it a Lago customer with a
// subscription (plan code = plan id), a plan change moves the
// subscription, ingested usage reaches Lago — through the outbox, so a
// Lago outage only delays it.
func TestLagoSync(t *testing.T) {
	t.Parallel()
	fake := lagofake.New(lagofake.Options{})
	t.Cleanup(fake.Close)
	fake.SetMode(lagofake.Unavailable) // Lago is down when the tenant is created
	s := start(t, "FASTSAAS_LAGO_API_URL="+fake.URL, "FASTSAAS_LAGO_API_KEY="+fake.APIKey(), "DATABASE_URL=", "REDIS_URL=")
	ctx := context.Background()
	admin := client.New(s.base, s.platformKey)
	tenant, err := admin.CreateTenant(ctx, client.CreateTenant{Slug: "billed", Name: "Billed Inc", Plan: "starter"})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := fake.Customer(tenant.ID); ok {
		t.Fatal("customer reached a Lago that is down")
	}
	q := 3.0
	if _, err := admin.IngestUsage(ctx, tenant.ID, []client.UsageEvent{{TransactionID: "bill-1", Metric: "api_calls", Quantity: &q}}); err != nil {
		t.Fatal(err)
	}
	fake.SetMode(lagofake.Up)
	eventually(t, "customer and starter subscription in Lago", func() bool {
		sub, ok := fake.Subscription(tenant.ID)
		_, cust := fake.Customer(tenant.ID)
		return ok && cust && sub.PlanCode == "starter" && sub.ExternalCustomerID == tenant.ID
	})
	eventually(t, "usage event in Lago", func() bool { return len(fake.Events()) >= 1 })
	if _, err := admin.ChangePlan(ctx, tenant.ID, "pro"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "subscription moved to pro", func() bool {
		sub, ok := fake.Subscription(tenant.ID)
		return ok && sub.PlanCode == "pro"
	})
	if resp, err := http.Get(s.base + "/health/ready"); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("ready: %v %v", resp, err)
	}
}

// TestMeteredCallsBilledOnce: API calls made concurrently with a tenant key,
// on Postgres + Redis, are counted once in the quota and billed once in
// Lago, however the usage pipeline merged their events on the way (one
// Lago event per route, status and second carries a count of calls).
func TestMeteredCallsBilledOnce(t *testing.T) {
	t.Parallel()
	fake := lagofake.New(lagofake.Options{})
	t.Cleanup(fake.Close)
	pg := testenv.Postgres(t)
	_, prefix := testenv.Redis(t)
	s := start(t, "FASTSAAS_LAGO_API_URL="+fake.URL, "FASTSAAS_LAGO_API_KEY="+fake.APIKey(), "FASTSAAS_IP_RATE_LIMIT=-1",
		"DATABASE_URL="+pg, "REDIS_URL="+testenv.RedisURL(t), "FASTSAAS_REDIS_PREFIX="+prefix)
	ctx := context.Background()
	admin := client.New(s.base, s.platformKey)
	tenant, keyed := tenantWithKey(t, admin, "metered", "pro")
	const workers, each = 16, 40
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for range workers {
		wg.Go(func() {
			for range each {
				if _, err := keyed.GetTenant(ctx, tenant.ID); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	billed := func() (calls float64, events int) {
		for _, e := range fake.Events() {
			if e.Code == "api_calls" && e.ExternalSubscriptionID == tenant.ID {
				n, _ := e.Properties["count"].(float64)
				calls += n
				events++
			}
		}
		return calls, events
	}
	eventually(t, "every call billed in Lago", func() bool { c, _ := billed(); return c >= workers*each })
	q, err := admin.UsageLimit(ctx, tenant.ID)
	if err != nil {
		t.Fatal(err)
	}
	calls, events := billed()
	if calls != workers*each || q.Used != workers*each {
		t.Errorf("%d calls: billed %v in Lago (%d events), quota counts %v", workers*each, calls, events, q.Used)
	}
	t.Logf("%d calls reached Lago as %d events", workers*each, events)
}

func eventually(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 60 s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
