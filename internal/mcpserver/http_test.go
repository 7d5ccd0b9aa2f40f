package mcpserver

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/fast-saas/fast-saas/client"
	"github.com/fast-saas/fast-saas/internal/api"
	"github.com/fast-saas/fast-saas/internal/core"
	"github.com/fast-saas/fast-saas/internal/store"
	"github.com/fast-saas/fast-saas/internal/usage"
	"github.com/fast-saas/fast-saas/middleware/authn"
	"github.com/fast-saas/fast-saas/middleware/ratelimit"
)

// serveAPI runs the real REST chain over w's store with the MCP endpoint
// mounted at /mcp, as the server does, and returns its base URL.
func serveAPI(t *testing.T, w *world, o HandlerOptions) string {
	t.Helper()
	return serveAPIWith(t, w, o, api.Traffic{}, false)
}

// serveAPIWith is serveAPI with the REST chain's traffic controls and,
// when loopback is set, tool calls dispatched through that chain.
func serveAPIWith(t *testing.T, w *world, o HandlerOptions, traffic api.Traffic, loopback bool) string {
	t.Helper()
	srv := httptest.NewServer(apiHandlerWith(t, w, o, traffic, loopback))
	t.Cleanup(srv.Close)
	return srv.URL
}

// apiHandler is the REST chain over w's store with /mcp mounted.
func apiHandler(t testing.TB, w *world, o HandlerOptions) http.Handler {
	return apiHandlerWith(t, w, o, api.Traffic{}, false)
}

func apiHandlerWith(t testing.TB, w *world, o HandlerOptions, traffic api.Traffic, loopback bool) http.Handler {
	t.Helper()
	var apiHandler http.Handler
	if loopback {
		o.Via = http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) { apiHandler.ServeHTTP(rw, r) })
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	keys, err := authn.New(context.Background(), authn.Options{Keys: &api.StoreKeys{Store: w.st}, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { keys.Close() })
	mh, err := NewHandler(w.svc, o)
	if err != nil {
		t.Fatal(err)
	}
	h, err := api.New(api.Options{Service: w.svc, Auth: &api.Authenticator{Verifier: keys, Service: w.svc}, Logger: logger,
		Traffic: traffic, Mounts: map[string]http.Handler{"/mcp": mh}})
	if err != nil {
		t.Fatal(err)
	}
	apiHandler = h
	return h
}

// bearer adds a bearer token to every request.
type bearer struct {
	token string
	next  http.RoundTripper
}

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	if b.token != "" {
		r.Header.Set("Authorization", "Bearer "+b.token)
	}
	return b.next.RoundTrip(r)
}

func connectHTTP(t *testing.T, endpoint, token string) (*mcp.ClientSession, error) {
	t.Helper()
	tr := &mcp.StreamableClientTransport{Endpoint: endpoint, MaxRetries: -1,
		HTTPClient: &http.Client{Transport: bearer{token, http.DefaultTransport}}}
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "test"}, nil).Connect(context.Background(), tr, nil)
	if err == nil {
		t.Cleanup(func() { cs.Close() })
	}
	return cs, err
}

func call(t *testing.T, cs *mcp.ClientSession, name string, args map[string]any) (*mcp.CallToolResult, map[string]any) {
	t.Helper()
	res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: name, Arguments: args})
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	var m map[string]any
	b, _ := json.Marshal(res.StructuredContent)
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s: structured content %s: %v", name, b, err)
	}
	return res, m
}

func toolNames(t *testing.T, cs *mcp.ClientSession) map[string]bool {
	t.Helper()
	res, err := cs.ListTools(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, tl := range res.Tools {
		out[tl.Name] = true
	}
	return out
}

// backends of /mcp: operations run directly, or through the REST chain.
var httpBackends = map[string]bool{"in-process": false, "loopback": true}

func TestStreamableHTTP(t *testing.T) {
	t.Parallel()
	for name, loopback := range httpBackends {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			streamableHTTPStory(t, loopback)
		})
	}
}

