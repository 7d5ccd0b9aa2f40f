package tenancy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fast-saas/fast-saas/middleware/authn"
	"github.com/fast-saas/fast-saas/middleware/entitlements"
)

func TestRoleAtLeast(t *testing.T) {
	t.Parallel()
	roles := []Role{RoleViewer, RoleMember, RoleAdmin, RoleOwner}
	for i, r := range roles {
		for j, min := range roles {
			if got, want := r.AtLeast(min), i >= j; got != want {
				t.Errorf("%s.AtLeast(%s) = %v, want %v", r, min, got, want)
			}
		}
		if r.AtLeast("root") || Role("root").AtLeast(r) || Role("").AtLeast(r) {
			t.Errorf("unknown roles must compare false against %s", r)
		}
	}
	if _, err := ParseRole("superuser"); err == nil {
		t.Error("ParseRole(superuser) succeeded")
	}
	if r, err := ParseRole("admin"); err != nil || r != RoleAdmin {
		t.Errorf("ParseRole(admin) = %v, %v", r, err)
	}
}

// fakeResolver follows the spec: members see their tenants, tenant keys
// their own tenant, platform admins every tenant.
type fakeResolver struct {
	mu      sync.Mutex
	tenants map[string]Tenant
	members map[string]map[string]Role // tenant → user → role
	err     error
	calls   atomic.Int64
	// lie makes the resolver return this tenant whatever was asked (to
	// test the middleware's own tenant-key wall).
	lie *Tenant
}

func newResolver() *fakeResolver {
	return &fakeResolver{
		tenants: map[string]Tenant{
			"t1": {ID: "t1", Slug: "acme", Plan: "pro", Status: StatusActive},
			"t2": {ID: "t2", Slug: "globex", Plan: "free", Status: StatusActive},
			"t3": {ID: "t3", Slug: "initech", Plan: "starter", Status: StatusSuspended},
			"t4": {ID: "t4", Slug: "umbrella", Plan: "starter", Status: StatusCancelled},
			"t5": {ID: "t5", Slug: "legacy", Plan: "gold-2019", Status: StatusActive},
			"t6": {ID: "t6", Slug: "vip", Plan: "free", Status: StatusActive,
				Overrides: entitlements.Overrides{Features: map[string]bool{"sso": true}}},
		},
		members: map[string]map[string]Role{
			"t1": {"alice": RoleMember},
			"t3": {"alice": RoleOwner},
			"t4": {"alice": RoleOwner},
			"t5": {"alice": RoleViewer},
			"t6": {"alice": RoleAdmin, "mallory": "superuser"},
		},
	}
}

func (f *fakeResolver) Resolve(_ context.Context, p authn.Principal, ref string) (Tenant, Role, error) {
	f.calls.Add(1)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return Tenant{}, "", f.err
	}
	if f.lie != nil {
		return *f.lie, RoleMember, nil
	}
	t, ok := f.tenants[ref]
	if !ok {
		return Tenant{}, "", ErrNotFound
	}
	switch p.Kind {
	case authn.KindPlatform:
		return t, "", nil
	case authn.KindTenantKey:
		if p.TenantID != t.ID {
			return Tenant{}, "", ErrNotFound
		}
		return t, RoleMember, nil
	default:
		role, ok := f.members[t.ID][p.Subject]
		if !ok {
			return Tenant{}, "", ErrNotFound
		}
		return t, role, nil
	}
}

var (
	alice   = authn.Principal{Kind: authn.KindUser, Subject: "alice"}
	mallory = authn.Principal{Kind: authn.KindUser, Subject: "mallory"}
	bob     = authn.Principal{Kind: authn.KindUser, Subject: "bob"}
	admin   = authn.Principal{Kind: authn.KindPlatform, Subject: "pk", KeyID: "pk"}
	t1Key   = authn.Principal{Kind: authn.KindTenantKey, Subject: "k1", KeyID: "k1", TenantID: "t1"}
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// server mounts the middleware on a mux with a GET /tenants/{id} route and
// a GET /me route (no path id).
func server(t *testing.T, m *Middleware) http.Handler {
	t.Helper()
	mux := http.NewServeMux()
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		info, ok := FromContext(r.Context())
		if !ok {
			t.Error("handler reached without tenant info")
		}
		fmt.Fprintf(w, "%s %s sso=%v", info.Tenant.ID, info.Role, entitlements.Allowed(r.Context(), "sso"))
	}))
	mux.Handle("GET /tenants/{id}", h)
	mux.Handle("GET /me", h)
	return mux
}

