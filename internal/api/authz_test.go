package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fast-saas/fast-saas/internal/core"
	"github.com/fast-saas/fast-saas/internal/lago"
	"github.com/fast-saas/fast-saas/internal/store"
	"github.com/fast-saas/fast-saas/internal/store/sqlite"
	"github.com/fast-saas/fast-saas/internal/store/sqlite/sqlitetest"
	"github.com/fast-saas/fast-saas/internal/usage"
	"github.com/fast-saas/fast-saas/middleware/apikey"
	"github.com/fast-saas/fast-saas/middleware/authn"
	"github.com/fast-saas/fast-saas/middleware/ratelimit"
)

// testVerifier verifies API keys with the real middleware/authn over the
// store and accepts "user:<sub>" as a stand-in for a verified Logto JWT
// (JWT verification itself is middleware/authn's, tested there).
type testVerifier struct{ keys *authn.Authenticator }

func (v testVerifier) Authenticate(ctx context.Context, token string) (authn.Principal, error) {
	if sub, ok := strings.CutPrefix(token, "user:"); ok {
		sub, org, _ := strings.Cut(sub, "@org:") // "user:<sub>@org:<id>" carries organization_id
		return authn.Principal{Kind: authn.KindUser, Subject: sub, OrganizationID: org}, nil
	}
	return v.keys.Authenticate(ctx, token)
}

// world is a tenant A with one user per role, a tenant B owned by another
// user, and keys of tenant A in every state.
type world struct {
	h                  http.Handler
	st                 store.Store
	tenantA, tenantB   string
	users              map[string]string // name → user id
	tokens             map[string]string // principal → bearer token ("" = none)
	targetKey, freshEm string
	buf                *usage.MemoryBuffer
	svc                *core.Service
}

// storeCounter counts this month's api_calls from the store (the quota's
// UsageCounter; the server has the same adapter).
type storeCounter struct{ st store.Store }

func (c storeCounter) MonthlyCount(ctx context.Context, tenantID, metric string, monthStart time.Time) (int64, error) {
	n, err := c.st.UsageTotal(ctx, tenantID, metric, monthStart, time.Now().Add(time.Second))
	return int64(n), err
}

