package usage

import (
	"context"
	"sync"
)

// queue hands events from the goroutines that record them (one per API
// request) to the goroutine that writes them, without waking that writer
// for every event. put appends under a mutex and signals the writer only
// when the queue reaches wakeAt items; the writer takes what is queued,
// writes it, and waits again only after a take found nothing.
//
// A channel did this before, and woke the writer once per event: at tens of
// thousands of metered requests a second that kept a goroutine runnable, so
// the scheduler seldom found its run queue empty, which is when it polls the
// network (otherwise sysmon does, every 10 ms). A trace of a saturated serve
// showed requests whose bytes had arrived runnable for up to 41 ms, and its
// p99 under wrk was 11-19 ms on one core (issue 5, docs/performance.md).
type queue[T any] struct {
	mu       sync.Mutex
	items    []T
	head     int // items[:head] are taken and cleared
	capacity int
	wakeAt   int
	closed   bool
	wake     chan struct{} // buffered(1): a token means "look at the queue"
	room     chan struct{} // closed when a take frees room; producers on a full queue wait on it
}

// newQueue returns a queue that holds at most capacity items and wakes the
// writer when it holds wakeAt (1: as soon as anything is queued).
func newQueue[T any](capacity, wakeAt int) *queue[T] {
	return &queue[T]{capacity: capacity, wakeAt: min(max(wakeAt, 1), capacity), wake: make(chan struct{}, 1), room: make(chan struct{})}
}

// compactAt is how many taken items the queue keeps before moving the
// waiting ones to the front of its slice.
const compactAt = 1024

// put appends item. While the queue is full it waits for room until ctx
// ends (returning ctx's error); after close it returns ErrClosed.
func (q *queue[T]) put(ctx context.Context, item T) error {
	for {
		ok, room, err := q.tryPut(item)
		if ok || err != nil {
			return err
		}
		select {
		case <-room:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// tryPut appends item unless the queue is full; then it returns the
// channel that is closed when a take makes room. After close it returns
// ErrClosed.
func (q *queue[T]) tryPut(item T) (ok bool, room <-chan struct{}, err error) {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return false, nil, ErrClosed
	}
	if q.len() >= q.capacity {
		room = q.room
		q.mu.Unlock()
		return false, room, nil
	}
	q.items = append(q.items, item)
	n := q.len()
	q.mu.Unlock()
	if n == q.wakeAt {
		q.signal()
	}
	return true, nil, nil
}

// len is the number of queued items; q.mu is held.
func (q *queue[T]) len() int { return len(q.items) - q.head }

// signal leaves a token for the writer (one is enough).
func (q *queue[T]) signal() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// take appends up to n queued items to dst, oldest first, and returns it.
// done reports that the queue is closed and nothing is left after this
// take.
func (q *queue[T]) take(dst []T, n int) (_ []T, done bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	full := q.len() >= q.capacity
	n = min(n, q.len())
	dst = append(dst, q.items[q.head:q.head+n]...)
	clear(q.items[q.head : q.head+n]) // drop references the taken items hold
	q.head += n
	switch {
	case q.head == len(q.items):
		q.head = 0
		q.items = q.items[:0]
	case q.head >= compactAt && 2*q.head >= len(q.items):
		// A writer that never empties the queue would otherwise let the
		// taken prefix grow without bound.
		k := copy(q.items, q.items[q.head:])
		clear(q.items[k:])
		q.items = q.items[:k]
		q.head = 0
	}
	if full && n > 0 && !q.closed {
		close(q.room)
		q.room = make(chan struct{})
	}
	return dst, q.closed && q.len() == 0
}

// queued is the number of items waiting.
func (q *queue[T]) queued() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.len()
}

// close refuses further puts, releases producers waiting for room and
// wakes the writer to take what is left.
func (q *queue[T]) close() {
	q.mu.Lock()
	if !q.closed {
		q.closed = true
		close(q.room)
	}
	q.mu.Unlock()
	q.signal()
}

// discard closes the queue and drops what it holds, returning how many
// items that was: a writer that gave up on its batch accounts for the rest.
func (q *queue[T]) discard() int {
	q.close()
	q.mu.Lock()
	defer q.mu.Unlock()
	n := q.len()
	clear(q.items)
	q.items, q.head = nil, 0
	return n
}
