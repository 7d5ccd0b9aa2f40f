package authn

import (
	"sync"
	"time"
)

// principalCache maps a token hash to a verified principal until a
// deadline. It is bounded: when full, expired entries are swept and, if that
// is not enough, arbitrary entries are evicted (Go map iteration order is
// random, which makes this a cheap random eviction). An id index lets a
// revocation by key id find the entry.
type principalCache struct {
	mu     sync.RWMutex
	max    int
	byHash map[[32]byte]cacheEntry
	byID   map[string][32]byte
	// gen increases on every invalidation. A lookup that started before an
	// invalidation must not cache what it read (it may be the revoked key).
	gen uint64
}

type cacheEntry struct {
	p     *Principal
	until int64 // unix nanoseconds
}

func newPrincipalCache(max int) *principalCache {
	if max <= 0 {
		max = 10000
	}
	return &principalCache{max: max, byHash: make(map[[32]byte]cacheEntry), byID: make(map[string][32]byte)}
}

// get returns the principal cached for h if it is still valid at now.
func (c *principalCache) get(h [32]byte, now time.Time) (*Principal, bool) {
	c.mu.RLock()
	e, ok := c.byHash[h]
	c.mu.RUnlock()
	if !ok || now.UnixNano() >= e.until {
		return nil, false
	}
	return e.p, true
}

// generation returns the invalidation counter, to pass to put.
func (c *principalCache) generation() uint64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.gen
}

// put caches p under h (and id, if not empty) until the deadline, unless an
// invalidation happened since gen was read.
func (c *principalCache) put(h [32]byte, id string, p *Principal, until time.Time, gen uint64, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		return
	}
	if _, exists := c.byHash[h]; !exists && len(c.byHash) >= c.max {
		c.evictLocked(now)
	}
	c.byHash[h] = cacheEntry{p: p, until: until.UnixNano()}
	if id != "" {
		c.byID[id] = h
	}
}

func (c *principalCache) evictLocked(now time.Time) {
	n := now.UnixNano()
	for h, e := range c.byHash {
		if n >= e.until {
			c.deleteLocked(h, e)
		}
	}
	// Still full: drop about 1/16 of the entries at random, so the sweep
	// above is not repeated on every insert.
	for h, e := range c.byHash {
		if len(c.byHash) < c.max-c.max/16 {
			break
		}
		c.deleteLocked(h, e)
	}
}

func (c *principalCache) deleteLocked(h [32]byte, e cacheEntry) {
	delete(c.byHash, h)
	if e.p != nil && e.p.KeyID != "" && c.byID[e.p.KeyID] == h {
		delete(c.byID, e.p.KeyID)
	}
}

// removeHash drops the entry for h.
func (c *principalCache) removeHash(h [32]byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	if e, ok := c.byHash[h]; ok {
		c.deleteLocked(h, e)
	}
}

// removeID drops the entry of the key with this id.
func (c *principalCache) removeID(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	if h, ok := c.byID[id]; ok {
		delete(c.byID, id)
		delete(c.byHash, h)
	}
}

// clear drops everything (used when revocation messages may have been lost).
func (c *principalCache) clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	clear(c.byHash)
	clear(c.byID)
}

func (c *principalCache) len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.byHash)
}
