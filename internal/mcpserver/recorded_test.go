package mcpserver

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/fast-saas/fast-saas/internal/core"
)

// TestToolsRecorded keeps the recorded tool table equal to what the
// derivation makes of the current operation table (-update rewrites the
// file).
func TestToolsRecorded(t *testing.T) {
	want, err := recordTools((&core.Service{}).Operations())
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile("tools.json", want, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if !bytes.Equal([]byte(toolsJSON), want) {
		t.Fatal("tools.json differs from the tools derived from the operation table: run `go generate ./internal/mcpserver`")
	}
}

// TestRecordedSchemasServed checks that New lists the recorded schemas,
// and that a tool whose input type changed since is derived instead.
func TestRecordedSchemasServed(t *testing.T) {
	ops := (&core.Service{}).Operations()
	recs, err := recordedTools()
	if err != nil {
		t.Fatal(err)
	}
	rec := byName(recs)
	stale := map[string]recordedTool{}
	for name, r := range rec {
		r.Input += "-renamed"
		r.Schema = json.RawMessage(`{"type":"object"}`)
		stale[name] = r
	}
	eager, _, err := build(ops, false)
	if err != nil {
		t.Fatal(err)
	}
	for i, recorded := range []map[string]recordedTool{rec, stale} {
		tools, set, err := buildTools(ops, false, recorded)
		if err != nil {
			t.Fatal(err)
		}
		if len(tools) != len(eager) {
			t.Fatalf("%d tools, want %d", len(tools), len(eager))
		}
		// Recorded entries are deferred; stale ones are derived at once.
		if deferred := len(set.pending) > 0; deferred != (i == 0) {
			t.Errorf("table %d: %d shapes deferred", i, len(set.pending))
		}
		for i, tl := range tools {
			got, want := tl.Tool.Tool.InputSchema.(json.RawMessage), eager[i].Tool.Tool.InputSchema.(json.RawMessage)
			if !bytes.Equal(got, want) {
				t.Errorf("%s: schema %s, want %s", tl.Name, got, want)
			}
			if err := tl.shape.ensure(); err != nil {
				t.Fatal(err)
			}
			if len(tl.shape.Params) != len(eager[i].shape.Params) || tl.shape.BodyArg != eager[i].shape.BodyArg {
				t.Errorf("%s: derived shape %+v, want %+v", tl.Name, tl.shape.Params, eager[i].shape.Params)
			}
		}
	}
}

// NewRecorded offers exactly what New offers (tools in the same order with
// the same definitions, the same resources), with and without --read-only,
// without building the operation table until a tool is called.
func TestNewRecordedOffersWhatNewOffers(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	for _, readOnly := range []bool{false, true} {
		var built atomic.Int32
		ops := func() []core.Operation { built.Add(1); return w.svc.Operations() }
		eager, err := New(w.svc.Operations(), InProcess{}, Options{ReadOnly: readOnly})
		if err != nil {
			t.Fatal(err)
		}
		lazy, err := NewRecorded(ops, InProcess{}, Options{ReadOnly: readOnly})
		if err != nil {
			t.Fatal(err)
		}
		want, err := connect(t, eager, platform).ListTools(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		cs := connect(t, lazy, platform)
		got, err := cs.ListTools(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(want.Tools, got.Tools); d != "" {
			t.Errorf("read-only %v: NewRecorded's tools differ from New's (-New +NewRecorded):\n%s", readOnly, d)
		}
		wantRes, err := connect(t, eager, platform).ListResources(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		gotRes, err := cs.ListResources(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(wantRes.Resources, gotRes.Resources); d != "" {
			t.Errorf("read-only %v: resources differ (-New +NewRecorded):\n%s", readOnly, d)
		}
		if n := built.Load(); n != 0 {
			t.Errorf("listing built the operation table %d times", n)
		}
		res, structured := call(t, cs, "get_tenant", map[string]any{"id": w.tenantA})
		if res.IsError || structured["id"] != w.tenantA {
			t.Errorf("get_tenant through NewRecorded: %v", structured)
		}
		call(t, cs, "list_plans", map[string]any{})
		if n := built.Load(); n != 1 {
			t.Errorf("two calls built the operation table %d times, want once", n)
		}
	}
}
