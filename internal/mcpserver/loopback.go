package mcpserver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"

	"github.com/fast-saas/fast-saas/client"
)

// Loopback runs each call through an in-process HTTP handler (the REST
// API, with its whole chain) carrying the MCP request's own credential and
// client address. Tools still run as the caller, and additionally the
// per-tenant rate limit, monthly quota and usage metering of the REST
// chain apply to them: an agent on /mcp is billed and limited like any
// other API client. NewHandler uses it when HandlerOptions.Via is set.
type Loopback struct {
	API http.Handler
}

// origin is what Loopback needs of the MCP HTTP request: the credential
// to present again and where the request came from.
type origin struct {
	token      string
	remoteAddr string
	forwarded  http.Header // X-Forwarded-For, X-Real-IP, Forwarded, for the client-IP resolver
}

type originKey struct{}

// String names the origin in the SDK's token info (a map keyed by string).
func (originKey) String() string { return "fast-saas.origin" }

var errNoOrigin = errors.New("loopback: no HTTP request behind this call")

// Call implements Backend.
func (l Loopback) Call(ctx context.Context, c Call) (json.RawMessage, error) {
	o, ok := ctx.Value(originKey{}).(origin)
	if !ok {
		return nil, errNoOrigin
	}
	cl := &client.Client{BaseURL: "http://fast-saas.loopback", Token: o.token,
		HTTP: &http.Client{Transport: handlerTransport{h: l.API, o: o}}}
	return Remote{Client: cl}.Call(ctx, c)
}

// handlerTransport answers client requests by calling a handler in
// process: no socket, no second listener.
type handlerTransport struct {
	h http.Handler
	o origin
}

func (t handlerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	in := r.Clone(r.Context())
	in.RemoteAddr = t.o.remoteAddr
	in.RequestURI = r.URL.RequestURI()
	in.Host = r.URL.Host
	if in.Body == nil {
		in.Body = http.NoBody
	}
	for k, v := range t.o.forwarded {
		in.Header[k] = v
	}
	w := &bufferedResponse{header: http.Header{}}
	t.h.ServeHTTP(w, in)
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return &http.Response{StatusCode: w.code, Status: http.StatusText(w.code), Header: w.header, Request: r,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Body: io.NopCloser(bytes.NewReader(w.body.Bytes())), ContentLength: int64(w.body.Len())}, nil
}

// bufferedResponse is an http.ResponseWriter that keeps the answer.
type bufferedResponse struct {
	header http.Header
	code   int
	body   bytes.Buffer
}

func (w *bufferedResponse) Header() http.Header { return w.header }

func (w *bufferedResponse) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
}

func (w *bufferedResponse) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.body.Write(b)
}
