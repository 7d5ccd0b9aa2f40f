package mcpserver

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/fast-saas/fast-saas/client"
	"github.com/fast-saas/fast-saas/internal/core"
	"github.com/fast-saas/fast-saas/internal/store"
	"github.com/fast-saas/fast-saas/internal/store/sqlite"
	"github.com/fast-saas/fast-saas/internal/store/sqlite/sqlitetest"
	"github.com/fast-saas/fast-saas/middleware/apikey"
)

type testPlans struct{}

func (testPlans) Plans() []core.Plan {
	return []core.Plan{{ID: "free", Name: "Free", APICallsPerMonth: 1000, RateLimitPerMinute: 60, Features: map[string]bool{"core": true, "sso": false}},
		{ID: "pro", Name: "Pro", APICallsPerMonth: 100000, RateLimitPerMinute: 1000, Features: map[string]bool{"core": true, "sso": true}}}
}

func (p testPlans) Plan(id string) (core.Plan, bool) {
	for _, pl := range p.Plans() {
		if pl.ID == id {
			return pl, true
		}
	}
	return core.Plan{}, false
}

// world is a seeded store: tenant A (owner, a member to act on, an API
// key to act on) and the service over it.
type world struct {
	svc              *core.Service
	st               store.Store
	tenantA, tenantB string
	owner, target    string
	targetKey        string
	viewerKey        store.APIKey
	// secrets of the keys, for tests over HTTP
	platformSecret, viewerSecret string
}

func newWorld(t testing.TB) *world {
	t.Helper()
	ctx := context.Background()
	st := sqlitetest.Open(t, sqlite.Options{})
	w := &world{st: st, svc: &core.Service{Store: st, Plans: testPlans{}}}
	users := map[string]string{}
	for _, name := range []string{"owner", "target", "other"} {
		u, err := st.CreateUser(ctx, store.User{ExternalID: "sub-" + name, Email: name + "@example.com"})
		if err != nil {
			t.Fatal(err)
		}
		users[name] = u.ID
	}
	w.owner, w.target = users["owner"], users["target"]
	a, err := st.CreateTenant(ctx, store.Tenant{Slug: "tenant-a", Name: "A", Plan: "free"}, users["owner"])
	if err != nil {
		t.Fatal(err)
	}
	b, err := st.CreateTenant(ctx, store.Tenant{Slug: "tenant-b", Name: "B", Plan: "free"}, users["other"])
	if err != nil {
		t.Fatal(err)
	}
	w.tenantA, w.tenantB = a.ID, b.ID
	if _, err := st.AddMember(ctx, store.Membership{TenantID: a.ID, UserID: users["target"], Role: store.RoleMember}); err != nil {
		t.Fatal(err)
	}
	for name, scopes := range map[string][]string{"target": {"read"}, "viewer": {core.ScopeRead}} {
		g, err := apikey.Generate(apikey.KindTenant)
		if err != nil {
			t.Fatal(err)
		}
		rec, err := st.CreateAPIKey(ctx, store.APIKey{TenantID: a.ID, Name: name, Prefix: g.Display, Hash: g.Hash[:], Scopes: scopes, CreatedByLabel: "platform"})
		if err != nil {
			t.Fatal(err)
		}
		switch name {
		case "target":
			w.targetKey = rec.ID
		case "viewer":
			w.viewerKey, w.viewerSecret = rec, g.Secret
		}
	}
	p, err := apikey.Generate(apikey.KindPlatform)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.CreatePlatformKey(ctx, store.PlatformKey{Name: "p", Prefix: p.Display, Hash: p.Hash[:]}); err != nil {
		t.Fatal(err)
	}
	w.platformSecret = p.Secret
	return w
}

var platform = core.Caller{Kind: core.PlatformCaller, KeyID: "test", Label: "platform:test"}

// connect runs srv over the SDK's in-memory transport and returns a
// client session; the server side runs as caller.
func connect(t *testing.T, srv *mcp.Server, caller core.Caller) *mcp.ClientSession {
	t.Helper()
	ctx := context.Background()
	st, ct := mcp.NewInMemoryTransports()
	ss, err := srv.Connect(core.WithCaller(ctx, caller), st, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ss.Close() })
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "test"}, nil).Connect(ctx, ct, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cs.Close() })
	return cs
}