func streamableHTTPStory(t *testing.T, loopback bool) {
	w := newWorld(t)
	base := serveAPIWith(t, w, HandlerOptions{}, api.Traffic{}, loopback)
	cs, err := connectHTTP(t, base+"/mcp", w.platformSecret)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(toolNames(t, cs)), len(w.svc.Operations()); got != want {
		t.Errorf("%d tools over HTTP, want %d", got, want)
	}
	res, created := call(t, cs, "create_tenant", map[string]any{"slug": "over-http", "name": "Over HTTP"})
	if res.IsError || created["slug"] != "over-http" {
		t.Fatalf("create_tenant: isError %v, %v", res.IsError, created)
	}
	// The tenant is really there: the REST API sees it too.
	var got client.Tenant
	if err := client.New(base, w.platformSecret).Do(context.Background(), http.MethodGet, "/api/v1/tenants/"+created["id"].(string), nil, nil, &got); err != nil || got.Slug != "over-http" {
		t.Errorf("GET the created tenant: %+v, %v", got, err)
	}
	res, list := call(t, cs, "list_tenants", map[string]any{"limit": 100})
	items, _ := list["items"].([]any)
	if res.IsError || len(items) != 3 {
		t.Errorf("list_tenants: isError %v, %d items, want 3", res.IsError, len(items))
	}
	res, dup := call(t, cs, "create_tenant", map[string]any{"slug": "over-http", "name": "Again"})
	e, _ := dup["error"].(map[string]any)
	if !res.IsError || e["status"] != float64(409) || e["code"] != core.CodeConflict {
		t.Errorf("duplicate create_tenant: isError %v, %v; want isError 409 conflict", res.IsError, dup)
	}
	res, bad := call(t, cs, "create_tenant", map[string]any{"slug": "Not A Slug", "name": "x"})
	e, _ = bad["error"].(map[string]any)
	if !res.IsError || e["status"] != float64(422) || e["field"] != "slug" {
		t.Errorf("invalid slug: isError %v, %v; want isError 422 on slug", res.IsError, bad)
	}
}

