package metering_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/fast-saas/fast-saas/middleware/metering"
)

// Quota in front of the metering middleware: requests past the monthly
// quota are refused and not recorded.
func Example() {
	// Stand-ins for the usage pipeline and the usage store.
	recorder := metering.RecorderFunc(func(ctx context.Context, e metering.Event) error {
		fmt.Printf("recorded %s x%d for %s\n", e.Metric, e.Quantity, e.TenantID)
		return nil
	})
	counter := metering.UsageCounterFunc(func(ctx context.Context, tenant, metric string, monthStart time.Time) (int64, error) {
		return 999, nil // the tenant already made 999 calls this month
	})
	tenantOf := func(r *http.Request) (string, bool) {
		return "acme", true // with fast-saas: tenancy.FromContext(r.Context())
	}

	h := metering.Quota(metering.QuotaOptions{
		Counter:  counter,
		TenantID: tenantOf,
		Limit:    func(*http.Request) int64 { return 1000 }, // the free plan's api_calls_per_month
	})(metering.Middleware(metering.Options{
		Recorder: recorder,
		TenantID: tenantOf,
	})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})))

	for range 2 {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/api/v1/things", nil))
		fmt.Println(w.Code)
	}
	// Output:
	// recorded api_calls x1 for acme
	// 200
	// 429
}
