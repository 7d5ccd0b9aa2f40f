package usage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/fast-saas/fast-saas/internal/lago"
	"github.com/fast-saas/fast-saas/internal/store"
)

// Outbox is the part of the store the Forwarder uses. store.Store has it.
type Outbox interface {
	// ClaimOutbox leases up to limit due pending rows, oldest first, so that
	// concurrent forwarders (other replicas) skip them until the lease ends.
	ClaimOutbox(ctx context.Context, limit int, lease time.Duration) ([]store.OutboxItem, error)
	MarkOutboxSent(ctx context.Context, ids []string) error
	MarkOutboxRetry(ctx context.Context, id, lastError string, next time.Time) error
	MarkOutboxFailed(ctx context.Context, id, lastError string) error
	OutboxBacklog(ctx context.Context) (pending int, oldest time.Time, err error)
}

// LagoAPI is the part of *lago.Client the Forwarder uses.
type LagoAPI interface {
	SendEvents(ctx context.Context, events []lago.Event) error
	UpsertCustomer(ctx context.Context, c lago.Customer) error
	CreateSubscription(ctx context.Context, s lago.Subscription) error
}

// TenantPlans looks up a tenant's current plan. store.Store has it.
type TenantPlans interface {
	GetTenant(ctx context.Context, tenantID string) (store.Tenant, error)
}

// CustomerPayload is the JSON payload of a store.OutboxKindCreateCustomer row.
type CustomerPayload struct {
	Name  string `json:"name,omitempty"`
	Email string `json:"email,omitempty"`
}

// SubscriptionPayload is the JSON payload of store.OutboxKindCreateSubscription
// and store.OutboxKindChangePlan rows. PlanID is also Lago's plan code.
type SubscriptionPayload struct {
	PlanID string `json:"plan_id"`
	Name   string `json:"name,omitempty"`
}

// CreateCustomerItem is the outbox row that makes tenantID a Lago customer
// (external id = tenant id). Enqueue it with store.EnqueueOutbox in the
// transaction that creates the tenant.
func CreateCustomerItem(tenantID, name, email string) store.OutboxItem {
	p, _ := json.Marshal(CustomerPayload{Name: name, Email: email})
	return store.OutboxItem{TenantID: tenantID, Kind: store.OutboxKindCreateCustomer, Payload: p}
}

// CreateSubscriptionItem is the outbox row that subscribes tenantID to planID
// (subscription external id = tenant id).
func CreateSubscriptionItem(tenantID, planID, name string) store.OutboxItem {
	p, _ := json.Marshal(SubscriptionPayload{PlanID: planID, Name: name})
	return store.OutboxItem{TenantID: tenantID, Kind: store.OutboxKindCreateSubscription, Payload: p}
}

// ChangePlanItem is the outbox row that moves tenantID's subscription to planID.
func ChangePlanItem(tenantID, planID string) store.OutboxItem {
	p, _ := json.Marshal(SubscriptionPayload{PlanID: planID})
	return store.OutboxItem{TenantID: tenantID, Kind: store.OutboxKindChangePlan, Payload: p}
}

// Failure reasons of lago_forward_failures_total.
const (
	ReasonUnavailable  = "unavailable"  // no answer: connection refused, reset, timeout
	ReasonServerError  = "server_error" // 5xx
	ReasonRateLimited  = "rate_limited" // 429
	ReasonUnauthorized = "unauthorized" // 401/403: check FASTSAAS_LAGO_API_KEY
	ReasonNotFound     = "not_found"    // 404, e.g. a plan code Lago does not know
	ReasonRejected     = "rejected"     // 422 for one row: poison, not retried
	ReasonBadRequest   = "bad_request"  // other 4xx
	ReasonInvalidRow   = "invalid_row"  // an outbox row we cannot turn into a request
	ReasonStore        = "store"        // the outbox could not be read or updated
)

