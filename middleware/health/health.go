// Package health serves liveness and readiness endpoints over named checks.
//
// Checks run concurrently, each under its own timeout (default 1 s), so a
// dead dependency reports "down" within about its timeout instead of
// hanging the endpoint — even if its check function ignores the context.
// The body is
//
//	{"status":"ok|degraded|down","checks":{"redis":{"status":"down","error":"…","latency_ms":1000.2}}}
//
// and the status code is 503 when a required check fails, 200 otherwise (a
// failing optional check makes the status "degraded").
package health

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"
)

// Statuses of a check and of the whole report.
const (
	StatusOK       = "ok"
	StatusDegraded = "degraded"
	StatusDown     = "down"
)

// DefaultTimeout applies to checks whose Timeout is zero.
const DefaultTimeout = time.Second

// Check is one named dependency check.
type Check struct {
	// Name keys the check in the report; names should be unique (a repeated
	// name gets a "#2" suffix).
	Name string
	// Timeout bounds Fn (default DefaultTimeout).
	Timeout time.Duration
	// Fn returns nil when the dependency is usable. It should honour ctx.
	Fn func(ctx context.Context) error
	// Optional checks make the report "degraded", not "down", when they
	// fail, and do not turn the answer into a 503.
	Optional bool
}

// Result is the outcome of one check.
type Result struct {
	Status    string  `json:"status"`
	Error     string  `json:"error,omitempty"`
	LatencyMS float64 `json:"latency_ms"`
}

// Report is the outcome of all checks.
type Report struct {
	Status string            `json:"status"`
	Checks map[string]Result `json:"checks,omitempty"`
}

// Handler answers with a Report of its checks. The zero Handler (no checks)
// is a liveness endpoint that always answers 200 {"status":"ok"}.
type Handler struct {
	Checks []Check
	// HideErrors omits error texts from the body (they may name internal
	// hosts); statuses and latencies are still shown.
	HideErrors bool
}

// ServeHTTP runs the checks and writes the report.
func (h Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rep := Run(r.Context(), h.Checks)
	if h.HideErrors {
		for name, res := range rep.Checks {
			res.Error = ""
			rep.Checks[name] = res
		}
	}
	body, err := json.Marshal(rep)
	if err != nil { // cannot happen with these types
		body = []byte(`{"status":"down"}`)
		rep.Status = StatusDown
	}
	code := http.StatusOK
	if rep.Status == StatusDown {
		code = http.StatusServiceUnavailable
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)+1))
	w.WriteHeader(code)
	_, _ = w.Write(append(body, '\n'))
}

// maxErrorLen keeps one chatty error from bloating the report.
const maxErrorLen = 300

// Run runs checks concurrently and returns the report. It returns within
// about the largest check timeout.
func Run(ctx context.Context, checks []Check) Report {
	type outcome struct {
		i   int
		res Result
	}
	results := make(chan outcome, len(checks))
	for i, c := range checks {
		go func() { results <- outcome{i, runOne(ctx, c)} }()
	}
	rep := Report{Status: StatusOK}
	if len(checks) > 0 {
		rep.Checks = make(map[string]Result, len(checks))
	}
	ordered := make([]Result, len(checks))
	for range checks {
		o := <-results
		ordered[o.i] = o.res
	}
	for i, c := range checks {
		res := ordered[i]
		name := c.Name
		for n := 2; ; n++ {
			if _, dup := rep.Checks[name]; !dup {
				break
			}
			name = c.Name + "#" + strconv.Itoa(n)
		}
		rep.Checks[name] = res
		if res.Status != StatusOK {
			if c.Optional {
				if rep.Status == StatusOK {
					rep.Status = StatusDegraded
				}
			} else {
				rep.Status = StatusDown
			}
		}
	}
	return rep
}

var errTimeout = errors.New("timed out")

// runOne runs a check under its timeout. The check runs in its own
// goroutine so that one ignoring ctx cannot hold up the report; it is left
// to finish on its own.
func runOne(ctx context.Context, c Check) Result {
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	start := time.Now()
	done := make(chan error, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				done <- fmt.Errorf("check panicked: %v", p)
			}
		}()
		if c.Fn == nil {
			done <- errors.New("no check function")
			return
		}
		done <- c.Fn(ctx)
	}()
	var err error
	select {
	case err = <-done:
	case <-ctx.Done():
		err = fmt.Errorf("%w after %s", errTimeout, timeout)
	}
	res := Result{Status: StatusOK, LatencyMS: math.Round(float64(time.Since(start).Microseconds())) / 1000}
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("%w after %s: %w", errTimeout, timeout, err)
		}
		msg := err.Error()
		if len(msg) > maxErrorLen {
			msg = msg[:maxErrorLen] + "…"
		}
		res.Status, res.Error = StatusDown, msg
	}
	return res
}
