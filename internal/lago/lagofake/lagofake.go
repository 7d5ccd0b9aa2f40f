// Package lagofake is an in-process stand-in for Lago's REST API, for tests.
// It follows the published contract that package lago documents: Bearer
// authentication, the batch events endpoint (at most 100 events, every event
// validated before any is stored, 422 with error_details keyed by event
// index), de-duplication by (external_subscription_id, transaction_id) the way
// Lago's Postgres event store does it (a duplicate is a 422
// "value_already_exist" and the whole batch is rolled back), customer upsert by
// external_id, and subscription create / plan change by external_id.
//
// Tests can switch it "down" (503 or a dropped connection), make chosen events
// invalid, and read back exactly what it stored and how often each
// transaction id was delivered.
//
// It also plays Lago's webhook sender (see webhook.go): an RSA key pair
// and an organization HMAC key, the public key served at
// GET /api/v1/webhooks/public_key and /json_public_key, and deliveries
// signed and sent the way Lago sends them.
package lagofake

import (
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/fast-saas/fast-saas/internal/lago"
)

// Mode is how the fake answers.
type Mode int

// Modes.
const (
	// Up serves the API.
	Up Mode = iota
	// Unavailable answers every request with 503.
	Unavailable
	// Refuse drops every connection without an answer, like a crashed server.
	Refuse
)

// DefaultAPIKey is the key a fake accepts when Options.APIKey is empty.
const DefaultAPIKey = "lago-test-key"

// Options configure a fake.
type Options struct {
	// APIKey the fake accepts; empty means DefaultAPIKey.
	APIKey string
	// Plans are the plan codes that exist; nil means free, starter, pro, enterprise.
	Plans []string
	// MaxBatch is the batch limit; zero means lago.MaxBatchEvents.
	MaxBatch int
	// AbortOnDuplicate mimics what Lago's Postgres event store does with a
	// batch holding an already stored transaction_id: it saves the events in
	// one transaction and rescues the unique violation, but Postgres has
	// aborted the transaction, so the next event's INSERT fails and the
	// request ends in a 500 — unless the duplicate was the last event, which
	// gets the intended 422 value_already_exist. false: every duplicate is
	// reported as a 422, as the code intends.
	AbortOnDuplicate bool
	// CountOnly keeps only transaction ids, not the events, for runs with
	// millions of events (the fault harness): Events returns nothing then.
	CountOnly bool
	// Issuer is the iss of jwt webhook signatures (Lago's LAGO_API_URL);
	// empty means the fake's own URL.
	Issuer string
}

// Stored is an event the fake accepted, with when it received it.
type Stored struct {
	lago.Event
	ReceivedAt time.Time
}

// Server is a running fake. Close it when done.
type Server struct {
	*httptest.Server

	apiKey   string
	maxBatch int
	abortDup bool
	keep     bool

	mu            sync.Mutex
	mode          Mode
	plans         map[string]bool
	reject        func(lago.Event) map[string][]string
	events        []Stored
	delivered     map[string]int  // transaction_id → times stored
	seen          map[string]bool // external_subscription_id + "\x00" + transaction_id
	duplicates    map[string]int  // transaction_id → duplicate deliveries refused
	customers     map[string]lago.Customer
	subscriptions map[string]lago.Subscription
	requests      map[string]int // "METHOD path" → count (including failures)
	webhookKeys
}

