package server

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"

	"github.com/fast-saas/fast-saas/internal/mcpserver"
)

// mcpMounts builds the MCP endpoint: the operation table's tools over
// Streamable HTTP at /mcp, mounted inside the API chain so it is
// authenticated exactly like the API and every tool runs as the caller.
// Tool calls go through the REST handler in process (mcpserver.Loopback),
// so per-tenant rate limits, quota and usage metering apply to agents too.
func (s *Server) mcpMounts(logger *slog.Logger) (map[string]http.Handler, error) {
	openAPI := func(context.Context) ([]byte, error) { return json.Marshal(s.Handler.API.OpenAPI()) }
	// s.Handler exists once api.New has returned, before the first request.
	via := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { s.Handler.ServeHTTP(w, r) })
	h, err := mcpserver.NewHandler(s.Service, mcpserver.HandlerOptions{MaxBodyBytes: s.Config.MaxBodyBytes, Via: via,
		Options: mcpserver.Options{Logger: logger, Version: "dev",
			Resources: []mcpserver.Resource{mcpserver.CatalogResource(), mcpserver.OpenAPIResource(openAPI)}}})
	if err != nil {
		return nil, err
	}
	return map[string]http.Handler{"/mcp": h}, nil
}
