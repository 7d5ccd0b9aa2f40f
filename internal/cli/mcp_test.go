package cli

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/fast-saas/fast-saas/internal/core"
)

func runMcp(t *testing.T, in io.Reader, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = Main(append([]string{"mcp"}, args...), in, &out, &errOut)
	return out.String(), errOut.String(), code
}

func TestMcpRefusesMissingSettings(t *testing.T) {
	for _, tc := range []struct {
		name, url, key, keyFile, want string
	}{
		{"no url", "", "fsp_x", "", "set FASTSAAS_API_URL"},
		{"url without scheme", "localhost:8080", "fsp_x", "", "want http(s)://host[:port]"},
		{"no key", "http://127.0.0.1:8080", "", "", "set FASTSAAS_API_KEY"},
		{"unreadable key file", "http://127.0.0.1:8080", "", "/nonexistent/key", "FASTSAAS_API_KEY_FILE"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("FASTSAAS_API_URL", tc.url)
			t.Setenv("FASTSAAS_API_KEY", tc.key)
			t.Setenv("FASTSAAS_API_KEY_FILE", tc.keyFile)
			stdout, stderr, code := runMcp(t, strings.NewReader(""))
			if code == 0 || !strings.Contains(stderr, tc.want) || stdout != "" {
				t.Errorf("exit %d, stderr %q, stdout %q; want failure naming %q and nothing on stdout", code, stderr, stdout, tc.want)
			}
		})
	}
}

// The command answers initialize and tools/list on its streams (no server
// is needed until a tool is called), and --read-only lists only GET tools.
func TestMcpListsToolsOnStdio(t *testing.T) {
	t.Setenv("FASTSAAS_API_URL", "http://127.0.0.1:9")
	t.Setenv("FASTSAAS_API_KEY", "fsp_unused")
	ops := (&core.Service{}).Operations()
	reads := 0
	for _, op := range ops {
		if op.Method == http.MethodGet {
			reads++
		}
	}
	for _, tc := range []struct {
		args []string
		want int
	}{{nil, len(ops)}, {[]string{"--read-only"}, reads}} {
		// A pipe, so the command sees end of input only after answering.
		pr, pw := io.Pipe()
		var out bytes.Buffer
		done := make(chan int)
		go func() {
			done <- Main(append([]string{"mcp"}, tc.args...), pr, &lineWriter{w: &out, lines: 2, done: pw}, io.Discard)
		}()
		for _, m := range []string{
			`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`,
			`{"jsonrpc":"2.0","method":"notifications/initialized"}`,
			`{"jsonrpc":"2.0","id":2,"method":"tools/list"}`,
		} {
			if _, err := io.WriteString(pw, m+"\n"); err != nil {
				t.Fatal(err)
			}
		}
		if code := <-done; code != 0 {
			t.Fatalf("mcp %v exited %d", tc.args, code)
		}
		lines := strings.Split(strings.TrimSpace(out.String()), "\n")
		if len(lines) != 2 {
			t.Fatalf("mcp %v wrote %d lines, want 2: %s", tc.args, len(lines), out.String())
		}
		var list struct {
			ID     int
			Result struct{ Tools []struct{ Name string } }
		}
		if err := json.Unmarshal([]byte(lines[1]), &list); err != nil || list.ID != 2 {
			t.Fatalf("tools/list answer %s: %v", lines[1], err)
		}
		if got := len(list.Result.Tools); got != tc.want {
			t.Errorf("mcp %v lists %d tools, want %d", tc.args, got, tc.want)
		}
	}
}

// lineWriter closes done (the command's input) once it has seen the
// expected number of lines, which ends the session.
type lineWriter struct {
	w     io.Writer
	lines int
	done  io.Closer
}

func (l *lineWriter) Write(p []byte) (int, error) {
	n, err := l.w.Write(p)
	l.lines -= bytes.Count(p, []byte("\n"))
	if l.lines <= 0 {
		l.done.Close()
	}
	return n, err
}
