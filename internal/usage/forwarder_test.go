package usage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fast-saas/fast-saas/internal/lago"
	"github.com/fast-saas/fast-saas/internal/lago/lagofake"
	"github.com/fast-saas/fast-saas/internal/store"
	"github.com/google/go-cmp/cmp"
)

// clock is a manual clock shared by the fake outbox and the forwarder.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// memOutbox follows the store's outbox contract in memory.
type memOutbox struct {
	mu    sync.Mutex
	clock *clock
	rows  map[string]*store.OutboxItem
	order []string
	seq   int
}

func newMemOutbox(c *clock) *memOutbox {
	return &memOutbox{clock: c, rows: map[string]*store.OutboxItem{}}
}

func (o *memOutbox) add(it store.OutboxItem) string {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.seq++
	it.ID = fmt.Sprintf("row-%05d", o.seq)
	it.Status = store.OutboxPending
	it.CreatedAt = o.clock.Now()
	it.NextAttemptAt = it.CreatedAt
	o.rows[it.ID] = &it
	o.order = append(o.order, it.ID)
	return it.ID
}

func (o *memOutbox) addEvents(tenant string, n int) []string {
	var ids []string
	for i := 0; i < n; i++ {
		tx := fmt.Sprintf("%s-ev-%04d", tenant, i)
		o.add(store.OutboxItem{TenantID: tenant, Kind: store.OutboxKindEvent, EventID: tx, Event: &store.UsageEvent{
			ID: tx, TenantID: tenant, Metric: "api_calls", Quantity: 1, TransactionID: tx,
			Properties: json.RawMessage(`{"route":"/v1/x"}`), OccurredAt: time.Unix(1_790_000_000+int64(i), 0),
		}})
		ids = append(ids, tx)
	}
	return ids
}

func (o *memOutbox) ClaimOutbox(_ context.Context, limit int, lease time.Duration) ([]store.OutboxItem, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	now := o.clock.Now()
	var out []store.OutboxItem
	for _, id := range o.order {
		r := o.rows[id]
		if r.Status != store.OutboxPending || r.NextAttemptAt.After(now) {
			continue
		}
		r.NextAttemptAt = now.Add(lease)
		out = append(out, *r)
		if len(out) == limit {
			break
		}
	}
	return out, nil
}

func (o *memOutbox) MarkOutboxSent(_ context.Context, ids []string) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, id := range ids {
		o.rows[id].Status = store.OutboxSent
	}
	return nil
}

func (o *memOutbox) MarkOutboxRetry(_ context.Context, id, lastError string, next time.Time) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	r := o.rows[id]
	r.Attempts++
	r.LastError, r.NextAttemptAt = lastError, next
	return nil
}

func (o *memOutbox) MarkOutboxFailed(_ context.Context, id, lastError string) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	r := o.rows[id]
	r.Attempts++
	r.LastError, r.Status = lastError, store.OutboxFailed
	return nil
}

func (o *memOutbox) OutboxBacklog(context.Context) (int, time.Time, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	n, oldest := 0, time.Time{}
	for _, id := range o.order {
		if r := o.rows[id]; r.Status == store.OutboxPending {
			n++
			if oldest.IsZero() {
				oldest = r.CreatedAt
			}
		}
	}
	return n, oldest, nil
}

func (o *memOutbox) byStatus(s store.OutboxStatus) []store.OutboxItem {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []store.OutboxItem
	for _, id := range o.order {
		if o.rows[id].Status == s {
			out = append(out, *o.rows[id])
		}
	}
	return out
}

type forwarderRig struct {
	clock  *clock
	outbox *memOutbox
	fake   *lagofake.Server
	client *lago.Client
	fwd    *Forwarder
	m      *Metrics
}

