package usage

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fast-saas/fast-saas/internal/store"
	"github.com/fast-saas/fast-saas/internal/testenv"
	"github.com/fast-saas/fast-saas/middleware/metering"
	"github.com/redis/go-redis/v9"
)

func newPipeline(t *testing.T, st BatchWriter, name string, mutate func(*ConsumerOptions)) (*redis.Client, string, *RedisRecorder, *Consumer) {
	t.Helper()
	client, prefix := testenv.Redis(t)
	// A generous timeout: the race detector on a shared machine is slow, and
	// the fail-fast timeout has its own test.
	rec, err := NewRedisRecorder(RedisOptions{Client: client, Prefix: prefix, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rec.Close(context.Background()) })
	opts := ConsumerOptions{Client: client, Prefix: prefix, Name: name, Writer: st, BatchSize: 100, Backoff: fastBackoff()}
	if mutate != nil {
		mutate(&opts)
	}
	c, err := NewConsumer(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	return client, prefix, rec, c
}

// drain runs ProcessOnce until a call handles nothing.
func drain(t *testing.T, c *Consumer) {
	t.Helper()
	for i := 0; ; i++ {
		n, err := c.ProcessOnce(context.Background())
		if err != nil {
			t.Fatalf("ProcessOnce: %v", err)
		}
		if n == 0 {
			return
		}
		if i > 10_000 {
			t.Fatal("consumer never ran out of entries")
		}
	}
}

func assertStreamEmpty(t *testing.T, client *redis.Client, prefix string) {
	t.Helper()
	ctx := context.Background()
	if n, err := Backlog(ctx, client, prefix, ""); err != nil || n != 0 {
		t.Errorf("stream length = %d, %v; want 0 (every entry acked and deleted)", n, err)
	}
	p, err := client.XPending(ctx, prefix+DefaultStream, DefaultGroup).Result()
	if err != nil || p.Count != 0 {
		t.Errorf("pending entries = %+v, %v; want none", p, err)
	}
}

func TestRedisPipelineStoresEachEventOnce(t *testing.T) {
	t.Parallel()
	st := newMemStore()
	client, prefix, rec, c := newPipeline(t, st, "solo", nil)
	evs, ids := testEvents(t, "t1", 450)
	ctx := context.Background()
	for _, e := range evs[:50] {
		if err := rec.Record(ctx, e); err != nil {
			t.Fatalf("Record: %v", err)
		}
	}
	if err := rec.RecordBatch(ctx, evs[50:]); err != nil {
		t.Fatalf("RecordBatch: %v", err)
	}
	if err := rec.RecordBatch(ctx, evs[:10]); err != nil { // re-sent by a retrying client
		t.Fatalf("RecordBatch again: %v", err)
	}
	drain(t, c)
	if err := st.exactlyOnce("t1", ids); err != nil {
		t.Error(err)
	}
	assertStreamEmpty(t, client, prefix)
	// Round trip keeps every field.
	got := st.rows["t1/"+evs[7].ID]
	if got.Metric != "api_calls" || got.Quantity != 1 || !got.OccurredAt.Equal(evs[7].OccurredAt) || string(got.Properties) != `{"route":"/x"}` {
		t.Errorf("stored %+v, want the fields of %+v", got, evs[7])
	}
}

// TestRedisConsumerCrashBeforeAck: consumer A reads a batch, writes it to the
// store and dies before XACK. Consumer B takes the entries over after the
// idle time and writes them again: the store keeps each event once.
func TestRedisConsumerCrashBeforeAck(t *testing.T) {
	t.Parallel()
	st := newMemStore()
	errCrash := errors.New("simulated crash")
	client, prefix, rec, a := newPipeline(t, st, "a", nil)
	a.afterWrite = func() error { return errCrash }
	evs, ids := testEvents(t, "t1", 250)
	if err := rec.RecordBatch(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
	if _, err := a.ProcessOnce(context.Background()); !errors.Is(err, errCrash) {
		t.Fatalf("ProcessOnce(a) = %v, want the crash", err)
	}
	if got := st.count(); got != 100 {
		t.Fatalf("store holds %d events after A's batch, want 100", got)
	}
	// A is gone. B joins with a short idle threshold.
	b, err := NewConsumer(context.Background(), ConsumerOptions{Client: client, Prefix: prefix, Name: "b", Writer: st,
		BatchSize: 100, ClaimIdle: 5 * time.Millisecond, Backoff: fastBackoff()})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(10 * time.Millisecond) // let A's entries become idle
	drain(t, b)
	// A's batch may still be younger than the idle time on a slow machine:
	// reclaim again until nothing is pending.
	for i := 0; i < 100; i++ {
		p, err := client.XPending(context.Background(), prefix+DefaultStream, DefaultGroup).Result()
		if err != nil {
			t.Fatal(err)
		}
		if p.Count == 0 {
			break
		}
		time.Sleep(10 * time.Millisecond)
		b.lastClaim = time.Time{}
		drain(t, b)
	}
	if err := st.exactlyOnce("t1", ids); err != nil {
		t.Error(err)
	}
	assertStreamEmpty(t, client, prefix)
}

// partialWriter stores the first half of the first batch it sees, then fails
// — a consumer killed in the middle of the store write.
type partialWriter struct {
	*memStore
	once sync.Once
}

func (p *partialWriter) InsertUsageBatch(ctx context.Context, events []store.UsageEvent) (int, int, error) {
	crashed := false
	p.once.Do(func() {
		_, _, _ = p.memStore.InsertUsageBatch(ctx, events[:len(events)/2])
		crashed = true
	})
	if crashed {
		return 0, 0, errTransient
	}
	return p.memStore.InsertUsageBatch(ctx, events)
}

func TestRedisConsumerCrashMidInsert(t *testing.T) {
	t.Parallel()
	st := newMemStore()
	pw := &partialWriter{memStore: st}
	client, prefix, rec, a := newPipeline(t, pw, "a", nil)
	evs, ids := testEvents(t, "t1", 300)
	if err := rec.RecordBatch(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
	if _, err := a.ProcessOnce(context.Background()); err == nil {
		t.Fatal("ProcessOnce with a failing write = nil, want an error")
	}
	// Restarted under the same name, the consumer re-reads its own pending
	// entries first (Run does that), then the rest.
	a2, err := NewConsumer(context.Background(), ConsumerOptions{Client: client, Prefix: prefix, Name: "a", Writer: pw, BatchSize: 100})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a2.process(context.Background(), "0"); err != nil {
		t.Fatalf("re-read own pending: %v", err)
	}
	drain(t, a2)
	if err := st.exactlyOnce("t1", ids); err != nil {
		t.Error(err)
	}
	assertStreamEmpty(t, client, prefix)
}

func TestRedisConsumerDeadLettersRejectedEvents(t *testing.T) {
	t.Parallel()
	st := newMemStore()
	st.tenants = map[string]bool{"good": true}
	m, _ := NewMetrics(nil)
	client, prefix, rec, c := newPipeline(t, st, "solo", func(o *ConsumerOptions) { o.Metrics = m })
	good, ids := testEvents(t, "good", 90)
	bad, _ := testEvents(t, "gone", 2)
	ctx := context.Background()
	if err := rec.RecordBatch(ctx, append(append(good[:45:45], bad...), good[45:]...)); err != nil {
		t.Fatal(err)
	}
	// And one entry that is not an event at all.
	if err := client.XAdd(ctx, &redis.XAddArgs{Stream: prefix + DefaultStream, Values: []any{"e", "{not json"}}).Err(); err != nil {
		t.Fatal(err)
	}
	// And a group-commit entry mixing good events with one of an unknown
	// tenant and a line that is not an event: only those two are dead.
	more, moreIDs := testEvents(t, "good", 2)
	gone, _ := testEvents(t, "gone", 1)
	var lines []string
	for _, e := range []metering.Event{more[0], gone[0], more[1]} {
		b, err := encodeWire(e)
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, string(b))
	}
	lines = append(lines[:1], append([]string{"{not json"}, lines[1:]...)...)
	if err := client.XAdd(ctx, &redis.XAddArgs{Stream: prefix + DefaultStream, Values: []any{fieldBatch, strings.Join(lines, "\n")}}).Err(); err != nil {
		t.Fatal(err)
	}
	drain(t, c)
	if err := st.exactlyOnce("good", append(ids, moreIDs...)); err != nil {
		t.Error(err)
	}
	assertStreamEmpty(t, client, prefix)
	if n, err := client.XLen(ctx, prefix+DefaultDead).Result(); err != nil || n != 5 {
		t.Errorf("dead-letter stream length = %d, %v; want 5", n, err)
	}
	if got := value(m.Events.WithLabelValues(OutcomeRejected)); got != 5 {
		t.Errorf("rejected = %v, want 5", got)
	}
}

func TestRedisConsumersShareWork(t *testing.T) {
	t.Parallel()
	st := newMemStore()
	client, prefix, rec, first := newPipeline(t, st, "c0", nil)
	evs, ids := testEvents(t, "t1", 3000)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	consumers := []*Consumer{first}
	for _, name := range []string{"c1", "c2"} {
		c, err := NewConsumer(ctx, ConsumerOptions{Client: client, Prefix: prefix, Name: name, Writer: st, BatchSize: 100})
		if err != nil {
			t.Fatal(err)
		}
		consumers = append(consumers, c)
	}
	for _, c := range consumers {
		wg.Add(1)
		go func() { defer wg.Done(); _ = c.Run(ctx) }()
	}
	for i := 0; i < len(evs); i += 500 {
		if err := rec.RecordBatch(context.Background(), evs[i:i+500]); err != nil {
			t.Fatal(err)
		}
	}
	// A consumer acknowledges and deletes its entries just after storing
	// them: wait for both before stopping the consumers.
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if n, err := Backlog(context.Background(), client, prefix, ""); st.count() >= len(evs) && err == nil && n == 0 {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	wg.Wait()
	if err := st.exactlyOnce("t1", ids); err != nil {
		t.Error(err)
	}
	assertStreamEmpty(t, client, prefix)
}

func TestRedisRecorderFailsFastWhenRedisIsDown(t *testing.T) {
	t.Parallel()
	testenv.RedisURL(t) // same gating as the other Redis tests
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 100 * time.Millisecond})
	defer client.Close()
	rec, err := NewRedisRecorder(RedisOptions{Client: client, Timeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	evs, _ := testEvents(t, "t1", 2)
	if err := rec.Record(context.Background(), evs[0]); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Record with Redis down = %v, want ErrUnavailable", err)
	}
	if err := rec.RecordBatch(context.Background(), evs); !errors.Is(err, ErrUnavailable) {
		t.Errorf("RecordBatch with Redis down = %v, want ErrUnavailable", err)
	}
	rec.Close(context.Background())
	if err := rec.Record(context.Background(), evs[0]); !errors.Is(err, ErrClosed) {
		t.Errorf("Record after Close = %v, want ErrClosed", err)
	}
}

// TestRedisConsumerRecoversLostGroup: a Redis restarted without its data
// loses the stream and the group; the consumer recreates them and goes on.
func TestRedisConsumerRecoversLostGroup(t *testing.T) {
	t.Parallel()
	st := newMemStore()
	client, prefix, rec, c := newPipeline(t, st, "solo", nil)
	ctx := context.Background()
	if err := client.Del(ctx, prefix+DefaultStream).Err(); err != nil {
		t.Fatal(err)
	}
	if n, err := c.ProcessOnce(ctx); err != nil || n != 0 {
		t.Fatalf("ProcessOnce after the group vanished = %d, %v; want 0, nil", n, err)
	}
	evs, ids := testEvents(t, "t1", 10)
	if err := rec.RecordBatch(ctx, evs); err != nil {
		t.Fatal(err)
	}
	drain(t, c)
	if err := st.exactlyOnce("t1", ids); err != nil {
		t.Error(err)
	}
}

func TestRedisConsumerLagGauges(t *testing.T) {
	t.Parallel()
	st := newMemStore()
	m, _ := NewMetrics(nil)
	now := time.Now()
	_, _, rec, c := newPipeline(t, st, "solo", func(o *ConsumerOptions) {
		o.Metrics = m
		o.Now = func() time.Time { return now.Add(time.Minute) }
	})
	evs, _ := testEvents(t, "t1", 5)
	for i := range evs {
		evs[i].OccurredAt = now.Add(-time.Hour)
	}
	if err := rec.RecordBatch(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ProcessOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Entries were added about now, read "a minute later".
	if got := value(m.Lag.WithLabelValues(StageBuffer)); got < 50 || got > 70 {
		t.Errorf("buffer lag = %vs, want about 60s", got)
	}
	if got := value(m.Lag.WithLabelValues(StageStore)); got < 3659.999 || got > 3660.001 { // µs precision on the wire
		t.Errorf("store lag = %vs, want 3660 (events occurred an hour before the read)", got)
	}
}

// TestRedisConsumerStartsWhileRedisIsDown: a server starting before Redis
// gets a working consumer that creates its group once Redis answers.
func TestRedisConsumerStartsWhileRedisIsDown(t *testing.T) {
	t.Parallel()
	client, prefix := testenv.Redis(t)
	down := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 50 * time.Millisecond})
	defer down.Close()
	st := newMemStore()
	if _, err := NewConsumer(context.Background(), ConsumerOptions{Client: down, Prefix: prefix, Writer: st}); err != nil {
		t.Fatalf("NewConsumer with Redis down = %v, want a consumer that retries", err)
	}
	// Against the live server, with the group gone (as if it could not be
	// created at start), the first ProcessOnce creates it.
	c2, err := NewConsumer(context.Background(), ConsumerOptions{Client: client, Prefix: prefix, Writer: st, Name: "late"})
	if err != nil {
		t.Fatal(err)
	}
	if err := client.Del(context.Background(), prefix+DefaultStream).Err(); err != nil {
		t.Fatal(err)
	}
	rec, _ := NewRedisRecorder(RedisOptions{Client: client, Prefix: prefix})
	defer rec.Close(context.Background())
	evs, ids := testEvents(t, "t1", 5)
	if err := rec.RecordBatch(context.Background(), evs); err != nil { // creates the stream, not the group
		t.Fatal(err)
	}
	drain(t, c2)
	if err := st.exactlyOnce("t1", ids); err != nil {
		t.Error(err)
	}
}

// TestRedisRecordConcurrentGroupCommit: many concurrent Record calls (one per
// request) share pipelines; each event is in the stream once and every call
// returned only after its XADD.
func TestRedisRecordConcurrentGroupCommit(t *testing.T) {
	t.Parallel()
	st := newMemStore()
	client, prefix, rec, c := newPipeline(t, st, "solo", nil)
	evs, ids := testEvents(t, "t1", 64*25)
	var wg sync.WaitGroup
	errs := make(chan error, len(evs))
	for g := 0; g < 64; g++ {
		part := evs[g*25 : (g+1)*25]
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, e := range part {
				errs <- rec.Record(context.Background(), e)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("Record: %v", err)
		}
	}
	// Every Record returned: all events must already be in the stream,
	// each once (entries of a group commit hold several, one per line).
	msgs, err := client.XRange(context.Background(), prefix+DefaultStream, "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	inStream := map[string]int{}
	for _, m := range msgs {
		raw, _ := m.Values[fieldEvent].(string)
		if b, ok := m.Values[fieldBatch].(string); ok {
			raw = b
		}
		for _, line := range strings.Split(raw, "\n") {
			ev, err := decodeWire([]byte(line))
			if err != nil {
				t.Fatalf("entry %s: %v", m.ID, err)
			}
			inStream[ev.TransactionID]++
		}
	}
	if len(inStream) != len(evs) {
		t.Fatalf("%d distinct events in %d stream entries after all Records returned; want %d", len(inStream), len(msgs), len(evs))
	}
	for id, n := range inStream {
		if n != 1 {
			t.Fatalf("event %s is %d times in the stream", id, n)
		}
	}
	t.Logf("%d events in %d stream entries", len(evs), len(msgs))
	drain(t, c)
	if err := st.exactlyOnce("t1", ids); err != nil {
		t.Error(err)
	}
}

// TestRedisConsumerLingers: after a batch smaller than BatchSize, Run waits
// Linger before it reads again (so busy streams are stored in bigger
// batches); with a negative Linger it reads on at once.
func TestRedisConsumerLingers(t *testing.T) {
	t.Parallel()
	for _, linger := range []time.Duration{time.Hour, -1} {
		st := newMemStore()
		_, _, rec, c := newPipeline(t, st, "linger", func(o *ConsumerOptions) { o.Linger = linger })
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- c.Run(ctx) }()
		first, _ := testEvents(t, "t1", 1)
		if err := rec.Record(ctx, first[0]); err != nil {
			t.Fatal(err)
		}
		waitFor(t, func() bool { return st.count() == 1 })
		// The first batch (one entry) was short: with an hour's linger the
		// next entry stays in the stream; without, it is stored.
		second, _ := testEvents(t, "t2", 1)
		if err := rec.Record(ctx, second[0]); err != nil {
			t.Fatal(err)
		}
		if linger < 0 {
			waitFor(t, func() bool { return st.count() == 2 })
		} else {
			time.Sleep(300 * time.Millisecond)
			if n := st.count(); n != 1 {
				t.Errorf("linger %v: %d events stored while lingering, want 1", linger, n)
			}
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("Run: %v", err)
		}
	}
}

// waitFor polls cond for up to 10 s (generous for -race on a busy machine).
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestBufferedRecorderClose: Close appends what is queued; with Redis
// unreachable it gives up when its context ends and says how many events
// it could not write.
func TestBufferedRecorderClose(t *testing.T) {
	t.Parallel()
	st := newMemStore()
	client, prefix := testenv.Redis(t)
	rec, err := NewRedisRecorder(RedisOptions{Client: client, Prefix: prefix, Timeout: 10 * time.Second, Buffered: true})
	if err != nil {
		t.Fatal(err)
	}
	evs, ids := testEvents(t, "t1", 3000)
	for _, e := range evs {
		if err := rec.Record(context.Background(), e); err != nil {
			t.Fatalf("Record: %v", err)
		}
	}
	if err := rec.Close(context.Background()); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := rec.Record(context.Background(), evs[0]); !errors.Is(err, ErrClosed) {
		t.Errorf("Record after Close = %v, want ErrClosed", err)
	}
	c, err := NewConsumer(context.Background(), ConsumerOptions{Client: client, Prefix: prefix, Name: "c1", Writer: st, BatchSize: 100, Backoff: fastBackoff()})
	if err != nil {
		t.Fatal(err)
	}
	drain(t, c)
	if err := st.exactlyOnce("t1", ids); err != nil {
		t.Error(err)
	}

	down := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 50 * time.Millisecond})
	defer down.Close()
	rec, err = NewRedisRecorder(RedisOptions{Client: down, Timeout: 100 * time.Millisecond, Buffered: true, Backoff: fastBackoff()})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range evs[:5] {
		if err := rec.Record(context.Background(), e); err != nil {
			t.Fatalf("buffered Record with Redis down: %v, want nil (queued)", err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if err := rec.Close(ctx); err == nil || !strings.Contains(err.Error(), "5 events not written") {
		t.Errorf("Close with Redis down = %v, want 5 events not written", err)
	}
}

// slowWriter signals when a write starts and takes a while to finish,
// failing if its context ends first, as a store call does.
type slowWriter struct {
	*memStore
	started chan struct{}
	once    sync.Once
}

func (w *slowWriter) InsertUsageBatch(ctx context.Context, events []store.UsageEvent) (int, int, error) {
	w.once.Do(func() { close(w.started) })
	select {
	case <-time.After(200 * time.Millisecond):
	case <-ctx.Done():
		return 0, 0, ctx.Err()
	}
	return w.memStore.InsertUsageBatch(ctx, events)
}

// TestRedisConsumerFinishesBatchOnShutdown: a consumer stopped (graceful
// shutdown) while it stores a batch finishes the batch and acknowledges
// it, rather than leaving it pending for ClaimIdle.
func TestRedisConsumerFinishesBatchOnShutdown(t *testing.T) {
	t.Parallel()
	st := &slowWriter{memStore: newMemStore(), started: make(chan struct{})}
	client, prefix, rec, c := newPipeline(t, st, "c1", nil)
	evs, ids := testEvents(t, "t1", 50)
	if err := rec.RecordBatch(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	<-st.started
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if err := st.exactlyOnce("t1", ids); err != nil {
		t.Error(err)
	}
	assertStreamEmpty(t, client, prefix)
}

// TestBufferedRecorderLingers: a buffered recorder's writer, woken by the
// first event, waits Linger for more and appends them as one merged entry;
// Close cuts the wait short and writes them.
func TestBufferedRecorderLingers(t *testing.T) {
	t.Parallel()
	client, prefix := testenv.Redis(t)
	rec, err := NewRedisRecorder(RedisOptions{Client: client, Prefix: prefix, Timeout: 10 * time.Second, Buffered: true, Linger: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	calls := apiCalls(t, 100, "t1")
	ctx := context.Background()
	for _, e := range calls {
		if err := rec.Record(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	// A writer that did not linger would have appended by now (one round
	// trip); this one is still waiting.
	time.Sleep(100 * time.Millisecond)
	stream := prefix + DefaultStream
	if n, err := client.XLen(ctx, stream).Result(); err != nil || n != 0 {
		t.Fatalf("stream holds %d entries (%v) while the writer lingers, want 0", n, err)
	}
	if err := rec.Close(ctx); err != nil {
		t.Fatal(err)
	}
	entries, err := client.XRange(ctx, stream, "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Fatalf("%d stream entries after Close, want 1 (the whole group)", len(entries))
	}
	raw, _ := entries[0].Values[fieldBatch].(string)
	var total float64
	lines := 0
	for line := range strings.SplitSeq(raw, "\n") {
		row, err := decodeWire([]byte(line))
		if err != nil {
			t.Fatal(err)
		}
		total += row.Quantity
		lines++
	}
	// apiCalls spreads the calls over 2 s with two statuses: 4 merged rows.
	if total != 100 || lines != 4 {
		t.Errorf("entry holds %d rows adding up to %v calls, want 4 rows, 100 calls", lines, total)
	}
}

// TestUnbufferedRecorderNeverLingers: Linger is for buffered recorders;
// an unbuffered Record waits for its XADD, so a writer that lingered an
// hour would make it time out.
func TestUnbufferedRecorderNeverLingers(t *testing.T) {
	t.Parallel()
	client, prefix := testenv.Redis(t)
	rec, err := NewRedisRecorder(RedisOptions{Client: client, Prefix: prefix, Timeout: 10 * time.Second, Linger: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rec.Close(context.Background()) })
	if err := rec.Record(context.Background(), apiCalls(t, 1, "t1")[0]); err != nil {
		t.Fatalf("unbuffered Record with Linger set: %v, want nil at once", err)
	}
}
