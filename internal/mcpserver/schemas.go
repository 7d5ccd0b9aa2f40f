package mcpserver

import (
	_ "embed" // the recorded tool schemas
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/fast-saas/fast-saas/internal/core"
)

// toolSchemas is the input schema of every tool of the operation table,
// as the derivation (shapeOf, schemaJSON) produces it, recorded so that
// starting an MCP server does not run that derivation (huma's reflection,
// schema rendering): `fast-saas mcp` answers tools/list from this table.
// TestToolSchemasRecorded fails when it differs from the derivation;
// regenerate it with go generate.
//
//go:generate go test -run TestToolSchemasRecorded -update .
//go:embed tool_schemas.json
var toolSchemas string

// recordedSchema is one tool's entry: the operation's input type (an entry
// whose type no longer matches is not used) and its input schema.
type recordedSchema struct {
	Input  string          `json:"input"`
	Schema json.RawMessage `json:"schema"`
}

// recordedSchemas parses the recorded table (never nil).
func recordedSchemas() (map[string]recordedSchema, error) {
	m := map[string]recordedSchema{}
	if err := json.Unmarshal([]byte(toolSchemas), &m); err != nil {
		return nil, fmt.Errorf("mcp: recorded tool schemas: %w", err)
	}
	return m, nil
}

// recordSchemas derives the table for ops, one tool per line, sorted.
func recordSchemas(ops []core.Operation) ([]byte, error) {
	tools, _, err := build(ops, false)
	if err != nil {
		return nil, err
	}
	lines := make([]string, 0, len(tools))
	for _, t := range tools {
		name, _ := json.Marshal(t.Name)
		entry, err := json.Marshal(recordedSchema{Input: t.Op.Input.String(), Schema: t.Tool.Tool.InputSchema.(json.RawMessage)})
		if err != nil {
			return nil, err
		}
		lines = append(lines, string(name)+": "+string(entry))
	}
	slices.Sort(lines)
	return []byte("{\n" + strings.Join(lines, ",\n") + "\n}\n"), nil
}
