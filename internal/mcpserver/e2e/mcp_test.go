// Package e2e drives the built fast-saas binary over MCP: `fast-saas mcp`
// on stdio against a running `fast-saas serve`, and the server's own
// Streamable HTTP endpoint at /mcp.
package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/fast-saas/fast-saas/client"
	"github.com/fast-saas/fast-saas/internal/core"
	"github.com/fast-saas/fast-saas/internal/mcpserver"
	"github.com/fast-saas/fast-saas/internal/testenv"
)

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "fast-saas-mcp-e2e")
	if err != nil {
		panic(err)
	}
	// Built as `make build` does, so the tests (and the startup
	// benchmark) exercise the shipped binary.
	binary, err = testenv.BuildBinary(dir)
	if err != nil {
		panic(err)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

var keyRE = regexp.MustCompile(`fsp_[0-9A-Za-z]+`)

// serve runs `fast-saas serve` on a random port with a temporary data
// directory and returns its URL and the platform key it prints once.
func serve(t *testing.T) (base, platformKey string) {
	t.Helper()
	cmd := exec.Command(binary, "serve", "--addr", "127.0.0.1:0", "--data-dir", t.TempDir())
	cmd.Env = append(os.Environ(), "DATABASE_URL=", "REDIS_URL=")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			t.Error("serve did not stop within 20 s of SIGINT")
		}
	})
	sc := bufio.NewScanner(out)
	deadline := time.AfterFunc(60*time.Second, func() { _ = cmd.Process.Kill() })
	defer deadline.Stop()
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, "fast-saas is listening on "); ok {
			base = strings.Fields(rest)[0]
		}
		if k := keyRE.FindString(line); k != "" {
			platformKey = k
			break
		}
	}
	go func() {
		for sc.Scan() {
		}
	}()
	if base == "" || platformKey == "" {
		t.Fatalf("serve did not print its URL and platform key (url %q)", base)
	}
	return base, platformKey
}

// stdio spawns `fast-saas mcp args…` against the server and connects;
// key "file:<path>" is passed as FASTSAAS_API_KEY_FILE.
func stdio(t *testing.T, base, key string, args ...string) *mcp.ClientSession {
	t.Helper()
	cmd := exec.Command(binary, append([]string{"mcp"}, args...)...)
	cmd.Env = append(os.Environ(), "FASTSAAS_API_URL="+base, "FASTSAAS_API_KEY="+key, "FASTSAAS_API_KEY_FILE=")
	if path, ok := strings.CutPrefix(key, "file:"); ok {
		cmd.Env = append(os.Environ(), "FASTSAAS_API_URL="+base, "FASTSAAS_API_KEY=", "FASTSAAS_API_KEY_FILE="+path)
	}
	cmd.Stderr = os.Stderr
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "e2e"}, nil).Connect(context.Background(), &mcp.CommandTransport{Command: cmd}, nil)
	if err != nil {
		t.Fatalf("initialize fast-saas mcp: %v", err)
	}
	t.Cleanup(func() { cs.Close() })
	return cs
}

type bearer struct{ token string }

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return http.DefaultTransport.RoundTrip(r)
}

// overHTTP connects to the server's /mcp endpoint with key.
func overHTTP(t *testing.T, base, key string) *mcp.ClientSession {
	t.Helper()
	tr := &mcp.StreamableClientTransport{Endpoint: base + "/mcp", MaxRetries: -1, HTTPClient: &http.Client{Transport: bearer{key}}}
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "e2e"}, nil).Connect(context.Background(), tr, nil)
	if err != nil {
		t.Fatalf("initialize /mcp: %v", err)
	}
	t.Cleanup(func() { cs.Close() })
	return cs
}

func callTool(t *testing.T, cs *mcp.ClientSession, name string, args map[string]any) (bool, map[string]any) {
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
	return res.IsError, m
}

