package mcpserver

import (
	"context"
	"encoding/json"
	"net/url"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/fast-saas/fast-saas/internal/core"
)

// FuzzToolArguments sends arbitrary argument objects to every tool of an
// in-process server (as a platform admin, who passes every permission
// check): whatever the input, a tool answers with a result (never a
// protocol error or a panic), and a failure caused by the input is a 4xx
// problem, never a 500.
func FuzzToolArguments(f *testing.F) {
	w := newWorld(f)
	ops := w.svc.Operations()
	srv, err := New(ops, InProcess{}, Options{})
	if err != nil {
		f.Fatal(err)
	}
	st, ct := mcp.NewInMemoryTransports()
	ctx := context.Background()
	if _, err := srv.Connect(withPlatform(ctx), st, nil); err != nil {
		f.Fatal(err)
	}
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "fuzz"}, nil).Connect(ctx, ct, nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { cs.Close() })
	names := make([]string, len(ops))
	for i, op := range ops {
		names[i] = ToolName(op.ID)
	}
	for _, seed := range []string{
		`{}`, `{"id":"` + w.tenantA + `"}`, `{"id":"../../admin"}`, `{"slug":"a","name":"b"}`,
		`{"limit":0}`, `{"limit":1e308}`, `{"cursor":"!!"}`, `{"from":"yesterday"}`, `{"events":[{}]}`,
		`{"id":"` + w.tenantA + `","keyId":"` + w.targetKey + `","grace_seconds":-1}`, `{"body":null}`, `{"plan":"` + strings.Repeat("x", 100) + `"}`,
	} {
		f.Add(uint8(0), seed)
		f.Add(uint8(7), seed)
	}
	f.Fuzz(func(t *testing.T, which uint8, args string) {
		var m map[string]any
		if json.Unmarshal([]byte(args), &m) != nil {
			return // the SDK client only sends objects
		}
		name := names[int(which)%len(names)]
		res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: name, Arguments: m})
		if err != nil {
			t.Fatalf("%s(%s): protocol error %v", name, args, err)
		}
		if !res.IsError {
			return
		}
		var got struct{ Error Problem }
		b, _ := json.Marshal(res.StructuredContent)
		if err := json.Unmarshal(b, &got); err != nil || got.Error.Status == 0 {
			t.Fatalf("%s(%s): error result %s without a problem", name, args, b)
		}
		// 503: AI upstreams are not configured in this world.
		if s := got.Error.Status; s >= 500 && s != 503 {
			t.Fatalf("%s(%s): status %d (%s): input must never cause a server fault", name, args, s, b)
		}
	})
}

// FuzzExpandPath: a path argument fills exactly one segment, whatever it
// contains, so a tool cannot be steered to another route.
func FuzzExpandPath(f *testing.F) {
	for _, s := range []string{"abc", "a/b", "..", "%2F", "a?b=c", "a#b", " ", "é"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		p, err := expandPath("/api/v1/tenants/{id}/members", map[string]string{"id": v})
		if v == "" {
			if err == nil {
				t.Fatalf("empty argument accepted: %q", p)
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		u, err := url.Parse("http://h" + p)
		if err != nil {
			t.Fatalf("%q: %v", p, err)
		}
		segs := strings.Split(u.EscapedPath(), "/")
		if len(segs) != 6 || segs[5] != "members" || u.RawQuery != "" || u.Fragment != "" {
			t.Fatalf("%q expanded to %q (segments %q)", v, p, segs)
		}
		if got, err := url.PathUnescape(segs[4]); err != nil || got != v {
			t.Fatalf("segment %q unescapes to %q, %v; want %q", segs[4], got, err, v)
		}
	})
}

func withPlatform(ctx context.Context) context.Context { return core.WithCaller(ctx, platform) }
