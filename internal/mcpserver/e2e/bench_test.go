package e2e

import (
	"bufio"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"slices"
	"syscall"
	"testing"
	"time"
)

// BenchmarkStdioStartup measures what an agent waits for when it starts
// the server: process start, initialize, tools/list over stdio (wall time
// until the tool list has arrived), and the process's peak resident set.
// Run with -benchtime=20x; it reports the median and the worst RSS.
// "version" is the baseline: the same binary starting and exiting without
// MCP, i.e. the floor every command of the single binary pays.
func BenchmarkStdioStartup(b *testing.B) {
	b.Run("mcp", func(b *testing.B) {
		measure(b, func() (time.Duration, *os.ProcessState) {
			cmd := exec.Command(binary, "mcp")
			cmd.Env = append(os.Environ(), "FASTSAAS_API_URL=http://127.0.0.1:9", "FASTSAAS_API_KEY=fsp_unused")
			in, err := cmd.StdinPipe()
			if err != nil {
				b.Fatal(err)
			}
			outPipe, err := cmd.StdoutPipe()
			if err != nil {
				b.Fatal(err)
			}
			out := bufio.NewReaderSize(outPipe, 1<<20)
			start := time.Now()
			if err := cmd.Start(); err != nil {
				b.Fatal(err)
			}
			send := func(msgs ...string) {
				for _, m := range msgs {
					if _, err := io.WriteString(in, m+"\n"); err != nil {
						b.Fatal(err)
					}
				}
			}
			send(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"bench","version":"1"}}}`)
			if _, err := out.ReadBytes('\n'); err != nil {
				b.Fatal(err)
			}
			send(`{"jsonrpc":"2.0","method":"notifications/initialized"}`, `{"jsonrpc":"2.0","id":2,"method":"tools/list"}`)
			line, err := out.ReadBytes('\n')
			if err != nil {
				b.Fatal(err)
			}
			wall := time.Since(start)
			var res struct {
				Result struct{ Tools []json.RawMessage }
			}
			if err := json.Unmarshal(line, &res); err != nil || len(res.Result.Tools) == 0 {
				b.Fatalf("tools/list answer %.200s: %v", line, err)
			}
			in.Close()
			if err := cmd.Wait(); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(len(res.Result.Tools)), "tools")
			return wall, cmd.ProcessState
		})
	})
	b.Run("version", func(b *testing.B) {
		measure(b, func() (time.Duration, *os.ProcessState) {
			cmd := exec.Command(binary, "version")
			start := time.Now()
			if err := cmd.Run(); err != nil {
				b.Fatal(err)
			}
			return time.Since(start), cmd.ProcessState
		})
	})
}

func measure(b *testing.B, run func() (time.Duration, *os.ProcessState)) {
	var walls []time.Duration
	var maxRSS int64
	for b.Loop() {
		wall, st := run()
		walls = append(walls, wall)
		if ru, ok := st.SysUsage().(*syscall.Rusage); ok && ru.Maxrss > maxRSS {
			maxRSS = ru.Maxrss // KiB on Linux
		}
	}
	slices.Sort(walls)
	b.ReportMetric(float64(walls[len(walls)/2].Microseconds())/1000, "ms-median")
	b.ReportMetric(float64(maxRSS)/1024, "MiB-maxRSS")
}
