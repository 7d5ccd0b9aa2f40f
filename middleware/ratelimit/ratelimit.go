// Package ratelimit limits request rates per key (a tenant, a client IP)
// with the Generic Cell Rate Algorithm (GCRA), in memory or in Redis.
//
// # Why GCRA
//
// GCRA keeps ONE number per key — the theoretical arrival time (TAT) of the
// next request — so a decision is O(1) in time and space, whatever the rate.
// A request at time now is admitted when now ≥ TAT + T − Burst·T, where T is
// the emission interval Period/Rate; admitting it moves TAT forward by T.
// This is exact (no sampling or approximation as in sliding-window counters,
// no boundary doubling as in fixed windows), allows a configurable burst,
// and a denied request does not change the state at all, so a client that
// keeps hammering while limited is not penalised further and the denial
// costs no write. In Redis the whole read-decide-write step is one Lua
// script, which Redis runs atomically: no lock, no over-admission however
// many replicas share the key.
//
// All arithmetic is in whole microseconds: Redis Lua numbers are doubles,
// and Unix microseconds (about 2^51 today) are still exact there, whereas
// nanoseconds would not be. T is rounded up, so the effective rate is never
// higher than configured.
//
// # Pieces
//
//   - [Limiter] is the small interface the middleware consumes.
//   - [NewMemory] is the in-process backend (the embedded mode; one replica).
//   - [NewRedis] is the shared backend. Concurrent decisions are sent as
//     one pipeline per round trip; each has a bounded time (50 ms by
//     default). When Redis fails it either falls back to a local limiter
//     (fail-open, the default) or reports [ErrUnavailable] (fail-closed).
//     By default decisions use the Redis server's clock (TIME inside the
//     script, Redis ≥ 5), so replicas with skewed clocks still agree.
//   - [Middleware] applies a limit per request and writes the RateLimit
//     headers (IETF draft-ietf-httpapi-ratelimit-headers), the conventional
//     X-RateLimit-* headers and, on 429, Retry-After and a problem+json body.
//   - Package ratelimittest is the conformance suite every backend passes.
package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Limit is a rate: Rate requests per Period, with up to Burst requests
// admitted back to back. Burst 0 means Burst = Rate (a full period's worth
// of requests may arrive at once). A negative Rate means unlimited; the
// middleware then skips the limiter.
type Limit struct {
	Rate   int
	Period time.Duration
	Burst  int
}

// PerMinute is a shortcut for Limit{Rate: n, Period: time.Minute}, the unit
// of the plan table's rate_limit_per_minute.
func PerMinute(n int) Limit { return Limit{Rate: n, Period: time.Minute} }

// Unlimited reports whether l imposes no limit (negative Rate).
func (l Limit) Unlimited() bool { return l.Rate < 0 }

// burst returns the effective burst size.
func (l Limit) burst() int {
	if l.Burst > 0 {
		return l.Burst
	}
	return l.Rate
}

// Validate reports whether l can be enforced.
func (l Limit) Validate() error {
	switch {
	case l.Unlimited():
		return nil
	case l.Rate == 0:
		return fmt.Errorf("%w: rate is 0", ErrInvalidLimit)
	case l.Period < time.Microsecond:
		return fmt.Errorf("%w: period %v is shorter than 1µs", ErrInvalidLimit, l.Period)
	case l.Burst < 0:
		return fmt.Errorf("%w: negative burst %d", ErrInvalidLimit, l.Burst)
	}
	return nil
}

// intervalMicros is the emission interval T in whole microseconds, rounded
// up so that rounding never raises the rate.
func (l Limit) intervalMicros() int64 {
	p := l.Period.Microseconds()
	r := int64(l.Rate)
	t := (p + r - 1) / r
	if t < 1 {
		t = 1
	}
	return t
}

// Decision is the outcome of one Allow call.
type Decision struct {
	// Allowed reports whether the request may proceed.
	Allowed bool
	// Limit is the burst size: how many requests a fresh key may make at once.
	Limit int
	// Remaining is how many more requests would be admitted right now.
	Remaining int
	// ResetAfter is how long until the key is back to a full burst.
	ResetAfter time.Duration
	// RetryAfter is how long until the next request would be admitted; 0 when
	// Allowed.
	RetryAfter time.Duration
}

// Limiter decides whether a request under key may proceed. Implementations
// are safe for concurrent use.
type Limiter interface {
	Allow(ctx context.Context, key string, limit Limit) (Decision, error)
}

// Errors returned by limiters; match them with errors.Is.
var (
	// ErrInvalidLimit: the Limit cannot be enforced (zero rate, tiny period).
	ErrInvalidLimit = errors.New("ratelimit: invalid limit")
	// ErrUnavailable: the backend could not decide (Redis down with
	// fail-closed). The middleware answers 503.
	ErrUnavailable = errors.New("ratelimit: backend unavailable")
)

// gcra applies one GCRA step. tat is the stored theoretical arrival time
// (0 or anything ≤ now means "fresh"); it returns the decision and the new
// TAT to store when the request is allowed. The Redis Lua script implements
// the same arithmetic; keep them in step.
func gcra(now, tat int64, limit Limit) (d Decision, newTAT int64) {
	t := limit.intervalMicros()
	b := int64(limit.burst())
	if tat < now {
		tat = now
	}
	next := tat + t
	allowAt := next - b*t
	d.Limit = int(b)
	if now < allowAt {
		d.ResetAfter = micros(tat - now)
		d.RetryAfter = micros(allowAt - now)
		return d, tat
	}
	d.Allowed = true
	d.Remaining = int((now - allowAt) / t)
	d.ResetAfter = micros(next - now)
	return d, next
}

func micros(n int64) time.Duration { return time.Duration(n) * time.Microsecond }
