package usage

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"

	"github.com/fast-saas/fast-saas/internal/store"
)

// memStore is an in-memory BatchWriter with the store's contract:
// (tenant, transaction id) unique, duplicates skipped and counted, an unknown
// tenant fails the whole batch with store.ErrNotFound.
type memStore struct {
	mu      sync.Mutex
	tenants map[string]bool // nil: every tenant exists
	rows    map[string]store.UsageEvent
	writes  map[string]int // insert attempts per key that succeeded as new
	fail    error          // returned (once per call) while set
	failN   int            // fail only the next failN calls; 0 = while set
	calls   int
}

func newMemStore() *memStore {
	return &memStore{rows: map[string]store.UsageEvent{}, writes: map[string]int{}}
}

func key(e store.UsageEvent) string { return e.TenantID + "/" + e.TransactionID }

func (m *memStore) InsertUsageBatch(ctx context.Context, events []store.UsageEvent) (int, int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls++
	if err := ctx.Err(); err != nil {
		return 0, 0, err
	}
	if m.fail != nil {
		err := m.fail
		if m.failN > 0 {
			m.failN--
			if m.failN == 0 {
				m.fail = nil
			}
		}
		return 0, 0, err
	}
	for _, e := range events {
		if m.tenants != nil && !m.tenants[e.TenantID] {
			return 0, 0, fmt.Errorf("insert usage: tenant %s: %w", e.TenantID, store.ErrNotFound)
		}
	}
	ins, dup := 0, 0
	for _, e := range events {
		k := key(e)
		if _, ok := m.rows[k]; ok {
			dup++
			continue
		}
		m.rows[k] = e
		m.writes[k]++
		ins++
	}
	return ins, dup, nil
}

func (m *memStore) setFail(err error, n int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.fail, m.failN = err, n
}

func (m *memStore) count() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.rows)
}

// exactlyOnce checks that every id in want is stored once, and nothing else.
func (m *memStore) exactlyOnce(tenant string, want []string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	var errs []error
	for _, id := range want {
		if n := m.writes[tenant+"/"+id]; n != 1 {
			errs = append(errs, fmt.Errorf("event %s stored %d times, want 1", id, n))
		}
		if len(errs) > 5 {
			break
		}
	}
	if len(m.rows) != len(want) {
		errs = append(errs, fmt.Errorf("store holds %d events, want %d", len(m.rows), len(want)))
	}
	return errors.Join(errs...)
}

// all returns the stored events by transaction id.
func (m *memStore) all() []store.UsageEvent {
	m.mu.Lock()
	defer m.mu.Unlock()
	rows := make([]store.UsageEvent, 0, len(m.rows))
	for _, r := range m.rows {
		rows = append(rows, r)
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].TransactionID < rows[j].TransactionID })
	return rows
}

var errTransient = errors.New("connection refused")

// value reads a counter or gauge.
func value(c interface{ Value() float64 }) float64 { return c.Value() }
