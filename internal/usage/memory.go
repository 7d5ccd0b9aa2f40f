package usage

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/fast-saas/fast-saas/internal/store"
	"github.com/fast-saas/fast-saas/middleware/metering"
)

// MemoryOptions configure a MemoryBuffer. Only Writer is required.
type MemoryOptions struct {
	// Writer stores batches (the SQLite store in embedded mode).
	Writer BatchWriter
	// BatchSize is the most events written in one store call; 0 = 500.
	BatchSize int
	// FlushInterval is the longest an event waits for its batch to fill; 0 = 50ms.
	FlushInterval time.Duration
	// Capacity bounds the queue; 0 = 100,000 events.
	Capacity int
	// WriteTimeout bounds one store call; 0 = 10s.
	WriteTimeout time.Duration
	// Backoff paces retries of a batch the store could not take; zero =
	// 100ms doubling up to 5s.
	Backoff Backoff
	Metrics *Metrics
	Logger  *slog.Logger
	Now     func() time.Time
}

type queued struct {
	ev        store.UsageEvent
	mergeable bool
	enqueued  time.Time
}

// MemoryBuffer is the embedded-mode metering.Recorder: a bounded in-process
// queue written to the store in batches by one goroutine.
//
// When the queue is full, Record blocks until there is room or ctx ends. We
// chose backpressure over dropping: a full queue means the store is down or
// slower than the traffic, and usage is billable data — slowing requests
// (bounded by the caller's deadline, then an error the caller counts) is
// better than losing it silently.
//
// Events in the queue live in process memory: a crash loses them, a graceful
// Close does not. Callers that must acknowledge only after a durable write
// use RecordSync. The mergeable events of a batch are stored merged (see
// merger), so a busy tenant's API calls cost the store one row per second.
type MemoryBuffer struct {
	opts    MemoryOptions
	metrics *Metrics
	log     *slog.Logger
	now     func() time.Time

	queue *queue[queued]     // woken at BatchSize; the flusher's ticker takes smaller batches
	stop  context.CancelFunc // aborts a flusher stuck retrying, when Close gives up
	done  chan struct{}
	lost  int    // events still queued when Close gave up
	merge merger // the flusher's
}

var _ metering.Recorder = (*MemoryBuffer)(nil)

// NewMemoryBuffer starts a buffer; Close flushes and stops it.
func NewMemoryBuffer(opts MemoryOptions) (*MemoryBuffer, error) {
	if opts.Writer == nil {
		return nil, errors.New("usage: memory buffer needs a Writer")
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = 500
	}
	if opts.FlushInterval <= 0 {
		opts.FlushInterval = 50 * time.Millisecond
	}
	if opts.Capacity <= 0 {
		opts.Capacity = 100_000
	}
	if opts.WriteTimeout <= 0 {
		opts.WriteTimeout = 10 * time.Second
	}
	if opts.Backoff.Base <= 0 && opts.Backoff.Max <= 0 {
		opts.Backoff = storeBackoff
	}
	b := &MemoryBuffer{
		opts:    opts,
		metrics: orNop(opts.Metrics),
		log:     opts.Logger,
		now:     opts.Now,
		queue:   newQueue[queued](opts.Capacity, opts.BatchSize),
		done:    make(chan struct{}),
	}
	if b.log == nil {
		b.log = slog.Default()
	}
	if b.now == nil {
		b.now = time.Now
	}
	ctx, cancel := context.WithCancel(context.Background())
	b.stop = cancel
	go b.run(ctx)
	return b, nil
}

// Record queues one event. It blocks while the queue is full, until ctx ends
// (then the error wraps ErrBufferFull and ctx's error).
func (b *MemoryBuffer) Record(ctx context.Context, e metering.Event) error {
	if err := validate(&e, b.now); err != nil {
		b.metrics.Events.WithLabelValues(OutcomeRejected).Inc()
		return err
	}
	row, err := toStore(e)
	if err != nil {
		b.metrics.Events.WithLabelValues(OutcomeRejected).Inc()
		return err
	}
	err = b.queue.put(ctx, queued{ev: row, mergeable: e.Mergeable, enqueued: b.now()})
	if err != nil && !errors.Is(err, ErrClosed) {
		return fmt.Errorf("%w: %w", ErrBufferFull, err)
	}
	return err
}

// RecordSync validates events and writes them straight to the store in one
// call (split in batches of BatchSize), returning once they are durable. It
// reports how many were new and how many were duplicates; an event the store
// refuses for good (unknown tenant) makes it return an error wrapping the
// store's, after the other events were written.
func (b *MemoryBuffer) RecordSync(ctx context.Context, events []metering.Event) (inserted, duplicates int, err error) {
	return recordSync(ctx, b.opts.Writer, b.opts.BatchSize, b.metrics, b.now, events)
}

