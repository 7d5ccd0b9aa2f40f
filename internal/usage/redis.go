package usage

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fast-saas/fast-saas/internal/store"
	"github.com/fast-saas/fast-saas/middleware/metering"
	"github.com/redis/go-redis/v9"
)

// Defaults of the Redis pipeline.
const (
	DefaultStream = "usage:events"  // appended to the key prefix
	DefaultDead   = "usage:dead"    // entries the store refuses for good
	DefaultGroup  = "usage-writers" // the consumer group
	fieldEvent    = "e"
	// fieldBatch holds several events in one entry, one wire event per
	// line: a group commit is then one XADD, one entry to read, ack and
	// delete, instead of one per event. Consumers before this field was
	// introduced do not read it: when upgrading replicas that share a
	// stream, upgrade them all at once (or consumers before recorders).
	fieldBatch = "b"
)

// RedisOptions name the stream. Client is required.
type RedisOptions struct {
	Client redis.UniversalClient
	// Prefix is put before every key ("fastsaas:"; tests use testenv's prefix).
	Prefix string
	// Stream is the stream key after Prefix; "" = DefaultStream.
	Stream string
	// Timeout bounds one Record/RecordBatch so a dead Redis fails fast; 0 = 500ms.
	Timeout time.Duration
	// Writers is how many group commits Record keeps in flight; 0 = 1.
	// More writers make smaller groups, and so more stream entries, more
	// round trips and fewer merged events: with metered API calls under
	// load, 4 writers cost serve and Redis more CPU per request than 2,
	// and 2 more than 1 (see docs/performance.md).
	Writers int
	// Buffered makes Record return once the event is queued in process,
	// not once Redis has it; see RedisRecorder.
	Buffered bool
	// Capacity bounds the events a buffered recorder holds; 0 = 4,096.
	Capacity int
	// Linger is how long a buffered recorder's writer, woken by an event,
	// waits for more before it appends: at a busy server's rates more events
	// per XADD, fewer round trips and fewer stream entries for the consumer
	// to read. 0 = 2ms; negative = no wait. An unbuffered recorder never
	// waits (its callers do).
	Linger time.Duration
	// Backoff paces a buffered recorder's retries of a group Redis did not
	// take; zero = 100ms doubling up to 5s.
	Backoff Backoff
	Metrics *Metrics
	Logger  *slog.Logger
	Now     func() time.Time
}

// RedisRecorder is the production metering.Recorder: Record returns after
// XADD has appended the event to the stream (Redis with AOF is the durable
// write an API 202 stands on). The stream is never trimmed here: entries go
// away only when a Consumer has stored and acknowledged them.
//
// Buffered (RedisOptions.Buffered), Record returns once the event is queued
// and the writer appends it as it would have, after waiting Linger (2 ms)
// for more events to share the XADD, so a request never waits for Redis.
// The writer then retries a group Redis refuses, with backoff, instead of
// failing its callers: a Redis restart delays events instead of losing
// them. Record blocks only while the queue (Capacity) is full, up to
// Timeout. Close writes what is queued; a
// crash loses it. With the rate limiter's leases as well (serve's
// defaults), serve's CPU per metered request under load fell from 69–86 to
// 56–68 µs (docs/performance.md): a request that waits for nothing is not
// parked and woken again.
//
// Record commits in groups: concurrent calls (one per API request) are
// gathered by a writer goroutine (RedisOptions.Writers) and appended as one
// stream entry holding all of them (field "b", one event per line; a group
// of one is a plain "e" entry), so a busy server pays one XADD for many
// events while a quiet one waits for nobody — a writer sends whatever is
// queued once it is free and has let runnable requests add theirs. Each
// Record still returns only once Redis has appended the entry holding its
// event. The mergeable events of one group are appended merged (see
// merger): the entry is read, stored and acknowledged as a unit, so its
// merged events are stored once.
type RedisRecorder struct {
	client  redis.UniversalClient
	key     string
	timeout time.Duration
	metrics *Metrics
	now     func() time.Time

	buffered bool
	linger   time.Duration
	backoff  Backoff
	log      *slog.Logger

	queue   *queue[addRequest] // wakes a writer as soon as it holds anything
	stop    chan struct{}
	mu      sync.Mutex // Close's
	closed  bool
	drain   context.Context // bounds a buffered recorder's last writes; set by Close
	lost    atomic.Int64    // buffered events Close gave up on
	writers sync.WaitGroup
}

