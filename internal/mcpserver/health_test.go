package mcpserver

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/fast-saas/fast-saas/client"
	"github.com/fast-saas/fast-saas/internal/api"
	"github.com/fast-saas/fast-saas/internal/core"
)

// TestHealthTools: get_health and get_readiness in every mode. A failing
// readiness is a tool result carrying the same check list as a passing
// one, with isError set (the REST answer is 503 with that list).
func TestHealthTools(t *testing.T) {
	t.Parallel()
	checks := map[string][]core.Check{
		"ready": {{Name: "store", Fn: func(context.Context) error { return nil }}},
		"down": {{Name: "store", Fn: func(context.Context) error { return nil }},
			{Name: "redis", Fn: func(context.Context) error { return errors.New("dial tcp 127.0.0.1:6379: connection refused") }}},
	}
	for _, mode := range []string{"in-process", "remote", "loopback"} {
		for state, cs := range checks {
			t.Run(mode+"/"+state, func(t *testing.T) {
				t.Parallel()
				w := newWorld(t)
				w.svc.Ready = cs
				var session *mcp.ClientSession
				switch mode {
				case "in-process":
					srv, err := New(w.svc.Operations(), InProcess{}, Options{})
					if err != nil {
						t.Fatal(err)
					}
					session = connect(t, srv, platform)
				case "remote":
					srv, err := New(w.svc.Operations(), Remote{Client: client.New(serveAPI(t, w, HandlerOptions{}), w.platformSecret)}, Options{})
					if err != nil {
						t.Fatal(err)
					}
					session = connect(t, srv, platform)
				case "loopback":
					base := serveAPIWith(t, w, HandlerOptions{}, api.Traffic{}, true)
					var err error
					if session, err = connectHTTP(t, base+"/mcp", w.platformSecret); err != nil {
						t.Fatal(err)
					}
				}
				res, m := call(t, session, "get_health", map[string]any{})
				if res.IsError || m["status"] != "ok" {
					t.Errorf("get_health: isError %v, %v", res.IsError, m)
				}
				res, m = call(t, session, "get_readiness", map[string]any{})
				if got, want := res.IsError, state == "down"; got != want {
					t.Errorf("get_readiness: isError %v, want %v (%v)", got, want, m)
				}
				var doc core.Readiness
				b, _ := json.Marshal(m)
				if err := json.Unmarshal(b, &doc); err != nil {
					t.Fatalf("get_readiness: %s is not the readiness document: %v", b, err)
				}
				wantChecks := map[string]string{"store": "ok"}
				wantStatus := "ok"
				if state == "down" {
					wantChecks["redis"], wantStatus = "down", "down"
					if doc.Checks["redis"].Error == "" {
						t.Errorf("get_readiness: the down check has no error: %s", b)
					}
				}
				got := map[string]string{}
				for name, c := range doc.Checks {
					got[name] = c.Status
				}
				if d := cmp.Diff(wantChecks, got); d != "" || doc.Status != wantStatus {
					t.Errorf("get_readiness: status %q (want %q), checks (-want +got):\n%s", doc.Status, wantStatus, d)
				}
				text := res.Content[0].(*mcp.TextContent).Text
				var fromText map[string]any
				if err := json.Unmarshal([]byte(text), &fromText); err != nil || !cmp.Equal(fromText, m) {
					t.Errorf("get_readiness: text %s does not carry the structured content %s", text, b)
				}
			})
		}
	}
}

// TestClientReady: the Go client returns the check list with the error
// when the server is not ready.
func TestClientReady(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.svc.Ready = []core.Check{{Name: "redis", Fn: func(context.Context) error { return errors.New("refused") }}}
	c := client.New(serveAPI(t, w, HandlerOptions{}), "")
	h, err := c.Health(context.Background())
	if err != nil || h.Status != "ok" {
		t.Errorf("Health: %+v, %v", h, err)
	}
	r, err := c.Ready(context.Background())
	var e *client.Error
	if !errors.As(err, &e) || e.Status != 503 || e.Code != "not_ready" || e.Detail != "checks down: redis" {
		t.Errorf("Ready error = %v, want 503 not_ready naming redis", err)
	}
	if r.Status != "down" || r.Checks["redis"].Status != "down" || r.Checks["redis"].Error != "refused" {
		t.Errorf("Ready = %+v, want the check list", r)
	}
}
