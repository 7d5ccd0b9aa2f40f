package mcpserver

import (
	"bytes"
	"encoding/json"
	"os"
	"testing"

	"github.com/fast-saas/fast-saas/internal/core"
)

// TestToolSchemasRecorded keeps the recorded input schemas equal to what
// the derivation makes of the current operation table (-update rewrites
// the file).
func TestToolSchemasRecorded(t *testing.T) {
	want, err := recordSchemas((&core.Service{}).Operations())
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile("tool_schemas.json", want, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if !bytes.Equal([]byte(toolSchemas), want) {
		t.Fatal("tool_schemas.json differs from the operation table's derived input schemas: run `go generate ./internal/mcpserver`")
	}
}

// TestRecordedSchemasServed checks that New lists the recorded schemas,
// and that a tool whose input type changed since is derived instead.
func TestRecordedSchemasServed(t *testing.T) {
	ops := (&core.Service{}).Operations()
	rec, err := recordedSchemas()
	if err != nil {
		t.Fatal(err)
	}
	stale := map[string]recordedSchema{}
	for name, r := range rec {
		stale[name] = recordedSchema{Input: r.Input + "-renamed", Schema: json.RawMessage(`{"type":"object"}`)}
	}
	eager, _, err := build(ops, false)
	if err != nil {
		t.Fatal(err)
	}
	for i, recorded := range []map[string]recordedSchema{rec, stale} {
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