type addRequest struct {
	row       store.UsageEvent
	mergeable bool
	done      chan error // buffered(1): the writer never blocks on it; nil when buffered
}

// maxGroup caps one group commit.
const maxGroup = 256

var _ metering.Recorder = (*RedisRecorder)(nil)

// NewRedisRecorder returns a recorder writing to opts' stream and starts its
// writers; Close stops them.
func NewRedisRecorder(opts RedisOptions) (*RedisRecorder, error) {
	if opts.Client == nil {
		return nil, errors.New("usage: redis recorder needs a Client")
	}
	r := &RedisRecorder{
		client:   opts.Client,
		key:      opts.Prefix + orDefault(opts.Stream, DefaultStream),
		timeout:  opts.Timeout,
		metrics:  orNop(opts.Metrics),
		now:      opts.Now,
		buffered: opts.Buffered,
		linger:   opts.Linger,
		backoff:  opts.Backoff,
		log:      opts.Logger,
		stop:     make(chan struct{}),
	}
	capacity := 4 * maxGroup
	if opts.Buffered {
		capacity = cmp.Or(max(opts.Capacity, 0), 4096)
	}
	r.queue = newQueue[addRequest](capacity, 1)
	if r.backoff.Base <= 0 && r.backoff.Max <= 0 {
		r.backoff = storeBackoff
	}
	if r.log == nil {
		r.log = slog.Default()
	}
	if r.timeout <= 0 {
		r.timeout = 500 * time.Millisecond
	}
	switch {
	case !r.buffered || r.linger < 0:
		r.linger = 0
	case r.linger == 0:
		r.linger = 2 * time.Millisecond
	}
	if r.now == nil {
		r.now = time.Now
	}
	n := opts.Writers
	if n <= 0 {
		n = 1
	}
	for range n {
		r.writers.Add(1)
		go r.writer()
	}
	return r, nil
}

// Close stops the writers. Call it after the last Record (after the HTTP
// server stopped); later calls to Record return ErrClosed. A buffered
// recorder first writes what is queued; if ctx ends first, it gives up and
// returns an error saying how many events were not written.
func (r *RedisRecorder) Close(ctx context.Context) error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		r.writers.Wait()
		return nil
	}
	r.closed = true
	r.drain = ctx // read by the writers after stop is closed
	r.queue.close()
	close(r.stop)
	r.mu.Unlock()
	r.writers.Wait()
	if n := r.lost.Load(); n > 0 {
		return fmt.Errorf("usage: close: %d events not written to %s: %w", n, r.key, ctx.Err())
	}
	return nil
}

// writer appends groups of queued events until Close; a buffered
// recorder's writer then appends what is left.
func (r *RedisRecorder) writer() {
	defer r.writers.Done()
	g := &groupWriter{r: r, group: make([]addRequest, 0, maxGroup), rows: make([]store.UsageEvent, 0, maxGroup)}
	for {
		select {
		case <-r.stop:
			g.drainQueue()
			return
		case <-r.queue.wake:
		}
		if r.linger > 0 {
			t := time.NewTimer(r.linger)
			select {
			case <-t.C:
			case <-r.stop: // write what is queued now
				t.Stop()
			}
		} else {
			// Let requests that are about to record (runnable on this P)
			// join this group instead of the next one; with nothing
			// runnable this returns at once.
			runtime.Gosched()
		}
		// Write groups until the queue is empty: a busy server's events
		// queue while the previous group is on its way to Redis, and are
		// taken without waking anyone.
		for {
			g.group, _ = r.queue.take(g.group[:0], maxGroup)
			if len(g.group) == 0 {
				break
			}
			if !r.buffered {
				err := g.append(context.Background())
				for _, q := range g.group {
					q.done <- err
				}
				continue
			}
			if !g.appendRetrying(context.Background(), r.stop) {
				// Close came while Redis was refusing: retry within its
				// deadline, with the rest of the queue.
				if !g.appendRetrying(r.drain, nil) {
					r.lost.Add(int64(len(g.group)))
				}
				g.drainQueue()
				return
			}
		}
	}
}