// args are the arguments each tool is called with in the seeded world;
// nil for tools whose required arguments the schema-driven example fills
// (a tenant id, say), so a new operation is called without a new entry.
func (w *world) args(tool string) map[string]any {
	with := func(extra map[string]any) map[string]any {
		out := map[string]any{"id": w.tenantA}
		for k, v := range extra {
			out[k] = v
		}
		return out
	}
	switch tool {
	case "get_plan":
		return map[string]any{"plan": "pro"}
	case "check_plan_feature":
		return map[string]any{"plan": "pro", "feature": "sso"}
	case "create_tenant":
		return map[string]any{"slug": "made-by-mcp", "name": "Made by MCP"}
	case "list_tenants", "list_plans", "get_me", "list_users", "get_platform_stats", "list_modules":
		return map[string]any{}
	case "update_tenant":
		return with(map[string]any{"name": "Renamed"})
	case "change_tenant_plan":
		return with(map[string]any{"plan": "pro"})
	case "set_tenant_overrides":
		return with(map[string]any{"rate_limit_per_minute": 100, "features": map[string]any{"sso": true}})
	case "create_user":
		return map[string]any{"email": "new@example.com", "name": "New"}
	case "get_user":
		return map[string]any{"id": w.target}
	case "update_user":
		return map[string]any{"id": w.target, "name": "Target Person"}
	case "add_member":
		return with(map[string]any{"email": "other@example.com", "role": "viewer"})
	case "change_member_role":
		return with(map[string]any{"userId": w.target, "role": "viewer"})
	case "remove_member":
		return with(map[string]any{"userId": w.target})
	case "create_api_key":
		return with(map[string]any{"name": "ci", "scopes": []any{"read"}})
	case "revoke_api_key":
		return with(map[string]any{"keyId": w.targetKey})
	case "rotate_api_key":
		return with(map[string]any{"keyId": w.viewerKey.ID, "grace_seconds": 60})
	case "ingest_usage_events":
		return with(map[string]any{"events": []any{map[string]any{"transaction_id": "t1", "metric": "api_calls", "quantity": 2}}})
	case "get_usage_summary":
		return with(map[string]any{"period": "7d"})
	}
	return nil
}

// order runs mutations that destroy what other calls need last.
var last = []string{"rotate_api_key", "revoke_api_key", "remove_member", "suspend_tenant", "reactivate_tenant", "delete_tenant"}

func TestEveryOperationIsAToolAndBack(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ops := w.svc.Operations()
	srv, err := New(ops, InProcess{}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	cs := connect(t, srv, platform)
	res, err := cs.ListTools(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	tools := map[string]*mcp.Tool{}
	for _, tl := range res.Tools {
		tools[tl.Name] = tl
	}
	opByTool := map[string]core.Operation{}
	for _, op := range ops {
		name := ToolName(op.ID)
		opByTool[name] = op
		tl, ok := tools[name]
		if !ok {
			t.Errorf("operation %s has no tool %s", op.ID, name)
			continue
		}
		if got, want := tl.Annotations.ReadOnlyHint, op.Method == "GET"; got != want {
			t.Errorf("tool %s: readOnlyHint %v, want %v", name, got, want)
		}
		for _, want := range []string{op.Summary, op.Access.Describe(), "untrusted content"} {
			if !strings.Contains(tl.Description, want) {
				t.Errorf("tool %s: description %q lacks %q", name, tl.Description, want)
			}
		}
	}
	for name := range tools {
		if _, ok := opByTool[name]; !ok {
			t.Errorf("tool %s has no operation", name)
		}
	}
	if len(tools) != len(ops) {
		t.Errorf("%d tools for %d operations", len(tools), len(ops))
	}
}

// TestCallEveryTool calls every tool once, as a platform admin, through
// both backends: in-process and remote (REST over HTTP through package
// client), which must answer alike. The remote one is served as `fast-saas
// mcp` serves it, from the recorded tool table (NewRecorded).
func TestCallEveryTool(t *testing.T) {
	t.Parallel()
	for _, mode := range backendModes {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t)
			callEveryTool(t, w, w.backend(t, mode))
		})
	}
}

// backendModes are the backends a tool call can run through: the
// operation in process, or REST over HTTP through package client.
var backendModes = []string{"in-process", "remote"}

// backend returns the backend of mode over w, acting as a platform admin.
func (w *world) backend(t *testing.T, mode string) Backend {
	if mode == "remote" {
		return Remote{Client: client.New(serveAPI(t, w, HandlerOptions{}), w.platformSecret)}
	}
	return InProcess{}
}