func TestStreamableHTTPRefusesAnonymousAndBadTokens(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	base := serveAPI(t, w, HandlerOptions{})
	for name, token := range map[string]string{"none": "", "garbage": "fsk_nope", "wrong scheme": ""} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if _, err := connectHTTP(t, base+"/mcp", token); err == nil {
				t.Errorf("connect with token %q succeeded, want refusal", token)
			}
		})
	}
	r, _ := http.NewRequest(http.MethodPost, base+"/mcp", strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}`))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("Accept", "application/json, text/event-stream")
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
		t.Errorf("anonymous initialize: %d, WWW-Authenticate %q; want 401 Bearer", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
}

// A read-scoped (viewer) key reads but cannot call mutating tools: the
// answers are isError with 403 (or 404), never a change.
func TestViewerKeyCannotMutate(t *testing.T) {
	t.Parallel()
	for name, loopback := range httpBackends {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			viewerKeyCannotMutate(t, loopback)
		})
	}
}

func viewerKeyCannotMutate(t *testing.T, loopback bool) {
	w := newWorld(t)
	base := serveAPIWith(t, w, HandlerOptions{}, api.Traffic{}, loopback)
	cs, err := connectHTTP(t, base+"/mcp", w.viewerSecret)
	if err != nil {
		t.Fatal(err)
	}
	if res, m := call(t, cs, "get_tenant", map[string]any{"id": w.tenantA}); res.IsError || m["id"] != w.tenantA {
		t.Fatalf("get_tenant as viewer key: isError %v, %v", res.IsError, m)
	}
	for _, tc := range []struct {
		tool string
		args map[string]any
	}{
		{"update_tenant", map[string]any{"id": w.tenantA, "name": "Hijacked"}},
		{"delete_tenant", map[string]any{"id": w.tenantA}},
		{"change_tenant_plan", map[string]any{"id": w.tenantA, "plan": "pro"}},
		{"add_member", map[string]any{"id": w.tenantA, "email": "other@example.com"}},
		{"remove_member", map[string]any{"id": w.tenantA, "userId": w.target}},
		{"create_api_key", map[string]any{"id": w.tenantA, "name": "x", "scopes": []any{"read"}}},
		{"revoke_api_key", map[string]any{"id": w.tenantA, "keyId": w.targetKey}},
		{"rotate_api_key", map[string]any{"id": w.tenantA, "keyId": w.targetKey}},
		{"ingest_usage_events", map[string]any{"id": w.tenantA, "events": []any{map[string]any{"transaction_id": "t", "metric": "m"}}}},
		{"suspend_tenant", map[string]any{"id": w.tenantA}},
		{"create_tenant", map[string]any{"slug": "by-viewer", "name": "x"}},
		{"update_tenant", map[string]any{"id": w.tenantB, "name": "Other tenant"}},
	} {
		res, m := call(t, cs, tc.tool, tc.args)
		e, _ := m["error"].(map[string]any)
		if st := e["status"]; !res.IsError || (st != float64(403) && st != float64(404)) {
			t.Errorf("%s as viewer key: isError %v, %v; want isError 403/404", tc.tool, res.IsError, m)
		}
	}
	t0, err := w.st.GetTenant(context.Background(), w.tenantA)
	if err != nil || t0.Name != "A" || t0.Status != "active" || t0.Plan != "free" {
		t.Errorf("tenant A changed: %+v, %v", t0, err)
	}
}

func TestReadOnlyHidesMutatingTools(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	base := serveAPI(t, w, HandlerOptions{Options: Options{ReadOnly: true}})
	cs, err := connectHTTP(t, base+"/mcp", w.platformSecret)
	if err != nil {
		t.Fatal(err)
	}
	names := toolNames(t, cs)
	reads := 0
	for _, op := range w.svc.Operations() {
		name := ToolName(op.ID)
		if got, want := names[name], op.Method == http.MethodGet; got != want {
			t.Errorf("read-only: tool %s listed %v, want %v (%s)", name, got, want, op.Method)
		}
		if op.Method == http.MethodGet {
			reads++
		}
	}
	if len(names) != reads || reads == 0 {
		t.Errorf("read-only lists %d tools, want the %d GET operations", len(names), reads)
	}
	// A hidden tool cannot be called by name either.
	if res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "delete_tenant", Arguments: map[string]any{"id": w.tenantA}}); err == nil && !res.IsError {
		t.Errorf("delete_tenant on a read-only server succeeded")
	}
	if t0, err := w.st.GetTenant(context.Background(), w.tenantA); err != nil || t0.Status != "active" {
		t.Errorf("tenant A: %+v, %v", t0, err)
	}
}

func TestResources(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	srv, err := New(w.svc.Operations(), InProcess{}, Options{Resources: []Resource{CatalogResource(),
		OpenAPIResource(func(context.Context) ([]byte, error) { return []byte(`{"openapi":"3.1.0"}`), nil })}})
	if err != nil {
		t.Fatal(err)
	}
	cs := connect(t, srv, core.Caller{})
	list, err := cs.ListResources(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var uris []string
	for _, r := range list.Resources {
		uris = append(uris, r.URI)
	}
	slices.Sort(uris)
	want := []string{"fast-saas://catalog/modules", "fast-saas://openapi.json", "fast-saas://plans"}
	if !slices.Equal(uris, want) {
		t.Errorf("resources %v, want %v", uris, want)
	}
	for uri, check := range map[string]func(string) bool{
		"fast-saas://plans":           func(s string) bool { return strings.Contains(s, `"id":"pro"`) },
		"fast-saas://catalog/modules": func(s string) bool { return strings.Contains(s, `"layer":"essential"`) },
		"fast-saas://openapi.json":    func(s string) bool { return strings.Contains(s, `"openapi"`) },
	} {
		res, err := cs.ReadResource(context.Background(), &mcp.ReadResourceParams{URI: uri})
		if err != nil {
			t.Errorf("read %s: %v", uri, err)
			continue
		}
		if len(res.Contents) != 1 || !check(res.Contents[0].Text) {
			t.Errorf("read %s: %+v", uri, res.Contents)
		}
	}
}

// Through the loopback, MCP calls of a tenant are rate-limited by its plan
// and metered as API calls, exactly like REST calls.
func TestLoopbackAppliesRateLimitsAndMetering(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	buf, err := usage.NewMemoryBuffer(usage.MemoryOptions{Writer: w.st, FlushInterval: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = buf.Close(ctx) })
	traffic := api.Traffic{Limiter: ratelimit.NewMemory(ratelimit.MemoryOptions{}), Recorder: buf, LimitsTTL: time.Nanosecond}
	base := serveAPIWith(t, w, HandlerOptions{}, traffic, true)
	cs, err := connectHTTP(t, base+"/mcp", w.viewerSecret)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if res, m := call(t, cs, "get_tenant", map[string]any{"id": w.tenantA}); res.IsError {
			t.Fatalf("get_tenant: %v", m)
		}
	}
	if err := buf.Close(ctx); err != nil {
		t.Fatal(err)
	}
	n, err := w.st.UsageTotal(ctx, w.tenantA, core.MetricAPICalls, time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	if err != nil || n != 3 {
		t.Errorf("api_calls metered for tenant A: %v, %v; want 3", n, err)
	}
	zero := int64(0)
	if _, err := w.st.SetOverrides(ctx, w.tenantA, store.PlanOverrides{RateLimitPerMinute: &zero}); err != nil {
		t.Fatal(err)
	}
	res, m := call(t, cs, "get_tenant", map[string]any{"id": w.tenantA})
	e, _ := m["error"].(map[string]any)
	if !res.IsError || e["status"] != float64(http.StatusTooManyRequests) {
		t.Errorf("get_tenant with a plan of 0 requests/minute: isError %v, %v; want isError 429", res.IsError, m)
	}
}