// groupWriter is one writer's state: the group being committed and its
// reusable buffers.
type groupWriter struct {
	r     *RedisRecorder
	group []addRequest
	rows  []store.UsageEvent
	merge merger
	buf   []byte
}

// append writes the group as one stream entry.
func (g *groupWriter) append(ctx context.Context) error {
	r := g.r
	g.rows = g.rows[:0]
	g.merge.reset()
	for _, q := range g.group {
		g.rows = g.merge.add(g.rows, q.row, q.mergeable)
	}
	g.buf = g.buf[:0]
	for i, row := range g.rows {
		if i > 0 {
			g.buf = append(g.buf, '\n')
		}
		g.buf = appendWire(g.buf, row)
	}
	field := fieldBatch
	if len(g.rows) == 1 {
		field = fieldEvent
	}
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	return r.client.XAdd(ctx, &redis.XAddArgs{Stream: r.key, Values: []any{field, g.buf}}).Err()
}

// appendRetrying writes the group, retrying with backoff until it is
// written (true), or until ctx ends or stop is closed (false).
func (g *groupWriter) appendRetrying(ctx context.Context, stop <-chan struct{}) bool {
	r := g.r
	for attempt := 0; ; attempt++ {
		err := g.append(ctx)
		if err == nil {
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		delay := r.backoff.Delay(attempt)
		r.log.Warn("usage events not appended to the stream; retrying", "events", len(g.group), "attempt", attempt+1, "retry_in", delay, "err", err)
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-stop:
			t.Stop()
			return false
		case <-ctx.Done():
			t.Stop()
			return false
		}
	}
}

// drainQueue appends everything still queued after Close, within Close's
// deadline, counting what a buffered recorder could not write.
func (g *groupWriter) drainQueue() {
	r := g.r
	for {
		g.group, _ = r.queue.take(g.group[:0], maxGroup)
		if len(g.group) == 0 {
			return
		}
		if !r.buffered {
			err := g.append(r.drain)
			for _, q := range g.group {
				q.done <- err
			}
			continue
		}
		if !g.appendRetrying(r.drain, nil) {
			r.lost.Add(int64(len(g.group) + r.queue.discard()))
			return
		}
	}
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// Record appends one event to the stream and returns once Redis has it. A
// Redis that does not answer within the timeout gives an error wrapping
// ErrUnavailable.
func (r *RedisRecorder) Record(ctx context.Context, e metering.Event) error {
	if err := validate(&e, r.now); err != nil {
		r.metrics.Events.WithLabelValues(OutcomeRejected).Inc()
		return err
	}
	row, err := toStore(e)
	if err != nil {
		r.metrics.Events.WithLabelValues(OutcomeRejected).Inc()
		return err
	}
	q := addRequest{row: row, mergeable: e.Mergeable}
	if !r.buffered {
		q.done = make(chan error, 1)
	}
	ok, _, err := r.queue.tryPut(q)
	if err != nil {
		return err
	}
	if !ok {
		// The queue is full: wait for room, as long as Timeout allows.
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, r.timeout)
		defer cancel()
		if err := r.queue.put(ctx, q); err != nil {
			if errors.Is(err, ErrClosed) {
				return err
			}
			return fmt.Errorf("%w: xadd %s: queue: %w", ErrUnavailable, r.key, err)
		}
	}
	if r.buffered {
		return nil
	}
	return r.wait(ctx, q)
}

