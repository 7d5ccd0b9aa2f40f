// Package ratelimittest is the conformance suite every ratelimit.Limiter
// backend must pass: exact burst counts, refill, denied requests not
// consuming, independent keys, and no over-admission when several limiter
// instances share one backend under concurrent load.
//
// A backend's test calls Run with a Factory:
//
//	func TestConformance(t *testing.T) {
//		ratelimittest.Run(t, func(t *testing.T, now func() time.Time, n int) []ratelimit.Limiter { … })
//	}
package ratelimittest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fast-saas/fast-saas/middleware/ratelimit"
)

// Factory returns n limiters that share ONE state (the same Redis and key
// prefix, or the same in-memory limiter), fresh for each call. now is the
// clock they must use; nil means the backend's own clock (time.Now, or the
// Redis server's TIME).
type Factory func(t *testing.T, now func() time.Time, n int) []ratelimit.Limiter

// Clock is a manually advanced clock, safe for concurrent use.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a clock stopped at start.
func NewClock(start time.Time) *Clock { return &Clock{now: start} }

// Now returns the current fake time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// start is a fixed instant; a round number keeps failure messages readable.
var start = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// Run runs the conformance suite against the backend built by newLimiters.
func Run(t *testing.T, newLimiters Factory) {
	t.Run("BurstIsExact", func(t *testing.T) {
		t.Parallel()
		clock := NewClock(start)
		l := newLimiters(t, clock.Now, 1)[0]
		limit := ratelimit.Limit{Rate: 10, Period: time.Minute}
		for i := range 10 {
			d := mustAllow(t, l, "k", limit)
			if !d.Allowed {
				t.Fatalf("request %d: denied, want allowed (burst 10)", i+1)
			}
			if got, want := d.Remaining, 9-i; got != want {
				t.Errorf("request %d: Remaining = %d, want %d", i+1, got, want)
			}
			if got, want := d.Limit, 10; got != want {
				t.Errorf("request %d: Limit = %d, want %d", i+1, got, want)
			}
			if got, want := d.ResetAfter, time.Duration(i+1)*6*time.Second; got != want {
				t.Errorf("request %d: ResetAfter = %v, want %v", i+1, got, want)
			}
		}
		d := mustAllow(t, l, "k", limit)
		if d.Allowed {
			t.Fatal("request 11: allowed, want denied")
		}
		if got, want := d.RetryAfter, 6*time.Second; got != want {
			t.Errorf("denied: RetryAfter = %v, want %v (one emission interval)", got, want)
		}
		if got, want := d.Remaining, 0; got != want {
			t.Errorf("denied: Remaining = %d, want %d", got, want)
		}
	})

	t.Run("BurstSmallerThanRate", func(t *testing.T) {
		t.Parallel()
		clock := NewClock(start)
		l := newLimiters(t, clock.Now, 1)[0]
		limit := ratelimit.Limit{Rate: 60, Period: time.Minute, Burst: 3}
		if got, want := countAllowed(t, l, "k", limit, 10), 3; got != want {
			t.Errorf("allowed %d of 10 back-to-back requests, want %d (the burst)", got, want)
		}
		clock.Advance(time.Second)
		if got, want := countAllowed(t, l, "k", limit, 10), 1; got != want {
			t.Errorf("after 1 s at 60/min: allowed %d, want %d", got, want)
		}
	})

	t.Run("BurstLargerThanRate", func(t *testing.T) {
		t.Parallel()
		clock := NewClock(start)
		l := newLimiters(t, clock.Now, 1)[0]
		limit := ratelimit.Limit{Rate: 1, Period: time.Minute, Burst: 5}
		if got, want := countAllowed(t, l, "k", limit, 10), 5; got != want {
			t.Errorf("allowed %d of 10 back-to-back requests, want %d (the burst)", got, want)
		}
		clock.Advance(59 * time.Second)
		if got := countAllowed(t, l, "k", limit, 3); got != 0 {
			t.Errorf("after 59 s at 1/min: allowed %d, want 0", got)
		}
		clock.Advance(time.Second)
		if got, want := countAllowed(t, l, "k", limit, 3), 1; got != want {
			t.Errorf("after 60 s at 1/min: allowed %d, want %d", got, want)
		}
	})

	t.Run("Refill", func(t *testing.T) {
		t.Parallel()
		clock := NewClock(start)
		l := newLimiters(t, clock.Now, 1)[0]
		limit := ratelimit.Limit{Rate: 10, Period: time.Minute}
		if got, want := countAllowed(t, l, "k", limit, 20), 10; got != want {
			t.Fatalf("initial burst: allowed %d, want %d", got, want)
		}
		clock.Advance(5 * time.Second)
		if got, want := countAllowed(t, l, "k", limit, 5), 0; got != want {
			t.Errorf("after 5 s (less than one 6 s interval): allowed %d, want %d", got, want)
		}
		clock.Advance(time.Second)
		if got, want := countAllowed(t, l, "k", limit, 5), 1; got != want {
			t.Errorf("after 6 s: allowed %d, want %d", got, want)
		}
		clock.Advance(30 * time.Second)
		if got, want := countAllowed(t, l, "k", limit, 20), 5; got != want {
			t.Errorf("after 30 more s: allowed %d, want %d", got, want)
		}
		clock.Advance(time.Hour)
		if got, want := countAllowed(t, l, "k", limit, 20), 10; got != want {
			t.Errorf("after an idle hour: allowed %d, want %d (a full burst, not more)", got, want)
		}
	})

	t.Run("DeniedDoesNotConsume", func(t *testing.T) {
		t.Parallel()
		clock := NewClock(start)
		l := newLimiters(t, clock.Now, 1)[0]
		limit := ratelimit.Limit{Rate: 10, Period: time.Minute}
		countAllowed(t, l, "k", limit, 10)
		// Hammer while limited; with a limiter that charged denials, the
		// next interval's token would already be spent.
		if got := countAllowed(t, l, "k", limit, 100); got != 0 {
			t.Fatalf("while limited: allowed %d, want 0", got)
		}
		clock.Advance(6 * time.Second)
		if got, want := countAllowed(t, l, "k", limit, 1), 1; got != want {
			t.Errorf("one interval after 100 denials: allowed %d, want %d", got, want)
		}
	})

	t.Run("KeysAreIndependent", func(t *testing.T) {
		t.Parallel()
		clock := NewClock(start)
		l := newLimiters(t, clock.Now, 1)[0]
		limit := ratelimit.Limit{Rate: 5, Period: time.Minute}
		if got, want := countAllowed(t, l, "tenant-a", limit, 10), 5; got != want {
			t.Fatalf("tenant-a: allowed %d, want %d", got, want)
		}
		if got, want := countAllowed(t, l, "tenant-b", limit, 10), 5; got != want {
			t.Errorf("tenant-b after tenant-a was exhausted: allowed %d, want %d", got, want)
		}
	})

	t.Run("InvalidAndUnlimited", func(t *testing.T) {
		t.Parallel()
		clock := NewClock(start)
		l := newLimiters(t, clock.Now, 1)[0]
		for _, limit := range []ratelimit.Limit{{Rate: 0, Period: time.Minute}, {Rate: 5}, {Rate: 5, Period: time.Minute, Burst: -1}} {
			if _, err := l.Allow(context.Background(), "k", limit); !errors.Is(err, ratelimit.ErrInvalidLimit) {
				t.Errorf("Allow(%+v) error = %v, want ErrInvalidLimit", limit, err)
			}
		}
		if got, want := countAllowed(t, l, "k", ratelimit.Limit{Rate: -1}, 50), 50; got != want {
			t.Errorf("unlimited: allowed %d, want %d", got, want)
		}
	})

	t.Run("SharedInstancesNoOverAdmission", func(t *testing.T) {
		t.Parallel()
		clock := NewClock(start)
		limiters := newLimiters(t, clock.Now, 3)
		limit := ratelimit.Limit{Rate: 200, Period: time.Hour}
		// Three windows: within each the clock stands still, so exactly the
		// burst may pass; between them a full period refills the bucket.
		for window := range 3 {
			got, errs := hammer(limiters, "shared", limit, 64, 10)
			if errs != nil {
				t.Fatalf("window %d: %v", window, errs)
			}
			if got > limit.Rate {
				t.Errorf("window %d: allowed %d, want at most %d (over-admission)", window, got, limit.Rate)
			}
			if min := limit.Rate * 95 / 100; got < min {
				t.Errorf("window %d: allowed %d, want at least %d (95%% of the limit)", window, got, min)
			}
			clock.Advance(limit.Period)
		}
	})

	t.Run("SharedInstancesBackendClock", func(t *testing.T) {
		t.Parallel()
		limiters := newLimiters(t, nil, 3)
		// A day-long period: T = 288 s, far longer than this test, so the
		// bound below is the burst itself unless the machine stalls for minutes.
		limit := ratelimit.Limit{Rate: 300, Period: 24 * time.Hour}
		began := time.Now()
		got, errs := hammer(limiters, "shared-real-clock", limit, 64, 10)
		if errs != nil {
			t.Fatal(errs)
		}
		elapsed := time.Since(began)
		bound := limit.Rate + int(elapsed/(limit.Period/time.Duration(limit.Rate)))
		if got > bound {
			t.Errorf("allowed %d in %v, want at most %d (over-admission)", got, elapsed, bound)
		}
		if min := limit.Rate * 95 / 100; got < min {
			t.Errorf("allowed %d, want at least %d (95%% of the limit)", got, min)
		}
	})
}

