package ratelimit

import (
	"sync"
	"time"
)

// DefaultLease is the suggested RedisOptions.Lease when leases are turned
// on: how long a replica may keep tokens it took from Redis ahead of its
// requests.
const DefaultLease = 20 * time.Millisecond

// Local leases: a replica that sees many requests for one key takes, along
// with a request's own token, extra tokens from the same GCRA bucket in
// Redis (one script call, counted at that instant like any other
// decision) and admits its next requests for that key from them, without
// a round trip, for at most the lease time L.
//
// Why this cannot over-admit: a token used at time u was taken from the
// bucket at some time in [u−L, u]. So the requests admitted in any window
// [a, a+d] were all taken from the bucket in [a−L, a+d], and GCRA never
// hands out more than burst + (d+L)/T tokens in a window of length d+L.
// Keys with leases therefore run with a burst lowered by
// reserve = ⌈L/T⌉ ≥ L/T tokens, which makes that bound
// burst − reserve + (d+L)/T ≤ burst + d/T: exactly the guarantee of the
// plain limiter, across any number of replicas. Only busy keys lease: a
// key whose limit allows at least minLeaseRequests requests per lease time
// (12,000/min with L = 20 ms), whose burst is at least 50 × reserve and
// leaves room for a lease (reserve + leaseShare tokens); the lowered burst
// then costs at most 2% (60,000/min loses 20 tokens of 60,000). Other
// keys keep their full burst and one decision per request: a key allowed a
// request or two per lease would save nothing. Every replica must use the
// same L (the default) so that they agree on the lowered burst.
//
// A leased token that is not used before the lease ends is lost, which
// under-admits a little; a lease is sized by the requests the replica saw
// for the key during the previous lease, and at most 1/leaseShare of what
// the bucket had left, so near the limit leases shrink to nothing.

// maxLease bounds the extra tokens of one lease.
const maxLease = 1024

// leaseShare: a lease takes at most 1/leaseShare of what the bucket has
// left. What a stalled replica loses is bounded by it: with 3 replicas on
// 2 busy cores hammering one key at its limit (make bench-load), 1/32 let
// them admit 91% of the limit, 1/256 99.7%.
const leaseShare = 256

// minLeaseRequests is the fewest requests a key's limit must allow per
// lease time (L/T) for the key to lease.
const minLeaseRequests = 4

// leaseReserve is ⌈L/T⌉ and whether the limit leases at all.
func leaseReserve(l time.Duration, limit Limit) (int, bool) {
	if l <= 0 {
		return 0, false
	}
	t := limit.intervalMicros()
	reserve := int((l.Microseconds() + t - 1) / t)
	if reserve < 1 {
		reserve = 1
	}
	burst := limit.burst()
	busy := l.Microseconds() >= minLeaseRequests*t
	return reserve, busy && burst >= 50*reserve && burst >= reserve+leaseShare
}

// lease is one key's local tokens on this replica.
type lease struct {
	mu        sync.Mutex
	tokens    int64     // unused leased tokens
	expires   time.Time // they may not be used from then on
	remaining int64     // what the bucket had left after the lease was taken
	resetAt   time.Time
	burst     int
	seen      int64     // decisions asked for the key since since
	since     time.Time // start of the current demand window
	demand    int64     // decisions asked per lease time, last window
	asking    bool      // a request for extra tokens is on its way
}

// take admits one request from the lease, if it holds a valid token.
func (l *lease) take(now time.Time) (Decision, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.seen++
	if l.tokens <= 0 || !now.Before(l.expires) {
		return Decision{}, false
	}
	l.tokens--
	return Decision{Allowed: true, Limit: l.burst, Remaining: int(l.remaining + l.tokens), ResetAfter: max(0, l.resetAt.Sub(now))}, true
}

// want is how many extra tokens the next call to Redis should ask for.
func (l *lease) want(now time.Time, ttl time.Duration) int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	if w := now.Sub(l.since); w >= ttl {
		// The decisions of the last window, scaled to one lease time.
		l.demand = int64(float64(l.seen) * float64(ttl) / float64(w))
		l.seen, l.since = 0, now
	}
	if l.asking {
		return 0 // one lease at a time; this request asks for itself only
	}
	// The busier of the last window and the current one so far: after an
	// idle spell the lease grows with the requests as they come.
	n := min(max(l.demand, l.seen), l.remaining/leaseShare, maxLease)
	if n > 0 {
		l.asking = true
	}
	return n
}

// got records a decision from Redis taken after start: its surplus tokens
// (granted beyond the request's own) become the lease, valid until
// start + ttl. d.Remaining counts them.
func (l *lease) got(start time.Time, ttl time.Duration, asked, surplus int64, d Decision, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if asked > 0 {
		l.asking = false
	}
	if !ok {
		return
	}
	if !start.Before(l.expires) {
		l.tokens = 0 // expired leftovers of an older lease
	}
	l.remaining = max(0, int64(d.Remaining)-surplus-l.tokens)
	l.resetAt = start.Add(d.ResetAfter)
	l.burst = d.Limit
	if surplus <= 0 {
		return
	}
	expires := start.Add(ttl)
	if l.tokens > 0 && l.expires.Before(expires) {
		expires = l.expires // older tokens must not outlive their own lease
	}
	l.tokens += surplus
	l.expires = expires
}

// leases are the local leases of one limiter, by key.
type leases struct {
	mu        sync.Mutex
	m         map[string]*lease
	lastSweep time.Time
}

// maxIdleLeases is the size past which expired leases are dropped (per-IP
// keys come and go).
const maxIdleLeases = 10_000

func (s *leases) get(key string, now time.Time) *lease {
	s.mu.Lock()
	defer s.mu.Unlock()
	l, ok := s.m[key]
	if ok {
		return l
	}
	if s.m == nil {
		s.m = map[string]*lease{}
	}
	if len(s.m) >= maxIdleLeases && now.Sub(s.lastSweep) >= time.Second {
		s.lastSweep = now
		for k, l := range s.m {
			l.mu.Lock()
			idle := !l.asking && (l.tokens <= 0 || !now.Before(l.expires))
			l.mu.Unlock()
			if idle {
				delete(s.m, k)
			}
		}
	}
	l = &lease{}
	s.m[key] = l
	return l
}
