package api

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/fast-saas/fast-saas/internal/store"
)

func int64p(v int64) *int64 { return &v }

func TestTenantRateLimit(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "")
	path := "/api/v1/tenants/" + w.tenantA
	ok, limited := 0, 0
	for i := 0; i < 100; i++ {
		r := httptest.NewRequest(http.MethodGet, path, nil)
		r.Header.Set("Authorization", "Bearer "+w.tokens["key"])
		rec := httptest.NewRecorder()
		w.h.ServeHTTP(rec, r)
		switch rec.Code {
		case http.StatusOK:
			ok++
			if rec.Header().Get("RateLimit") == "" || rec.Header().Get("X-RateLimit-Limit") != "60" {
				t.Fatalf("200 without rate limit headers: %v", rec.Header())
			}
		case http.StatusTooManyRequests:
			limited++
			if rec.Header().Get("Retry-After") == "" || rec.Header().Get("Content-Type") != "application/problem+json" {
				t.Fatalf("429 without Retry-After or problem body: %v", rec.Header())
			}
		default:
			t.Fatalf("request %d: status %d: %s", i, rec.Code, rec.Body)
		}
	}
	// Free plan: 60 per minute, burst 60; the loop takes far less than the
	// second one more token would need.
	if ok < 60 || ok > 61 || limited != 100-ok {
		t.Errorf("got %d allowed and %d limited, want 60 (or 61) allowed and the rest limited", ok, limited)
	}
	// Platform admins are not limited per tenant.
	for i := 0; i < 5; i++ {
		if code, body := do(t, w.h, http.MethodGet, path, w.tokens["platform"], ""); code != http.StatusOK {
			t.Fatalf("platform after tenant limit: %d %v", code, body)
		}
	}
}

func TestQuotaAndMetering(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "")
	ctx := context.Background()
	monthUsage := func() float64 {
		t.Helper()
		used, err := w.st.UsageTotal(ctx, w.tenantA, "api_calls", time.Now().AddDate(0, -1, 0), time.Now().Add(time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		return used
	}
	if _, err := w.st.SetOverrides(ctx, w.tenantA, store.PlanOverrides{APICallsPerMonth: int64p(3), RateLimitPerMinute: int64p(-1)}); err != nil {
		t.Fatal(err)
	}
	members := "/api/v1/tenants/" + w.tenantA + "/members"
	// Tenant calls are metered (key and user alike); platform calls and
	// refused calls are not.
	for _, who := range []string{"key", "member", "platform"} {
		if code, body := do(t, w.h, http.MethodGet, members, w.tokens[who], ""); code != http.StatusOK {
			t.Fatalf("%s: %d %v", who, code, body)
		}
	}
	if code, _ := do(t, w.h, http.MethodGet, members, w.tokens["other"], ""); code != http.StatusNotFound {
		t.Fatalf("other tenant's owner: %d, want 404", code)
	}
	if err := w.buf.Close(ctx); err != nil { // flush the embedded buffer
		t.Fatal(err)
	}
	if got := monthUsage(); got != 2 {
		t.Fatalf("recorded %v api_calls, want 2 (key + member; not platform, not the 404)", got)
	}
	if _, _, err := w.st.InsertUsageBatch(ctx, []store.UsageEvent{{TenantID: w.tenantA, Metric: "api_calls", Quantity: 1, TransactionID: "pre-1", OccurredAt: time.Now()}}); err != nil {
		t.Fatal(err)
	}
	code, body := do(t, w.h, http.MethodGet, members, w.tokens["member"], "")
	if code != http.StatusTooManyRequests || body["code"] != "quota_exceeded" {
		t.Errorf("over quota: got %d %v, want 429 quota_exceeded", code, body)
	}
	code, body = do(t, w.h, http.MethodGet, "/api/v1/tenants/"+w.tenantA+"/usage/limit", w.tokens["platform"], "")
	if code != http.StatusOK || body["status"] != "exceeded" || body["used"] != float64(3) || body["limit"] != float64(3) {
		t.Errorf("usage/limit: got %d %v, want exceeded, 3 of 3 used", code, body)
	}
}

// TestAuthorizationCacheInvalidation: authorization lookups are cached,
// but changes made through the API apply to the very next request.
func TestAuthorizationCacheInvalidation(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "")
	ten := "/api/v1/tenants/" + w.tenantA
	steps := []struct {
		name, method, path, token, body string
		want                            int
	}{
		{"member reads", http.MethodGet, ten, w.tokens["member"], "", http.StatusOK},
		{"member cannot manage keys", http.MethodGet, ten + "/api-keys", w.tokens["member"], "", http.StatusForbidden},
		{"promote to admin", http.MethodPatch, ten + "/members/" + w.users["member"], w.tokens["owner"], `{"role":"admin"}`, http.StatusOK},
		{"admin manages keys", http.MethodGet, ten + "/api-keys", w.tokens["member"], "", http.StatusOK},
		{"remove", http.MethodDelete, ten + "/members/" + w.users["member"], w.tokens["owner"], "", http.StatusNoContent},
		{"removed user sees nothing", http.MethodGet, ten, w.tokens["member"], "", http.StatusNotFound},
		{"suspend", http.MethodPost, ten + "/suspend", w.tokens["platform"], "", http.StatusOK},
		{"suspended tenant refuses owner", http.MethodGet, ten, w.tokens["owner"], "", http.StatusForbidden},
		{"reactivate", http.MethodPost, ten + "/reactivate", w.tokens["platform"], "", http.StatusOK},
		{"owner again", http.MethodGet, ten, w.tokens["owner"], "", http.StatusOK},
	}
	for _, s := range steps {
		if code, body := do(t, w.h, s.method, s.path, s.token, s.body); code != s.want {
			t.Fatalf("%s: got %d %v, want %d", s.name, code, body, s.want)
		}
	}
}