func mustKey(t testing.TB, kind apikey.Kind) apikey.Key {
	t.Helper()
	k, err := apikey.Generate(kind)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func newWorld(t testing.TB, missingScope string) *world {
	t.Helper()
	ctx := context.Background()
	st := sqlitetest.Open(t, sqlite.Options{})
	w := &world{st: st, users: map[string]string{}, tokens: map[string]string{}}
	for _, name := range []string{"owner", "admin", "member", "viewer", "other", "target", "fresh"} {
		u, err := st.CreateUser(ctx, store.User{ExternalID: "sub-" + name, Email: name + "@example.com"})
		if err != nil {
			t.Fatal(err)
		}
		w.users[name] = u.ID
	}
	w.freshEm = "fresh@example.com"
	a, err := st.CreateTenant(ctx, store.Tenant{Slug: "tenant-a", Name: "A", Plan: "free"}, w.users["owner"])
	if err != nil {
		t.Fatal(err)
	}
	b, err := st.CreateTenant(ctx, store.Tenant{Slug: "tenant-b", Name: "B", Plan: "free"}, w.users["other"])
	if err != nil {
		t.Fatal(err)
	}
	w.tenantA, w.tenantB = a.ID, b.ID
	for name, role := range map[string]store.Role{"admin": store.RoleAdmin, "member": store.RoleMember, "viewer": store.RoleViewer, "target": store.RoleMember} {
		if _, err := st.AddMember(ctx, store.Membership{TenantID: a.ID, UserID: w.users[name], Role: role}); err != nil {
			t.Fatal(err)
		}
	}
	p := mustKey(t, apikey.KindPlatform)
	if _, err := st.CreatePlatformKey(ctx, store.PlatformKey{Name: "p", Prefix: p.Display, Hash: p.Hash[:]}); err != nil {
		t.Fatal(err)
	}
	w.tokens["platform"] = p.Secret
	var without []string
	for _, s := range core.AllScopes {
		if s != missingScope {
			without = append(without, s)
		}
	}
	past := time.Now().Add(-time.Hour)
	for name, k := range map[string]store.APIKey{
		"key":         {Scopes: core.AllScopes},
		"key-noscope": {Scopes: without},
		"revoked":     {Scopes: core.AllScopes, RevokedAt: &past},
		"expired":     {Scopes: core.AllScopes, ExpiresAt: &past},
		"targetkey":   {Scopes: []string{"read"}},
	} {
		g := mustKey(t, apikey.KindTenant)
		k.TenantID, k.Name, k.Prefix, k.Hash, k.CreatedByLabel = a.ID, name, g.Display, g.Hash[:], "platform"
		rec, err := st.CreateAPIKey(ctx, k)
		if err != nil {
			t.Fatalf("create key %s: %v", name, err)
		}
		w.tokens[name] = g.Secret
		if name == "targetkey" {
			w.targetKey = rec.ID
		}
	}
	for _, name := range []string{"owner", "admin", "member", "viewer", "other"} {
		w.tokens[name] = "user:sub-" + name
	}
	w.tokens["none"] = ""
	keys, err := authn.New(ctx, authn.Options{Keys: &StoreKeys{Store: st}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { keys.Close() })
	svc := &core.Service{Store: st, Plans: testPlans{}, KeyRevoked: func(h []byte) { _ = keys.RevokeHash(ctx, [32]byte(h)) }}
	if svc.LagoWebhooks, err = lago.NewReceiver(lago.ReceiverOptions{HMACKey: []byte("test-hmac-key")}); err != nil {
		t.Fatal(err)
	}
	w.svc = svc
	auth := &Authenticator{Verifier: testVerifier{keys}, Service: svc}
	buf, err := usage.NewMemoryBuffer(usage.MemoryOptions{Writer: st})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = buf.Close(context.Background()) })
	w.buf = buf
	// The full tenant chain runs in every scenario, so authorization is
	// also checked through the chain's up-front path.
	traffic := Traffic{Limiter: ratelimit.NewMemory(ratelimit.MemoryOptions{}), IPLimit: ratelimit.PerMinute(100000),
		Recorder: buf, Counter: storeCounter{st}, QuotaCacheTTL: time.Nanosecond, LimitsTTL: time.Nanosecond}
	h, err := New(Options{Service: svc, Auth: auth, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Traffic: traffic})
	if err != nil {
		t.Fatal(err)
	}
	w.h = h
	return w
}

type testPlans struct{}

func (testPlans) Plans() []core.Plan {
	return []core.Plan{{ID: "free", APICallsPerMonth: 1000, RateLimitPerMinute: 60, Features: map[string]bool{"core": true, "sso": false}},
		{ID: "pro", APICallsPerMonth: 100000, RateLimitPerMinute: 1000, Features: map[string]bool{"core": true, "sso": true}}}
}

func (p testPlans) Plan(id string) (core.Plan, bool) {
	for _, pl := range p.Plans() {
		if pl.ID == id {
			return pl, true
		}
	}
	return core.Plan{}, false
}

// principals, in the column order of the matrix below.
var principals = []string{"platform", "owner", "admin", "member", "viewer", "other", "key", "key-noscope", "revoked", "expired", "none"}