func toolNames(t *testing.T, cs *mcp.ClientSession) []string {
	t.Helper()
	res, err := cs.ListTools(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, tl := range res.Tools {
		out = append(out, tl.Name)
	}
	slices.Sort(out)
	return out
}

// wantTools is every tool name the operation table yields (readOnly:
// only the GET operations).
func wantTools(readOnly bool) []string {
	var out []string
	for _, op := range (&core.Service{}).Operations() {
		if !readOnly || op.Method == http.MethodGet {
			out = append(out, mcpserver.ToolName(op.ID))
		}
	}
	slices.Sort(out)
	return out
}

// story is the acceptance path, the same over stdio and over HTTP:
// list tools, create a tenant, list tenants, a call that fails.
func story(t *testing.T, cs *mcp.ClientSession, slug string) {
	if got, want := toolNames(t, cs), wantTools(false); !slices.Equal(got, want) {
		t.Errorf("tools:\n got %v\nwant %v", got, want)
	}
	isErr, created := callTool(t, cs, "create_tenant", map[string]any{"slug": slug, "name": "Created over MCP"})
	if isErr || created["slug"] != slug || created["status"] != "active" {
		t.Fatalf("create_tenant: isError %v, %v", isErr, created)
	}
	isErr, list := callTool(t, cs, "list_tenants", map[string]any{"limit": 100})
	items, _ := list["items"].([]any)
	found := false
	for _, it := range items {
		if m, _ := it.(map[string]any); m["id"] == created["id"] {
			found = true
		}
	}
	if isErr || !found {
		t.Errorf("list_tenants: isError %v, created tenant listed %v (%d items)", isErr, found, len(items))
	}
	for _, tc := range []struct {
		tool   string
		args   map[string]any
		status float64
	}{
		{"create_tenant", map[string]any{"slug": slug, "name": "Twice"}, 409},
		{"get_tenant", map[string]any{"id": "01900000-0000-7000-8000-000000000000"}, 404},
		{"get_tenant", map[string]any{"id": "not-a-uuid"}, 422},
	} {
		isErr, res := callTool(t, cs, tc.tool, tc.args)
		e, _ := res["error"].(map[string]any)
		if !isErr || e["status"] != tc.status || e["code"] == "" {
			t.Errorf("%s(%v): isError %v, %v; want isError with status %v", tc.tool, tc.args, isErr, res, tc.status)
		}
	}
}

func TestStdioAgainstServe(t *testing.T) {
	t.Parallel()
	base, key := serve(t)
	story(t, stdio(t, base, key), "made-over-stdio")

	// The platform sets up a tenant and a read-only key for it.
	c := client.New(base, key)
	tenant, err := c.CreateTenant(context.Background(), client.CreateTenant{Slug: "viewer-land", Name: "Viewer land"})
	if err != nil {
		t.Fatal(err)
	}
	readKey, err := c.CreateAPIKey(context.Background(), tenant.ID, client.CreateAPIKey{Name: "read", Scopes: []string{"read"}})
	if err != nil {
		t.Fatal(err)
	}
	viewer := stdio(t, base, readKey.Key)
	if isErr, got := callTool(t, viewer, "get_tenant", map[string]any{"id": tenant.ID}); isErr || got["id"] != tenant.ID {
		t.Errorf("get_tenant with a read key: isError %v, %v", isErr, got)
	}
	for _, tc := range []struct {
		tool string
		args map[string]any
	}{
		{"update_tenant", map[string]any{"id": tenant.ID, "name": "Changed"}},
		{"delete_tenant", map[string]any{"id": tenant.ID}},
		{"create_api_key", map[string]any{"id": tenant.ID, "name": "more", "scopes": []any{"read"}}},
		{"ingest_usage_events", map[string]any{"id": tenant.ID, "events": []any{map[string]any{"transaction_id": "t", "metric": "m"}}}},
	} {
		isErr, res := callTool(t, viewer, tc.tool, tc.args)
		e, _ := res["error"].(map[string]any)
		if st := e["status"]; !isErr || (st != float64(403) && st != float64(404)) {
			t.Errorf("%s with a read key: isError %v, %v; want isError 403/404", tc.tool, isErr, res)
		}
	}
	if got, err := c.GetTenant(context.Background(), tenant.ID); err != nil || got.Name != "Viewer land" || got.Status != "active" {
		t.Errorf("tenant after the read key's attempts: %+v, %v", got, err)
	}

	// --read-only hides every mutating tool (the key read from a file).
	keyFile := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(keyFile, []byte(key+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ro := stdio(t, base, "file:"+keyFile, "--read-only")
	if got, want := toolNames(t, ro), wantTools(true); !slices.Equal(got, want) {
		t.Errorf("--read-only tools:\n got %v\nwant %v", got, want)
	}
	if isErr, got := callTool(t, ro, "get_platform_stats", nil); isErr || got["users"] == nil {
		t.Errorf("get_platform_stats with the key from a file: isError %v, %v", isErr, got)
	}
}

func TestStreamableHTTPOnServe(t *testing.T) {
	t.Parallel()
	base, key := serve(t)
	story(t, overHTTP(t, base, key), "made-over-http")
	// Resources are served too: the OpenAPI document names the operations.
	res, err := overHTTP(t, base, key).ReadResource(context.Background(), &mcp.ReadResourceParams{URI: "fast-saas://openapi.json"})
	if err != nil || len(res.Contents) != 1 || !strings.Contains(res.Contents[0].Text, `"createTenant"`) {
		t.Errorf("read the OpenAPI resource: %v", err)
	}
}
