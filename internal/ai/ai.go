// Package ai holds small typed HTTP clients for the AI upstreams that the
// fast-saas API proxies: Ollama, Langflow, Langfuse and our own Claude agent
// runner (`fast-saas agent`, contract in docs/design/agent-api.md).
//
// Every client is built from a base URL that comes from configuration only
// (never from a request), and shares the same rules:
//
//   - every call takes a context and is bounded by Options.Timeout;
//   - path segments are escaped with url.PathEscape, query values encoded;
//   - response bodies are read through an io.LimitReader: a body larger than
//     Options.MaxResponseBytes is an ErrResponseTooLarge error, never a
//     truncated success;
//   - an upstream non-2xx answer becomes an *UpstreamError carrying the
//     upstream status, so the API layer can preserve it (see ProxyStatus);
//   - an upstream that cannot be reached (refused, DNS, reset, timeout) is
//     reported as an error wrapping ErrUnavailable.
//
// The package knows nothing about serving HTTP: the API layer maps errors to
// responses with HTTPStatus.
package ai

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"
)

// Defaults used when an Options field is zero.
const (
	DefaultTimeout          = 60 * time.Second
	DefaultMaxResponseBytes = 8 << 20 // 8 MiB
	defaultDialTimeout      = 5 * time.Second
	// maxErrorBody bounds the upstream body kept in an UpstreamError.
	maxErrorBody = 512
	// maxErrorRead bounds how much of a non-2xx body is read to find the
	// upstream's message; the rest is dropped so that a huge error page
	// still reports the upstream status.
	maxErrorRead = 64 << 10
)

// Sentinel errors, matched with errors.Is.
var (
	// ErrUnavailable: the upstream could not be reached or did not answer in
	// time. Timeouts also match ErrTimeout.
	ErrUnavailable = errors.New("upstream unavailable")
	// ErrTimeout: the call's timeout (Options.Timeout) expired first.
	ErrTimeout = errors.New("upstream timeout")
	// ErrResponseTooLarge: the upstream answered with more than
	// Options.MaxResponseBytes (or, for streams, a longer line).
	ErrResponseTooLarge = errors.New("upstream response too large")
	// ErrInvalidResponse: the upstream answered 2xx with a body that is not
	// the documented JSON.
	ErrInvalidResponse = errors.New("invalid upstream response")
	// ErrNotConfigured: the upstream's URL is not set; every method of a nil
	// client returns it.
	ErrNotConfigured = errors.New("upstream not configured")
	// ErrInvalidArgument: the caller passed a value the client refuses to
	// send (an empty or dot-segment ID, a missing model name).
	ErrInvalidArgument = errors.New("invalid argument")
)

// Options configure a client. The zero value works (no API key).
type Options struct {
	// HTTPClient sends the requests. Nil means a client with dial, TLS and
	// response-header timeouts derived from Timeout. A caller-supplied
	// client should have no Client.Timeout shorter than the streams it is
	// used for (Ollama pull): per-call limits come from Timeout instead.
	// It should not follow redirects either (the default client does not):
	// a redirect would send the request, and its credentials, to a URL
	// that configuration never named.
	HTTPClient *http.Client
	// Timeout bounds each call. For a streamed call (Ollama pull) it bounds
	// the wait for each next progress line instead of the whole download.
	// Zero means DefaultTimeout.
	Timeout time.Duration
	// MaxResponseBytes bounds a response body (for streams: one line).
	// Zero means DefaultMaxResponseBytes.
	MaxResponseBytes int64
	// APIKey authenticates to the upstream: the x-api-key header for
	// Langflow, a bearer token for the agent. Ignored by Ollama and the
	// Langfuse health check.
	APIKey string
	// UserAgent is sent on every request; empty means "fast-saas".
	UserAgent string
}

// UpstreamError is an upstream's non-2xx answer (or an error reported inside
// a 2xx stream). Status is the upstream's HTTP status; Body a truncated,
// printable copy of what it said, safe to log (our credentials are sent in
// headers and never echoed here).
type UpstreamError struct {
	Service string // "ollama", "langflow", "langfuse", "agent"
	Op      string // what we were doing, e.g. "list models"
	Status  int    // upstream HTTP status
	// Message is the upstream's own error text when its error document was
	// recognised: Ollama {"error"}, Langflow/FastAPI {"detail"}, the agent's
	// problem+json "detail". Empty otherwise.
	Message string
	// Code is the agent's problem "code", when present.
	Code string
	Body string // truncated body, at most 512 bytes of valid UTF-8
}

