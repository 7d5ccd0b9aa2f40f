package usage

import (
	"encoding/json"

	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fast-saas/fast-saas/internal/metrics"
	"github.com/fast-saas/fast-saas/internal/store"
	"github.com/fast-saas/fast-saas/middleware/metering"
)

func testEvents(t testing.TB, tenant string, n int) ([]metering.Event, []string) {
	t.Helper()
	evs := make([]metering.Event, n)
	ids := make([]string, n)
	base := time.Date(2026, 11, 26, 1, 0, 0, 0, time.UTC)
	for i := range evs {
		id, err := metering.NewEventID()
		if err != nil {
			t.Fatal(err)
		}
		evs[i] = metering.Event{ID: id, TenantID: tenant, Metric: metering.DefaultMetric, Quantity: 1,
			Properties: map[string]any{"route": "/x"}, OccurredAt: base.Add(time.Duration(i) * time.Millisecond)}
		ids[i] = id
	}
	return evs, ids
}

func fastBackoff() Backoff {
	return Backoff{Base: time.Millisecond, Max: 5 * time.Millisecond, Rand: func() float64 { return 0 }}
}

func TestMemoryBufferFlushesEverythingOnClose(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name      string
		n         int
		batchSize int
	}{
		{"one partial batch", 7, 500},
		{"many full batches", 2000, 100},
		{"exact batches", 300, 100},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			st := newMemStore()
			reg := metrics.NewRegistry()
			m, err := NewMetrics(reg)
			if err != nil {
				t.Fatal(err)
			}
			// A long flush interval: only size and Close trigger writes.
			b, err := NewMemoryBuffer(MemoryOptions{Writer: st, BatchSize: tt.batchSize, FlushInterval: time.Hour, Metrics: m})
			if err != nil {
				t.Fatal(err)
			}
			evs, ids := testEvents(t, "t1", tt.n)
			for _, e := range evs {
				if err := b.Record(context.Background(), e); err != nil {
					t.Fatalf("Record: %v", err)
				}
			}
			// Record the first one again: a duplicate.
			if err := b.Record(context.Background(), evs[0]); err != nil {
				t.Fatalf("Record duplicate: %v", err)
			}
			if err := b.Close(context.Background()); err != nil {
				t.Fatalf("Close: %v", err)
			}
			if err := st.exactlyOnce("t1", ids); err != nil {
				t.Error(err)
			}
			if got := value(m.Events.WithLabelValues(OutcomeAccepted)); got != float64(tt.n) {
				t.Errorf("accepted = %v, want %d", got, tt.n)
			}
			if got := value(m.Events.WithLabelValues(OutcomeDuplicate)); got != 1 {
				t.Errorf("duplicate = %v, want 1", got)
			}
			if err := b.Record(context.Background(), evs[0]); !errors.Is(err, ErrClosed) {
				t.Errorf("Record after Close = %v, want ErrClosed", err)
			}
		})
	}
}

