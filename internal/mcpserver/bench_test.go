package mcpserver

import (
	"testing"

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

// BenchmarkOperations is the baseline: the operation table alone.
func BenchmarkOperations(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_ = (&core.Service{}).Operations()
	}
}
