package lago_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/fast-saas/fast-saas/internal/lago"
	"github.com/fast-saas/fast-saas/internal/lago/lagofake"
	"github.com/google/go-cmp/cmp"
)

func newClient(t *testing.T, fake *lagofake.Server, key string) *lago.Client {
	t.Helper()
	c, err := lago.New(lago.Options{BaseURL: fake.URL + "/api/v1/", APIKey: key})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c
}

func events(n int, sub string) []lago.Event {
	out := make([]lago.Event, n)
	for i := range out {
		out[i] = lago.Event{
			TransactionID:          fmt.Sprintf("tx-%s-%d", sub, i),
			ExternalSubscriptionID: sub,
			Code:                   "api_calls",
			Timestamp:              1700000000 + int64(i),
			Properties:             map[string]any{"count": 1},
		}
	}
	return out
}

func TestNewValidatesOptions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		opts lago.Options
	}{
		{"no url", lago.Options{APIKey: "k"}},
		{"no key", lago.Options{BaseURL: "http://lago"}},
		{"relative url", lago.Options{BaseURL: "lago:3000", APIKey: "k"}},
		{"ftp url", lago.Options{BaseURL: "ftp://lago", APIKey: "k"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if _, err := lago.New(tt.opts); err == nil {
				t.Errorf("New(%+v) = nil error, want an error", tt.opts)
			}
		})
	}
}

func TestSendEventsStoresBatch(t *testing.T) {
	t.Parallel()
	fake := lagofake.New(lagofake.Options{})
	defer fake.Close()
	c := newClient(t, fake, fake.APIKey())
	sent := events(100, "tenant-a")
	if err := c.SendEvents(context.Background(), sent); err != nil {
		t.Fatalf("SendEvents: %v", err)
	}
	got := fake.Events()
	if len(got) != len(sent) {
		t.Fatalf("fake stored %d events, want %d", len(got), len(sent))
	}
	for i := range sent {
		if diff := cmp.Diff(fmt.Sprint(sent[i]), fmt.Sprint(got[i].Event)); diff != "" {
			t.Errorf("event %d differs (-sent +stored):\n%s", i, diff)
		}
	}
}

func TestSendEventsRejectsOversizeBatchLocally(t *testing.T) {
	t.Parallel()
	fake := lagofake.New(lagofake.Options{})
	defer fake.Close()
	c := newClient(t, fake, fake.APIKey())
	if err := c.SendEvents(context.Background(), events(101, "t")); err == nil {
		t.Fatal("SendEvents(101 events) = nil, want an error")
	}
	if n := fake.Requests("POST /api/v1/events/batch"); n != 0 {
		t.Errorf("oversize batch reached the server %d times, want 0", n)
	}
}

func TestSendEventsDuplicateIsPerEvent422(t *testing.T) {
	t.Parallel()
	fake := lagofake.New(lagofake.Options{})
	defer fake.Close()
	c := newClient(t, fake, fake.APIKey())
	ctx := context.Background()
	first := events(3, "t")
	if err := c.SendEvents(ctx, first[:1]); err != nil {
		t.Fatalf("SendEvents: %v", err)
	}
	err := c.SendEvents(ctx, first)
	var apiErr *lago.APIError
	if !errors.As(err, &apiErr) {
		t.Fatalf("SendEvents(duplicate) = %v, want *APIError", err)
	}
	if apiErr.StatusCode != 422 || apiErr.Code != "validation_errors" || apiErr.Retryable() {
		t.Errorf("got status %d code %q retryable %v, want 422 validation_errors not retryable",
			apiErr.StatusCode, apiErr.Code, apiErr.Retryable())
	}
	errs, ok := apiErr.EventErrors()
	if !ok {
		t.Fatalf("EventErrors not keyed by index: %s", apiErr.Details)
	}
	want := map[int]map[string][]string{0: {"transaction_id": {lago.CodeAlreadyExists}}}
	if diff := cmp.Diff(want, errs); diff != "" {
		t.Errorf("EventErrors (-want +got):\n%s", diff)
	}
	if !lago.OnlyAlreadyExists(errs[0]) {
		t.Errorf("OnlyAlreadyExists(%v) = false, want true", errs[0])
	}
	// Lago rolls back the whole batch: events 1 and 2 are not stored.
	if got := len(fake.Events()); got != 1 {
		t.Errorf("fake stored %d events, want 1 (batch rolled back)", got)
	}
}

