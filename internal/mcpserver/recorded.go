package mcpserver

import (
	"context"
	_ "embed" // the recorded tool table
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"

	"github.com/danielgtaylor/huma/v2"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/fast-saas/fast-saas/internal/core"
)

// toolsJSON is every tool of the operation table exactly as the derivation
// (buildTools: names, descriptions, annotations; shapeOf and schemaJSON:
// input schemas) makes it, one per line in table order. It is recorded so
// that starting an MCP server runs neither the schema derivation (huma's
// reflection, schema rendering) nor, for `fast-saas mcp`, the operation
// table itself: NewRecorded answers tools/list from this file and builds
// the operations on the first tool call. TestToolsRecorded fails when the
// file differs from the derivation; regenerate it with go generate.
//
//go:generate go test -run TestToolsRecorded -update .
//go:embed tools.json
var toolsJSON string

// recordedTool is one tool of the recorded table.
type recordedTool struct {
	// Input is the operation's input type: a schema recorded for another
	// type is stale and not used by New.
	Input       string               `json:"input"`
	Name        string               `json:"name"`
	Title       string               `json:"title"`
	Description string               `json:"description"`
	Schema      json.RawMessage      `json:"schema"`
	Annotations *mcp.ToolAnnotations `json:"annotations"`
}

func (r recordedTool) tool() *mcp.Tool {
	return &mcp.Tool{Name: r.Name, Title: r.Title, Description: r.Description, InputSchema: r.Schema, Annotations: r.Annotations}
}

// recordedTools parses the recorded table.
func recordedTools() ([]recordedTool, error) {
	var out []recordedTool
	if err := json.Unmarshal([]byte(toolsJSON), &out); err != nil {
		return nil, fmt.Errorf("mcp: recorded tools: %w", err)
	}
	return out, nil
}

func byName(recs []recordedTool) map[string]recordedTool {
	m := make(map[string]recordedTool, len(recs))
	for _, r := range recs {
		m[r.Name] = r
	}
	return m
}

// recordTools derives the table for ops.
func recordTools(ops []core.Operation) ([]byte, error) {
	tools, _, err := build(ops, false)
	if err != nil {
		return nil, err
	}
	lines := make([]string, 0, len(tools))
	for _, t := range tools {
		entry, err := json.Marshal(recordedTool{Input: t.Op.Input.String(), Name: t.Name, Title: t.Tool.Tool.Title,
			Description: t.Tool.Tool.Description, Schema: t.Tool.Tool.InputSchema.(json.RawMessage), Annotations: t.Tool.Tool.Annotations})
		if err != nil {
			return nil, err
		}
		lines = append(lines, string(entry))
	}
	return []byte("[\n" + strings.Join(lines, ",\n") + "\n]\n"), nil
}

// NewRecorded builds the same server as New(ops(), b, o), but lists its
// tools from the recorded table: ops is called, and the tools' argument
// shapes derived, on the first tool call or plans read. A process that
// only starts, initializes and lists tools (an agent's start-up) never
// builds the operation table. Measured with `fast-saas mcp`: about 1 MiB
// less peak RSS than building it at start.
func NewRecorded(ops func() []core.Operation, b Backend, o Options) (*mcp.Server, error) {
	recs, err := recordedTools()
	if err != nil {
		return nil, err
	}
	l := &lazyTools{ops: ops, readOnly: o.ReadOnly, recorded: recs}
	srv := newServer(o)
	logger := srv.logger
	for _, r := range recs {
		if o.ReadOnly && (r.Annotations == nil || !r.Annotations.ReadOnlyHint) {
			continue
		}
		name := r.Name
		srv.AddTool(r.tool(), func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			t, reg, err := l.tool(name)
			if err != nil {
				logger.Error("mcp tool failed", slog.String("tool", name), slog.String("error", err.Error()))
				return problemResult(&Problem{Status: http.StatusInternalServerError, Code: core.CodeInternal, Detail: "internal error"}), nil
			}
			return handler(t, reg, b, logger)(ctx, req)
		})
	}
	plans := func(ctx context.Context) ([]byte, error) {
		op, sh, err := l.plans()
		if err != nil {
			return nil, err
		}
		return readPlans(ctx, b, op, sh)
	}
	srv.addResources(append([]Resource{plansResource(plans)}, o.Resources...))
	return srv.Server, nil
}

// lazyTools builds the tools of a recorded table on first use.
type lazyTools struct {
	ops      func() []core.Operation
	readOnly bool
	recorded []recordedTool

	once      sync.Once
	err       error
	tools     map[string]builtTool
	reg       huma.Registry
	plansOp   core.Operation
	plansSh   *shape
	plansSeen bool
}

func (l *lazyTools) build() {
	ops := l.ops()
	tools, set, err := buildTools(ops, l.readOnly, byName(l.recorded))
	if err != nil {
		l.err = err
		return
	}
	l.tools, l.reg = make(map[string]builtTool, len(tools)), set.reg
	for _, t := range tools {
		l.tools[t.Name] = t
	}
	for _, op := range ops {
		if op.ID == plansOpID {
			l.plansOp, l.plansSh, l.plansSeen = op, set.later(op.Input), true
		}
	}
}

func (l *lazyTools) tool(name string) (builtTool, huma.Registry, error) {
	l.once.Do(l.build)
	if l.err != nil {
		return builtTool{}, nil, l.err
	}
	t, ok := l.tools[name]
	if !ok {
		return builtTool{}, nil, fmt.Errorf("recorded tool %s has no operation: run go generate ./internal/mcpserver", name)
	}
	return t, l.reg, nil
}

func (l *lazyTools) plans() (core.Operation, *shape, error) {
	l.once.Do(l.build)
	if l.err != nil {
		return core.Operation{}, nil, l.err
	}
	if !l.plansSeen {
		return core.Operation{}, nil, fmt.Errorf("no %s operation", plansOpID)
	}
	return l.plansOp, l.plansSh, nil
}