// wait returns once the writer has appended q's group (or failed to), or
// Timeout has passed.
func (r *RedisRecorder) wait(ctx context.Context, q addRequest) error {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	select {
	case err := <-q.done:
		if err != nil {
			return fmt.Errorf("%w: xadd %s: %w", ErrUnavailable, r.key, err)
		}
		return nil
	case <-ctx.Done():
		// The event may still be written; recording it again is harmless.
		return fmt.Errorf("%w: xadd %s: %w", ErrUnavailable, r.key, ctx.Err())
	}
}

// RecordBatch appends events with one pipelined round trip. On error some
// events may have been appended; recording them again is safe (idempotent by
// event id downstream).
func (r *RedisRecorder) RecordBatch(ctx context.Context, events []metering.Event) error {
	if len(events) == 0 {
		return nil
	}
	payloads := make([][]byte, len(events))
	for i := range events {
		e := events[i]
		if err := validate(&e, r.now); err != nil {
			r.metrics.Events.WithLabelValues(OutcomeRejected).Inc()
			return fmt.Errorf("event %d: %w", i, err)
		}
		b, err := encodeWire(e)
		if err != nil {
			r.metrics.Events.WithLabelValues(OutcomeRejected).Inc()
			return fmt.Errorf("event %d: %w", i, err)
		}
		payloads[i] = b
	}
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	var err error
	if len(payloads) == 1 {
		err = r.client.XAdd(ctx, &redis.XAddArgs{Stream: r.key, Values: []any{fieldEvent, payloads[0]}}).Err()
	} else {
		_, err = r.client.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, b := range payloads {
				p.XAdd(ctx, &redis.XAddArgs{Stream: r.key, Values: []any{fieldEvent, b}})
			}
			return nil
		})
	}
	if err != nil {
		return fmt.Errorf("%w: xadd %s: %w", ErrUnavailable, r.key, err)
	}
	return nil
}

// ConsumerOptions configure a Consumer. Client and Writer are required.
type ConsumerOptions struct {
	Client redis.UniversalClient
	Prefix string
	Stream string // "" = DefaultStream
	Group  string // "" = DefaultGroup
	// DeadStream receives entries the store refuses for good (unknown
	// tenant, undecodable) so nothing vanishes; "" = DefaultDead.
	DeadStream string
	// Name identifies this consumer in the group; "" = host-pid-random.
	// Reusing the name of a crashed consumer makes it re-read its own
	// pending entries at once instead of waiting for ClaimIdle.
	Name   string
	Writer BatchWriter
	// BatchSize is the most entries read and stored at once; 0 = 500.
	BatchSize int
	// Block is how long XREADGROUP waits for new entries; 0 = 50ms.
	Block time.Duration
	// Linger is how long the consumer waits after a batch smaller than
	// BatchSize before it reads again, so that under steady traffic each
	// store write carries the events of a whole interval instead of the
	// one or two entries that arrived since the last read; 0 = 50ms,
	// negative = no wait. The events are already safe in the stream (their
	// requests were answered); this only delays when usage reads see them.
	Linger time.Duration
	// ClaimIdle is how long an entry stays pending (read, not acked) before
	// another consumer takes it over; 0 = 30s. Longer than any store write.
	ClaimIdle time.Duration
	// WriteTimeout bounds one store write; 0 = 10s.
	WriteTimeout time.Duration
	// Backoff paces retries when Redis or the store fails; zero = 100ms
	// doubling up to 5s, so the consumer resumes soon after they return.
	Backoff Backoff
	Metrics *Metrics
	Logger  *slog.Logger
	Now     func() time.Time
}

// DefaultLinger is ConsumerOptions.Linger's default. Each store write
// costs Postgres about the same whatever it carries, so the longer the
// consumer waits, the less a metered request costs: with API calls merged
// (15,000-20,000 req/s of one tenant), 10 ms gave 6 µs of Postgres CPU per
// request and 50 ms 3-4 µs. Usage reads see events up to that much later.
const DefaultLinger = 50 * time.Millisecond