func newRig(t *testing.T, api func(*lago.Client) LagoAPI) *forwarderRig {
	t.Helper()
	r := &forwarderRig{clock: &clock{now: time.Date(2026, 11, 26, 2, 0, 0, 0, time.UTC)}}
	r.outbox = newMemOutbox(r.clock)
	r.fake = lagofake.New(lagofake.Options{})
	t.Cleanup(r.fake.Close)
	var err error
	r.client, err = lago.New(lago.Options{BaseURL: r.fake.URL, APIKey: r.fake.APIKey()})
	if err != nil {
		t.Fatal(err)
	}
	r.m, _ = NewMetrics(nil)
	var l LagoAPI = r.client
	if api != nil {
		l = api(r.client)
	}
	r.fwd, err = NewForwarder(ForwarderOptions{Outbox: r.outbox, Lago: l, Metrics: r.m, Now: r.clock.Now,
		Lease: time.Minute, Backoff: Backoff{Base: time.Second, Max: time.Minute, Rand: func() float64 { return 0.5 }}})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// drainDue forwards until nothing is due at the current fake time.
func (r *forwarderRig) drainDue(t *testing.T) {
	t.Helper()
	for i := 0; i < 1000; i++ {
		n, err := r.fwd.ForwardOnce(context.Background())
		if err != nil {
			t.Fatalf("ForwardOnce: %v", err)
		}
		if n == 0 {
			return
		}
	}
	t.Fatal("outbox never ran out of due rows")
}

func (r *forwarderRig) assertDeliveredOnce(t *testing.T, want []string) {
	t.Helper()
	got := r.fake.Deliveries()
	var keys []string
	for k, n := range got {
		keys = append(keys, k)
		if n != 1 {
			t.Errorf("transaction %s delivered %d times, want 1", k, n)
		}
	}
	sort.Strings(keys)
	want = slices.Clone(want)
	sort.Strings(want)
	if diff := cmp.Diff(want, keys); diff != "" {
		t.Errorf("delivered transaction ids (-want +got):\n%s", diff)
	}
}

func TestForwarderDeliversAfterLagoReturns(t *testing.T) {
	t.Parallel()
	r := newRig(t, nil)
	want := r.outbox.addEvents("tenant-a", 250)
	want = append(want, r.outbox.addEvents("tenant-b", 30)...)

	for _, mode := range []lagofake.Mode{lagofake.Unavailable, lagofake.Refuse} {
		r.fake.SetMode(mode)
		r.drainDue(t)
		if got := len(r.outbox.byStatus(store.OutboxPending)); got != len(want) {
			t.Fatalf("mode %d: %d rows pending, want all %d", mode, got, len(want))
		}
		if got := len(r.fake.Events()); got != 0 {
			t.Fatalf("mode %d: fake stored %d events while down", mode, got)
		}
		// Nothing is due before the backoff ends.
		if n, _ := r.fwd.ForwardOnce(context.Background()); n != 0 {
			t.Fatalf("mode %d: claimed %d rows before their backoff ended", mode, n)
		}
		r.clock.Advance(2 * time.Minute)
	}
	for _, row := range r.outbox.byStatus(store.OutboxPending) {
		if row.Attempts != 2 || row.LastError == "" {
			t.Fatalf("row %s: attempts %d, last error %q; want 2 and a message", row.ID, row.Attempts, row.LastError)
		}
	}
	if got := value(r.m.LagoFailures.WithLabelValues(ReasonServerError)); got != 3 {
		t.Errorf("server_error failures = %v, want 3 (one per batch)", got)
	}
	if got := value(r.m.LagoFailures.WithLabelValues(ReasonUnavailable)); got != 3 {
		t.Errorf("unavailable failures = %v, want 3", got)
	}

	r.fake.SetMode(lagofake.Up)
	r.drainDue(t)
	r.assertDeliveredOnce(t, want)
	if got := len(r.outbox.byStatus(store.OutboxSent)); got != len(want) {
		t.Errorf("%d rows sent, want %d", got, len(want))
	}
	got := r.fake.Events()[0]
	if got.ExternalSubscriptionID != "tenant-a" || got.Code != "api_calls" || got.Timestamp != 1_790_000_000 ||
		got.Properties["count"] != float64(1) || got.Properties["route"] != "/v1/x" {
		t.Errorf("first event stored as %+v", got.Event)
	}
}

func TestBackoffGrowsWithAttempts(t *testing.T) {
	t.Parallel()
	r := newRig(t, nil)
	r.outbox.addEvents("t", 1)
	r.fake.SetMode(lagofake.Unavailable)
	var delays []time.Duration
	for i := 0; i < 8; i++ {
		r.drainDue(t)
		row := r.outbox.byStatus(store.OutboxPending)[0]
		delays = append(delays, row.NextAttemptAt.Sub(r.clock.Now()))
		r.clock.Advance(row.NextAttemptAt.Sub(r.clock.Now()))
	}
	// Rand 0.5: 0.75 of 1s, 2s, 4s, … capped at 1m.
	want := []time.Duration{750 * time.Millisecond, 1500 * time.Millisecond, 3 * time.Second, 6 * time.Second,
		12 * time.Second, 24 * time.Second, 45 * time.Second, 45 * time.Second}
	if diff := cmp.Diff(want, delays); diff != "" {
		t.Errorf("retry delays (-want +got):\n%s", diff)
	}
}

// lostAnswer lets the first SendEvents reach Lago but reports a transport
// error, as when the connection drops after Lago stored the batch.
type lostAnswer struct {
	*lago.Client
	once sync.Once
}

func (l *lostAnswer) SendEvents(ctx context.Context, evs []lago.Event) error {
	err := l.Client.SendEvents(ctx, evs)
	lost := false
	l.once.Do(func() { lost = true })
	if lost && err == nil {
		return &lago.TransportError{Err: errors.New("connection reset by peer")}
	}
	return err
}

func TestForwarderLostAnswerIsNotADoubleDelivery(t *testing.T) {
	t.Parallel()
	r := newRig(t, func(c *lago.Client) LagoAPI { return &lostAnswer{Client: c} })
	want := r.outbox.addEvents("t", 150)
	r.drainDue(t)
	r.clock.Advance(time.Hour)
	r.drainDue(t)
	r.assertDeliveredOnce(t, want)
	if got := len(r.outbox.byStatus(store.OutboxSent)); got != 150 {
		t.Errorf("%d rows sent, want 150", got)
	}
	// The resent first batch was refused as already stored, and counted as sent.
	if got := len(r.fake.DuplicatesRefused()); got != 100 {
		t.Errorf("fake refused %d duplicates, want 100 (the batch whose answer was lost)", got)
	}
}

func TestForwarderPoisonEventDoesNotBlockItsBatch(t *testing.T) {
	t.Parallel()
	r := newRig(t, nil)
	want := r.outbox.addEvents("t", 100)
	poison := map[string]bool{want[3]: true, want[71]: true}
	r.fake.RejectEvents(func(e lago.Event) map[string][]string {
		if poison[e.TransactionID] {
			return map[string][]string{"properties": {"value_is_not_valid_number"}}
		}
		return nil
	})
	r.drainDue(t) // no clock advance: the valid events go through in this round
	var delivered []string
	for _, id := range want {
		if !poison[id] {
			delivered = append(delivered, id)
		}
	}
	r.assertDeliveredOnce(t, delivered)
	failed := r.outbox.byStatus(store.OutboxFailed)
	if len(failed) != 2 {
		t.Fatalf("%d rows failed, want 2", len(failed))
	}
	for _, row := range failed {
		if !poison[row.EventID] || !strings.Contains(row.LastError, "value_is_not_valid_number") {
			t.Errorf("failed row %s (event %s) reason %q; want a poison event with Lago's reason", row.ID, row.EventID, row.LastError)
		}
	}
	if got := value(r.m.LagoFailures.WithLabelValues(ReasonRejected)); got != 2 {
		t.Errorf("rejected failures = %v, want 2", got)
	}
	// Failed rows are never claimed again.
	r.fake.RejectEvents(nil)
	r.clock.Advance(24 * time.Hour)
	r.drainDue(t)
	r.assertDeliveredOnce(t, delivered)
}

// batchLevel422 answers a 422 that names no event whenever a batch contains
// the poison transaction, forcing the forwarder to bisect.
type batchLevel422 struct {
	*lago.Client
	poison string
	calls  int
}

func (b *batchLevel422) SendEvents(ctx context.Context, evs []lago.Event) error {
	b.calls++
	for _, e := range evs {
		if e.TransactionID == b.poison {
			return &lago.APIError{StatusCode: 422, Code: "validation_errors", Details: json.RawMessage(`{"events":["invalid"]}`)}
		}
	}
	return b.Client.SendEvents(ctx, evs)
}

func TestForwarderBisectsUnattributed422(t *testing.T) {
	t.Parallel()
	var api *batchLevel422
	r := newRig(t, func(c *lago.Client) LagoAPI { api = &batchLevel422{Client: c}; return api })
	want := r.outbox.addEvents("t", 64)
	api.poison = want[40]
	r.drainDue(t)
	r.assertDeliveredOnce(t, append(slices.Clone(want[:40]), want[41:]...))
	failed := r.outbox.byStatus(store.OutboxFailed)
	if len(failed) != 1 || failed[0].EventID != want[40] {
		t.Errorf("failed rows = %+v, want only the poison event", failed)
	}
	if api.calls > 2*7+1 { // log2(64) levels, two calls each, plus the first
		t.Errorf("bisection took %d requests, want at most 15", api.calls)
	}
}

func TestForwarderCommands(t *testing.T) {
	t.Parallel()
	r := newRig(t, nil)
	r.outbox.add(CreateCustomerItem("tenant-1", "Acme", "ops@acme.test"))
	r.outbox.add(CreateSubscriptionItem("tenant-1", "free", "Acme"))
	r.outbox.add(ChangePlanItem("tenant-1", "pro"))
	bad := r.outbox.add(store.OutboxItem{TenantID: "tenant-1", Kind: "launch_rockets"})
	r.drainDue(t)
	if c, ok := r.fake.Customer("tenant-1"); !ok || c.Name != "Acme" || c.Email != "ops@acme.test" {
		t.Errorf("customer = %+v, %v; want Acme", c, ok)
	}
	sub, ok := r.fake.Subscription("tenant-1")
	if !ok || sub.PlanCode != "pro" || sub.ExternalCustomerID != "tenant-1" {
		t.Errorf("subscription = %+v, %v; want tenant-1 on pro", sub, ok)
	}
	failed := r.outbox.byStatus(store.OutboxFailed)
	if len(failed) != 1 || failed[0].ID != bad || !strings.Contains(failed[0].LastError, "unknown kind") {
		t.Errorf("failed rows = %+v, want only the unknown kind", failed)
	}
}

func TestForwarderUnknownPlanIsRetriedAndHoldsLaterRows(t *testing.T) {
	t.Parallel()
	r := newRig(t, nil)
	r.outbox.add(CreateSubscriptionItem("tenant-1", "platinum", ""))
	r.outbox.add(ChangePlanItem("tenant-1", "pro"))
	r.drainDue(t)
	if _, ok := r.fake.Subscription("tenant-1"); ok {
		t.Fatal("the plan change overtook the failed subscription creation")
	}
	pending := r.outbox.byStatus(store.OutboxPending)
	if len(pending) != 2 {
		t.Fatalf("%d rows pending, want 2 (404 plan_not_found is retried)", len(pending))
	}
	if got := value(r.m.LagoFailures.WithLabelValues(ReasonNotFound)); got != 1 {
		t.Errorf("not_found failures = %v, want 1", got)
	}
}

type plans map[string]string

func (p plans) GetTenant(_ context.Context, id string) (store.Tenant, error) {
	if plan, ok := p[id]; ok {
		return store.Tenant{ID: id, Plan: plan}, nil
	}
	return store.Tenant{}, store.ErrNotFound
}

func TestForwarderSendsCurrentPlanWhenRowsArriveOutOfOrder(t *testing.T) {
	t.Parallel()
	r := newRig(t, nil)
	fwd, err := NewForwarder(ForwarderOptions{Outbox: r.outbox, Lago: r.client, Tenants: plans{"tenant-1": "pro"}, Now: r.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	// The change arrives first (its creation row was delayed by a retry).
	r.outbox.add(ChangePlanItem("tenant-1", "pro"))
	r.outbox.add(CreateSubscriptionItem("tenant-1", "free", ""))
	for i := 0; i < 3; i++ {
		if _, err := fwd.ForwardOnce(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if sub, _ := r.fake.Subscription("tenant-1"); sub.PlanCode != "pro" {
		t.Errorf("plan = %q, want pro (the tenant's current plan)", sub.PlanCode)
	}
}

func TestForwarderWrongAPIKeyRetriesEverything(t *testing.T) {
	t.Parallel()
	r := newRig(t, nil)
	c, err := lago.New(lago.Options{BaseURL: r.fake.URL, APIKey: "wrong"})
	if err != nil {
		t.Fatal(err)
	}
	fwd, err := NewForwarder(ForwarderOptions{Outbox: r.outbox, Lago: c, Metrics: r.m, Now: r.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	r.outbox.addEvents("t", 5)
	r.outbox.add(CreateCustomerItem("t", "T", ""))
	if _, err := fwd.ForwardOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := len(r.outbox.byStatus(store.OutboxPending)); got != 6 {
		t.Errorf("%d rows pending, want 6: a bad key must not poison rows", got)
	}
	if got := value(r.m.LagoFailures.WithLabelValues(ReasonUnauthorized)); got != 2 {
		t.Errorf("unauthorized failures = %v, want 2", got)
	}
}

type rateLimited struct{ LagoAPI }

func (rateLimited) SendEvents(context.Context, []lago.Event) error {
	return &lago.APIError{StatusCode: 429, RetryAfter: 5 * time.Minute}
}

func TestForwarderHonoursRetryAfter(t *testing.T) {
	t.Parallel()
	r := newRig(t, func(c *lago.Client) LagoAPI { return rateLimited{c} })
	r.outbox.addEvents("t", 3)
	r.drainDue(t)
	for _, row := range r.outbox.byStatus(store.OutboxPending) {
		if got := row.NextAttemptAt.Sub(r.clock.Now()); got != 5*time.Minute {
			t.Errorf("row %s retries in %v, want Lago's Retry-After of 5m", row.ID, got)
		}
	}
	if got := value(r.m.LagoFailures.WithLabelValues(ReasonRateLimited)); got != 1 {
		t.Errorf("rate_limited failures = %v, want 1", got)
	}
}

func TestForwarderLagGauge(t *testing.T) {
	t.Parallel()
	r := newRig(t, nil)
	r.outbox.addEvents("t", 3)
	r.fake.SetMode(lagofake.Unavailable)
	r.clock.Advance(90 * time.Second)
	r.drainDue(t)
	if got := value(r.m.Lag.WithLabelValues(StageLago)); got != 90 {
		t.Errorf("lago lag while down = %v, want 90 (seconds since the oldest pending row)", got)
	}
	r.fake.SetMode(lagofake.Up)
	r.clock.Advance(time.Hour)
	r.drainDue(t)
	if got := value(r.m.Lag.WithLabelValues(StageLago)); got != 0 {
		t.Errorf("lago lag after delivery = %v, want 0", got)
	}
}

// TestForwarderResendAgainstAbortingLago: Lago's Postgres store answers a
// resent batch with a 500 (its transaction aborts on the first duplicate).
// The forwarder bisects down to single events, each then answered 422
// value_already_exist, and marks them sent: delivered once, nothing stuck.
func TestForwarderResendAgainstAbortingLago(t *testing.T) {
	t.Parallel()
	clk := &clock{now: time.Date(2026, 11, 26, 2, 0, 0, 0, time.UTC)}
	outbox := newMemOutbox(clk)
	fake := lagofake.New(lagofake.Options{AbortOnDuplicate: true})
	defer fake.Close()
	client, err := lago.New(lago.Options{BaseURL: fake.URL, APIKey: fake.APIKey()})
	if err != nil {
		t.Fatal(err)
	}
	fwd, err := NewForwarder(ForwarderOptions{Outbox: outbox, Lago: &lostAnswer{Client: client}, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	want := outbox.addEvents("t", 100)
	for i := 0; i < 3; i++ {
		if _, err := fwd.ForwardOnce(context.Background()); err != nil {
			t.Fatal(err)
		}
		clk.Advance(time.Hour)
	}
	if got := len(outbox.byStatus(store.OutboxSent)); got != 100 {
		t.Errorf("%d rows sent, want 100 (pending %d, failed %d)", got,
			len(outbox.byStatus(store.OutboxPending)), len(outbox.byStatus(store.OutboxFailed)))
	}
	for _, id := range want {
		if n := fake.Deliveries()[id]; n != 1 {
			t.Errorf("event %s stored %d times, want 1", id, n)
		}
	}
}

// TestForwarderBisectStopsWhenLagoGoesDown: a 500 starts a bisection; if Lago
// is found down on the way, the untried half is retried later, unsent.
func TestForwarderBisectStopsWhenLagoGoesDown(t *testing.T) {
	t.Parallel()
	calls := 0
	api := lagoFunc(func(ctx context.Context, evs []lago.Event) error {
		calls++
		if calls == 1 {
			return &lago.APIError{StatusCode: 500}
		}
		return &lago.APIError{StatusCode: 503}
	})
	r := newRig(t, func(*lago.Client) LagoAPI { return api })
	r.outbox.addEvents("t", 100)
	r.drainDue(t)
	if calls != 2 {
		t.Errorf("Lago got %d requests, want 2 (the batch, then the first half that found it down)", calls)
	}
	if got := len(r.outbox.byStatus(store.OutboxPending)); got != 100 {
		t.Errorf("%d rows pending, want 100", got)
	}
}

type lagoFunc func(context.Context, []lago.Event) error

func (f lagoFunc) SendEvents(ctx context.Context, evs []lago.Event) error { return f(ctx, evs) }
func (lagoFunc) UpsertCustomer(context.Context, lago.Customer) error      { return nil }
func (lagoFunc) CreateSubscription(context.Context, lago.Subscription) error {
	return nil
}