// New starts a fake.
func New(opts Options) *Server {
	s := &Server{
		apiKey:        opts.APIKey,
		maxBatch:      opts.MaxBatch,
		abortDup:      opts.AbortOnDuplicate,
		keep:          !opts.CountOnly,
		delivered:     map[string]int{},
		plans:         map[string]bool{},
		seen:          map[string]bool{},
		duplicates:    map[string]int{},
		customers:     map[string]lago.Customer{},
		subscriptions: map[string]lago.Subscription{},
		requests:      map[string]int{},
	}
	if s.apiKey == "" {
		s.apiKey = DefaultAPIKey
	}
	if s.maxBatch <= 0 {
		s.maxBatch = lago.MaxBatchEvents
	}
	plans := opts.Plans
	if plans == nil {
		plans = []string{"free", "starter", "pro", "enterprise"}
	}
	for _, p := range plans {
		s.plans[p] = true
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/v1/events/batch", s.batch)
	mux.HandleFunc("POST /api/v1/customers", s.customer)
	mux.HandleFunc("POST /api/v1/subscriptions", s.createSubscription)
	mux.HandleFunc("PUT /api/v1/subscriptions/{external_id}", s.updateSubscription)
	mux.HandleFunc("GET /api/v1/webhooks/public_key", s.publicKey)
	mux.HandleFunc("GET /api/v1/webhooks/json_public_key", s.jsonPublicKey)
	s.Server = httptest.NewServer(s.gate(mux))
	s.issuer = opts.Issuer
	if s.issuer == "" {
		s.issuer = s.URL
	}
	return s
}

// APIKey returns the key the fake accepts.
func (s *Server) APIKey() string { return s.apiKey }

// SetMode switches the fake up or down.
func (s *Server) SetMode(m Mode) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mode = m
}

// RejectEvents installs a validation hook: a non-empty result marks the event
// invalid with those field errors (as Lago does, e.g., for a property its
// metric expression cannot evaluate). nil removes the hook.
func (s *Server) RejectEvents(f func(lago.Event) map[string][]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reject = f
}

// Events returns every stored event in arrival order (none with CountOnly).
func (s *Server) Events() []Stored {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.events)
}

// Deliveries returns how many times each transaction id was stored. Lago
// de-duplicates, so every value is 1; tests compare the key set with what
// they sent.
func (s *Server) Deliveries() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.delivered)
}

// DuplicatesRefused returns how many times each transaction id was sent again
// after it had been stored (and refused with value_already_exist).
func (s *Server) DuplicatesRefused() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.duplicates)
}

// Customer returns the stored customer with that external id.
func (s *Server) Customer(externalID string) (lago.Customer, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.customers[externalID]
	return c, ok
}

// Subscription returns the stored subscription with that external id.
func (s *Server) Subscription(externalID string) (lago.Subscription, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sub, ok := s.subscriptions[externalID]
	return sub, ok
}

// Requests returns how many requests reached "METHOD path" (answered or not).
func (s *Server) Requests(methodPath string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests[methodPath]
}

// gate counts requests, applies the mode and checks authentication.
func (s *Server) gate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		mode := s.mode
		s.requests[r.Method+" "+r.URL.Path]++
		s.mu.Unlock()
		switch mode {
		case Unavailable:
			w.Header().Set("Content-Type", "text/plain")
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = io.WriteString(w, "Service Unavailable")
			return
		case Refuse:
			if hj, ok := w.(http.Hijacker); ok {
				if conn, _, err := hj.Hijack(); err == nil {
					_ = conn.Close()
					return
				}
			}
			panic(http.ErrAbortHandler)
		}
		token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(token), []byte(s.apiKey)) != 1 {
			writeJSON(w, http.StatusUnauthorized, map[string]any{"status": 401, "error": "Unauthorized"})
			return
		}
		next.ServeHTTP(w, r)
	})
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

func validationFailure(w http.ResponseWriter, details any) {
	writeJSON(w, http.StatusUnprocessableEntity, map[string]any{
		"status": 422, "error": "Unprocessable Entity", "code": "validation_errors", "error_details": details,
	})
}

func badRequest(w http.ResponseWriter, msg string) {
	writeJSON(w, http.StatusBadRequest, map[string]any{"status": 400, "error": "BadRequest: " + msg})
}

func notFound(w http.ResponseWriter, resource string) {
	writeJSON(w, http.StatusNotFound, map[string]any{"status": 404, "error": "Not Found", "code": resource + "_not_found"})
}

// wireEvent is an event as it arrives: timestamp may be a number or a string
// (Lago accepts "1651240791.123"), properties any object.
type wireEvent struct {
	TransactionID          string          `json:"transaction_id"`
	ExternalSubscriptionID string          `json:"external_subscription_id"`
	ExternalCustomerID     string          `json:"external_customer_id"`
	Code                   string          `json:"code"`
	Timestamp              json.RawMessage `json:"timestamp"`
	Properties             map[string]any  `json:"properties"`
}

