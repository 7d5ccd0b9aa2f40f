package config

import (
	"fmt"
	"strings"
)

// Reference renders the options table as Markdown: the content of
// docs/config.md (kept in sync by a test).
func Reference() string {
	var b strings.Builder
	b.WriteString("# Configuration of `fast-saas serve`\n\n")
	b.WriteString("Generated from `internal/config` (run `go test ./internal/config -update` after changing an option).\n\n")
	b.WriteString("Precedence: command-line flag > environment variable > default. With nothing set, the server\n")
	b.WriteString("runs on an embedded SQLite file and in-process limiter and usage buffer.\n")
	b.WriteString("Secrets also accept `NAME_FILE`, the path of a file holding the value (set one, not both).\n\n")
	b.WriteString("| Variable | Flag | Default | Description |\n|---|---|---|---|\n")
	for _, o := range Options {
		flag, def := "", ""
		if o.Flag != "" {
			flag = "`--" + o.Flag + "`"
		}
		if o.Default != "" {
			def = "`" + o.Default + "`"
		}
		doc := o.Doc
		if o.Secret {
			doc += fmt.Sprintf(" Secret: also `%s_FILE`.", o.Env)
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", o.Env, flag, def, doc)
	}
	return b.String()
}