// Consumer moves events from the stream to the store.
type Consumer struct {
	opts      ConsumerOptions
	key, dead string
	metrics   *Metrics
	log       *slog.Logger
	now       func() time.Time

	claimCursor string
	lastClaim   time.Time
	failures    int

	// afterWrite runs between the store write and XACK; tests make it fail
	// to simulate a crash there.
	afterWrite func() error
}

// NewConsumer creates the consumer group if needed (reading the stream from
// its start, so events appended before any consumer existed are kept). It
// fails only on missing options: an unreachable Redis is retried by Run.
func NewConsumer(ctx context.Context, opts ConsumerOptions) (*Consumer, error) {
	if opts.Client == nil || opts.Writer == nil {
		return nil, errors.New("usage: consumer needs a Client and a Writer")
	}
	opts.Stream = orDefault(opts.Stream, DefaultStream)
	opts.Group = orDefault(opts.Group, DefaultGroup)
	opts.DeadStream = orDefault(opts.DeadStream, DefaultDead)
	if opts.Name == "" {
		host, _ := os.Hostname()
		var b [4]byte
		_, _ = rand.Read(b[:])
		opts.Name = fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b[:]))
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = 500
	}
	if opts.Block <= 0 {
		opts.Block = 50 * time.Millisecond
	}
	if opts.Linger == 0 {
		opts.Linger = DefaultLinger
	}
	if opts.ClaimIdle <= 0 {
		opts.ClaimIdle = 30 * time.Second
	}
	if opts.WriteTimeout <= 0 {
		opts.WriteTimeout = 10 * time.Second
	}
	if opts.Backoff.Base <= 0 && opts.Backoff.Max <= 0 {
		opts.Backoff = storeBackoff
	}
	c := &Consumer{
		opts:        opts,
		key:         opts.Prefix + opts.Stream,
		dead:        opts.Prefix + opts.DeadStream,
		metrics:     orNop(opts.Metrics),
		log:         opts.Logger,
		now:         opts.Now,
		claimCursor: "0-0",
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	if c.now == nil {
		c.now = time.Now
	}
	// Redis may be down while the server starts: the consumer is still
	// returned, and ProcessOnce creates the group once Redis answers (it
	// treats NOGROUP that way), so no restart is needed.
	if err := c.ensureGroup(ctx); err != nil {
		c.log.Warn("usage consumer: consumer group not created yet; will retry", "stream", c.key, "err", err)
	}
	return c, nil
}

// ensureGroup creates the stream and its consumer group when missing. Needed
// at start and after a Redis restart that lost them (no persistence, or a
// FLUSHALL): XREADGROUP then fails with NOGROUP until the group is back.
func (c *Consumer) ensureGroup(ctx context.Context) error {
	err := c.opts.Client.XGroupCreateMkStream(ctx, c.key, c.opts.Group, "0").Err()
	if err != nil && !strings.HasPrefix(err.Error(), "BUSYGROUP") {
		return fmt.Errorf("create consumer group %s on %s: %w", c.opts.Group, c.key, err)
	}
	return nil
}

func isNoGroup(err error) bool {
	var rerr redis.Error
	return errors.As(err, &rerr) && strings.HasPrefix(rerr.Error(), "NOGROUP")
}

// Name returns the consumer's name in the group.
func (c *Consumer) Name() string { return c.opts.Name }

// Run processes batches until ctx ends. Errors (Redis or store down) are
// logged and retried with backoff; Run returns nil when ctx is cancelled.
func (c *Consumer) Run(ctx context.Context) error {
	// First our own pending entries, left by a previous run with this name.
	for ctx.Err() == nil {
		n, err := c.process(ctx, "0")
		if err != nil || n == 0 {
			break
		}
	}
	for ctx.Err() == nil {
		n, err := c.ProcessOnce(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			d := c.opts.Backoff.Delay(c.failures)
			c.failures++
			c.log.Warn("usage consumer: batch failed; retrying", "consumer", c.opts.Name, "retry_in", d, "err", err)
			sleep(ctx, d)
			continue
		}
		c.failures = 0
		if n > 0 && n < c.opts.BatchSize && c.opts.Linger > 0 {
			// Measured with one event per request (metered API calls,
			// 12k req/s): reading as soon as anything arrived wrote
			// batches of a few events, and Postgres spent 21µs of CPU per
			// request; with the linger, 13µs.
			sleep(ctx, c.opts.Linger)
		}
	}
	return nil
}

