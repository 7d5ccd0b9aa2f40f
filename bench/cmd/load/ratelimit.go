package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fast-saas/fast-saas/bench/internal/harness"
)

// rateCheck is the outcome of the rate-limit accuracy run.
type rateCheck struct {
	replicas         int
	ratePerMinute    int64
	window           time.Duration
	allowedMax       int64 // what the limit admits in the window
	allowed, limited int64
	other            int64
	firstOther       string
	ok               bool
	// failOpenOnly: the count is over the limit by no more than the
	// decisions Redis did not answer in time (fail-open by design), so the
	// shared limit itself held; ok is then true too.
	failOpenOnly       bool
	lowerBound, excess float64
	// backendErrors is the rise of saas_ratelimit_backend_errors_total over
	// the replicas during the run: decisions Redis did not answer in time,
	// taken by each replica's local limiter instead (fail-open).
	backendErrors float64
}

// checkRateLimit hammers one tenant through several serve replicas sharing
// one Redis and counts 200s and 429s. The limiter is GCRA with burst =
// rate: from a fresh state, a window of length d admits at most
// burst + rate·d/period requests (+1 for the request at the boundary). The
// check wants allowed ≤ that and ≥ 95% of it: replicas must neither leak
// (admit more) nor starve (admit much less).
func checkRateLimit(ctx context.Context, replicas []*harness.Serve, admin harness.API, conns int, window time.Duration, out io.Writer) (rateCheck, error) {
	const rate = 6000 // per minute: the burst alone is far above what one replica would decide alone
	rc := rateCheck{replicas: len(replicas), ratePerMinute: rate}
	ts, err := harness.Seed(ctx, admin, harness.SeedOptions{Count: 1, Prefix: "ratelimit", Plan: "pro", Scopes: []string{"read"},
		RatePerMinute: rate, CallsPerMonth: -1})
	if err != nil {
		return rc, err
	}
	t := ts[0]
	fmt.Fprintf(out, "rate limit: %d replicas, %d/min for one tenant, hammering for %s…\n", len(replicas), rate, window)
	errsBefore := sumMetric(ctx, replicas, "saas_ratelimit_backend_errors_total")
	var allowed, limited, other atomic.Int64
	var firstOther atomic.Value
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	start := time.Now()
	var lastEnd atomic.Int64
	for i := range conns {
		srv := replicas[i%len(replicas)]
		wg.Add(1)
		go func() {
			defer wg.Done()
			hc := &http.Client{Transport: harness.NewTransport(1), Timeout: 10 * time.Second}
			for time.Since(start) < window && ctx.Err() == nil {
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.Base+"/api/v1/tenants/"+t.ID, nil)
				req.Header.Set("Authorization", "Bearer "+t.Key)
				resp, err := hc.Do(req)
				if err != nil {
					other.Add(1)
					firstOther.CompareAndSwap(nil, err.Error())
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				switch resp.StatusCode {
				case http.StatusOK:
					allowed.Add(1)
				case http.StatusTooManyRequests:
					limited.Add(1)
				default:
					other.Add(1)
					firstOther.CompareAndSwap(nil, fmt.Sprintf("status %d", resp.StatusCode))
				}
				if end := int64(time.Since(start)); end > lastEnd.Load() {
					lastEnd.Store(end)
				}
			}
		}()
	}
	wg.Wait()
	// The last admitted request was decided before the last answer came
	// back, so the window measured to the last answer bounds it from above.
	rc.window = time.Duration(lastEnd.Load())
	rc.allowedMax = rate + int64(float64(rate)*rc.window.Minutes()) + 1
	rc.allowed, rc.limited, rc.other = allowed.Load(), limited.Load(), other.Load()
	if v, ok := firstOther.Load().(string); ok {
		rc.firstOther = v
	}
	rc.backendErrors = sumMetric(ctx, replicas, "saas_ratelimit_backend_errors_total") - errsBefore
	rc.judge()
	return rc, nil
}

// judge sets the verdict from the counts: within [95%, 100%] of the
// admissible count with no unexpected answer, or over it by no more than
// the fail-open decisions.
func (rc *rateCheck) judge() {
	rc.lowerBound = 0.95 * float64(rc.allowedMax)
	rc.excess = float64(rc.allowed) / float64(rc.allowedMax)
	inRange := func(allowed float64) bool {
		return allowed <= float64(rc.allowedMax) && allowed >= rc.lowerBound && rc.other == 0
	}
	rc.ok = inRange(float64(rc.allowed))
	rc.failOpenOnly = false
	if !rc.ok && rc.backendErrors > 0 && inRange(float64(rc.allowed)-rc.backendErrors) {
		rc.ok, rc.failOpenOnly = true, true
	}
}

func (rc rateCheck) print(w io.Writer) {
	t := harness.Table{Header: []string{"replicas", "limit", "window", "admissible", "200", "429", "other", "200 / admissible", "Redis timeouts (fail-open)", "verdict"}}
	verdict := "ok (≥ 95%, ≤ 100%)"
	switch {
	case !rc.ok:
		verdict = "FAIL"
	case rc.failOpenOnly:
		verdict = "ok but for fail-open"
	}
	t.Add(fmt.Sprint(rc.replicas), fmt.Sprintf("%d/min (burst %d)", rc.ratePerMinute, rc.ratePerMinute), rc.window.Round(time.Millisecond).String(),
		fmt.Sprint(rc.allowedMax), fmt.Sprint(rc.allowed), fmt.Sprint(rc.limited), fmt.Sprint(rc.other), fmt.Sprintf("%.3f", rc.excess), fmt.Sprint(rc.backendErrors), verdict)
	t.Print(w)
	switch {
	case rc.failOpenOnly:
		fmt.Fprintf(w, "%d admitted over the limit, no more than the %v decisions Redis did not answer in 50 ms, which the replicas' local limiters took (fail-open by design): the shared limit held; the machine was overloaded\n",
			rc.allowed-rc.allowedMax, rc.backendErrors)
	case !rc.ok && rc.backendErrors > 0:
		fmt.Fprintf(w, "%v decisions timed out on Redis (50 ms) and were taken by the replicas' local limiters (fail-open by design); they do not explain the count\n", rc.backendErrors)
	}
	if rc.firstOther != "" {
		fmt.Fprintf(w, "first unexpected answer: %s\n", rc.firstOther)
	}
}

// sumMetric adds up an unlabelled counter's value over the replicas'
// /metrics pages (Prometheus text format); a missing metric counts 0.
func sumMetric(ctx context.Context, replicas []*harness.Serve, name string) float64 {
	total := 0.0
	for _, r := range replicas {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.Base+"/metrics", nil)
		if err != nil {
			continue
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			continue
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
		resp.Body.Close()
		for _, line := range strings.Split(string(body), "\n") {
			if v, ok := strings.CutPrefix(line, name+" "); ok {
				if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
					total += f
				}
			}
		}
	}
	return total
}
