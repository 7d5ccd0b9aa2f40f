package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"runtime/debug"
	"strings"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/spf13/cobra"

	"github.com/fast-saas/fast-saas/client"
	"github.com/fast-saas/fast-saas/internal/core"
	"github.com/fast-saas/fast-saas/internal/mcpserver"
)

// newMcpCmd serves the API's operations as MCP tools on stdio, calling
// the REST API of a running server (remote mode).
func newMcpCmd(io IO) *cobra.Command {
	var readOnly bool
	var apiURL string
	cmd := &cobra.Command{
		Use:   "mcp",
		Short: "Serve every API operation as an MCP tool on stdio (for Claude Code and other agents)",
		Long: `Serve the Model Context Protocol on stdin/stdout. Every operation of the SaaS API
is one tool; each call goes to a running fast-saas server over its REST API, so
authentication, rate limits and usage metering apply as for any API client.

  FASTSAAS_API_URL       the server, e.g. http://127.0.0.1:8080 (or --url)
  FASTSAAS_API_KEY       the bearer credential: platform key fsp_…, tenant key fsk_…
                         or Logto access token (FASTSAAS_API_KEY_FILE: read it from a file)

The server also serves the same tools over Streamable HTTP at /mcp. See docs/mcp.md.`,
		Example: `  FASTSAAS_API_URL=http://127.0.0.1:8080 FASTSAAS_API_KEY=fsp_… fast-saas mcp
  claude mcp add fast-saas -e FASTSAAS_API_URL=http://127.0.0.1:8080 -e FASTSAAS_API_KEY=fsk_… -- fast-saas mcp --read-only`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if apiURL == "" {
				apiURL = os.Getenv("FASTSAAS_API_URL")
			}
			if apiURL == "" {
				return errors.New("mcp: set FASTSAAS_API_URL (or --url) to the fast-saas server, e.g. http://127.0.0.1:8080")
			}
			if u, err := url.Parse(apiURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				return fmt.Errorf("mcp: FASTSAAS_API_URL %q: want http(s)://host[:port]", apiURL)
			}
			key, err := secretEnv("FASTSAAS_API_KEY")
			if err != nil {
				return fmt.Errorf("mcp: %w", err)
			}
			if key == "" {
				return errors.New("mcp: set FASTSAAS_API_KEY (or FASTSAAS_API_KEY_FILE) to a platform key, tenant key or access token")
			}
			c := client.New(apiURL, key)
			openAPI := func(ctx context.Context) ([]byte, error) {
				var doc json.RawMessage
				if err := c.Do(ctx, http.MethodGet, "/openapi.json", nil, nil, &doc); err != nil {
					return nil, err
				}
				return doc, nil
			}
			// The tools are listed from the recorded table; the operation
			// table is built on the first tool call, and only describes the
			// operations here: the service behind it is never called in
			// remote mode.
			ops := (&core.Service{}).Operations
			// Building the tool set leaves a few MB of short-lived garbage
			// (the SDK re-decodes every tool's schema). Collecting it once,
			// after the build, and returning it to the OS keeps this
			// long-lived, mostly idle process small: measured, that peaks
			// lower than collecting as it is made (GOGC 30), whose cycles
			// also touch the GC's own code and the stack maps of the binary.
			gc := debug.SetGCPercent(-1)
			srv, err := mcpserver.NewRecorded(ops, mcpserver.Remote{Client: c}, mcpserver.Options{ReadOnly: readOnly,
				Resources: []mcpserver.Resource{mcpserver.CatalogResource(), mcpserver.OpenAPIResource(openAPI)},
				Logger:    slog.New(slog.NewTextHandler(io.Err, &slog.HandlerOptions{Level: slog.LevelWarn}))})
			debug.SetGCPercent(gc)
			if err != nil {
				return fmt.Errorf("mcp: %w", err)
			}
			debug.FreeOSMemory()
			// stdout carries the protocol: nothing else may be written there.
			err = srv.Run(cmd.Context(), &mcp.IOTransport{Reader: readCloser{io.In}, Writer: writeCloser{io.Out}})
			if err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, mcp.ErrConnectionClosed) {
				return fmt.Errorf("mcp: %w", err)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&readOnly, "read-only", false, "expose only operations without side effects (GET)")
	cmd.Flags().StringVar(&apiURL, "url", "", "the fast-saas server (env FASTSAAS_API_URL)")
	return cmd
}

// secretEnv reads a secret from NAME or from the file named by NAME_FILE.
func secretEnv(name string) (string, error) {
	if v := os.Getenv(name); v != "" {
		return v, nil
	}
	path := os.Getenv(name + "_FILE")
	if path == "" {
		return "", nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("%s_FILE: %w", name, err)
	}
	return strings.TrimSpace(string(b)), nil
}

// readCloser and writeCloser adapt the command's streams; closing them is
// a no-op because the process owns stdin and stdout.
type readCloser struct{ io.Reader }

func (readCloser) Close() error { return nil }

type writeCloser struct{ io.Writer }

func (writeCloser) Close() error { return nil }