func TestMemoryBufferFlushesByTime(t *testing.T) {
	t.Parallel()
	st := newMemStore()
	b, err := NewMemoryBuffer(MemoryOptions{Writer: st, BatchSize: 1000, FlushInterval: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close(context.Background())
	evs, _ := testEvents(t, "t1", 3)
	for _, e := range evs {
		if err := b.Record(context.Background(), e); err != nil {
			t.Fatal(err)
		}
	}
	// Wait (bounded) for the ticker to flush a batch far below BatchSize.
	deadline := time.Now().Add(10 * time.Second)
	for st.count() < 3 && time.Now().Before(deadline) {
		time.Sleep(2 * time.Millisecond)
	}
	if got := st.count(); got != 3 {
		t.Errorf("stored %d events before Close, want 3 (time-based flush)", got)
	}
}

func TestMemoryBufferRetriesTransientStoreErrors(t *testing.T) {
	t.Parallel()
	st := newMemStore()
	st.setFail(errTransient, 3)
	b, err := NewMemoryBuffer(MemoryOptions{Writer: st, BatchSize: 10, FlushInterval: time.Hour, Backoff: fastBackoff()})
	if err != nil {
		t.Fatal(err)
	}
	evs, ids := testEvents(t, "t1", 25)
	for _, e := range evs {
		if err := b.Record(context.Background(), e); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Close(context.Background()); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := st.exactlyOnce("t1", ids); err != nil {
		t.Error(err)
	}
}

func TestMemoryBufferIsolatesUnknownTenant(t *testing.T) {
	t.Parallel()
	st := newMemStore()
	st.tenants = map[string]bool{"good": true}
	m, _ := NewMetrics(nil)
	b, err := NewMemoryBuffer(MemoryOptions{Writer: st, BatchSize: 64, FlushInterval: time.Hour, Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	good, ids := testEvents(t, "good", 60)
	bad, _ := testEvents(t, "deleted-tenant", 3)
	all := append(append(append([]metering.Event{}, good[:20]...), bad...), good[20:]...)
	for _, e := range all {
		if err := b.Record(context.Background(), e); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := st.exactlyOnce("good", ids); err != nil {
		t.Error(err)
	}
	if got := value(m.Events.WithLabelValues(OutcomeRejected)); got != 3 {
		t.Errorf("rejected = %v, want 3", got)
	}
}

func TestMemoryBufferFullBlocksUntilContextEnds(t *testing.T) {
	t.Parallel()
	st := newMemStore()
	st.setFail(errTransient, 0) // store down: nothing drains
	b, err := NewMemoryBuffer(MemoryOptions{Writer: st, BatchSize: 1, Capacity: 2, FlushInterval: time.Hour, Backoff: fastBackoff()})
	if err != nil {
		t.Fatal(err)
	}
	evs, _ := testEvents(t, "t1", 10)
	var fullErr error
	for _, e := range evs {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		err := b.Record(ctx, e)
		cancel()
		if err != nil {
			fullErr = err
			break
		}
	}
	if !errors.Is(fullErr, ErrBufferFull) || !errors.Is(fullErr, context.DeadlineExceeded) {
		t.Errorf("Record into a full buffer = %v, want ErrBufferFull wrapping DeadlineExceeded", fullErr)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := b.Close(ctx); err == nil {
		t.Error("Close with the store down = nil, want an error counting unwritten events")
	}
}

func TestRecordRejectsInvalidEvents(t *testing.T) {
	t.Parallel()
	st := newMemStore()
	b, err := NewMemoryBuffer(MemoryOptions{Writer: st})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close(context.Background())
	ok := metering.Event{ID: "id", TenantID: "t", Metric: "api_calls", Quantity: 1}
	tests := []struct {
		name   string
		mutate func(*metering.Event)
	}{
		{"no id", func(e *metering.Event) { e.ID = "" }},
		{"no tenant", func(e *metering.Event) { e.TenantID = "" }},
		{"no metric", func(e *metering.Event) { e.Metric = "" }},
		{"negative quantity", func(e *metering.Event) { e.Quantity = -1 }},
		{"unmarshalable properties", func(e *metering.Event) { e.Properties = map[string]any{"f": func() {}} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := ok
			tt.mutate(&e)
			if err := b.Record(context.Background(), e); !errors.Is(err, ErrInvalidEvent) {
				t.Errorf("Record = %v, want ErrInvalidEvent", err)
			}
		})
	}
}

func TestRecordSyncWritesThrough(t *testing.T) {
	t.Parallel()
	st := newMemStore()
	st.tenants = map[string]bool{"t1": true}
	b, err := NewMemoryBuffer(MemoryOptions{Writer: st, BatchSize: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close(context.Background())
	evs, ids := testEvents(t, "t1", 10)
	ins, dup, err := b.RecordSync(context.Background(), evs)
	if err != nil || ins != 10 || dup != 0 {
		t.Fatalf("RecordSync = %d, %d, %v; want 10, 0, nil", ins, dup, err)
	}
	// Durable on return: no flush needed.
	if err := st.exactlyOnce("t1", ids); err != nil {
		t.Error(err)
	}
	ins, dup, err = b.RecordSync(context.Background(), evs[:3])
	if err != nil || ins != 0 || dup != 3 {
		t.Errorf("RecordSync again = %d, %d, %v; want 0, 3, nil", ins, dup, err)
	}
	other, _ := testEvents(t, "nobody", 1)
	if _, _, err := b.RecordSync(context.Background(), other); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("RecordSync(unknown tenant) = %v, want store.ErrNotFound", err)
	}
}

func TestBackoffDelay(t *testing.T) {
	t.Parallel()
	tests := []struct {
		attempt int
		r       float64
		want    time.Duration
	}{
		{0, 0, 500 * time.Millisecond},
		{0, 0.999999999, time.Second},
		{3, 0, 4 * time.Second},
		{10, 0, 30 * time.Second}, // capped at 60s, half fixed
		{100, 0.5, 45 * time.Second},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("attempt %d r %v", tt.attempt, tt.r), func(t *testing.T) {
			b := Backoff{Base: time.Second, Max: time.Minute, Rand: func() float64 { return tt.r }}
			got := b.Delay(tt.attempt)
			if diff := got - tt.want; diff < -time.Millisecond || diff > time.Millisecond {
				t.Errorf("Delay(%d) = %v, want %v", tt.attempt, got, tt.want)
			}
		})
	}
}

func TestWireRoundTrip(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 11, 26, 1, 2, 3, 456789000, time.UTC)
	tests := []metering.Event{
		{ID: "0193a-id", TenantID: "tenant", Metric: "api_calls", Quantity: 3, OccurredAt: at},
		{ID: `we"ird\\id`, TenantID: "tén<ant>&", Metric: "m\n1", Quantity: 0, OccurredAt: at,
			Properties: map[string]any{"route": "GET /x", "n": 2.5, "nested": map[string]any{"ok": true}}},
	}
	for _, e := range tests {
		b, err := encodeWire(e)
		if err != nil {
			t.Fatalf("encodeWire(%+v): %v", e, err)
		}
		if !json.Valid(b) {
			t.Fatalf("encodeWire(%+v) = %s, not valid JSON", e, b)
		}
		got, err := decodeWire(b)
		if err != nil {
			t.Fatalf("decodeWire(%s): %v", b, err)
		}
		want, _ := toStore(e)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("round trip of %s (-want +got):\n%s", b, diff)
		}
	}
}

func BenchmarkEncodeWire(b *testing.B) {
	e := metering.Event{ID: "01938a8e-5c2b-7f00-8000-1234567890ab", TenantID: "01938a8e-0000-7000-8000-000000000000",
		Metric: "api_calls", Quantity: 1, OccurredAt: time.Now(), Properties: map[string]any{"route": "GET /api/v1/tenants", "status": 200}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := encodeWire(e); err != nil {
			b.Fatal(err)
		}
	}
}

// FuzzDecodeWire: a stream entry that is not what we wrote (another writer,
// a corrupted value) must be dead-lettered, never crash the consumer; one
// that decodes is complete.
func FuzzDecodeWire(f *testing.F) {
	e := metering.Event{ID: "id", TenantID: "t", Metric: "api_calls", Quantity: 1, OccurredAt: time.Unix(1, 0),
		Properties: map[string]any{"a": 1}}
	b, _ := encodeWire(e)
	f.Add(b)
	f.Add([]byte(`{"i":"x","t":"y","m":"z","q":-1}`))
	f.Add([]byte(`{"p":[1,2]}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		row, err := decodeWire(raw)
		if err != nil {
			return
		}
		if row.TransactionID == "" || row.TenantID == "" || row.Metric == "" || row.Quantity < 0 || len(row.Properties) == 0 {
			t.Fatalf("decodeWire(%q) accepted an incomplete row %+v", raw, row)
		}
	})
}
