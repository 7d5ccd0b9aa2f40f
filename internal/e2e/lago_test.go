package e2e

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/fast-saas/fast-saas/client"
	"github.com/fast-saas/fast-saas/internal/lago/lagofake"
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
