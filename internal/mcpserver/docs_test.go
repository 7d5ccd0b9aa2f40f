package mcpserver

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/fast-saas/fast-saas/internal/core"
)

var update = flag.Bool("update", false, "rewrite the tool list in docs/mcp.md")

const docsPath = "../../docs/mcp.md"

// toolTable renders the tool list of docs/mcp.md from the operation table.
func toolTable(t *testing.T) string {
	t.Helper()
	tools, err := Tools((&core.Service{}).Operations(), false)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	group := ""
	for _, tl := range tools {
		if tl.Op.Group != group {
			group = tl.Op.Group
			fmt.Fprintf(&b, "\n### %s\n\n| Tool | What it does | Permission | Read-only |\n|---|---|---|---|\n", group)
		}
		ro := ""
		if ReadOnly(tl.Op) {
			ro = "yes"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", tl.Name, tl.Op.Summary, strings.ReplaceAll(tl.Op.Access.Describe(), "|", `\|`), ro)
	}
	return b.String()
}

func TestDocsListEveryTool(t *testing.T) {
	const begin, end = "<!-- tools:begin -->\n", "<!-- tools:end -->"
	raw, err := os.ReadFile(docsPath)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(raw)
	i, j := strings.Index(doc, begin), strings.Index(doc, end)
	if i < 0 || j < i {
		t.Fatalf("%s has no %q … %q section", docsPath, begin, end)
	}
	want := toolTable(t) + "\n"
	if *update {
		doc = doc[:i+len(begin)] + want + doc[j:]
		if err := os.WriteFile(docsPath, []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if got := doc[i+len(begin) : j]; got != want {
		t.Errorf("the tool list in %s is out of date; run go test ./internal/mcpserver -run TestDocs -update", docsPath)
	}
}
