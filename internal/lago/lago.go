// Package lago is a small typed client for the parts of Lago's REST API that
// fast-saas uses: sending usage events in batches, creating customers, and
// creating or changing subscriptions.
//
// The contract followed here is Lago's published API (api/v1):
//
//   - Every request carries "Authorization: Bearer <api key>".
//   - POST /api/v1/events/batch takes {"events":[…]} with at most 100 events.
//     Lago validates every event first and saves none of them if any is
//     invalid: the answer is then 422 with error_details keyed by the index of
//     each bad event ({"0":{"transaction_id":["value_is_mandatory"]}}). With
//     Lago's Postgres event store a transaction_id that was already received
//     (per subscription) is reported the same way, as
//     {"transaction_id":["value_already_exist"]}, and the whole batch is rolled
//     back. [APIError.EventErrors] exposes those per-event errors so a caller
//     can tell "already delivered" from "invalid" and resend the rest.
//     (In practice that store's transaction is aborted by the first
//     duplicate, so a batch whose duplicate is not its last event gets a 500
//     instead; callers that resend batches must be ready for that too.)
//   - POST /api/v1/customers creates the customer or updates the one with the
//     same external_id.
//   - POST /api/v1/subscriptions creates a subscription; posted again with the
//     external_id of an existing subscription and another plan_code it upgrades
//     or downgrades that subscription (this is how Lago changes plans).
//   - PUT /api/v1/subscriptions/{external_id} updates name and dates.
//   - Errors are JSON: {"status":422,"error":"Unprocessable Entity",
//     "code":"validation_errors","error_details":{…}}.
//
// There is no official Go client we could vendor (see DESIGN.md), hence this one.
package lago

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// MaxBatchEvents is the largest number of events Lago accepts in one batch
// request (LAGO_EVENTS_BATCH_MAX_LENGTH, 100 by default).
const MaxBatchEvents = 100

// DefaultTimeout bounds every request when Options.HTTPClient is nil.
const DefaultTimeout = 10 * time.Second

// maxResponseBody caps how much of a response we read: error bodies are small,
// and a misbehaving upstream must not make us buffer without limit.
const maxResponseBody = 1 << 20

// Error codes Lago puts in the per-field lists of error_details.
const (
	// CodeAlreadyExists is reported for a transaction_id Lago already stored.
	CodeAlreadyExists = "value_already_exist"
	// CodeMandatory is reported for a missing required field.
	CodeMandatory = "value_is_mandatory"
	// CodeInvalidFormat is reported for a timestamp that is not a number.
	CodeInvalidFormat = "invalid_format"
)

// Event is one usage event as Lago's batch endpoint takes it.
type Event struct {
	// TransactionID is Lago's idempotency key; fast-saas sends its event id.
	TransactionID string `json:"transaction_id"`
	// ExternalSubscriptionID is the subscription the usage belongs to; in
	// fast-saas it is the tenant id.
	ExternalSubscriptionID string `json:"external_subscription_id"`
	// Code is the billable metric code, e.g. "api_calls".
	Code string `json:"code"`
	// Timestamp is when the usage happened, in Unix seconds (UTC).
	Timestamp int64 `json:"timestamp"`
	// Properties feed the metric's aggregation (e.g. {"count": 1}).
	Properties map[string]any `json:"properties,omitempty"`
}

// Customer is the part of Lago's customer object fast-saas sets.
type Customer struct {
	ExternalID string `json:"external_id"`
	Name       string `json:"name,omitempty"`
	Email      string `json:"email,omitempty"`
}

// Subscription assigns a plan to a customer. Posting it again with the same
// ExternalID and another PlanCode changes the plan.
type Subscription struct {
	ExternalCustomerID string `json:"external_customer_id"`
	PlanCode           string `json:"plan_code"`
	ExternalID         string `json:"external_id"`
	Name               string `json:"name,omitempty"`
	// BillingTime is "calendar" (Lago's default) or "anniversary".
	BillingTime string `json:"billing_time,omitempty"`
}

// SubscriptionUpdate holds the fields PUT /subscriptions/{external_id} changes.
type SubscriptionUpdate struct {
	Name     string     `json:"name,omitempty"`
	EndingAt *time.Time `json:"ending_at,omitempty"`
}

