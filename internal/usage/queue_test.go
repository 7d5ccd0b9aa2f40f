package usage

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// woken reports whether the queue holds a wake token, consuming it.
func woken[T any](q *queue[T]) bool {
	select {
	case <-q.wake:
		return true
	default:
		return false
	}
}

// putAll puts each of vs into q, failing the test on an error.
func putAll(t *testing.T, q *queue[int], vs ...int) {
	t.Helper()
	for _, v := range vs {
		if err := q.put(context.Background(), v); err != nil {
			t.Fatal(err)
		}
	}
}

func TestQueueWakesAtThresholdOnly(t *testing.T) {
	q := newQueue[int](10, 3)
	putAll(t, q, 0, 1)
	if woken(q) {
		t.Fatal("woken below wakeAt")
	}
	putAll(t, q, 2)
	if !woken(q) {
		t.Fatal("not woken at wakeAt")
	}
	putAll(t, q, 3)
	if woken(q) {
		t.Fatal("woken again above wakeAt")
	}
	got, done := q.take(nil, 10)
	if done || len(got) != 4 || got[0] != 0 || got[3] != 3 {
		t.Fatalf("take = %v, done %v; want [0 1 2 3], not done", got, done)
	}
	// Crossing the threshold again after a take wakes again.
	putAll(t, q, 0, 1, 2)
	if !woken(q) {
		t.Fatal("not woken when the threshold was reached a second time")
	}
}

func TestQueueFullWaitsForRoomOrContext(t *testing.T) {
	q := newQueue[int](2, 1)
	ctx := context.Background()
	putAll(t, q, 0, 1)
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if err := q.put(short, 2); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("put on a full queue = %v, want the context's deadline", err)
	}
	if ok, room, err := q.tryPut(2); ok || room == nil || err != nil {
		t.Fatalf("tryPut on a full queue = %v, %v, %v; want not ok with a room channel", ok, room, err)
	}
	put := make(chan error, 1)
	go func() { put <- q.put(ctx, 2) }()
	select {
	case err := <-put:
		t.Fatalf("put returned (%v) while the queue was full", err)
	case <-time.After(20 * time.Millisecond):
	}
	if got, _ := q.take(nil, 1); len(got) != 1 || got[0] != 0 {
		t.Fatalf("take = %v, want [0]", got)
	}
	if err := <-put; err != nil {
		t.Fatalf("put after a take made room = %v", err)
	}
	if got, _ := q.take(nil, 5); len(got) != 2 || got[0] != 1 || got[1] != 2 {
		t.Fatalf("take = %v, want [1 2]", got)
	}
}

func TestQueueClose(t *testing.T) {
	q := newQueue[int](1, 1)
	ctx := context.Background()
	putAll(t, q, 1)
	woken(q)
	waiting := make(chan error, 1)
	go func() { waiting <- q.put(ctx, 2) }()
	time.Sleep(10 * time.Millisecond)
	q.close()
	if err := <-waiting; !errors.Is(err, ErrClosed) {
		t.Fatalf("put waiting for room at close = %v, want ErrClosed", err)
	}
	if err := q.put(ctx, 3); !errors.Is(err, ErrClosed) {
		t.Fatalf("put after close = %v, want ErrClosed", err)
	}
	if !woken(q) {
		t.Fatal("close did not wake the writer")
	}
	got, done := q.take(nil, 10)
	if len(got) != 1 || got[0] != 1 || !done {
		t.Fatalf("take after close = %v, done %v; want [1], done", got, done)
	}
}

func TestQueueDiscard(t *testing.T) {
	q := newQueue[int](10, 1)
	putAll(t, q, 0, 1, 2, 3)
	if n := q.discard(); n != 4 {
		t.Fatalf("discard = %d, want 4", n)
	}
	if got, done := q.take(nil, 10); len(got) != 0 || !done {
		t.Fatalf("take after discard = %v, done %v; want nothing, done", got, done)
	}
}

// TestQueuePartialTakesStayBounded takes fewer items than are put, for
// long enough that the taken prefix would grow without compaction.
func TestQueuePartialTakesStayBounded(t *testing.T) {
	const capacity = 4 * compactAt
	q := newQueue[int](capacity, 1)
	next, want := 0, 0
	var got []int
	for range 200 {
		for range 3 * compactAt / 4 {
			if ok, _, _ := q.tryPut(next); ok {
				next++
			}
		}
		got, _ = q.take(got[:0], compactAt/2)
		for _, v := range got {
			if v != want {
				t.Fatalf("took %d, want %d: order lost", v, want)
			}
			want++
		}
		if len(q.items) > 2*capacity {
			t.Fatalf("queue slice holds %d items for %d queued", len(q.items), q.queued())
		}
	}
}

// TestQueueConcurrent: many producers, one writer that waits for tokens
// as MemoryBuffer.run does; every item arrives once.
func TestQueueConcurrent(t *testing.T) {
	const producers, each = 8, 5000
	q := newQueue[int](64, 16)
	seen := make([]int, producers*each)
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		var batch []int
		for {
			select {
			case <-q.wake:
			case <-tick.C:
			}
			for {
				var done bool
				batch, done = q.take(batch[:0], 16)
				for _, v := range batch {
					seen[v]++
				}
				if done {
					return
				}
				if len(batch) < 16 {
					break
				}
			}
		}
	}()
	var wg sync.WaitGroup
	for p := range producers {
		wg.Go(func() {
			for i := range each {
				if err := q.put(context.Background(), p*each+i); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	q.close()
	<-writerDone
	for v, n := range seen {
		if n != 1 {
			t.Fatalf("item %d taken %d times", v, n)
		}
	}
}