// ForwarderOptions configure a Forwarder. Outbox and Lago are required.
type ForwarderOptions struct {
	Outbox Outbox
	Lago   LagoAPI
	// Tenants, when set, supplies the tenant's current plan for subscription
	// rows, so that rows delivered out of order (one retried later than the
	// next) still leave Lago on the latest plan. nil: the row's plan.
	Tenants TenantPlans
	// BatchSize is how many rows one claim takes; at most and by default
	// lago.MaxBatchEvents (100).
	BatchSize int
	// Lease is how long claimed rows are hidden from other forwarders; it
	// must exceed the time to send one batch. 0 = 5m.
	Lease time.Duration
	// PollInterval is the wait when nothing is due; 0 = 1s.
	PollInterval time.Duration
	// Backoff paces retries of rows (by their attempt count) and of a
	// failing outbox; zero value = 1s doubling up to 10m, with jitter.
	Backoff Backoff
	Metrics *Metrics
	Logger  *slog.Logger
	Now     func() time.Time
}

// Forwarder sends the Lago outbox to Lago. Any number of forwarders may run
// against one Postgres store (claims lease rows with SKIP LOCKED); with
// SQLite run one per database.
type Forwarder struct {
	opts    ForwarderOptions
	metrics *Metrics
	log     *slog.Logger
	now     func() time.Time
	lagAt   atomic.Int64 // unix ns of the last lag gauge refresh
}

// NewForwarder checks opts and fills defaults.
func NewForwarder(opts ForwarderOptions) (*Forwarder, error) {
	if opts.Outbox == nil || opts.Lago == nil {
		return nil, errors.New("usage: forwarder needs an Outbox and a Lago client")
	}
	if opts.BatchSize <= 0 || opts.BatchSize > lago.MaxBatchEvents {
		opts.BatchSize = lago.MaxBatchEvents
	}
	if opts.Lease <= 0 {
		opts.Lease = 5 * time.Minute
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = time.Second
	}
	f := &Forwarder{opts: opts, metrics: orNop(opts.Metrics), log: opts.Logger, now: opts.Now}
	if f.log == nil {
		f.log = slog.Default()
	}
	if f.now == nil {
		f.now = time.Now
	}
	return f, nil
}

// Run forwards until ctx ends, then returns nil.
func (f *Forwarder) Run(ctx context.Context) error {
	failures := 0
	for ctx.Err() == nil {
		n, err := f.ForwardOnce(ctx)
		switch {
		case ctx.Err() != nil:
		case err != nil:
			d := f.opts.Backoff.Delay(failures)
			failures++
			f.log.Warn("lago forwarder: outbox unavailable; retrying", "retry_in", d, "err", err)
			sleep(ctx, d)
		case n < f.opts.BatchSize:
			failures = 0
			sleep(ctx, f.opts.PollInterval)
		default:
			failures = 0 // a full batch: more may be due right now
		}
	}
	return nil
}

// verdicts collects what to write back to the outbox for one claim.
type verdicts struct {
	sent   []string
	retry  []retryRow
	failed []failedRow
}

type retryRow struct {
	item store.OutboxItem
	err  error
}

type failedRow struct {
	id, reason string
}

// ForwardOnce claims one batch of due rows, sends it and records the
// outcome of every row. It returns how many rows it claimed.
func (f *Forwarder) ForwardOnce(ctx context.Context) (int, error) {
	items, err := f.opts.Outbox.ClaimOutbox(ctx, f.opts.BatchSize, f.opts.Lease)
	if err != nil {
		f.metrics.LagoFailures.WithLabelValues(ReasonStore).Inc()
		return 0, fmt.Errorf("claim outbox: %w", err)
	}
	if len(items) > 0 {
		var v verdicts
		var events []store.OutboxItem
		var commands []store.OutboxItem
		for _, it := range items {
			if it.Kind == store.OutboxKindEvent {
				events = append(events, it)
			} else {
				commands = append(commands, it)
			}
		}
		f.sendEvents(ctx, events, &v)
		f.sendCommands(ctx, commands, &v)
		if err := f.apply(ctx, &v); err != nil {
			f.metrics.LagoFailures.WithLabelValues(ReasonStore).Inc()
			// The rows keep their lease and come back after it; Lago's
			// de-duplication makes the resend harmless.
			return len(items), fmt.Errorf("record outbox results: %w", err)
		}
	}
	// The backlog query counts every pending row (300 ms at a million on
	// Postgres): after every full batch it made forwarding O(backlog) per
	// batch (bench/cmd/faults drained 1M events at ~500/s). While full
	// batches keep coming, refresh the gauge at most every 5 s.
	now := f.now()
	if last := f.lagAt.Load(); len(items) >= f.opts.BatchSize && last != 0 && now.Sub(time.Unix(0, last)) < 5*time.Second {
		return len(items), nil
	}
	f.lagAt.Store(now.UnixNano())
	if pending, oldest, err := f.opts.Outbox.OutboxBacklog(ctx); err == nil {
		lag := 0.0
		if pending > 0 && !oldest.IsZero() {
			lag = f.now().Sub(oldest).Seconds()
		}
		f.metrics.Lag.WithLabelValues(StageLago).Set(lag)
	}
	return len(items), nil
}

