package usage

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/redis/go-redis/v9"

	"github.com/fast-saas/fast-saas/internal/store"
	"github.com/fast-saas/fast-saas/internal/testenv"
	"github.com/fast-saas/fast-saas/middleware/metering"
)

func TestMergerAddsUpMergeableEvents(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 11, 26, 1, 2, 3, 0, time.UTC)
	row := func(id, tenant, metric, props string, offset time.Duration, q float64) store.UsageEvent {
		return store.UsageEvent{TransactionID: id, TenantID: tenant, Metric: metric, Quantity: q,
			Properties: json.RawMessage(props), OccurredAt: at.Add(offset)}
	}
	in := []struct {
		ev        store.UsageEvent
		mergeable bool
	}{
		{row("a", "t1", "api_calls", `{"status":200}`, 0, 1), true},
		{row("b", "t1", "api_calls", `{"status":200}`, 999*time.Millisecond, 1), true},  // same second: into a
		{row("c", "t1", "api_calls", `{"status":200}`, 1000*time.Millisecond, 1), true}, // next second
		{row("d", "t2", "api_calls", `{"status":200}`, 0, 1), true},                     // other tenant
		{row("e", "t1", "api_calls", `{"status":404}`, 0, 1), true},                     // other properties
		{row("f", "t1", "tokens", `{"status":200}`, 0, 7), true},                        // other metric
		{row("g", "t1", "api_calls", `{"status":200}`, 0, 5), false},                    // not mergeable
		{row("h", "t1", "api_calls", `{"status":200}`, 0, 3), true},                     // into a
		{row("g", "t1", "api_calls", `{"status":200}`, 0, 5), false},                    // sent again: kept apart, the store skips it
	}
	var m merger
	var rows []store.UsageEvent
	for _, e := range in {
		rows = m.add(rows, e.ev, e.mergeable)
	}
	want := []store.UsageEvent{
		row("a", "t1", "api_calls", `{"status":200}`, 0, 5),
		row("c", "t1", "api_calls", `{"status":200}`, 1000*time.Millisecond, 1),
		row("d", "t2", "api_calls", `{"status":200}`, 0, 1),
		row("e", "t1", "api_calls", `{"status":404}`, 0, 1),
		row("f", "t1", "tokens", `{"status":200}`, 0, 7),
		row("g", "t1", "api_calls", `{"status":200}`, 0, 5),
		row("g", "t1", "api_calls", `{"status":200}`, 0, 5),
	}
	if diff := cmp.Diff(want, rows); diff != "" {
		t.Errorf("merged rows (-want +got):\n%s", diff)
	}
	// A new batch starts empty: nothing merges into the last batch's rows.
	m.reset()
	rows = m.add(nil, row("i", "t1", "api_calls", `{"status":200}`, 0, 1), true)
	if len(rows) != 1 || rows[0].TransactionID != "i" || rows[0].Quantity != 1 {
		t.Errorf("after reset: %+v, want event i alone", rows)
	}
}

// apiCalls returns n mergeable events of each tenant, as the metering
// middleware records them, spread over two seconds and two statuses.
func apiCalls(t *testing.T, n int, tenants ...string) []metering.Event {
	t.Helper()
	base := time.Date(2026, 11, 26, 1, 0, 0, 0, time.UTC)
	var evs []metering.Event
	for _, tenant := range tenants {
		for i := range n {
			id, err := metering.NewEventID()
			if err != nil {
				t.Fatal(err)
			}
			evs = append(evs, metering.Event{ID: id, TenantID: tenant, Metric: metering.DefaultMetric, Quantity: 1,
				Properties: map[string]any{"route": "GET /x", "status": 200 + 200*(i%2)},
				OccurredAt: base.Add(time.Duration(i) * 2 * time.Second / time.Duration(n)), Mergeable: true})
		}
	}
	return evs
}

// sums adds up stored quantities per tenant, properties and second.
func sums(rows []store.UsageEvent) map[string]float64 {
	s := map[string]float64{}
	for _, r := range rows {
		s[fmt.Sprintf("%s %s %d", r.TenantID, r.Properties, r.OccurredAt.Unix())] += r.Quantity
	}
	return s
}