func (s *Server) batch(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Events []wireEvent `json:"events"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 8<<20)).Decode(&body); err != nil {
		badRequest(w, "invalid JSON: "+err.Error())
		return
	}
	if len(body.Events) == 0 {
		validationFailure(w, map[string][]string{"events": {"no_events"}})
		return
	}
	if len(body.Events) > s.maxBatch {
		validationFailure(w, map[string][]string{"events": {"too_many_events"}})
		return
	}
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()

	// Pass 1, like Lago: validate every event, store nothing if any fails.
	events := make([]lago.Event, len(body.Events))
	errs := map[string]map[string][]string{}
	for i, we := range body.Events {
		ev, fields := validate(we, now)
		if len(fields) == 0 && s.reject != nil {
			fields = s.reject(ev)
		}
		if len(fields) > 0 {
			errs[strconv.Itoa(i)] = fields
		}
		events[i] = ev
	}
	if len(errs) > 0 {
		validationFailure(w, errs)
		return
	}
	// Pass 2: save in one transaction; a unique violation on
	// (external_subscription_id, transaction_id) rolls everything back.
	batchSeen := map[string]bool{}
	for i, ev := range events {
		key := ev.ExternalSubscriptionID + "\x00" + ev.TransactionID
		if s.seen[key] || batchSeen[key] {
			if s.seen[key] {
				s.duplicates[ev.TransactionID]++
			}
			if s.abortDup && i < len(events)-1 {
				writeJSON(w, http.StatusInternalServerError, map[string]any{"status": 500, "error": "Internal Server Error"})
				return
			}
			errs[strconv.Itoa(i)] = map[string][]string{"transaction_id": {lago.CodeAlreadyExists}}
		}
		batchSeen[key] = true
	}
	if len(errs) > 0 {
		validationFailure(w, errs)
		return
	}
	out := make([]map[string]any, 0, len(events))
	for _, ev := range events {
		s.seen[ev.ExternalSubscriptionID+"\x00"+ev.TransactionID] = true
		s.delivered[ev.TransactionID]++
		if s.keep {
			s.events = append(s.events, Stored{Event: ev, ReceivedAt: now})
		}
		out = append(out, map[string]any{
			"transaction_id":           ev.TransactionID,
			"external_subscription_id": ev.ExternalSubscriptionID,
			"code":                     ev.Code,
			"timestamp":                time.Unix(ev.Timestamp, 0).UTC().Format(time.RFC3339),
			"properties":               ev.Properties,
		})
	}
	writeJSON(w, http.StatusOK, map[string]any{"events": out})
}

// validate checks one event the way Lago's batch service does: transaction_id
// and code present, an external identifier present, a numeric timestamp
// (default: now). Properties are free-form, as Lago permits any hash.
func validate(we wireEvent, now time.Time) (lago.Event, map[string][]string) {
	fields := map[string][]string{}
	ev := lago.Event{
		TransactionID:          we.TransactionID,
		ExternalSubscriptionID: we.ExternalSubscriptionID,
		Code:                   we.Code,
		Properties:             we.Properties,
		Timestamp:              now.Unix(),
	}
	if strings.TrimSpace(we.TransactionID) == "" {
		fields["transaction_id"] = []string{lago.CodeMandatory}
	}
	if strings.TrimSpace(we.Code) == "" {
		fields["code"] = []string{lago.CodeMandatory}
	}
	if we.ExternalSubscriptionID == "" && we.ExternalCustomerID == "" {
		fields["base"] = []string{"missing_external_identifier"}
	}
	if len(we.Timestamp) > 0 && string(we.Timestamp) != "null" {
		ts, ok := parseTimestamp(we.Timestamp)
		if !ok {
			return ev, map[string][]string{"timestamp": {lago.CodeInvalidFormat}}
		}
		ev.Timestamp = ts
	}
	return ev, fields
}

func parseTimestamp(raw json.RawMessage) (int64, bool) {
	var n float64
	if err := json.Unmarshal(raw, &n); err == nil {
		return int64(n), true
	}
	var str string
	if err := json.Unmarshal(raw, &str); err != nil {
		return 0, false
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(str), 64)
	if err != nil {
		return 0, false
	}
	return int64(f), true
}

func (s *Server) customer(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Customer *lago.Customer `json:"customer"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&body); err != nil {
		badRequest(w, "invalid JSON: "+err.Error())
		return
	}
	if body.Customer == nil {
		badRequest(w, "param is missing or the value is empty: customer")
		return
	}
	if strings.TrimSpace(body.Customer.ExternalID) == "" {
		validationFailure(w, map[string][]string{"external_id": {lago.CodeMandatory}})
		return
	}
	s.mu.Lock()
	prev, ok := s.customers[body.Customer.ExternalID]
	cust := *body.Customer
	if ok { // update: keep fields not sent
		if cust.Name == "" {
			cust.Name = prev.Name
		}
		if cust.Email == "" {
			cust.Email = prev.Email
		}
	}
	s.customers[cust.ExternalID] = cust
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"customer": map[string]any{
		"external_id": cust.ExternalID, "name": cust.Name, "email": cust.Email,
	}})
}