func (f *Forwarder) apply(ctx context.Context, v *verdicts) error {
	var errs []error
	if len(v.sent) > 0 {
		if err := f.opts.Outbox.MarkOutboxSent(ctx, v.sent); err != nil {
			errs = append(errs, err)
		}
	}
	now := f.now()
	for _, r := range v.retry {
		d := f.opts.Backoff.Delay(r.item.Attempts)
		var apiErr *lago.APIError
		if errors.As(r.err, &apiErr) && apiErr.RetryAfter > d {
			d = apiErr.RetryAfter
		}
		if err := f.opts.Outbox.MarkOutboxRetry(ctx, r.item.ID, r.err.Error(), now.Add(d)); err != nil {
			errs = append(errs, err)
		}
	}
	for _, r := range v.failed {
		if err := f.opts.Outbox.MarkOutboxFailed(ctx, r.id, r.reason); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// sendEvents delivers event rows in one batch request. Lago stores none of a
// batch that has an invalid event, and says which ones by index; those are
// marked failed (or sent, when the only complaint is that Lago already has the
// transaction id) and the rest is sent again. A 422 that names no event is
// narrowed down by bisection.
func (f *Forwarder) sendEvents(ctx context.Context, items []store.OutboxItem, v *verdicts) {
	pending := make([]store.OutboxItem, 0, len(items))
	batch := make([]lago.Event, 0, len(items))
	for _, it := range items {
		ev, err := toLagoEvent(it)
		if err != nil {
			f.metrics.LagoFailures.WithLabelValues(ReasonInvalidRow).Inc()
			v.failed = append(v.failed, failedRow{it.ID, err.Error()})
			continue
		}
		pending = append(pending, it)
		batch = append(batch, ev)
	}
	_ = f.sendEventBatch(ctx, pending, batch, v)
}

// sendEventBatch sends one batch and sorts its rows into v. It returns a
// non-nil error when Lago looks unavailable, so that a caller bisecting does
// not send the other half into an outage.
func (f *Forwarder) sendEventBatch(ctx context.Context, items []store.OutboxItem, batch []lago.Event, v *verdicts) error {
	for len(items) > 0 {
		err := f.opts.Lago.SendEvents(ctx, batch)
		if err == nil {
			for _, it := range items {
				v.sent = append(v.sent, it.ID)
			}
			return nil
		}
		var apiErr *lago.APIError
		isAPI := errors.As(err, &apiErr)
		switch {
		case isAPI && apiErr.StatusCode == http.StatusUnprocessableEntity:
			// Handled below.
		case isAPI && apiErr.StatusCode == http.StatusInternalServerError && len(items) > 1 && ctx.Err() == nil:
			// Lago's Postgres event store saves a batch in one transaction
			// and rescues a duplicate transaction_id per event; but the
			// failed INSERT has aborted the transaction, so the next event
			// fails too and the request ends in a 500 — unless the duplicate
			// was last. A resent batch (lost answer, expired lease) would
			// then fail forever. Bisecting isolates the rows: alone, a
			// duplicate gets its 422 value_already_exist. When Lago is down
			// for real, the first half tells us and the rest waits.
			f.metrics.LagoFailures.WithLabelValues(ReasonServerError).Inc()
			return f.bisect(ctx, items, batch, v)
		default:
			f.metrics.LagoFailures.WithLabelValues(reason(err)).Inc()
			for _, it := range items {
				v.retry = append(v.retry, retryRow{it, err})
			}
			if lagoDown(err) {
				return err
			}
			return nil // this batch's own problem (e.g. a 500 for one event)
		}
		if errs, ok := apiErr.EventErrors(); ok {
			var nextItems []store.OutboxItem
			var nextBatch []lago.Event
			for i, it := range items {
				fields, bad := errs[i]
				switch {
				case !bad:
					nextItems = append(nextItems, it)
					nextBatch = append(nextBatch, batch[i])
				case lago.OnlyAlreadyExists(fields):
					v.sent = append(v.sent, it.ID) // delivered earlier (lost answer, expired lease)
				default:
					f.metrics.LagoFailures.WithLabelValues(ReasonRejected).Inc()
					reasonJSON, _ := json.Marshal(fields)
					v.failed = append(v.failed, failedRow{it.ID, "lago rejected the event: " + string(reasonJSON)})
				}
			}
			if len(nextItems) < len(items) { // progress: resend the rest
				items, batch = nextItems, nextBatch
				continue
			}
		}
		// A 422 that names no event of this batch.
		if len(items) == 1 {
			f.metrics.LagoFailures.WithLabelValues(ReasonRejected).Inc()
			v.failed = append(v.failed, failedRow{items[0].ID, "lago rejected the event: " + err.Error()})
			return nil
		}
		return f.bisect(ctx, items, batch, v)
	}
	return nil
}

// bisect sends the two halves of a batch; if the first finds Lago down, the
// second is not sent but retried later with the same error.
func (f *Forwarder) bisect(ctx context.Context, items []store.OutboxItem, batch []lago.Event, v *verdicts) error {
	mid := len(items) / 2
	if err := f.sendEventBatch(ctx, items[:mid], batch[:mid], v); err != nil {
		for _, it := range items[mid:] {
			v.retry = append(v.retry, retryRow{it, err})
		}
		return err
	}
	return f.sendEventBatch(ctx, items[mid:], batch[mid:], v)
}

// toLagoEvent maps an outbox row to Lago's event: transaction_id = our event's
// transaction id (the event id), external_subscription_id = tenant id,
// timestamp in Unix seconds. Lago's api_calls metric sums the "count"
// property, so the quantity is sent as "count" unless the event sets it.
func toLagoEvent(it store.OutboxItem) (lago.Event, error) {
	if it.Event == nil {
		return lago.Event{}, fmt.Errorf("outbox row %s: event row without its event", it.ID)
	}
	e := it.Event
	props := map[string]any{}
	if len(e.Properties) > 0 {
		if err := json.Unmarshal(e.Properties, &props); err != nil {
			return lago.Event{}, fmt.Errorf("outbox row %s: properties are not a JSON object: %v", it.ID, err)
		}
		if props == nil {
			props = map[string]any{}
		}
	}
	if _, ok := props["count"]; !ok {
		props["count"] = e.Quantity
	}
	txID := e.TransactionID
	if txID == "" {
		txID = e.ID
	}
	tenant := e.TenantID
	if tenant == "" {
		tenant = it.TenantID
	}
	return lago.Event{
		TransactionID:          txID,
		ExternalSubscriptionID: tenant,
		Code:                   e.Metric,
		Timestamp:              e.OccurredAt.Unix(),
		Properties:             props,
	}, nil
}

// sendCommands sends customer/subscription rows one by one, in claim order.
// Once a row of a tenant fails, that tenant's later rows in the batch wait
// for the next round too, so a plan change does not overtake its creation.
func (f *Forwarder) sendCommands(ctx context.Context, items []store.OutboxItem, v *verdicts) {
	held := map[string]error{}
	for _, it := range items {
		if err, ok := held[it.TenantID]; ok {
			v.retry = append(v.retry, retryRow{it, fmt.Errorf("waiting for an earlier row of the tenant: %w", err)})
			continue
		}
		err := f.sendCommand(ctx, it)
		if err == nil {
			v.sent = append(v.sent, it.ID)
			continue
		}
		var apiErr *lago.APIError
		var invalid *invalidRowError
		switch {
		case errors.As(err, &invalid):
			f.metrics.LagoFailures.WithLabelValues(ReasonInvalidRow).Inc()
			v.failed = append(v.failed, failedRow{it.ID, err.Error()})
		case errors.As(err, &apiErr) && apiErr.StatusCode == http.StatusUnprocessableEntity:
			f.metrics.LagoFailures.WithLabelValues(ReasonRejected).Inc()
			v.failed = append(v.failed, failedRow{it.ID, err.Error()})
		default:
			// Including 404 plan_not_found: an operator can create the plan
			// in Lago, and the row then goes through on its next attempt.
			f.metrics.LagoFailures.WithLabelValues(reason(err)).Inc()
			v.retry = append(v.retry, retryRow{it, err})
			held[it.TenantID] = err
			if errors.As(err, &apiErr) && apiErr.StatusCode == http.StatusNotFound {
				f.log.Warn("lago forwarder: Lago does not know this plan or customer", "tenant_id", it.TenantID, "kind", it.Kind, "err", err)
			}
		}
	}
}

type invalidRowError struct{ msg string }

func (e *invalidRowError) Error() string { return e.msg }

func (f *Forwarder) sendCommand(ctx context.Context, it store.OutboxItem) error {
	if it.TenantID == "" {
		return &invalidRowError{fmt.Sprintf("outbox row %s: no tenant id", it.ID)}
	}
	payload := it.Payload
	if len(payload) == 0 {
		payload = json.RawMessage(`{}`)
	}
	switch it.Kind {
	case store.OutboxKindCreateCustomer:
		var p CustomerPayload
		if err := json.Unmarshal(payload, &p); err != nil {
			return &invalidRowError{fmt.Sprintf("outbox row %s: customer payload: %v", it.ID, err)}
		}
		return f.opts.Lago.UpsertCustomer(ctx, lago.Customer{ExternalID: it.TenantID, Name: p.Name, Email: p.Email})
	case store.OutboxKindCreateSubscription, store.OutboxKindChangePlan:
		var p SubscriptionPayload
		if err := json.Unmarshal(payload, &p); err != nil {
			return &invalidRowError{fmt.Sprintf("outbox row %s: subscription payload: %v", it.ID, err)}
		}
		plan := p.PlanID
		if f.opts.Tenants != nil {
			t, err := f.opts.Tenants.GetTenant(ctx, it.TenantID)
			switch {
			case err == nil && t.Plan != "":
				plan = t.Plan
			case err != nil && !errors.Is(err, store.ErrNotFound):
				return fmt.Errorf("look up plan of tenant %s: %w", it.TenantID, err)
			}
		}
		if plan == "" {
			return &invalidRowError{fmt.Sprintf("outbox row %s: no plan id", it.ID)}
		}
		return f.opts.Lago.CreateSubscription(ctx, lago.Subscription{
			ExternalCustomerID: it.TenantID, ExternalID: it.TenantID, PlanCode: plan, Name: p.Name,
		})
	default:
		return &invalidRowError{fmt.Sprintf("outbox row %s: unknown kind %q", it.ID, it.Kind)}
	}
}

// lagoDown reports whether err says Lago cannot take requests right now, as
// opposed to failing one request: no answer, rate limiting, or a gateway or
// availability error.
func lagoDown(err error) bool {
	var apiErr *lago.APIError
	if !errors.As(err, &apiErr) {
		return true
	}
	switch apiErr.StatusCode {
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout,
		http.StatusUnauthorized, http.StatusForbidden:
		return true
	}
	return false
}

// reason maps a send error to a bounded label value.
func reason(err error) string {
	var apiErr *lago.APIError
	if errors.As(err, &apiErr) {
		switch s := apiErr.StatusCode; {
		case s == http.StatusTooManyRequests:
			return ReasonRateLimited
		case s >= 500:
			return ReasonServerError
		case s == http.StatusUnauthorized || s == http.StatusForbidden:
			return ReasonUnauthorized
		case s == http.StatusNotFound:
			return ReasonNotFound
		case s == http.StatusUnprocessableEntity:
			return ReasonRejected
		default:
			return ReasonBadRequest
		}
	}
	return ReasonUnavailable
}