func (e *UpstreamError) Error() string {
	msg := e.Message
	if msg == "" {
		msg = e.Body
	}
	if msg == "" {
		return fmt.Sprintf("%s: %s: upstream status %d", e.Service, e.Op, e.Status)
	}
	return fmt.Sprintf("%s: %s: upstream status %d: %s", e.Service, e.Op, e.Status, msg)
}

// ProxyStatus is the status the API should answer with for this upstream
// error. The mapping (documented in docs/design/agent-api.md, "Error
// mapping"):
//
//   - 401, 403 → 502: the upstream rejected OUR credentials; that is a
//     configuration fault of the server, not the caller's.
//   - 407, 408 → 502/504: proxy and request timeouts are gateway faults.
//   - any other 4xx → the same status (404 stays 404, 422 stays 422, 429
//     stays 429): the caller's request was wrong or refused.
//   - 503, 504 → the same status; every other 5xx → 502 Bad Gateway.
//   - a failure reported inside a 2xx stream (Status < 400) → 502.
func (e *UpstreamError) ProxyStatus() int {
	switch {
	case e.Status == http.StatusUnauthorized, e.Status == http.StatusForbidden,
		e.Status == http.StatusProxyAuthRequired:
		return http.StatusBadGateway
	case e.Status == http.StatusRequestTimeout:
		return http.StatusGatewayTimeout
	case e.Status >= 400 && e.Status < 500:
		return e.Status
	case e.Status == http.StatusServiceUnavailable, e.Status == http.StatusGatewayTimeout:
		return e.Status
	default:
		return http.StatusBadGateway
	}
}

// HTTPStatus maps an error returned by this package to the status the API
// should answer with, and reports false for errors this package did not
// classify (the API treats those as its own 500s).
//
//	*UpstreamError        → ProxyStatus()
//	ErrNotConfigured      → 503 Service Unavailable
//	ErrTimeout            → 504 Gateway Timeout
//	ErrUnavailable        → 503 Service Unavailable
//	ErrResponseTooLarge   → 502 Bad Gateway
//	ErrInvalidResponse    → 502 Bad Gateway
//	ErrInvalidArgument    → 400 Bad Request
func HTTPStatus(err error) (int, bool) {
	var ue *UpstreamError
	switch {
	case err == nil:
		return 0, false
	case errors.As(err, &ue):
		return ue.ProxyStatus(), true
	case errors.Is(err, ErrNotConfigured):
		return http.StatusServiceUnavailable, true
	case errors.Is(err, ErrTimeout):
		return http.StatusGatewayTimeout, true
	case errors.Is(err, ErrUnavailable):
		return http.StatusServiceUnavailable, true
	case errors.Is(err, ErrResponseTooLarge), errors.Is(err, ErrInvalidResponse):
		return http.StatusBadGateway, true
	case errors.Is(err, ErrInvalidArgument):
		return http.StatusBadRequest, true
	}
	return 0, false
}

// base is the transport shared by the typed clients.
type base struct {
	service  string
	baseURL  *url.URL
	http     *http.Client
	timeout  time.Duration
	maxBytes int64
	ua       string
	// auth decorates each request with the service's credentials.
	auth func(*http.Request)
}