// Options configure a Client. BaseURL and APIKey are required.
type Options struct {
	// BaseURL is Lago's API root, e.g. http://lago-api:3000 (FASTSAAS_LAGO_API_URL).
	// A trailing "/api/v1" is accepted and ignored.
	BaseURL string
	// APIKey is the organization's API key (FASTSAAS_LAGO_API_KEY). Never logged.
	APIKey string
	// HTTPClient sends the requests; nil means a client with DefaultTimeout.
	HTTPClient *http.Client
	// UserAgent is sent with every request; empty means "fast-saas".
	UserAgent string
}

// Client talks to one Lago organization. It is safe for concurrent use.
type Client struct {
	base      *url.URL
	apiKey    string
	http      *http.Client
	userAgent string
}

// New returns a Client for opts.
func New(opts Options) (*Client, error) {
	if opts.BaseURL == "" {
		return nil, errors.New("lago: base URL is required")
	}
	if opts.APIKey == "" {
		return nil, errors.New("lago: API key is required")
	}
	u, err := url.Parse(strings.TrimRight(opts.BaseURL, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("lago: base URL %q must be an absolute http(s) URL", opts.BaseURL)
	}
	u.Path = strings.TrimSuffix(u.Path, "/api/v1")
	hc := opts.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: DefaultTimeout}
	}
	ua := opts.UserAgent
	if ua == "" {
		ua = "fast-saas"
	}
	return &Client{base: u, apiKey: opts.APIKey, http: hc, userAgent: ua}, nil
}

// SendEvents posts up to MaxBatchEvents events to /api/v1/events/batch. On a
// 422 the returned error is an *APIError whose EventErrors say which events
// were rejected and why; Lago stored none of the batch in that case.
func (c *Client) SendEvents(ctx context.Context, events []Event) error {
	if len(events) == 0 {
		return nil
	}
	if len(events) > MaxBatchEvents {
		return fmt.Errorf("lago: send events: %d events exceed the batch limit of %d", len(events), MaxBatchEvents)
	}
	body := struct {
		Events []Event `json:"events"`
	}{events}
	if err := c.do(ctx, http.MethodPost, "/api/v1/events/batch", body); err != nil {
		return fmt.Errorf("lago: send %d events: %w", len(events), err)
	}
	return nil
}

// UpsertCustomer creates the customer, or updates the one with the same
// external id.
func (c *Client) UpsertCustomer(ctx context.Context, cust Customer) error {
	if cust.ExternalID == "" {
		return errors.New("lago: upsert customer: external id is required")
	}
	body := struct {
		Customer Customer `json:"customer"`
	}{cust}
	if err := c.do(ctx, http.MethodPost, "/api/v1/customers", body); err != nil {
		return fmt.Errorf("lago: upsert customer %s: %w", cust.ExternalID, err)
	}
	return nil
}

// CreateSubscription assigns sub.PlanCode to the customer. For an existing
// sub.ExternalID it changes that subscription's plan (upgrade or downgrade).
func (c *Client) CreateSubscription(ctx context.Context, sub Subscription) error {
	if sub.ExternalID == "" || sub.ExternalCustomerID == "" || sub.PlanCode == "" {
		return errors.New("lago: create subscription: external id, external customer id and plan code are required")
	}
	body := struct {
		Subscription Subscription `json:"subscription"`
	}{sub}
	if err := c.do(ctx, http.MethodPost, "/api/v1/subscriptions", body); err != nil {
		return fmt.Errorf("lago: create subscription %s (plan %s): %w", sub.ExternalID, sub.PlanCode, err)
	}
	return nil
}

// UpdateSubscription changes the name or end date of a subscription.
func (c *Client) UpdateSubscription(ctx context.Context, externalID string, upd SubscriptionUpdate) error {
	if externalID == "" {
		return errors.New("lago: update subscription: external id is required")
	}
	body := struct {
		Subscription SubscriptionUpdate `json:"subscription"`
	}{upd}
	if err := c.do(ctx, http.MethodPut, "/api/v1/subscriptions/"+url.PathEscape(externalID), body); err != nil {
		return fmt.Errorf("lago: update subscription %s: %w", externalID, err)
	}
	return nil
}

func (c *Client) do(ctx context.Context, method, path string, body any) error {
	payload, err := json.Marshal(body)
	if err != nil {
		return fmt.Errorf("encode body: %w", err)
	}
	u := *c.base
	u.Path += path
	req, err := http.NewRequestWithContext(ctx, method, u.String(), bytes.NewReader(payload))
	if err != nil {
		return fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+c.apiKey)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.userAgent)
	resp, err := c.http.Do(req)
	if err != nil {
		// The URL carries no secret; the key travels in a header, so the
		// wrapped *url.Error is safe to log.
		return &TransportError{Err: err}
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBody))
	if err != nil {
		return &TransportError{Err: fmt.Errorf("read response: %w", err)}
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	return parseError(resp.StatusCode, resp.Header.Get("Retry-After"), raw)
}