func do(h http.Handler, path string, p *authn.Principal) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodGet, path, nil)
	if p != nil {
		r = r.WithContext(authn.NewContext(r.Context(), *p))
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	return rec
}

func TestMiddleware(t *testing.T) {
	t.Parallel()
	lying := Tenant{ID: "t2", Plan: "free", Status: StatusActive}
	tests := []struct {
		name       string
		p          *authn.Principal
		path       string
		lie        *Tenant
		resolveErr error
		wantStatus int
		wantBody   string // body for 200, problem code otherwise
	}{
		{"member sees own tenant", &alice, "/tenants/t1", nil, nil, 200, "t1 member sso=true"},
		{"outsider gets 404", &bob, "/tenants/t1", nil, nil, 404, "not_found"},
		{"missing tenant is 404 too", &alice, "/tenants/nope", nil, nil, 404, "not_found"},
		{"tenant key, own tenant", &t1Key, "/tenants/t1", nil, nil, 200, "t1 member sso=true"},
		{"tenant key, own tenant by default ref", &t1Key, "/me", nil, nil, 200, "t1 member sso=true"},
		{"tenant key, other tenant", &t1Key, "/tenants/t2", nil, nil, 404, "not_found"},
		{"tenant key, resolver wrongly returns another tenant", &t1Key, "/tenants/t1", &lying, nil, 404, "not_found"},
		{"platform sees any tenant as owner", &admin, "/tenants/t2", nil, nil, 200, "t2 owner sso=false"},
		{"suspended tenant refused", &alice, "/tenants/t3", nil, nil, 403, "tenant_suspended"},
		{"cancelled tenant refused", &alice, "/tenants/t4", nil, nil, 403, "tenant_suspended"},
		{"platform may act on a suspended tenant", &admin, "/tenants/t3", nil, nil, 200, "t3 owner sso=false"},
		{"unknown plan: no features, still served", &alice, "/tenants/t5", nil, nil, 200, "t5 viewer sso=false"},
		{"override grants sso", &alice, "/tenants/t6", nil, nil, 200, "t6 admin sso=true"},
		{"invalid role from resolver is 404", &mallory, "/tenants/t6", nil, nil, 404, "not_found"},
		{"user without ref", &alice, "/me", nil, nil, 404, "not_found"},
		{"resolver down is 503", &alice, "/tenants/t1", nil, errors.New("db down"), 503, "unavailable"},
		{"unauthenticated is 401", nil, "/tenants/t1", nil, nil, 401, "unauthorized"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res := newResolver()
			res.lie, res.err = tt.lie, tt.resolveErr
			m, err := New(Options{Resolver: res})
			if err != nil {
				t.Fatal(err)
			}
			rec := do(server(t, m), tt.path, tt.p)
			if rec.Code != tt.wantStatus {
				t.Fatalf("status = %d, want %d; body %s", rec.Code, tt.wantStatus, rec.Body)
			}
			got := rec.Body.String()
			if tt.wantStatus != 200 {
				var body struct{ Code string }
				if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
					t.Fatalf("problem body: %v", err)
				}
				got = body.Code
			}
			if got != tt.wantBody {
				t.Errorf("got %q, want %q", got, tt.wantBody)
			}
		})
	}
}

