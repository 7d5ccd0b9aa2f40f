package harness

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// API is a small JSON client of the REST API, enough to seed tenants and
// keys. It is written here rather than taken from package client so that the
// harness measures the wire contract of spec/api.md, not a Go wrapper.
type API struct {
	Base  string
	Token string
	HTTP  *http.Client
}

// StatusError is a non-2xx answer.
type StatusError struct {
	Status int
	Body   string
}

func (e *StatusError) Error() string { return fmt.Sprintf("status %d: %s", e.Status, e.Body) }

// Do sends a JSON request and decodes a JSON answer into out (when non-nil).
func (a API) Do(ctx context.Context, method, path string, body, out any) error {
	var raw []byte
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		raw = b
	}
	return a.DoRaw(ctx, method, path, raw, out)
}

// DoRaw is Do with an already encoded JSON body (nil: no body).
func (a API) DoRaw(ctx context.Context, method, path string, body []byte, out any) error {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.Base+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if a.Token != "" {
		req.Header.Set("Authorization", "Bearer "+a.Token)
	}
	hc := a.HTTP
	if hc == nil {
		hc = defaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return fmt.Errorf("%s %s: read answer: %w", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %w", method, path, &StatusError{Status: resp.StatusCode, Body: string(b)})
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("%s %s: decode answer: %w", method, path, err)
		}
	}
	return nil
}

var defaultClient = &http.Client{Timeout: 30 * time.Second}

func getOK(ctx context.Context, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := defaultClient.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: status %d", url, resp.StatusCode)
	}
	return nil
}

// Tenant is a seeded tenant with a tenant API key.
type Tenant struct {
	ID  string
	Key string // fsk_… with the scopes given to Seed
}

// SeedOptions describe the tenants to create.
type SeedOptions struct {
	Count  int
	Prefix string   // slug prefix, e.g. "bench"
	Plan   string   // "" = the default plan
	Scopes []string // of each tenant's key
	// RatePerMinute and CallsPerMonth are set as plan overrides on every
	// tenant (-1 unlimited) so that a load run measures the chain, not the
	// free plan's limits; 0 leaves the plan's values.
	RatePerMinute, CallsPerMonth int64
	Concurrency                  int // parallel seeding requests; 0 = 8
}

// Seed creates tenants, each with one API key, through the platform API.
func Seed(ctx context.Context, admin API, o SeedOptions) ([]Tenant, error) {
	if o.Concurrency <= 0 {
		o.Concurrency = 8
	}
	out := make([]Tenant, o.Count)
	errs := make(chan error, o.Count)
	sem := make(chan struct{}, o.Concurrency)
	for i := range o.Count {
		sem <- struct{}{}
		go func() {
			defer func() { <-sem }()
			t, err := seedOne(ctx, admin, o, i)
			out[i] = t
			errs <- err
		}()
	}
	var first error
	for range o.Count {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return out, first
}

func seedOne(ctx context.Context, admin API, o SeedOptions, i int) (Tenant, error) {
	var t struct {
		ID string `json:"id"`
	}
	body := map[string]any{"slug": fmt.Sprintf("%s-%d", o.Prefix, i), "name": fmt.Sprintf("Bench tenant %d", i)}
	if o.Plan != "" {
		body["plan"] = o.Plan
	}
	if err := admin.Do(ctx, http.MethodPost, "/api/v1/tenants", body, &t); err != nil {
		return Tenant{}, fmt.Errorf("create tenant %d: %w", i, err)
	}
	if o.RatePerMinute != 0 || o.CallsPerMonth != 0 {
		ov := map[string]any{}
		if o.RatePerMinute != 0 {
			ov["rate_limit_per_minute"] = o.RatePerMinute
		}
		if o.CallsPerMonth != 0 {
			ov["api_calls_per_month"] = o.CallsPerMonth
		}
		if err := admin.Do(ctx, http.MethodPut, "/api/v1/tenants/"+t.ID+"/overrides", ov, nil); err != nil {
			return Tenant{}, fmt.Errorf("set overrides of tenant %d: %w", i, err)
		}
	}
	var k struct {
		Key string `json:"key"`
	}
	if err := admin.Do(ctx, http.MethodPost, "/api/v1/tenants/"+t.ID+"/api-keys", map[string]any{"name": "bench", "scopes": o.Scopes}, &k); err != nil {
		return Tenant{}, fmt.Errorf("create key of tenant %d: %w", i, err)
	}
	return Tenant{ID: t.ID, Key: k.Key}, nil
}
