package authn

import (
	"sync"
	"sync/atomic"
	"time"
)

// shardCount spreads the cache over independent locks: on many-core
// servers a single RWMutex's reader count becomes a contended cache line.
const shardCount = 32

// principalCache maps a token hash to a verified principal until a
// deadline. It is bounded: when a shard is full, its expired entries are
// swept and, if that is not enough, arbitrary entries are evicted (Go map
// iteration order is random, which makes this a cheap random eviction).
type principalCache struct {
	shards [shardCount]cacheShard
	// gen increases on every invalidation. A lookup that started before an
	// invalidation must not cache what it read (it may be the revoked key):
	// put compares it under the shard lock, and invalidations bump it before
	// taking shard locks.
	gen atomic.Uint64
}

type cacheShard struct {
	mu  sync.RWMutex
	max int
	m   map[[32]byte]cacheEntry
	_   [40]byte // keep shards on separate cache lines
}

type cacheEntry struct {
	p     *Principal
	until int64 // unix nanoseconds
}

func newPrincipalCache(size int) *principalCache {
	if size <= 0 {
		size = 10000
	}
	c := &principalCache{}
	for i := range c.shards {
		c.shards[i].max = max(1, size/shardCount)
		c.shards[i].m = make(map[[32]byte]cacheEntry)
	}
	return c
}

func (c *principalCache) shard(h [32]byte) *cacheShard { return &c.shards[h[0]%shardCount] }

// get returns the principal cached for h if it is still valid at now.
func (c *principalCache) get(h [32]byte, now time.Time) (*Principal, bool) {
	s := c.shard(h)
	s.mu.RLock()
	e, ok := s.m[h]
	s.mu.RUnlock()
	if !ok || now.UnixNano() >= e.until {
		return nil, false
	}
	return e.p, true
}

// generation returns the invalidation counter, to pass to put.
func (c *principalCache) generation() uint64 { return c.gen.Load() }

// put caches p under h until the deadline, unless an invalidation happened
// since gen was read.
func (c *principalCache) put(h [32]byte, p *Principal, until time.Time, gen uint64, now time.Time) {
	s := c.shard(h)
	s.mu.Lock()
	defer s.mu.Unlock()
	if c.gen.Load() != gen {
		return
	}
	if _, exists := s.m[h]; !exists && len(s.m) >= s.max {
		n := now.UnixNano()
		for k, e := range s.m {
			if n >= e.until {
				delete(s.m, k)
			}
		}
		for k := range s.m {
			if len(s.m) < s.max-s.max/16 || len(s.m) == 0 {
				break
			}
			delete(s.m, k)
		}
	}
	s.m[h] = cacheEntry{p: p, until: until.UnixNano()}
}

// removeHash drops the entry for h.
func (c *principalCache) removeHash(h [32]byte) {
	c.gen.Add(1)
	s := c.shard(h)
	s.mu.Lock()
	delete(s.m, h)
	s.mu.Unlock()
}

// removeID drops the entries of the key with this id. Revocations are
// rare, so a scan beats maintaining an index on every insert.
func (c *principalCache) removeID(id string) {
	c.gen.Add(1)
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		for k, e := range s.m {
			if e.p.KeyID == id {
				delete(s.m, k)
			}
		}
		s.mu.Unlock()
	}
}

// clear drops everything (used when revocation messages may have been lost).
func (c *principalCache) clear() {
	c.gen.Add(1)
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		clear(s.m)
		s.mu.Unlock()
	}
}

func (c *principalCache) len() int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.RLock()
		n += len(s.m)
		s.mu.RUnlock()
	}
	return n
}