func recordSync(ctx context.Context, w BatchWriter, batchSize int, m *Metrics, now func() time.Time, events []metering.Event) (inserted, duplicates int, err error) {
	rows := make([]store.UsageEvent, 0, len(events))
	for i := range events {
		e := events[i]
		if err := validate(&e, now); err != nil {
			m.Events.WithLabelValues(OutcomeRejected).Inc()
			return 0, 0, fmt.Errorf("event %d: %w", i, err)
		}
		row, err := toStore(e)
		if err != nil {
			m.Events.WithLabelValues(OutcomeRejected).Inc()
			return 0, 0, fmt.Errorf("event %d: %w", i, err)
		}
		rows = append(rows, row)
	}
	var firstReject error
	for start := 0; start < len(rows); start += batchSize {
		chunk := rows[start:min(start+batchSize, len(rows))]
		res, err := writeBatch(ctx, w, chunk)
		inserted += res.inserted
		duplicates += res.duplicates
		count(m, res)
		if err != nil {
			return inserted, duplicates, fmt.Errorf("write usage: %w", err)
		}
		if len(res.rejected) > 0 && firstReject == nil {
			r := res.rejected[0]
			firstReject = fmt.Errorf("event %d: %w", start+r.index, r.err)
		}
	}
	if firstReject != nil {
		return inserted, duplicates, firstReject
	}
	return inserted, duplicates, nil
}

func count(m *Metrics, res writeResult) {
	m.Events.WithLabelValues(OutcomeAccepted).Add(float64(res.inserted))
	m.Events.WithLabelValues(OutcomeDuplicate).Add(float64(res.duplicates))
	m.Events.WithLabelValues(OutcomeRejected).Add(float64(len(res.rejected)))
}

// Close stops accepting events and flushes the queue. If ctx ends first, it
// gives up and returns an error saying how many events were not written.
func (b *MemoryBuffer) Close(ctx context.Context) error {
	b.queue.close()
	select {
	case <-b.done:
		return nil
	case <-ctx.Done():
		b.stop()
		<-b.done
		return fmt.Errorf("usage: close: %d events not written: %w", b.lost, ctx.Err())
	}
}

// run is the flusher: it collects batches by size or time and writes them.
func (b *MemoryBuffer) run(ctx context.Context) {
	defer close(b.done)
	ticker := time.NewTicker(b.opts.FlushInterval)
	defer ticker.Stop()
	batch := make([]queued, 0, b.opts.BatchSize)
	for {
		select {
		case <-b.queue.wake: // BatchSize events queued, or Close
		case <-ticker.C:
		}
		// Write full batches while there are any, then what is left:
		// the ticker (or Close) is what brings a partial batch here.
		for {
			var done bool
			batch, done = b.queue.take(batch[:0], b.opts.BatchSize)
			if len(batch) == 0 {
				b.metrics.Lag.WithLabelValues(StageBuffer).Set(0)
			} else if !b.flush(ctx, batch) {
				b.lost = len(batch) + b.queue.discard()
				return
			}
			if done {
				return
			}
			if len(batch) < b.opts.BatchSize {
				break
			}
		}
	}
}

// flush writes one batch, retrying transient store errors until it succeeds
// or ctx (Close giving up) ends. It reports whether the batch was written.
func (b *MemoryBuffer) flush(ctx context.Context, batch []queued) bool {
	if len(batch) == 0 {
		return true
	}
	now := b.now()
	b.metrics.Lag.WithLabelValues(StageBuffer).Set(now.Sub(batch[0].enqueued).Seconds())
	rows := make([]store.UsageEvent, 0, len(batch))
	oldest := batch[0].ev.OccurredAt
	b.merge.reset()
	for _, it := range batch {
		rows = b.merge.add(rows, it.ev, it.mergeable)
		if it.ev.OccurredAt.Before(oldest) {
			oldest = it.ev.OccurredAt
		}
	}
	for attempt := 0; ; attempt++ {
		wctx, cancel := context.WithTimeout(ctx, b.opts.WriteTimeout)
		res, err := writeBatch(wctx, b.opts.Writer, rows)
		cancel()
		if err == nil {
			count(b.metrics, res)
			for _, r := range res.rejected {
				b.log.Warn("usage event rejected by the store", "tenant_id", rows[r.index].TenantID,
					"transaction_id", rows[r.index].TransactionID, "err", r.err)
			}
			b.metrics.Lag.WithLabelValues(StageStore).Set(b.now().Sub(oldest).Seconds())
			return true
		}
		delay := b.opts.Backoff.Delay(attempt)
		b.log.Warn("usage batch not written; retrying", "events", len(rows), "attempt", attempt+1, "retry_in", delay, "err", err)
		if !sleep(ctx, delay) {
			return false
		}
	}
}