func newBase(service, rawURL string, opts Options) (*base, error) {
	if rawURL == "" {
		return nil, fmt.Errorf("%s: base URL is empty", service)
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("%s: parse base URL: %w", service, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("%s: base URL %q: scheme must be http or https", service, u.Redacted())
	}
	if u.Host == "" {
		return nil, fmt.Errorf("%s: base URL %q has no host", service, u.Redacted())
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("%s: base URL %q must not carry a query or fragment", service, u.Redacted())
	}
	// Keep the base path as escaped in config (a %2F stays one segment).
	escaped := strings.TrimRight(u.EscapedPath(), "/")
	if u.Path, err = url.PathUnescape(escaped); err != nil {
		return nil, fmt.Errorf("%s: base URL path: %w", service, err)
	}
	u.RawPath = escaped
	b := &base{
		service:  service,
		baseURL:  u,
		http:     opts.HTTPClient,
		timeout:  opts.Timeout,
		maxBytes: opts.MaxResponseBytes,
		ua:       opts.UserAgent,
		auth:     func(*http.Request) {},
	}
	if b.timeout <= 0 {
		b.timeout = DefaultTimeout
	}
	if b.maxBytes <= 0 {
		b.maxBytes = DefaultMaxResponseBytes
	}
	if b.ua == "" {
		b.ua = "fast-saas"
	}
	if b.http == nil {
		b.http = defaultHTTPClient(b.timeout)
	}
	return b, nil
}

// unconfigured stands in for the transport of a nil client: every call on
// it fails with ErrNotConfigured.
func unconfigured(service string) *base { return &base{service: service} }

// defaultHTTPClient has no overall Client.Timeout (streams may run for
// minutes) but bounds every phase before the body.
func defaultHTTPClient(timeout time.Duration) *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.DialContext = (&net.Dialer{Timeout: defaultDialTimeout, KeepAlive: 30 * time.Second}).DialContext
	t.TLSHandshakeTimeout = defaultDialTimeout
	t.ResponseHeaderTimeout = timeout
	t.MaxIdleConnsPerHost = 16
	return &http.Client{
		Transport: t,
		// Upstream URLs come from config; following a redirect to somewhere
		// else would defeat that, so redirects are returned as-is (and then
		// reported as an UpstreamError with the 3xx status).
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// endpoint joins already-escaped path pieces and encoded query to the base URL.
func (b *base) endpoint(escapedPath string, query url.Values) string {
	u := *b.baseURL
	full := b.baseURL.EscapedPath() + escapedPath
	p, err := url.PathUnescape(full)
	if err != nil { // cannot happen: pieces come from url.PathEscape
		p = full
	}
	u.Path = p
	u.RawPath = full
	if len(query) > 0 {
		u.RawQuery = query.Encode()
	}
	return u.String()
}

// segment escapes one path segment, refusing values that would change the
// shape of the path: empty (would hit the collection) and dot segments
// (would be normalised into the parent path by the upstream).
func segment(what, v string) (string, error) {
	if v == "" || v == "." || v == ".." {
		return "", fmt.Errorf("%w: %s %q", ErrInvalidArgument, what, v)
	}
	return url.PathEscape(v), nil
}

// call sends one request and returns the (size-limited) body of a 2xx answer.
// in, when non-nil, is sent as JSON.
func (b *base) call(ctx context.Context, op, method, escapedPath string, query url.Values, in any) ([]byte, error) {
	ctx, cancel := context.WithTimeoutCause(ctx, b.timeout, ErrTimeout)
	defer cancel()
	resp, err := b.send(ctx, op, method, escapedPath, query, in, "application/json")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, b.readUpstreamError(ctx, op, resp)
	}
	return b.readBody(ctx, op, resp.Body)
}

// callJSON is call followed by decoding a 2xx body into out.
func (b *base) callJSON(ctx context.Context, op, method, escapedPath string, query url.Values, in, out any) error {
	body, err := b.call(ctx, op, method, escapedPath, query, in)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("%s: %s: %w: %v", b.service, op, ErrInvalidResponse, err)
	}
	return nil
}

