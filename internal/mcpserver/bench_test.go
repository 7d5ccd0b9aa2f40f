package mcpserver

import (
	"context"
	"net/http/httptest"
	"testing"

	"github.com/fast-saas/fast-saas/client"
	"github.com/fast-saas/fast-saas/internal/core"
)

// BenchmarkNew measures building the whole tool set (what `fast-saas mcp`
// does before it can answer initialize).
func BenchmarkNew(b *testing.B) {
	ops := (&core.Service{}).Operations()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := New(ops, InProcess{}, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkNewRecorded measures what `fast-saas mcp` builds before it can
// answer initialize: the tool set from the recorded table, without the
// operation table.
func BenchmarkNewRecorded(b *testing.B) {
	ops := (&core.Service{}).Operations
	b.ReportAllocs()
	for b.Loop() {
		if _, err := NewRecorded(ops, InProcess{}, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkOperations is the baseline: the operation table alone.
func BenchmarkOperations(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_ = (&core.Service{}).Operations()
	}
}

// BenchmarkBackendCall compares one tool call (get_tenant as a platform
// admin) run directly in core with the same call replayed through the
// REST chain in process (what /mcp does on the server), and through the
// REST API over a loopback socket (what `fast-saas mcp` does).
func BenchmarkBackendCall(b *testing.B) {
	w := newWorld(b)
	ops := w.svc.Operations()
	built, _, err := build(ops, false)
	if err != nil {
		b.Fatal(err)
	}
	var tool builtTool
	for _, t := range built {
		if t.Name == "get_tenant" {
			tool = t
		}
	}
	call := Call{Op: tool.Op, Args: map[string]any{"id": w.tenantA}, shape: tool.shape}
	h := apiHandler(b, w, HandlerOptions{})
	srv := httptest.NewServer(h)
	b.Cleanup(srv.Close)
	ctx := context.WithValue(withPlatform(context.Background()), originKey{}, origin{token: w.platformSecret, remoteAddr: "127.0.0.1:40000"})
	for _, bc := range []struct {
		name string
		b    Backend
	}{
		{"in-process", InProcess{}},
		{"loopback", Loopback{API: h}},
		{"remote-http", Remote{Client: client.New(srv.URL, w.platformSecret)}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := bc.b.Call(ctx, call); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