func TestSendEventsInvalidEventsRejectWholeBatch(t *testing.T) {
	t.Parallel()
	fake := lagofake.New(lagofake.Options{})
	defer fake.Close()
	c := newClient(t, fake, fake.APIKey())
	batch := events(4, "t")
	batch[1].Code = ""
	batch[3].TransactionID = ""
	err := c.SendEvents(context.Background(), batch)
	var apiErr *lago.APIError
	if !errors.As(err, &apiErr) {
		t.Fatalf("SendEvents = %v, want *APIError", err)
	}
	errs, ok := apiErr.EventErrors()
	if !ok {
		t.Fatalf("EventErrors not keyed by index: %s", apiErr.Details)
	}
	want := map[int]map[string][]string{
		1: {"code": {lago.CodeMandatory}},
		3: {"transaction_id": {lago.CodeMandatory}},
	}
	if diff := cmp.Diff(want, errs); diff != "" {
		t.Errorf("EventErrors (-want +got):\n%s", diff)
	}
	if lago.OnlyAlreadyExists(errs[1]) {
		t.Error("OnlyAlreadyExists(missing code) = true, want false")
	}
	if got := len(fake.Events()); got != 0 {
		t.Errorf("fake stored %d events, want 0", got)
	}
}

func TestErrorsAndRetryability(t *testing.T) {
	t.Parallel()
	fake := lagofake.New(lagofake.Options{})
	defer fake.Close()
	ctx := context.Background()
	tests := []struct {
		name      string
		mode      lagofake.Mode
		key       string
		status    int // 0: transport error
		retryable bool
	}{
		{"wrong key", lagofake.Up, "nope", 401, false},
		{"unavailable", lagofake.Unavailable, fake.APIKey(), 503, true},
		{"connection dropped", lagofake.Refuse, fake.APIKey(), 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Not parallel: the mode is shared.
			fake.SetMode(tt.mode)
			defer fake.SetMode(lagofake.Up)
			err := newClient(t, fake, tt.key).SendEvents(ctx, events(1, "t"))
			if err == nil {
				t.Fatal("SendEvents = nil, want an error")
			}
			var apiErr *lago.APIError
			var te *lago.TransportError
			switch {
			case tt.status == 0 && !errors.As(err, &te):
				t.Errorf("err = %v, want a *TransportError", err)
			case tt.status != 0 && (!errors.As(err, &apiErr) || apiErr.StatusCode != tt.status):
				t.Errorf("err = %v, want status %d", err, tt.status)
			}
			if got := lago.Retryable(err); got != tt.retryable {
				t.Errorf("Retryable(%v) = %v, want %v", err, got, tt.retryable)
			}
			if strings.Contains(err.Error(), fake.APIKey()) {
				t.Errorf("error %q leaks the API key", err)
			}
		})
	}
	if got := len(fake.Events()); got != 0 {
		t.Errorf("fake stored %d events while down or unauthorized, want 0", got)
	}
}

func TestCustomerAndSubscriptionLifecycle(t *testing.T) {
	t.Parallel()
	fake := lagofake.New(lagofake.Options{})
	defer fake.Close()
	c := newClient(t, fake, fake.APIKey())
	ctx := context.Background()

	if err := c.UpsertCustomer(ctx, lago.Customer{ExternalID: "tenant-1", Name: "Acme"}); err != nil {
		t.Fatalf("UpsertCustomer: %v", err)
	}
	if err := c.UpsertCustomer(ctx, lago.Customer{ExternalID: "tenant-1", Email: "billing@acme.test"}); err != nil {
		t.Fatalf("UpsertCustomer (update): %v", err)
	}
	gotCust, _ := fake.Customer("tenant-1")
	if diff := cmp.Diff(lago.Customer{ExternalID: "tenant-1", Name: "Acme", Email: "billing@acme.test"}, gotCust); diff != "" {
		t.Errorf("customer (-want +got):\n%s", diff)
	}

	sub := lago.Subscription{ExternalCustomerID: "tenant-1", ExternalID: "tenant-1", PlanCode: "free"}
	if err := c.CreateSubscription(ctx, sub); err != nil {
		t.Fatalf("CreateSubscription: %v", err)
	}
	sub.PlanCode = "pro"
	if err := c.CreateSubscription(ctx, sub); err != nil {
		t.Fatalf("CreateSubscription (plan change): %v", err)
	}
	if got, _ := fake.Subscription("tenant-1"); got.PlanCode != "pro" {
		t.Errorf("plan after change = %q, want pro", got.PlanCode)
	}
	if err := c.UpdateSubscription(ctx, "tenant-1", lago.SubscriptionUpdate{Name: "Acme (pro)"}); err != nil {
		t.Fatalf("UpdateSubscription: %v", err)
	}
	if got, _ := fake.Subscription("tenant-1"); got.Name != "Acme (pro)" {
		t.Errorf("name after update = %q, want %q", got.Name, "Acme (pro)")
	}

	sub.PlanCode = "platinum"
	err := c.CreateSubscription(ctx, sub)
	var apiErr *lago.APIError
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 404 || apiErr.Code != "plan_not_found" {
		t.Errorf("CreateSubscription(unknown plan) = %v, want 404 plan_not_found", err)
	}
	err = c.UpdateSubscription(ctx, "nobody", lago.SubscriptionUpdate{Name: "x"})
	if !errors.As(err, &apiErr) || apiErr.Code != "subscription_not_found" {
		t.Errorf("UpdateSubscription(unknown) = %v, want subscription_not_found", err)
	}
}

