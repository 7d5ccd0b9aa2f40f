package catalog

import (
	"os/exec"
	"strings"
	"testing"
)

// Shell snippets in health checks and commands are parsed by `sh -n`
// (syntax only, nothing runs), after Compose's $$ → $ unescaping: a quoting
// mistake would otherwise surface only as a container that never gets
// healthy.
func TestShellSnippetsParse(t *testing.T) {
	t.Parallel()
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Fatalf("sh not found: %v", err)
	}
	var n int
	for _, m := range Default().Modules() {
		for _, c := range m.Containers {
			var scripts []string
			if h := c.Health; h != nil && h.Test[0] == "CMD-SHELL" {
				scripts = append(scripts, h.Test[1])
			}
			for _, argv := range [][]string{c.Entrypoint, c.Command} {
				if len(argv) == 3 && (argv[0] == "sh" || argv[0] == "bash") && argv[1] == "-c" {
					scripts = append(scripts, argv[2])
				}
			}
			if h := c.Health; h != nil && len(h.Test) == 4 && h.Test[1] == "bash" && h.Test[2] == "-c" {
				scripts = append(scripts, h.Test[3])
			}
			for _, s := range scripts {
				n++
				script := strings.ReplaceAll(s, "$$", "$")
				if out, err := exec.Command(sh, "-n", "-c", script).CombinedOutput(); err != nil {
					t.Errorf("%s: %q does not parse: %v\n%s", c.Name, script, err, out)
				}
			}
		}
	}
	if n < 5 {
		t.Errorf("checked only %d snippets; the walk is broken", n)
	}
}