// ProcessOnce takes over entries idle longer than ClaimIdle (at most every
// ClaimIdle/2), then reads new entries, stores them and acknowledges them.
// It returns how many entries it handled.
func (c *Consumer) ProcessOnce(ctx context.Context) (int, error) {
	n, err := c.processOnce(ctx)
	if isNoGroup(err) {
		c.log.Warn("usage consumer: stream or group gone (Redis restarted without data?); recreating", "stream", c.key)
		c.claimCursor = "0-0"
		if gerr := c.ensureGroup(ctx); gerr != nil {
			return n, gerr
		}
		return c.processOnce(ctx)
	}
	return n, err
}

func (c *Consumer) processOnce(ctx context.Context) (int, error) {
	total := 0
	if now := c.now(); now.Sub(c.lastClaim) >= c.opts.ClaimIdle/2 {
		n, err := c.reclaim(ctx)
		total += n
		if err != nil {
			return total, err
		}
		c.lastClaim = now
	}
	n, err := c.process(ctx, ">")
	return total + n, err
}

// reclaim walks the pending list with XAUTOCLAIM and handles what it takes over.
func (c *Consumer) reclaim(ctx context.Context) (int, error) {
	total := 0
	for {
		msgs, next, err := c.opts.Client.XAutoClaim(ctx, &redis.XAutoClaimArgs{
			Stream: c.key, Group: c.opts.Group, Consumer: c.opts.Name,
			MinIdle: c.opts.ClaimIdle, Start: c.claimCursor, Count: int64(c.opts.BatchSize),
		}).Result()
		if err != nil {
			return total, fmt.Errorf("xautoclaim %s: %w", c.key, err)
		}
		if len(msgs) > 0 {
			c.log.Info("usage consumer: took over pending entries of a dead consumer", "consumer", c.opts.Name, "entries", len(msgs))
			if err := c.handle(ctx, msgs); err != nil {
				return total, err
			}
			total += len(msgs)
		}
		c.claimCursor = next
		if next == "0-0" || next == "" {
			c.claimCursor = "0-0"
			return total, nil
		}
	}
}

// process reads one batch: id ">" = new entries, "0" = our own pending ones.
func (c *Consumer) process(ctx context.Context, id string) (int, error) {
	block := c.opts.Block
	if id != ">" {
		block = -1 // no BLOCK argument: pending entries are there or not
	}
	streams, err := c.opts.Client.XReadGroup(ctx, &redis.XReadGroupArgs{
		Group: c.opts.Group, Consumer: c.opts.Name, Streams: []string{c.key, id},
		Count: int64(c.opts.BatchSize), Block: block,
	}).Result()
	if errors.Is(err, redis.Nil) {
		c.metrics.Lag.WithLabelValues(StageBuffer).Set(0)
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("xreadgroup %s: %w", c.key, err)
	}
	if len(streams) == 0 || len(streams[0].Messages) == 0 {
		c.metrics.Lag.WithLabelValues(StageBuffer).Set(0)
		return 0, nil
	}
	msgs := streams[0].Messages
	return len(msgs), c.handle(ctx, msgs)
}