func mustAllow(t *testing.T, l ratelimit.Limiter, key string, limit ratelimit.Limit) ratelimit.Decision {
	t.Helper()
	d, err := l.Allow(context.Background(), key, limit)
	if err != nil {
		t.Fatalf("Allow(%q): %v", key, err)
	}
	return d
}

func countAllowed(t *testing.T, l ratelimit.Limiter, key string, limit ratelimit.Limit, n int) int {
	t.Helper()
	allowed := 0
	for range n {
		if mustAllow(t, l, key, limit).Allowed {
			allowed++
		}
	}
	return allowed
}

// hammer runs clients goroutines, each making attempts requests spread
// round-robin over limiters, and returns how many were allowed.
func hammer(limiters []ratelimit.Limiter, key string, limit ratelimit.Limit, clients, attempts int) (int, error) {
	var (
		allowed atomic.Int64
		wg      sync.WaitGroup
		mu      sync.Mutex
		errs    []error
	)
	ready := make(chan struct{})
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-ready // start together so the instances really race
			for a := range attempts {
				l := limiters[(c+a)%len(limiters)]
				d, err := l.Allow(context.Background(), key, limit)
				if err != nil {
					mu.Lock()
					errs = append(errs, fmt.Errorf("client %d attempt %d: %w", c, a, err))
					mu.Unlock()
					return
				}
				if d.Allowed {
					allowed.Add(1)
				}
			}
		}()
	}
	close(ready)
	wg.Wait()
	return int(allowed.Load()), errors.Join(errs...)
}