func TestRequestShape(t *testing.T) {
	t.Parallel()
	var gotAuth, gotPath, gotType, gotBody string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotAuth, gotPath, gotType = r.Header.Get("Authorization"), r.URL.Path, r.Header.Get("Content-Type")
		b, _ := io.ReadAll(r.Body)
		gotBody = string(b)
		w.Header().Set("Retry-After", "7")
		w.WriteHeader(http.StatusTooManyRequests)
	}))
	defer srv.Close()
	c, err := lago.New(lago.Options{BaseURL: srv.URL, APIKey: "secret"})
	if err != nil {
		t.Fatal(err)
	}
	err = c.SendEvents(context.Background(), []lago.Event{{TransactionID: "a", ExternalSubscriptionID: "s", Code: "api_calls", Timestamp: 12}})
	var apiErr *lago.APIError
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 429 || !apiErr.Retryable() || apiErr.RetryAfter != 7*time.Second {
		t.Errorf("err = %#v, want retryable 429 with RetryAfter 7s", err)
	}
	want := `{"events":[{"transaction_id":"a","external_subscription_id":"s","code":"api_calls","timestamp":12}]}`
	if gotAuth != "Bearer secret" || gotPath != "/api/v1/events/batch" || gotType != "application/json" || gotBody != want {
		t.Errorf("request = auth %q path %q type %q body %s; want Bearer secret, /api/v1/events/batch, application/json, %s",
			gotAuth, gotPath, gotType, gotBody, want)
	}
}

func TestEventErrorsNotPerIndex(t *testing.T) {
	t.Parallel()
	e := &lago.APIError{StatusCode: 422, Details: []byte(`{"events":["too_many_events"]}`)}
	if _, ok := e.EventErrors(); ok {
		t.Error("EventErrors ok for a batch-level error, want false")
	}
	e = &lago.APIError{StatusCode: 422, Details: []byte(`{"2":"expression failed"}`)}
	errs, ok := e.EventErrors()
	if !ok || errs[2]["base"][0] != "expression failed" {
		t.Errorf("EventErrors = %v, %v; want base message for index 2", errs, ok)
	}
}

// FuzzEventErrors feeds arbitrary error_details to the parser of Lago's 422
// answers: it must never panic, and a result it accepts has valid indexes.
func FuzzEventErrors(f *testing.F) {
	f.Add([]byte(`{"0":{"transaction_id":["value_already_exist"]}}`))
	f.Add([]byte(`{"events":["too_many_events"]}`))
	f.Add([]byte(`{"1":"boom","2":{"code":[]}}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, details []byte) {
		e := &lago.APIError{StatusCode: 422, Details: details}
		errs, ok := e.EventErrors()
		if !ok {
			return
		}
		for i := range errs {
			if i < 0 {
				t.Fatalf("negative index %d from %q", i, details)
			}
		}
		_ = e.Error()
	})
}

func TestFakeAbortOnDuplicate(t *testing.T) {
	t.Parallel()
	fake := lagofake.New(lagofake.Options{AbortOnDuplicate: true})
	defer fake.Close()
	c := newClient(t, fake, fake.APIKey())
	ctx := context.Background()
	evs := events(3, "t")
	if err := c.SendEvents(ctx, evs[:1]); err != nil {
		t.Fatal(err)
	}
	var apiErr *lago.APIError
	// The duplicate first: the aborted transaction fails the next event, 500.
	if err := c.SendEvents(ctx, evs); !errors.As(err, &apiErr) || apiErr.StatusCode != 500 || !apiErr.Retryable() {
		t.Errorf("SendEvents(duplicate first) = %v, want a retryable 500", err)
	}
	// The duplicate last: the intended 422.
	err := c.SendEvents(ctx, []lago.Event{evs[1], evs[0]})
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 422 {
		t.Fatalf("SendEvents(duplicate last) = %v, want 422", err)
	}
	if errs, ok := apiErr.EventErrors(); !ok || !lago.OnlyAlreadyExists(errs[1]) {
		t.Errorf("EventErrors = %v, %v; want index 1 already exists", errs, ok)
	}
	if got := len(fake.Events()); got != 1 {
		t.Errorf("fake stored %d events, want 1 (both batches rolled back)", got)
	}
}

func TestFakeCountOnly(t *testing.T) {
	t.Parallel()
	fake := lagofake.New(lagofake.Options{CountOnly: true})
	defer fake.Close()
	c := newClient(t, fake, fake.APIKey())
	evs := events(5, "t")
	if err := c.SendEvents(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
	if got := fake.Events(); len(got) != 0 {
		t.Errorf("Events() kept %d events with CountOnly, want 0", len(got))
	}
	got := fake.Deliveries()
	if len(got) != 5 || got[evs[4].TransactionID] != 1 {
		t.Errorf("Deliveries() = %v, want 5 transactions once each", got)
	}
	if err := c.SendEvents(context.Background(), evs[:1]); err == nil {
		t.Error("duplicate accepted with CountOnly, want 422")
	}
}
