package usage

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	"github.com/fast-saas/fast-saas/internal/store"
)

// BatchWriter is the one store call the buffers make. store.Store has it.
type BatchWriter interface {
	// InsertUsageBatch stores events, skipping and counting those whose
	// (tenant, transaction id) is already stored; unknown tenant → store.ErrNotFound.
	InsertUsageBatch(ctx context.Context, events []store.UsageEvent) (inserted, duplicates int, err error)
}

// permanent reports whether the store refused the batch because of its
// content (an unknown tenant, an invalid field) rather than a fault that a
// retry may cure.
func permanent(err error) bool {
	return errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrInvalid)
}

// rejection is an event the store refuses for good.
type rejection struct {
	index int // in the batch given to writeBatch
	err   error
}

type writeResult struct {
	inserted, duplicates int
	rejected             []rejection
}

// writeBatch inserts events. The store rejects a whole batch for one bad
// event (e.g. a tenant deleted since the event was recorded); then the batch
// is split in halves until the bad events are isolated, so one poison event
// cannot block the good ones behind it. A transient error is returned as is:
// the caller retries the whole batch, and events already written by then
// come back as duplicates, which is harmless.
func writeBatch(ctx context.Context, w BatchWriter, events []store.UsageEvent) (writeResult, error) {
	var res writeResult
	err := writeRange(ctx, w, events, 0, &res)
	return res, err
}

func writeRange(ctx context.Context, w BatchWriter, events []store.UsageEvent, offset int, res *writeResult) error {
	if len(events) == 0 {
		return nil
	}
	ins, dup, err := w.InsertUsageBatch(ctx, events)
	if err == nil {
		res.inserted += ins
		res.duplicates += dup
		return nil
	}
	if !permanent(err) {
		return err
	}
	if len(events) == 1 {
		res.rejected = append(res.rejected, rejection{index: offset, err: err})
		return nil
	}
	mid := len(events) / 2
	if err := writeRange(ctx, w, events[:mid], offset, res); err != nil {
		return err
	}
	return writeRange(ctx, w, events[mid:], offset+mid, res)
}

// Backoff computes retry delays: base·2^attempt capped at max, with "equal
// jitter" (a random half of the delay is added to the fixed half) so that
// replicas retrying after one outage spread out instead of stampeding.
type Backoff struct {
	Base time.Duration // first delay; 0 = 1s
	Max  time.Duration // cap; 0 = 10m
	// Rand returns a number in [0, 1); nil = math/rand/v2. Tests fix it.
	Rand func() float64
}

// Delay returns the wait before retry number attempt (0 for the first retry).
func (b Backoff) Delay(attempt int) time.Duration {
	base, maxDelay := b.Base, b.Max
	if base <= 0 {
		base = time.Second
	}
	if maxDelay <= 0 {
		maxDelay = 10 * time.Minute
	}
	d := maxDelay
	if attempt < 40 && base<<attempt > 0 && base<<attempt < maxDelay {
		d = base << attempt
	}
	r := b.Rand
	if r == nil {
		r = rand.Float64
	}
	half := d / 2
	return half + time.Duration(r()*float64(d-half))
}

// storeBackoff is the default of the buffers: the store and Redis are local
// services whose return should be noticed within seconds.
var storeBackoff = Backoff{Base: 100 * time.Millisecond, Max: 5 * time.Second}

// sleep waits d or until ctx ends; it reports whether the full wait happened.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
