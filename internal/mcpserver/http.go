package mcpserver

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/fast-saas/fast-saas/internal/core"
	"github.com/fast-saas/fast-saas/middleware/problem"
)

// callerKey is where the HTTP caller travels in the SDK's token info, the
// one piece of request context the SDK hands to every tool call.
const callerKey = "fast-saas.caller"

// HandlerOptions configure NewHandler.
type HandlerOptions struct {
	Options
	// MaxBodyBytes bounds one request body (default 1 MiB, as the API).
	MaxBodyBytes int64
	// Via, when set, is the REST API handler: tool calls are dispatched
	// through it in process (see Loopback) so rate limits, quota and usage
	// metering apply; nil runs the operations directly (InProcess).
	Via http.Handler
}

// NewHandler serves the tools in-process over Streamable HTTP, for
// mounting at /mcp behind the API's authentication middleware: the caller
// that middleware put in the request context (core.WithCaller) is the
// principal of every tool call, exactly as for the REST operations. An
// anonymous request is refused with 401.
//
// The handler is stateless (no session kept between requests, JSON
// answers), so any replica can answer any request.
func NewHandler(svc *core.Service, o HandlerOptions) (http.Handler, error) {
	var b Backend = InProcess{}
	if o.Via != nil {
		b = Loopback{API: o.Via}
	}
	srv, err := New(svc.Operations(), b, o.Options)
	if err != nil {
		return nil, err
	}
	limit := o.MaxBodyBytes
	if limit <= 0 {
		limit = 1 << 20
	}
	h := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return srv },
		&mcp.StreamableHTTPOptions{Stateless: true, JSONResponse: true, Logger: o.Logger})
	// RequireBearerToken turns our caller into the SDK's token info; the
	// token itself was already verified by the API's middleware.
	verify := func(ctx context.Context, token string, r *http.Request) (*auth.TokenInfo, error) {
		c := core.CallerFrom(r.Context())
		if c.Kind == core.Anonymous {
			return nil, fmt.Errorf("%w: no authenticated caller", auth.ErrInvalidToken)
		}
		from := origin{token: token, remoteAddr: r.RemoteAddr, forwarded: http.Header{}}
		for _, h := range []string{"X-Forwarded-For", "X-Real-Ip", "Forwarded"} {
			if v := r.Header.Values(h); len(v) > 0 {
				from.forwarded[h] = v
			}
		}
		return &auth.TokenInfo{UserID: c.Kind.String() + ":" + c.Label, Scopes: c.Scopes,
			Expiration: time.Now().Add(time.Hour), Extra: map[string]any{callerKey: c, originKey{}.String(): from}}, nil
	}
	authed := auth.RequireBearerToken(verify, nil)(h)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if core.CallerFrom(r.Context()).Kind == core.Anonymous {
			// Tools act as someone: no credential, no MCP (not even the
			// public operations, so a misconfigured client fails loudly).
			w.Header().Set("WWW-Authenticate", `Bearer realm="fast-saas"`)
			problem.Write(w, http.StatusUnauthorized, problem.Problem{Code: core.CodeUnauthorized, Detail: "a valid bearer token is required"})
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, limit)
		authed.ServeHTTP(w, r)
	}), nil
}

// withCaller puts the HTTP caller of a tool call (if any) into ctx for
// core; without one (stdio, in-memory) ctx keeps whatever caller it has.
func withCaller(ctx context.Context, extra *mcp.RequestExtra) context.Context {
	if extra == nil || extra.TokenInfo == nil {
		return ctx
	}
	if o, ok := extra.TokenInfo.Extra[originKey{}.String()].(origin); ok {
		ctx = context.WithValue(ctx, originKey{}, o)
	}
	if c, ok := extra.TokenInfo.Extra[callerKey].(core.Caller); ok {
		ctx = core.WithCaller(ctx, c)
	}
	return ctx
}