// TestOrganizationToken: a Logto organization token sees only the tenant
// linked to its organization (and only if the user is a member there).
func TestOrganizationToken(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "")
	ctx := context.Background()
	a, err := w.st.GetTenant(ctx, w.tenantA)
	if err != nil {
		t.Fatal(err)
	}
	a.LogtoOrgID = "org-a"
	if _, err := w.st.UpdateTenant(ctx, a); err != nil {
		t.Fatal(err)
	}
	// The owner of A is also a member of B.
	if _, err := w.st.AddMember(ctx, store.Membership{TenantID: w.tenantB, UserID: w.users["owner"], Role: store.RoleMember}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		token, path string
		want        int
		wantItems   int
	}{
		{"user:sub-owner", "/api/v1/tenants", 200, 2},
		{"user:sub-owner@org:org-a", "/api/v1/tenants", 200, 1},
		{"user:sub-owner@org:org-a", "/api/v1/tenants/" + w.tenantA, 200, -1},
		{"user:sub-owner@org:org-a", "/api/v1/tenants/" + w.tenantB, 404, -1},
		{"user:sub-owner", "/api/v1/tenants/" + w.tenantB, 200, -1},
		{"user:sub-other@org:org-a", "/api/v1/tenants", 200, 0},
		{"user:sub-owner@org:org-unknown", "/api/v1/tenants", 200, 0},
	}
	for _, tt := range tests {
		code, body := do(t, w.h, http.MethodGet, tt.path, tt.token, "")
		if code != tt.want {
			t.Errorf("%s %s: %d %v, want %d", tt.token, tt.path, code, body, tt.want)
			continue
		}
		if tt.wantItems >= 0 {
			if items, _ := body["items"].([]any); len(items) != tt.wantItems {
				t.Errorf("%s %s: %d items, want %d", tt.token, tt.path, len(items), tt.wantItems)
			}
		}
	}
}
