package ratelimit

import (
	"testing"
	"time"
)

// TestLeaseEligibility: a key leases only when its limit allows a few
// requests per lease time and its burst can spare the reserve (at most 2%)
// and still hold a lease of one token; the default plans (60-5,000/min)
// keep their full burst.
func TestLeaseEligibility(t *testing.T) {
	for _, c := range []struct {
		limit       Limit
		reserve     int
		leases      bool
		description string
	}{
		{PerMinute(60), 1, false, "60/min: a lease could never hold a token"},
		{PerMinute(5000), 2, false, "5,000/min: two requests per lease save nothing"},
		{PerMinute(11999), 4, false, "11,999/min: just under four requests per lease"},
		{PerMinute(12000), 4, true, "12,000/min: T = 5 ms, four tokens of reserve"},
		{PerMinute(60000), 20, true, "60,000/min: T = 1 ms"},
		{Limit{Rate: 60000, Period: time.Minute, Burst: 270}, 20, false, "burst 270 below reserve + leaseShare"},
		{Limit{Rate: 1000, Period: time.Second, Burst: 999}, 20, false, "burst 999 below 50 × reserve"},
	} {
		reserve, ok := leaseReserve(DefaultLease, c.limit)
		if reserve != c.reserve || ok != c.leases {
			t.Errorf("%s: reserve %d, leases %v; want %d, %v", c.description, reserve, ok, c.reserve, c.leases)
		}
	}
	if _, ok := leaseReserve(0, PerMinute(60000)); ok {
		t.Error("lease time 0 leased")
	}
}

// TestLeaseSize: a lease follows the replica's demand but takes at most
// 1/leaseShare of what the bucket has left (what a stalled replica can
// lose) and at most maxLease tokens.
func TestLeaseSize(t *testing.T) {
	now := time.Now()
	for _, c := range []struct {
		seen, remaining, want int64
	}{
		{seen: 10, remaining: 100_000, want: 10},       // demand
		{seen: 10_000, remaining: 5_998, want: 23},     // 5,998 / 256
		{seen: 10_000, remaining: 255, want: 0},        // near the limit: no lease
		{seen: 10_000, remaining: 1 << 30, want: 1024}, // maxLease
	} {
		l := &lease{seen: c.seen, since: now, remaining: c.remaining}
		if got := l.want(now, DefaultLease); got != c.want {
			t.Errorf("seen %d, remaining %d: lease of %d tokens, want %d", c.seen, c.remaining, got, c.want)
		}
	}
}
