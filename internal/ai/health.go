package ai

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Health statuses of one upstream.
const (
	StatusHealthy       = "healthy"        // answered its health endpoint with success
	StatusUnhealthy     = "unhealthy"      // answered, but with an error status or a bad body
	StatusUnreachable   = "unreachable"    // no answer: refused, DNS, reset or timeout
	StatusNotConfigured = "not_configured" // no URL configured
)

// DefaultHealthTimeout bounds each upstream's health check.
const DefaultHealthTimeout = 2 * time.Second

// Pinger is an upstream that can be health-checked. *Ollama, *Langflow,
// *Langfuse and *Agent implement it, including as nil pointers (which
// report not configured).
type Pinger interface {
	Service() string
	Configured() bool
	// Ping calls the upstream's cheapest health endpoint and returns a short
	// detail (e.g. its version).
	Ping(ctx context.Context) (detail string, err error)
}

// HealthResult is one upstream's health.
type HealthResult struct {
	Service   string `json:"service"`
	Status    string `json:"status"`
	LatencyMS int64  `json:"latency_ms"`
	Detail    string `json:"detail,omitempty"`
}

// HealthChecker checks upstreams concurrently. The zero value works.
type HealthChecker struct {
	// Timeout bounds each check; zero means DefaultHealthTimeout.
	Timeout time.Duration
	// Now reads the clock for latencies; nil means time.Now.
	Now func() time.Time
}

// Health checks every upstream concurrently with the default checker.
func Health(ctx context.Context, upstreams ...Pinger) []HealthResult {
	return HealthChecker{}.Check(ctx, upstreams...)
}

// Check checks every upstream concurrently, each within c.Timeout, and
// returns the results in the order given.
func (c HealthChecker) Check(ctx context.Context, upstreams ...Pinger) []HealthResult {
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = DefaultHealthTimeout
	}
	now := c.Now
	if now == nil {
		now = time.Now
	}
	out := make([]HealthResult, len(upstreams))
	var wg sync.WaitGroup
	for i, u := range upstreams {
		if u == nil { // a nil interface, not a nil client: nothing to name
			out[i].Status = StatusNotConfigured
			continue
		}
		out[i].Service = u.Service()
		if !u.Configured() {
			out[i].Status = StatusNotConfigured
			continue
		}
		wg.Go(func() {
			ctx, cancel := context.WithTimeoutCause(ctx, timeout, ErrTimeout)
			defer cancel()
			start := now()
			detail, err := u.Ping(ctx)
			out[i].LatencyMS = now().Sub(start).Milliseconds()
			out[i].Status, out[i].Detail = classify(detail, err, timeout)
		})
	}
	wg.Wait()
	return out
}

// classify turns a ping outcome into a status and a short detail that is
// safe to show to API callers: it names what went wrong without the
// upstream's internal address (transport errors carry it; logs get those).
func classify(detail string, err error, timeout time.Duration) (string, string) {
	var ue *UpstreamError
	switch {
	case err == nil:
		return StatusHealthy, detail
	case errors.As(err, &ue):
		msg := ue.Message
		if msg == "" {
			msg = ue.Body
		}
		if msg == "" {
			return StatusUnhealthy, fmt.Sprintf("status %d", ue.Status)
		}
		return StatusUnhealthy, fmt.Sprintf("status %d: %s", ue.Status, safeSnippet([]byte(msg), 200))
	case errors.Is(err, ErrTimeout), errors.Is(err, context.DeadlineExceeded):
		return StatusUnreachable, fmt.Sprintf("no answer within %s", timeout)
	case errors.Is(err, ErrUnavailable), errors.Is(err, context.Canceled):
		return StatusUnreachable, "connection failed"
	case errors.Is(err, ErrResponseTooLarge):
		return StatusUnhealthy, "answer too large"
	default:
		return StatusUnhealthy, "unexpected answer"
	}
}
