package ratelimit

import (
	"context"
	"hash/maphash"
	"sync"
	"time"
)

// memoryShards spreads keys over independent mutexes so that concurrent
// requests for different tenants rarely contend.
const memoryShards = 64

// sweepEvery is how often a shard drops keys whose bucket is full again
// (TAT in the past): such a key behaves exactly like an absent one, so
// forgetting it loses nothing and bounds memory by the active key set.
const sweepEvery = time.Minute

// MemoryOptions configure NewMemory. The zero value works.
type MemoryOptions struct {
	// Now is the clock; nil means time.Now. Tests inject a fake clock.
	Now func() time.Time
}

// Memory is an in-process GCRA limiter: exact for one process, shared by
// nothing else. Use it for the embedded (single replica) mode and as the
// local fallback of the Redis limiter.
type Memory struct {
	now    func() time.Time
	seed   maphash.Seed
	shards [memoryShards]memoryShard
}

type memoryShard struct {
	mu        sync.Mutex
	tat       map[string]int64 // key → theoretical arrival time, Unix µs
	lastSweep int64
}

// NewMemory returns an in-memory limiter.
func NewMemory(opts MemoryOptions) *Memory {
	m := &Memory{now: opts.Now, seed: maphash.MakeSeed()}
	if m.now == nil {
		m.now = time.Now
	}
	for i := range m.shards {
		m.shards[i].tat = make(map[string]int64)
	}
	return m
}

// Allow implements Limiter. It never blocks on anything but a shard mutex.
func (m *Memory) Allow(_ context.Context, key string, limit Limit) (Decision, error) {
	if limit.Unlimited() {
		return Decision{Allowed: true, Limit: -1, Remaining: -1}, nil
	}
	if err := limit.Validate(); err != nil {
		return Decision{}, err
	}
	now := m.now().UnixMicro()
	s := &m.shards[maphash.String(m.seed, key)%memoryShards]
	s.mu.Lock()
	defer s.mu.Unlock()
	if now-s.lastSweep >= sweepEvery.Microseconds() {
		for k, tat := range s.tat {
			if tat <= now {
				delete(s.tat, k)
			}
		}
		s.lastSweep = now
	}
	d, tat := gcra(now, s.tat[key], limit)
	if d.Allowed {
		s.tat[key] = tat
	}
	return d, nil
}

// Len returns the number of keys currently tracked (for tests and metrics).
func (m *Memory) Len() int {
	n := 0
	for i := range m.shards {
		s := &m.shards[i]
		s.mu.Lock()
		n += len(s.tat)
		s.mu.Unlock()
	}
	return n
}