// matrix: operation id → the key scope it needs (for the key-noscope
// column) and the expected status per principal, in the order above.
// Written from spec/api.md's permission table, not from the code.
var matrix = map[string]struct {
	scope string
	want  string
}{
	"getHealth":          {"", "200 200 200 200 200 200 200 200 401 401 200"},
	"getReadiness":       {"", "200 200 200 200 200 200 200 200 401 401 200"},
	"listPlans":          {"", "200 200 200 200 200 200 200 200 401 401 200"},
	"getPlan":            {"", "200 200 200 200 200 200 200 200 401 401 200"},
	"checkPlanFeature":   {"", "200 200 200 200 200 200 200 200 401 401 200"},
	"createTenant":       {"", "201 201 201 201 201 201 403 403 401 401 401"},
	"listTenants":        {"", "200 200 200 200 200 200 200 200 401 401 401"},
	"getTenant":          {"read", "200 200 200 200 200 404 200 403 401 401 401"},
	"updateTenant":       {"write", "200 200 200 403 403 404 200 403 401 401 401"},
	"deleteTenant":       {"write", "204 204 403 403 403 404 403 403 401 401 401"},
	"changeTenantPlan":   {"write", "200 200 403 403 403 404 403 403 401 401 401"},
	"suspendTenant":      {"", "200 403 403 403 403 403 403 403 401 401 401"},
	"reactivateTenant":   {"", "200 403 403 403 403 403 403 403 401 401 401"},
	"getTenantOverrides": {"", "200 403 403 403 403 403 403 403 401 401 401"},
	"setTenantOverrides": {"", "200 403 403 403 403 403 403 403 401 401 401"},
	"getTenantOverview":  {"read", "200 200 200 200 200 404 200 403 401 401 401"},
	"createUser":         {"", "201 403 403 403 403 403 403 403 401 401 401"},
	"listUsers":          {"", "200 200 200 200 200 200 403 403 401 401 401"},
	"getUser":            {"", "200 200 200 200 200 404 403 403 401 401 401"},
	"updateUser":         {"", "200 403 403 200 403 404 403 403 401 401 401"},
	"getMe":              {"", "200 200 200 200 200 200 200 200 401 401 401"},
	"listMembers":        {"read", "200 200 200 200 200 404 200 403 401 401 401"},
	"addMember":          {"write", "201 201 201 403 403 404 201 403 401 401 401"},
	"changeMemberRole":   {"write", "200 200 200 403 403 404 200 403 401 401 401"},
	"removeMember":       {"write", "204 204 204 403 403 404 204 403 401 401 401"},
	"createAPIKey":       {"keys:manage", "201 201 201 403 403 404 201 403 401 401 401"},
	"listAPIKeys":        {"keys:manage", "200 200 200 403 403 404 200 403 401 401 401"},
	"revokeAPIKey":       {"keys:manage", "204 204 204 403 403 404 204 403 401 401 401"},
	"rotateAPIKey":       {"keys:manage", "201 201 201 403 403 404 201 403 401 401 401"},
	"getUsageSummary":    {"read", "200 200 200 200 200 404 200 403 401 401 401"},
	"listUsageEvents":    {"read", "200 200 200 200 200 404 200 403 401 401 401"},
	"ingestUsageEvents":  {"usage:write", "202 202 202 202 403 404 202 403 401 401 401"},
	"checkUsageLimit":    {"read", "200 200 200 200 200 404 200 403 401 401 401"},
	"listAudit":          {"read", "200 200 200 403 403 404 200 403 401 401 401"},
	"getPlatformStats":   {"", "200 403 403 403 403 403 403 403 401 401 401"},
	"listModules":        {"", "200 403 403 403 403 403 403 403 401 401 401"},
	// Anonymous at the HTTP level, authenticated by Lago's signature, which
	// no principal's request carries: 401 for everyone.
	"receiveLagoWebhook": {"", "401 401 401 401 401 401 401 401 401 401 401"},
}

// AI operations: no upstream configured → 503 for whoever may use them
// (platform, members and up, keys with scope ai); viewers-only users 403.
// The health operations answer 200 (reporting "not_configured").
const (
	aiWant       = "503 503 503 503 403 503 503 403 401 401 401"
	aiHealthWant = "200 200 200 200 403 200 200 403 401 401 401"
)