// TransportError means the request did not get an HTTP answer (connection
// refused, reset, timeout). It is always worth retrying.
type TransportError struct{ Err error }

func (e *TransportError) Error() string { return "transport: " + e.Err.Error() }
func (e *TransportError) Unwrap() error { return e.Err }

// APIError is a non-2xx answer from Lago.
type APIError struct {
	// StatusCode is the HTTP status.
	StatusCode int
	// Code is Lago's machine-readable code ("validation_errors",
	// "plan_not_found", …); empty when the body had none.
	Code string
	// Message is Lago's "error" text.
	Message string
	// Details is the raw error_details object, if any.
	Details json.RawMessage
	// RetryAfter is the server's Retry-After hint (seconds form), zero if none.
	RetryAfter time.Duration
}

func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "status %d", e.StatusCode)
	if e.Code != "" {
		b.WriteString(" " + e.Code)
	}
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	if len(e.Details) > 0 && len(e.Details) <= 512 {
		b.WriteString(" " + string(e.Details))
	}
	return b.String()
}

// Retryable reports whether sending the same request later may succeed:
// rate limiting, timeouts and server faults. A 422 is never retryable as is.
func (e *APIError) Retryable() bool {
	switch {
	case e.StatusCode == http.StatusRequestTimeout, e.StatusCode == http.StatusTooEarly,
		e.StatusCode == http.StatusTooManyRequests, e.StatusCode >= 500:
		return true
	}
	return false
}

// EventErrors returns the per-event errors of a 422 answer to SendEvents,
// keyed by the index of the event in the batch, then by field, e.g.
// {3: {"transaction_id": ["value_already_exist"]}}. ok is false when the
// details are not keyed by event index (for example "too_many_events").
func (e *APIError) EventErrors() (errs map[int]map[string][]string, ok bool) {
	if e.StatusCode != http.StatusUnprocessableEntity || len(e.Details) == 0 {
		return nil, false
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(e.Details, &raw); err != nil || len(raw) == 0 {
		return nil, false
	}
	errs = make(map[int]map[string][]string, len(raw))
	for k, v := range raw {
		i, err := strconv.Atoi(k)
		if err != nil || i < 0 {
			return nil, false
		}
		fields := map[string][]string{}
		if err := json.Unmarshal(v, &fields); err != nil {
			// Lago sometimes reports a plain message for an event (a failed
			// expression); keep it under "base".
			var msg string
			if err := json.Unmarshal(v, &msg); err != nil {
				return nil, false
			}
			fields["base"] = []string{msg}
		}
		errs[i] = fields
	}
	return errs, true
}

// OnlyAlreadyExists reports whether an event's errors say nothing more than
// "this transaction_id was already received" — that is, it was delivered.
func OnlyAlreadyExists(fields map[string][]string) bool {
	if len(fields) != 1 {
		return false
	}
	codes := fields["transaction_id"]
	if len(codes) == 0 {
		return false
	}
	for _, c := range codes {
		if c != CodeAlreadyExists {
			return false
		}
	}
	return true
}

// Retryable reports whether err (from any Client method) may succeed when the
// same request is sent again later. Cancellation of the caller's own context
// is not retryable from the caller's point of view, but it is not a verdict
// on the request either: callers check their ctx first.
func Retryable(err error) bool {
	if err == nil {
		return false
	}
	var apiErr *APIError
	if errors.As(err, &apiErr) {
		return apiErr.Retryable()
	}
	var te *TransportError
	return errors.As(err, &te)
}

func parseError(status int, retryAfter string, raw []byte) *APIError {
	e := &APIError{StatusCode: status}
	if s, err := strconv.Atoi(strings.TrimSpace(retryAfter)); err == nil && s > 0 {
		e.RetryAfter = time.Duration(s) * time.Second
	}
	var body struct {
		Error        string          `json:"error"`
		Code         string          `json:"code"`
		ErrorDetails json.RawMessage `json:"error_details"`
	}
	if json.Unmarshal(raw, &body) == nil {
		e.Message, e.Code = body.Error, body.Code
		if len(body.ErrorDetails) > 0 && string(body.ErrorDetails) != "null" {
			e.Details = body.ErrorDetails
		}
	} else {
		e.Message = http.StatusText(status)
	}
	return e
}