func callEveryTool(t *testing.T, w *world, b Backend) {
	ops := w.svc.Operations()
	srv, err := New(ops, b, Options{})
	if _, remote := b.(Remote); remote {
		srv, err = NewRecorded(w.svc.Operations, b, Options{})
	}
	if err != nil {
		t.Fatal(err)
	}
	cs := connect(t, srv, platform)
	names := make([]string, 0, len(ops))
	isAI := map[string]bool{}
	args := map[string]map[string]any{}
	built, reg, err := build(ops, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, bt := range built {
		name := bt.Name
		names = append(names, name)
		isAI[name] = bt.Op.Group == "ai"
		args[name] = w.args(name)
		switch {
		case isAI[name]:
			// AI tools: whatever their schema asks for, filled generically.
			args[name] = example(reg, bt.shape.Schema, map[string]any{"id": "flow-1", "name": "llama3", "model": "llama3"}).(map[string]any)
		case args[name] == nil:
			args[name] = example(reg, bt.shape.Schema, map[string]any{"id": w.tenantA, "userId": w.target, "keyId": w.targetKey, "plan": "pro"}).(map[string]any)
		}
	}
	slices.SortStableFunc(names, func(a, b string) int {
		return slices.Index(last, a) - slices.Index(last, b)
	})
	ctx := context.Background()
	for _, name := range names {
		res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: name, Arguments: args[name]})
		if err != nil {
			t.Errorf("%s: protocol error %v", name, err)
			continue
		}
		text := res.Content[0].(*mcp.TextContent).Text
		var structured map[string]any
		b, _ := json.Marshal(res.StructuredContent)
		if err := json.Unmarshal(b, &structured); err != nil {
			t.Errorf("%s: structured content %s is not an object: %v", name, b, err)
			continue
		}
		if isAI[name] && res.IsError {
			// No AI upstream is configured: the proxies fail, visibly, with
			// 503 (health tools answer "not_configured" instead).
			e, _ := structured["error"].(map[string]any)
			if e["status"] != float64(503) || e["code"] != core.CodeUnavailable {
				t.Errorf("%s(%v): structured %s; want success or isError with 503 unavailable", name, args[name], b)
			}
			continue
		}
		if res.IsError {
			t.Errorf("%s(%v): isError: %s", name, args[name], text)
			continue
		}
		var fromText map[string]any
		if err := json.Unmarshal([]byte(text), &fromText); err != nil || !cmp.Equal(fromText, structured) {
			t.Errorf("%s: text %s does not carry the structured content %s (%v)", name, text, b, err)
		}
		check := map[string]func() bool{
			"get_tenant":         func() bool { return structured["id"] == w.tenantA },
			"create_tenant":      func() bool { return structured["slug"] == "made-by-mcp" },
			"update_tenant":      func() bool { return structured["name"] == "Renamed" },
			"change_tenant_plan": func() bool { return structured["plan"] == "pro" },
			"suspend_tenant":     func() bool { return structured["status"] == "suspended" },
			"reactivate_tenant":  func() bool { return structured["status"] == "active" },
			"delete_tenant":      func() bool { return structured["status"] == float64(204) },
			"check_plan_feature": func() bool { return structured["allowed"] == true },
			"create_api_key":     func() bool { k, _ := structured["key"].(string); return strings.HasPrefix(k, "fsk_") },
			"rotate_api_key":     func() bool { k, _ := structured["key"].(string); return strings.HasPrefix(k, "fsk_") },
			"ingest_usage_events": func() bool {
				return structured["accepted"] == float64(1)
			},
			"list_tenants":  func() bool { items, _ := structured["items"].([]any); return len(items) >= 2 },
			"list_plans":    func() bool { items, _ := structured["items"].([]any); return len(items) == 2 },
			"get_health":    func() bool { return structured["status"] == "ok" },
			"get_readiness": func() bool { _, ok := structured["checks"].(map[string]any); return structured["status"] == "ok" && ok },
		}
		if c, ok := check[name]; ok && !c() {
			t.Errorf("%s: unexpected result %s", name, b)
		}
	}
}

// TestProblemsNameArguments: whichever check refuses an input (the tool's
// schema, the service, the REST API behind a remote backend), the
// problem's field is the tool argument at fault, not the REST location.
func TestProblemsNameArguments(t *testing.T) {
	t.Parallel()
	for _, mode := range backendModes {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t)
			srv, err := New(w.svc.Operations(), w.backend(t, mode), Options{})
			if err != nil {
				t.Fatal(err)
			}
			cs := connect(t, srv, platform)
			for _, tc := range []struct {
				tool  string
				args  map[string]any
				field string
			}{
				{"create_tenant", map[string]any{"slug": "Not A Slug", "name": "x"}, "slug"},
				{"create_tenant", map[string]any{"slug": "ok"}, "name"},
				{"create_tenant", map[string]any{"slug": "ok", "name": "x", "plan": "platinum"}, "plan"},
				{"change_tenant_plan", map[string]any{"id": w.tenantA, "plan": "platinum"}, "plan"},
				{"set_tenant_overrides", map[string]any{"id": w.tenantA, "features": map[string]any{"ssoo": true}}, "features"},
				{"get_usage_summary", map[string]any{"id": w.tenantA, "period": "7d", "from": "2026-01-01T00:00:00Z", "to": "2026-01-02T00:00:00Z"}, "period"},
				{"list_usage_events", map[string]any{"id": w.tenantA, "from": "2026-02-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"}, "from"},
				{"ingest_usage_events", map[string]any{"id": w.tenantA, "events": []any{map[string]any{"transaction_id": "t", "metric": "m", "timestamp": "1900-01-01T00:00:00Z"}}}, "events[0].timestamp"},
				{"list_tenants", map[string]any{"cursor": "!!garbage"}, "cursor"},
			} {
				res, out := call(t, cs, tc.tool, tc.args)
				e, _ := out["error"].(map[string]any)
				if !res.IsError || e["field"] != tc.field {
					t.Errorf("%s(%v): isError %v, error %v; want field %q", tc.tool, tc.args, res.IsError, e, tc.field)
				}
			}
		})
	}
}
