package core

import (
	"sync"
	"time"
)

// ttlCache is a small bounded map whose entries expire. It backs the
// per-request lookups of authorization (tenant, membership, provisioned
// user) so the hot path is not a database round trip per request. Writes
// made through this process invalidate their entries at once; other
// replicas see a change within the TTL.
type ttlCache[K comparable, V any] struct {
	ttl time.Duration
	max int
	mu  sync.Mutex
	m   map[K]ttlEntry[V]
}

type ttlEntry[V any] struct {
	v     V
	until time.Time
}

func newTTLCache[K comparable, V any](ttl time.Duration, max int) *ttlCache[K, V] {
	return &ttlCache[K, V]{ttl: ttl, max: max, m: make(map[K]ttlEntry[V])}
}

func (c *ttlCache[K, V]) get(k K, now time.Time) (V, bool) {
	if c == nil || c.ttl <= 0 {
		var zero V
		return zero, false
	}
	c.mu.Lock()
	e, ok := c.m[k]
	c.mu.Unlock()
	if !ok || now.After(e.until) {
		var zero V
		return zero, false
	}
	return e.v, true
}

func (c *ttlCache[K, V]) put(k K, v V, now time.Time) {
	if c == nil || c.ttl <= 0 {
		return
	}
	c.mu.Lock()
	if len(c.m) >= c.max {
		// Dropping everything is crude but bounded and rare: the cache
		// refills from the store within one TTL.
		c.m = make(map[K]ttlEntry[V])
	}
	c.m[k] = ttlEntry[V]{v: v, until: now.Add(c.ttl)}
	c.mu.Unlock()
}

func (c *ttlCache[K, V]) drop(k K) {
	if c == nil {
		return
	}
	c.mu.Lock()
	delete(c.m, k)
	c.mu.Unlock()
}

// dropAll empties the cache (used when a change affects many keys).
func (c *ttlCache[K, V]) dropAll() {
	if c == nil {
		return
	}
	c.mu.Lock()
	c.m = make(map[K]ttlEntry[V])
	c.mu.Unlock()
}
