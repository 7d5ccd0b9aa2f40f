package harness

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"time"
)

// LoadOptions describe one closed-loop load run: Conns workers, each with
// one keep-alive connection, send the next request as soon as the previous
// answer is read, for Duration. Closed loop keeps the run bounded: at most
// Conns requests are ever in flight.
type LoadOptions struct {
	Conns    int
	Duration time.Duration
	// Next builds worker w's i-th request.
	Next func(w, i int) (*http.Request, error)
	// OK says whether a status counts as a success (default: 2xx).
	OK func(status int) bool
}

// LoadResult summarizes a run.
type LoadResult struct {
	Requests int // answered with an OK status
	Failures int // other statuses and transport errors
	Statuses map[int]int
	FirstErr error
	Elapsed  time.Duration
	P50, P99 time.Duration
}

// RPS is successful requests per second.
func (r LoadResult) RPS() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Requests) / r.Elapsed.Seconds()
}

// NewTransport is a keep-alive transport for conns parallel connections to
// one host.
func NewTransport(conns int) *http.Transport {
	return &http.Transport{
		MaxIdleConns:        conns,
		MaxIdleConnsPerHost: conns,
		MaxConnsPerHost:     conns,
		IdleConnTimeout:     30 * time.Second,
		DisableCompression:  true,
	}
}

// Load runs the closed loop and returns its result.
func Load(ctx context.Context, o LoadOptions) LoadResult {
	if o.OK == nil {
		o.OK = func(s int) bool { return s/100 == 2 }
	}
	tr := NewTransport(o.Conns)
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	type worker struct {
		lat      []time.Duration
		fail     int
		statuses map[int]int
		err      error
	}
	ws := make([]worker, o.Conns)
	ctx, cancel := context.WithTimeout(ctx, o.Duration)
	defer cancel()
	start := time.Now()
	var wg sync.WaitGroup
	for w := range ws {
		wg.Add(1)
		go func() {
			defer wg.Done()
			me := &ws[w]
			me.lat = make([]time.Duration, 0, 1<<14)
			me.statuses = map[int]int{}
			for i := 0; ctx.Err() == nil; i++ {
				req, err := o.Next(w, i)
				if err != nil {
					me.fail++
					me.err = err
					return
				}
				t0 := time.Now()
				resp, err := hc.Do(req.WithContext(ctx))
				if err != nil {
					if ctx.Err() != nil {
						return // the run ended mid-request: not a failure
					}
					me.fail++
					if me.err == nil {
						me.err = err
					}
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				d := time.Since(t0)
				me.statuses[resp.StatusCode]++
				if o.OK(resp.StatusCode) {
					me.lat = append(me.lat, d)
				} else {
					me.fail++
					if me.err == nil {
						me.err = fmt.Errorf("%s %s: status %d", req.Method, req.URL.Path, resp.StatusCode)
					}
				}
			}
		}()
	}
	wg.Wait()
	res := LoadResult{Elapsed: time.Since(start), Statuses: map[int]int{}}
	var all []time.Duration
	for _, w := range ws {
		all = append(all, w.lat...)
		res.Failures += w.fail
		for s, n := range w.statuses {
			res.Statuses[s] += n
		}
		if res.FirstErr == nil {
			res.FirstErr = w.err
		}
	}
	res.Requests = len(all)
	if len(all) > 0 {
		slices.Sort(all)
		res.P50 = Percentile(all, 50)
		res.P99 = Percentile(all, 99)
	}
	return res
}

// Percentile returns the p-th percentile (nearest rank) of sorted durations.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(p/100*float64(len(sorted))+0.5) - 1
	rank = max(0, min(rank, len(sorted)-1))
	return sorted[rank]
}