func TestMemoryBufferMergesAPICalls(t *testing.T) {
	t.Parallel()
	st := newMemStore()
	b, err := NewMemoryBuffer(MemoryOptions{Writer: st, BatchSize: 1000, FlushInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	calls := apiCalls(t, 200, "t1", "t2")
	ingested, ids := testEvents(t, "t1", 3) // client events: never merged
	for _, e := range append(calls, ingested...) {
		if err := b.Record(context.Background(), e); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	client := map[string]bool{}
	for _, id := range ids {
		client[id] = true
	}
	var merged, kept []store.UsageEvent
	for _, r := range st.all() {
		if client[r.TransactionID] {
			kept = append(kept, r)
		} else {
			merged = append(merged, r)
		}
	}
	// 2 tenants × 2 seconds × 2 statuses, each row the sum of its calls.
	want := map[string]float64{}
	for _, r := range calls {
		row, _ := toStore(r)
		want[fmt.Sprintf("%s %s %d", r.TenantID, row.Properties, r.OccurredAt.Unix())]++
	}
	if len(merged) != 8 {
		t.Errorf("%d rows for 400 calls, want 8 (one per tenant, status and second)", len(merged))
	}
	if diff := cmp.Diff(want, sums(merged)); diff != "" {
		t.Errorf("stored quantities (-want +got):\n%s", diff)
	}
	callIDs := map[string]bool{}
	for _, e := range calls {
		callIDs[e.ID] = true
	}
	for _, r := range merged {
		if !callIDs[r.TransactionID] {
			t.Errorf("merged row id %q is not one of the calls' ids", r.TransactionID)
		}
	}
	gotIDs := make([]string, len(kept))
	for i, r := range kept {
		gotIDs[i] = r.TransactionID
		if r.Quantity != 1 {
			t.Errorf("client event %s stored with quantity %v, want 1", r.TransactionID, r.Quantity)
		}
	}
	sort.Strings(ids)
	if diff := cmp.Diff(ids, gotIDs); diff != "" {
		t.Errorf("client events (-want +got):\n%s", diff)
	}
}

// TestRedisRecorderMergesAGroup holds the recorder's only writer in its
// first XADD while more calls queue behind it; they go into the next entry
// merged, and every Record returns only once that entry is in Redis.
func TestRedisRecorderMergesAGroup(t *testing.T) {
	t.Parallel()
	client, prefix := testenv.Redis(t)
	hold := &holdFirstXAdd{entered: make(chan struct{}), release: make(chan struct{})}
	client.AddHook(hold)
	rec, err := NewRedisRecorder(RedisOptions{Client: client, Prefix: prefix, Timeout: 10 * time.Second, Writers: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rec.Close(context.Background()) })
	calls := apiCalls(t, 100, "t1")
	ctx := context.Background()
	errs := make(chan error, len(calls))
	go func() { errs <- rec.Record(ctx, calls[0]) }()
	<-hold.entered
	var wg sync.WaitGroup
	for _, e := range calls[1:] {
		wg.Go(func() { errs <- rec.Record(ctx, e) })
	}
	// Every call is queued once the writer is held; wait until they are.
	for deadline := time.Now().Add(10 * time.Second); rec.queue.queued() < len(calls)-1; {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d calls queued", rec.queue.queued(), len(calls)-1)
		}
		time.Sleep(time.Millisecond)
	}
	select {
	case err := <-errs:
		t.Fatalf("a Record returned (%v) before its entry was written", err)
	default:
	}
	close(hold.release)
	wg.Wait()
	for range calls {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	entries, err := client.XRange(ctx, prefix+DefaultStream, "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 2 {
		t.Fatalf("%d stream entries, want 2 (the held one, then the merged group)", len(entries))
	}
	var rows []store.UsageEvent
	for _, m := range entries {
		raw, _ := m.Values[fieldEvent].(string)
		if b, ok := m.Values[fieldBatch].(string); ok {
			raw = b
		}
		for line := range strings.SplitSeq(raw, "\n") {
			row, err := decodeWire([]byte(line))
			if err != nil {
				t.Fatal(err)
			}
			rows = append(rows, row)
		}
	}
	want := map[string]float64{}
	for _, r := range calls {
		row, _ := toStore(r)
		want[fmt.Sprintf("%s %s %d", r.TenantID, row.Properties, r.OccurredAt.Unix())]++
	}
	if diff := cmp.Diff(want, sums(rows)); diff != "" {
		t.Errorf("quantities in the stream (-want +got):\n%s", diff)
	}
	if len(rows) > 5 { // the held call, then at most one per status and second
		t.Errorf("%d events in the stream for %d calls, want at most 5", len(rows), len(calls))
	}
}

// holdFirstXAdd is a go-redis hook that blocks the first XADD until
// release is closed.
type holdFirstXAdd struct {
	once             sync.Once
	entered, release chan struct{}
}

func (h *holdFirstXAdd) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *holdFirstXAdd) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

func (h *holdFirstXAdd) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if cmd.Name() == "xadd" {
			first := false
			h.once.Do(func() { first = true })
			if first {
				close(h.entered)
				<-h.release
			}
		}
		return next(ctx, cmd)
	}
}