func (w *world) request(op core.Operation) *http.Request {
	path := op.Path
	repl := map[string]string{"{id}": w.tenantA, "{userId}": w.users["target"], "{keyId}": w.targetKey,
		"{plan}": "free", "{feature}": "core", "{name}": "llama3"}
	if strings.HasPrefix(op.Path, "/api/v1/users/") {
		repl["{id}"] = w.users["member"]
	}
	if strings.HasPrefix(op.Path, "/api/v1/ai/") {
		repl["{id}"] = "flow-1"
	}
	for k, v := range repl {
		path = strings.ReplaceAll(path, k, v)
	}
	bodies := map[string]string{
		"createTenant":       `{"slug":"new-tenant","name":"New"}`,
		"updateTenant":       `{"name":"Renamed"}`,
		"changeTenantPlan":   `{"plan":"pro"}`,
		"setTenantOverrides": `{"rate_limit_per_minute":100000,"api_calls_per_month":-1,"features":{"sso":true}}`,
		"createUser":         `{"email":"new@example.com"}`,
		"updateUser":         `{"name":"New Name"}`,
		"addMember":          `{"email":"fresh@example.com","role":"member"}`,
		"changeMemberRole":   `{"role":"viewer"}`,
		"createAPIKey":       `{"name":"ci","scopes":["read"]}`,
		"rotateAPIKey":       `{"grace_seconds":60}`,
		"ingestUsageEvents":  `{"events":[{"transaction_id":"t1","metric":"api_calls","quantity":1}]}`,
		"pullOllamaModel":    `{"model":"llama3"}`,
		"ollamaGenerate":     `{"model":"llama3","prompt":"hi"}`,
		"ollamaChat":         `{"model":"llama3","messages":[{"role":"user","content":"hi"}]}`,
		"runClaudeAgent":     `{"prompt":"hi"}`,
	}
	var body io.Reader
	if b, ok := bodies[op.ID]; ok {
		body = strings.NewReader(b)
	} else if op.Method == http.MethodPost || op.Method == http.MethodPut {
		body = strings.NewReader(`{}`)
	}
	r := httptest.NewRequest(op.Method, path, body)
	if body != nil {
		r.Header.Set("Content-Type", "application/json")
	}
	return r
}

func TestAuthorizationMatrix(t *testing.T) {
	t.Parallel()
	ops := newWorld(t, "").h.(*Handler).Ops
	seen := map[string]bool{}
	for _, op := range ops {
		seen[op.ID] = true
		row, ok := matrix[op.ID]
		want := row.want
		if strings.HasPrefix(op.Path, "/api/v1/ai/") {
			want, row.scope, ok = aiWant, core.ScopeAI, true
			if strings.HasSuffix(op.Path, "/health") {
				want = aiHealthWant
			}
		}
		if !ok {
			t.Errorf("operation %s has no row in the authorization matrix", op.ID)
			continue
		}
		wants := strings.Fields(want)
		if len(wants) != len(principals) {
			t.Fatalf("matrix row %s has %d columns, want %d", op.ID, len(wants), len(principals))
		}
		t.Run(op.ID, func(t *testing.T) {
			t.Parallel()
			for i, p := range principals {
				w := newWorld(t, row.scope)
				r := w.request(op)
				if tok := w.tokens[p]; tok != "" {
					r.Header.Set("Authorization", "Bearer "+tok)
				}
				rec := httptest.NewRecorder()
				w.h.ServeHTTP(rec, r)
				if got := strconv.Itoa(rec.Code); got != wants[i] {
					t.Errorf("%s %s as %s: status %s, want %s; body %s", op.Method, op.Path, p, got, wants[i], rec.Body.String())
				}
				if rec.Code >= 400 && rec.Header().Get("Content-Type") != "application/problem+json" {
					t.Errorf("%s as %s: error content type %q, want application/problem+json", op.ID, p, rec.Header().Get("Content-Type"))
				}
			}
		})
	}
	for id := range matrix {
		if !seen[id] {
			t.Errorf("matrix row %s names no operation", id)
		}
	}
}

// do is a helper for scenario tests.
func do(t *testing.T, h http.Handler, method, path, token, body string) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = bytes.NewBufferString(body)
	}
	r := httptest.NewRequest(method, path, rd)
	if body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	var m map[string]any
	_ = json.Unmarshal(rec.Body.Bytes(), &m)
	return rec.Code, m
}

var _ = fmt.Sprint
