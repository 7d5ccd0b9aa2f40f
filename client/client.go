// Package client is the public Go client of the fast-saas REST API.
//
//	c := client.New("http://127.0.0.1:8080", os.Getenv("FASTSAAS_API_KEY"))
//	t, err := c.CreateTenant(ctx, client.CreateTenant{Slug: "acme", Name: "Acme"})
//
// Errors from the API are *Error values carrying the RFC 9457 problem
// (status, stable code, detail, field); match them with errors.As.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Client calls one fast-saas server with one bearer token.
type Client struct {
	BaseURL string
	Token   string
	HTTP    *http.Client
}

// New returns a client for baseURL (e.g. http://127.0.0.1:8080) that
// authenticates with token (platform key, tenant key or Logto JWT).
func New(baseURL, token string) *Client {
	return &Client{BaseURL: strings.TrimRight(baseURL, "/"), Token: token, HTTP: &http.Client{Timeout: 30 * time.Second}}
}

// WithToken returns a copy of c using another token.
func (c *Client) WithToken(token string) *Client {
	cp := *c
	cp.Token = token
	return &cp
}

// Error is an API error (problem+json).
type Error struct {
	Status    int    `json:"status"`
	Type      string `json:"type"`
	Title     string `json:"title"`
	Code      string `json:"code"`
	Detail    string `json:"detail"`
	Field     string `json:"field"`
	RequestID string `json:"request_id"`
	// Body is the raw answer. Most failures are problem documents (the
	// fields above); a few operations answer a failure with their usual
	// document instead, e.g. readiness: 503 with the check list.
	Body []byte `json:"-"`
}

func (e *Error) Error() string {
	s := fmt.Sprintf("fast-saas: %d %s", e.Status, e.Code)
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return s
}

// Do sends one request: body (if not nil) as JSON, the answer decoded into
// out (if not nil). A non-2xx answer is an *Error.
func (c *Client) Do(ctx context.Context, method, path string, query url.Values, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("fast-saas: encode %s %s: %w", method, path, err)
		}
		rd = bytes.NewReader(b)
	}
	u := c.BaseURL + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return fmt.Errorf("fast-saas: %w", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("fast-saas: %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	if err != nil {
		return fmt.Errorf("fast-saas: read %s %s: %w", method, path, err)
	}
	if resp.StatusCode >= 300 {
		e := &Error{Status: resp.StatusCode, Body: data}
		if json.Unmarshal(data, e) != nil || e.Code == "" {
			e.Code, e.Detail = "http_error", strings.TrimSpace(string(data))
		}
		e.Status = resp.StatusCode
		return e
	}
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("fast-saas: decode %s %s: %w", method, path, err)
		}
	}
	return nil
}

// Page asks for one page of a list.
type Page struct {
	Limit  int
	Cursor string
}

func (p Page) values() url.Values {
	v := url.Values{}
	if p.Limit > 0 {
		v.Set("limit", fmt.Sprint(p.Limit))
	}
	if p.Cursor != "" {
		v.Set("cursor", p.Cursor)
	}
	return v
}

// List is one page of results.
type List[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor,omitempty"`
}

func esc(s string) string { return url.PathEscape(s) }