func TestCache(t *testing.T) {
	t.Parallel()
	res := newResolver()
	c := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	m, err := New(Options{Resolver: res, Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	h := server(t, m)
	steps := []struct {
		name      string
		do        func()
		p         *authn.Principal
		path      string
		wantCalls int64
		wantCode  int
	}{
		{"first request resolves", nil, &alice, "/tenants/t1", 1, 200},
		{"second is cached", nil, &alice, "/tenants/t1", 1, 200},
		{"another principal is not served from alice's entry", nil, &bob, "/tenants/t1", 2, 404},
		{"404s are not cached", nil, &bob, "/tenants/t1", 3, 404},
		{"after the TTL it resolves again", func() { c.Advance(6 * time.Second) }, &alice, "/tenants/t1", 4, 200},
		{"suspend + Forget takes effect at once", func() {
			res.mu.Lock()
			t1 := res.tenants["t1"]
			t1.Status = StatusSuspended
			res.tenants["t1"] = t1
			res.mu.Unlock()
			m.Forget("t1")
		}, &alice, "/tenants/t1", 5, 403},
		{"suspended status is served from cache too", nil, &alice, "/tenants/t1", 5, 403},
	}
	for _, s := range steps {
		if s.do != nil {
			s.do()
		}
		rec := do(h, s.path, s.p)
		if rec.Code != s.wantCode {
			t.Fatalf("%s: status = %d, want %d", s.name, rec.Code, s.wantCode)
		}
		if got := res.calls.Load(); got != s.wantCalls {
			t.Fatalf("%s: resolver calls = %d, want %d", s.name, got, s.wantCalls)
		}
	}
}

func TestCacheBoundedAndDisabled(t *testing.T) {
	t.Parallel()
	res := newResolver()
	for i := range 100 {
		id := fmt.Sprintf("x%d", i)
		res.tenants[id] = Tenant{ID: id, Plan: "free", Status: StatusActive}
	}
	m, err := New(Options{Resolver: res, CacheSize: 16})
	if err != nil {
		t.Fatal(err)
	}
	h := server(t, m)
	for i := range 100 {
		if rec := do(h, fmt.Sprintf("/tenants/x%d", i), &admin); rec.Code != 200 {
			t.Fatalf("status %d", rec.Code)
		}
	}
	if n := m.cache.len(); n > 16 {
		t.Errorf("cache holds %d entries, want ≤ 16", n)
	}

	res2 := newResolver()
	m2, err := New(Options{Resolver: res2, CacheTTL: -1})
	if err != nil {
		t.Fatal(err)
	}
	h2 := server(t, m2)
	for range 3 {
		do(h2, "/tenants/t1", &alice)
	}
	if got := res2.calls.Load(); got != 3 {
		t.Errorf("resolver calls with cache disabled = %d, want 3", got)
	}
}

func TestCustomTenantRef(t *testing.T) {
	t.Parallel()
	m, err := New(Options{Resolver: newResolver(), TenantRef: func(r *http.Request, _ authn.Principal) string {
		return r.Header.Get("X-Tenant")
	}})
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest(http.MethodGet, "/anything", nil)
	r.Header.Set("X-Tenant", "t1")
	r = r.WithContext(authn.NewContext(r.Context(), alice))
	rec := httptest.NewRecorder()
	m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		info, _ := FromContext(r.Context())
		fmt.Fprint(w, info.Tenant.Slug)
	})).ServeHTTP(rec, r)
	if rec.Code != 200 || rec.Body.String() != "acme" {
		t.Errorf("got %d %q, want 200 acme", rec.Code, rec.Body)
	}
}

func TestNewRequiresResolver(t *testing.T) {
	t.Parallel()
	if _, err := New(Options{}); err == nil {
		t.Error("New without a resolver succeeded")
	}
}

// staticResolver: every principal is a member of tenant "acme".
type staticResolver struct{}

func (staticResolver) Resolve(_ context.Context, p authn.Principal, ref string) (Tenant, Role, error) {
	if ref != "acme" {
		return Tenant{}, "", ErrNotFound
	}
	return Tenant{ID: "01J0ACME", Slug: "acme", Plan: "starter", Status: StatusActive}, RoleAdmin, nil
}

func ExampleMiddleware_Handler() {
	tenants, err := New(Options{Resolver: staticResolver{}})
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /tenants/{id}/settings", tenants.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		info, _ := FromContext(r.Context())
		if !info.Role.AtLeast(RoleAdmin) {
			http.Error(w, "forbidden", http.StatusForbidden)
			return
		}
		fmt.Fprintf(w, "%s (%s plan, api_access=%v)", info.Tenant.Slug, info.Tenant.Plan,
			entitlements.Allowed(r.Context(), entitlements.FeatureAPIAccess))
	})))

	for _, path := range []string{"/tenants/acme/settings", "/tenants/other/settings"} {
		r := httptest.NewRequest("GET", path, nil)
		// authn's middleware does this in a real server.
		r = r.WithContext(authn.NewContext(r.Context(), authn.Principal{Kind: authn.KindUser, Subject: "u1"}))
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, r)
		fmt.Println(rec.Code, rec.Body.String())
	}
	// Output:
	// 200 acme (starter plan, api_access=true)
	// 404 {"code":"not_found","detail":"tenant not found","status":404,"title":"Not Found","type":"https://fast-saas.dev/problems/not_found"}
}

func BenchmarkHandlerCacheHit(b *testing.B) {
	m, err := New(Options{Resolver: newResolver()})
	if err != nil {
		b.Fatal(err)
	}
	h := m.Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.SetPathValue("id", "t1")
	r = r.WithContext(authn.NewContext(r.Context(), alice))
	w := httptest.NewRecorder()
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(w, r)
	}
	if w.Code != 200 {
		b.Fatalf("status %d", w.Code)
	}
}
