// Package client is the public Go client of the fast-saas REST API.
//
// It is deliberately generic: Do sends one request (method, path pattern
// with {params}, query, JSON body) with the API key as a bearer token and
// decodes the JSON answer; any non-2xx answer comes back as a *Problem,
// the API's RFC 9457 problem+json body. The MCP server's remote mode, the
// CLI and the end-to-end tests all speak to the API through it, so auth,
// rate limits and usage metering stay in one place: the server.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Client talks to one fast-saas API. The zero value is not usable; build
// it with New.
type Client struct {
	base   *url.URL
	apiKey string
	hc     *http.Client
	ua     string
}

// Options tune a Client. The zero value works.
type Options struct {
	// HTTPClient sends the requests; nil means a client with a 60 s
	// timeout (AI operations may take a while).
	HTTPClient *http.Client
	// UserAgent is sent with every request ("fast-saas-go-client" if empty).
	UserAgent string
}

// MaxResponseBytes bounds what the client reads from one answer, so a
// misbehaving server cannot exhaust memory.
const MaxResponseBytes = 32 << 20

// New returns a client for the API at baseURL (e.g. http://127.0.0.1:8080)
// that authenticates with apiKey (a platform key fsp_…, tenant key fsk_…
// or Logto access token; "" sends no credential).
func New(baseURL, apiKey string, o Options) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(baseURL, "/"))
	if err != nil {
		return nil, fmt.Errorf("client: base url: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("client: base url %q: want http(s)://host[:port]", baseURL)
	}
	if strings.ContainsAny(apiKey, "\r\n") {
		return nil, errors.New("client: api key contains a line break")
	}
	hc := o.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 60 * time.Second}
	}
	ua := o.UserAgent
	if ua == "" {
		ua = "fast-saas-go-client"
	}
	return &Client{base: u, apiKey: apiKey, hc: hc, ua: ua}, nil
}

// Problem is an error answer of the API (RFC 9457 problem+json).
type Problem struct {
	Type      string `json:"type"`
	Title     string `json:"title"`
	Status    int    `json:"status"`
	Detail    string `json:"detail,omitempty"`
	Code      string `json:"code"`
	Field     string `json:"field,omitempty"`
	RequestID string `json:"request_id,omitempty"`
	// Errors are the per-field validation messages, when the API gave any.
	Errors []ProblemDetail `json:"errors,omitempty"`
}

// ProblemDetail is one validation message of a Problem.
type ProblemDetail struct {
	Message  string `json:"message,omitempty"`
	Location string `json:"location,omitempty"`
	Value    any    `json:"value,omitempty"`
}

func (p *Problem) Error() string {
	s := fmt.Sprintf("fast-saas api: %d %s", p.Status, p.Code)
	if p.Detail != "" {
		s += ": " + p.Detail
	}
	return s
}

// ExpandPath substitutes every {name} in pattern with params[name],
// escaped as one path segment (so "a/b" cannot reach another route). A
// placeholder without a value is an error.
func ExpandPath(pattern string, params map[string]string) (string, error) {
	var b strings.Builder
	rest := pattern
	for {
		i := strings.IndexByte(rest, '{')
		if i < 0 {
			b.WriteString(rest)
			return b.String(), nil
		}
		j := strings.IndexByte(rest[i:], '}')
		if j < 0 {
			return "", fmt.Errorf("client: path %q: unclosed {", pattern)
		}
		name := strings.TrimSuffix(rest[i+1:i+j], "...")
		v, ok := params[name]
		if !ok || v == "" {
			return "", fmt.Errorf("client: path %q: missing parameter %q", pattern, name)
		}
		b.WriteString(rest[:i])
		b.WriteString(url.PathEscape(v))
		rest = rest[i+j+1:]
	}
}

// Request is one API call for Do.
type Request struct {
	Method string
	// Path is a pattern such as /api/v1/tenants/{id}; PathParams fill it.
	Path       string
	PathParams map[string]string
	Query      url.Values
	// Body is encoded as JSON when non-nil (json.RawMessage is sent as is).
	Body any
}

// Do sends r and decodes a 2xx JSON answer into out (out may be nil, and
// a 204 leaves it untouched). A non-2xx answer is returned as *Problem;
// transport failures are returned wrapped.
func (c *Client) Do(ctx context.Context, r Request, out any) error {
	raw, err := c.DoRaw(ctx, r)
	if err != nil {
		return err
	}
	if out == nil || len(raw) == 0 {
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("client: %s %s: decode answer: %w", r.Method, r.Path, err)
	}
	return nil
}

// DoRaw is Do returning the raw JSON answer (nil for 204 No Content).
func (c *Client) DoRaw(ctx context.Context, r Request) (json.RawMessage, error) {
	path, err := ExpandPath(r.Path, r.PathParams)
	if err != nil {
		return nil, err
	}
	// The pattern's static parts are plain and the parameters are escaped
	// segments, so the concatenation is a valid escaped path.
	u, err := url.Parse(c.base.String() + path)
	if err != nil {
		return nil, fmt.Errorf("client: %s %s: %w", r.Method, r.Path, err)
	}
	if len(r.Query) > 0 {
		u.RawQuery = r.Query.Encode()
	}
	var body io.Reader
	if r.Body != nil {
		var b []byte
		if raw, ok := r.Body.(json.RawMessage); ok {
			b = raw
		} else if b, err = json.Marshal(r.Body); err != nil {
			return nil, fmt.Errorf("client: %s %s: encode body: %w", r.Method, r.Path, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, r.Method, u.String(), body)
	if err != nil {
		return nil, fmt.Errorf("client: %s %s: %w", r.Method, r.Path, err)
	}
	req.Header.Set("Accept", "application/json, application/problem+json")
	req.Header.Set("User-Agent", c.ua)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.apiKey != "" {
		req.Header.Set("Authorization", "Bearer "+c.apiKey)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("client: %s %s: %w", r.Method, r.Path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponseBytes+1))
	if err != nil {
		return nil, fmt.Errorf("client: %s %s: read answer: %w", r.Method, r.Path, err)
	}
	if len(data) > MaxResponseBytes {
		return nil, fmt.Errorf("client: %s %s: answer larger than %d bytes", r.Method, r.Path, MaxResponseBytes)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, problemFrom(resp.StatusCode, data)
	}
	if resp.StatusCode == http.StatusNoContent || len(bytes.TrimSpace(data)) == 0 {
		return nil, nil
	}
	return data, nil
}

// problemFrom decodes a problem+json body; a body that is not one (a
// proxy's HTML error page, say) still yields a Problem with the status.
func problemFrom(status int, data []byte) *Problem {
	p := &Problem{}
	if err := json.Unmarshal(data, p); err != nil || p.Status == 0 {
		p = &Problem{Status: status, Title: http.StatusText(status), Code: "http_error"}
		if s := strings.TrimSpace(string(data)); s != "" && len(s) <= 200 {
			p.Detail = s
		}
	}
	p.Status = status
	return p
}