// send performs the request; the caller owns resp.Body.
func (b *base) send(ctx context.Context, op, method, escapedPath string, query url.Values, in any, accept string) (*http.Response, error) {
	if b.http == nil {
		return nil, fmt.Errorf("%s: %s: %w", b.service, op, ErrNotConfigured)
	}
	var body io.Reader
	if in != nil {
		buf, err := json.Marshal(in)
		if err != nil {
			return nil, fmt.Errorf("%s: %s: encode request: %w", b.service, op, err)
		}
		body = bytes.NewReader(buf)
	}
	req, err := http.NewRequestWithContext(ctx, method, b.endpoint(escapedPath, query), body)
	if err != nil {
		return nil, fmt.Errorf("%s: %s: build request: %w", b.service, op, err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", accept)
	req.Header.Set("User-Agent", b.ua)
	b.auth(req)
	resp, err := b.http.Do(req)
	if err != nil {
		return nil, b.transportError(ctx, op, err)
	}
	return resp, nil
}

// readBody reads at most maxBytes; one byte more means the body is too large.
func (b *base) readBody(ctx context.Context, op string, r io.Reader) ([]byte, error) {
	body, err := io.ReadAll(io.LimitReader(r, b.maxBytes+1))
	if err != nil {
		return nil, b.transportError(ctx, op, err)
	}
	if int64(len(body)) > b.maxBytes {
		return nil, fmt.Errorf("%s: %s: %w (limit %d bytes)", b.service, op, ErrResponseTooLarge, b.maxBytes)
	}
	return body, nil
}

// transportError classifies a failure to get an answer. A caller that gave
// up (its own context cancelled or past its deadline) gets that context
// error back; our timeout and network failures are ErrUnavailable.
func (b *base) transportError(ctx context.Context, op string, err error) error {
	if cause := context.Cause(ctx); cause != nil {
		if errors.Is(cause, ErrTimeout) {
			return fmt.Errorf("%s: %s: %w: %w after %s", b.service, op, ErrUnavailable, ErrTimeout, b.timeout)
		}
		return fmt.Errorf("%s: %s: %w", b.service, op, cause)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return fmt.Errorf("%s: %s: %w: %w: %v", b.service, op, ErrUnavailable, ErrTimeout, err)
	}
	return fmt.Errorf("%s: %s: %w: %v", b.service, op, ErrUnavailable, err)
}

// readUpstreamError reads (a bounded prefix of) a non-2xx answer. A body
// that cannot be read completely still yields the upstream's status.
func (b *base) readUpstreamError(ctx context.Context, op string, resp *http.Response) error {
	body, err := io.ReadAll(io.LimitReader(resp.Body, min(b.maxBytes, maxErrorRead)))
	if err != nil && len(body) == 0 && context.Cause(ctx) != nil {
		return b.transportError(ctx, op, err)
	}
	return b.upstreamError(op, resp.StatusCode, body)
}

func (b *base) upstreamError(op string, status int, body []byte) *UpstreamError {
	msg, code := errorMessage(body)
	return &UpstreamError{
		Service: b.service,
		Op:      op,
		Status:  status,
		Message: msg,
		Code:    code,
		Body:    safeSnippet(body, maxErrorBody),
	}
}

// errorMessage extracts the upstream's error text from the documents the
// upstreams use: {"error": "..."} (Ollama), {"detail": "..."} or
// {"detail": [{"msg": ...}]} (Langflow/FastAPI), problem+json (agent).
func errorMessage(body []byte) (msg, code string) {
	var doc struct {
		Error  json.RawMessage `json:"error"`
		Detail json.RawMessage `json:"detail"`
		Title  string          `json:"title"`
		Code   string          `json:"code"`
	}
	if json.Unmarshal(body, &doc) != nil {
		return "", ""
	}
	code = safeSnippet([]byte(doc.Code), 64)
	for _, raw := range []json.RawMessage{doc.Error, doc.Detail} {
		if len(raw) == 0 {
			continue
		}
		var s string
		if json.Unmarshal(raw, &s) == nil && s != "" {
			return safeSnippet([]byte(s), maxErrorBody), code
		}
		var items []struct {
			Msg string `json:"msg"`
		}
		if json.Unmarshal(raw, &items) == nil && len(items) > 0 {
			parts := make([]string, 0, len(items))
			for _, it := range items {
				if it.Msg != "" {
					parts = append(parts, it.Msg)
				}
			}
			if len(parts) > 0 {
				return safeSnippet([]byte(strings.Join(parts, "; ")), maxErrorBody), code
			}
		}
	}
	if doc.Title != "" {
		return safeSnippet([]byte(doc.Title), maxErrorBody), code
	}
	return "", code
}

// safeSnippet returns at most n bytes of valid UTF-8 with control characters
// replaced, so upstream text can go into logs and problem details. It
// sanitises before cutting: replacing an invalid byte with U+FFFD grows the
// text, so cutting first could exceed n.
func safeSnippet(b []byte, n int) string {
	// Sanitising never shrinks the text, so 4n input bytes are enough to
	// fill n output bytes; the rest is not worth the work.
	if len(b) > 4*n {
		b = b[:4*n]
	}
	s := strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, strings.ToValidUTF8(string(b), "\uFFFD"))
	s = strings.TrimSpace(s)
	if len(s) > n {
		cut := n
		for cut > 0 && !utf8.RuneStart(s[cut]) { // never half a rune
			cut--
		}
		s = strings.TrimSpace(s[:cut])
	}
	return s
}