// handle stores a batch of entries, dead-letters the ones the store refuses
// for good, and acknowledges (and deletes) all of them — only after the write.
//
// A batch that was read is finished even if ctx ends meanwhile (a graceful
// shutdown), within WriteTimeout and the client's timeouts: left pending,
// its entries would wait ClaimIdle for another consumer to take them over.
func (c *Consumer) handle(ctx context.Context, msgs []redis.XMessage) error {
	ctx = context.WithoutCancel(ctx)
	now := c.now()
	if ms, ok := entryMillis(msgs[0].ID); ok {
		c.metrics.Lag.WithLabelValues(StageBuffer).Set(now.Sub(time.UnixMilli(ms)).Seconds())
	}
	rows := make([]store.UsageEvent, 0, len(msgs))
	type origin struct{ id, raw string } // a row's entry and wire event
	from := make([]origin, 0, len(msgs))
	var dead []deadEntry
	add := func(id, raw string) {
		row, err := decodeWire([]byte(raw))
		if err != nil {
			dead = append(dead, deadEntry{id: id, raw: raw, reason: err.Error()})
			return
		}
		rows = append(rows, row)
		from = append(from, origin{id, raw})
	}
	for _, m := range msgs {
		if b, ok := m.Values[fieldBatch].(string); ok {
			for len(b) > 0 {
				line, rest, _ := strings.Cut(b, "\n")
				add(m.ID, line)
				b = rest
			}
			continue
		}
		raw, _ := m.Values[fieldEvent].(string)
		add(m.ID, raw)
	}
	wctx, cancel := context.WithTimeout(ctx, c.opts.WriteTimeout)
	res, err := writeBatch(wctx, c.opts.Writer, rows)
	cancel()
	if err != nil {
		return fmt.Errorf("store %d events: %w", len(rows), err)
	}
	for _, r := range res.rejected {
		o := from[r.index]
		dead = append(dead, deadEntry{id: o.id, raw: o.raw, reason: r.err.Error()})
	}
	count(c.metrics, res)
	c.metrics.Events.WithLabelValues(OutcomeRejected).Add(float64(len(dead) - len(res.rejected)))
	if len(rows) > 0 {
		oldest := rows[0].OccurredAt
		for _, r := range rows[1:] {
			if r.OccurredAt.Before(oldest) {
				oldest = r.OccurredAt
			}
		}
		c.metrics.Lag.WithLabelValues(StageStore).Set(c.now().Sub(oldest).Seconds())
	}
	if c.afterWrite != nil {
		if err := c.afterWrite(); err != nil {
			return err
		}
	}
	ids := make([]string, len(msgs))
	for i, m := range msgs {
		ids[i] = m.ID
	}
	if len(dead) > 0 {
		// Dead letters first, in their own round trip: an entry is acked
		// only once its copy is safe. (Separate from the MULTI below, which
		// must touch one key only to work on Redis Cluster too.)
		_, err := c.opts.Client.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, d := range dead {
				p.XAdd(ctx, &redis.XAddArgs{Stream: c.dead, Values: []any{fieldEvent, d.raw, "reason", d.reason, "id", d.id}})
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("dead-letter %d entries: %w", len(dead), err)
		}
	}
	_, err = c.opts.Client.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.XAck(ctx, c.key, c.opts.Group, ids...)
		p.XDel(ctx, c.key, ids...)
		return nil
	})
	if err != nil {
		// Stored but not acknowledged: the entries stay pending and are
		// stored again later, as duplicates. Nothing is lost.
		return fmt.Errorf("xack %d entries: %w", len(ids), err)
	}
	for _, d := range dead {
		c.log.Warn("usage event dead-lettered", "stream", c.dead, "entry", d.id, "reason", d.reason)
	}
	return nil
}

// deadEntry is one event the store refuses for good (or cannot decode),
// with the stream entry it came in.
type deadEntry struct{ id, raw, reason string }

// entryMillis extracts the creation time (ms) from a stream entry id "ms-seq".
func entryMillis(id string) (int64, bool) {
	msPart, _, ok := strings.Cut(id, "-")
	if !ok {
		return 0, false
	}
	ms, err := strconv.ParseInt(msPart, 10, 64)
	return ms, err == nil
}

// Backlog returns how many entries the stream holds (stored entries are
// deleted, so this is what is still to be stored) — for readiness/metrics.
func Backlog(ctx context.Context, client redis.UniversalClient, prefix, stream string) (int64, error) {
	n, err := client.XLen(ctx, prefix+orDefault(stream, DefaultStream)).Result()
	if err != nil {
		return 0, fmt.Errorf("usage: stream backlog: %w", err)
	}
	return n, nil
}