func (s *Server) createSubscription(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Subscription *lago.Subscription `json:"subscription"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&body); err != nil {
		badRequest(w, "invalid JSON: "+err.Error())
		return
	}
	if body.Subscription == nil {
		badRequest(w, "param is missing or the value is empty: subscription")
		return
	}
	sub := *body.Subscription
	fields := map[string][]string{}
	if sub.ExternalID == "" {
		fields["external_id"] = []string{lago.CodeMandatory}
	}
	if sub.ExternalCustomerID == "" {
		fields["external_customer_id"] = []string{lago.CodeMandatory}
	}
	if sub.BillingTime != "" && sub.BillingTime != "calendar" && sub.BillingTime != "anniversary" {
		fields["billing_time"] = []string{"value_is_invalid"}
	}
	if len(fields) > 0 {
		validationFailure(w, fields)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.plans[sub.PlanCode] {
		notFound(w, "plan")
		return
	}
	// Lago finds or creates the customer named by external_customer_id.
	if _, ok := s.customers[sub.ExternalCustomerID]; !ok {
		s.customers[sub.ExternalCustomerID] = lago.Customer{ExternalID: sub.ExternalCustomerID}
	}
	if prev, ok := s.subscriptions[sub.ExternalID]; ok && prev.ExternalCustomerID != sub.ExternalCustomerID {
		validationFailure(w, map[string][]string{"external_id": {"value_already_exist"}})
		return
	}
	s.subscriptions[sub.ExternalID] = sub
	writeJSON(w, http.StatusOK, map[string]any{"subscription": map[string]any{
		"external_id": sub.ExternalID, "external_customer_id": sub.ExternalCustomerID,
		"plan_code": sub.PlanCode, "status": "active",
	}})
}

func (s *Server) updateSubscription(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("external_id")
	var body struct {
		Subscription *lago.SubscriptionUpdate `json:"subscription"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&body); err != nil {
		badRequest(w, "invalid JSON: "+err.Error())
		return
	}
	if body.Subscription == nil {
		badRequest(w, "param is missing or the value is empty: subscription")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sub, ok := s.subscriptions[id]
	if !ok {
		notFound(w, "subscription")
		return
	}
	if body.Subscription.Name != "" {
		sub.Name = body.Subscription.Name
	}
	s.subscriptions[id] = sub
	writeJSON(w, http.StatusOK, map[string]any{"subscription": map[string]any{
		"external_id": sub.ExternalID, "plan_code": sub.PlanCode, "name": sub.Name,
	}})
}

// String describes the fake's state for failure messages.
func (s *Server) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return fmt.Sprintf("lagofake{events: %d, customers: %d, subscriptions: %d, mode: %d}",
		len(s.events), len(s.customers), len(s.subscriptions), s.mode)
}
