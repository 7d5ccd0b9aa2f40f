package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"time"

	"github.com/fast-saas/fast-saas/internal/store/internal/sqlcore"
)

// Limits of the read statement cache: the store's read queries are a few
// dozen fixed texts (plus a LIMIT that varies with the page size), so the
// bound only guards against an unexpected source of distinct texts, which
// then simply run unprepared.
const (
	maxCachedStmts   = 256
	maxCachedStmtLen = 4096
)

// stmtCache keeps one prepared statement per query text on the read pool.
// modernc.org/sqlite otherwise parses and plans every query on every call
// (about 7% of a tenant-list request); database/sql remembers on which
// pooled connections a *sql.Stmt is already prepared, so after warm-up a
// read binds and steps a ready statement.
type stmtCache struct {
	db      *sql.DB
	mu      sync.RWMutex
	m       map[string]*sql.Stmt
	pending map[string]bool // texts being prepared in the background
	closed  bool
	wg      sync.WaitGroup
}

func newStmtCache(db *sql.DB) *stmtCache {
	return &stmtCache{db: db, m: make(map[string]*sql.Stmt), pending: make(map[string]bool)}
}

// get returns the prepared statement for query, or nil when it is not
// cached yet (or never will be: too long, cache full). A miss starts the
// preparation in the background and the caller runs this one query
// unprepared: preparing on the pool needs a free connection, and the
// caller holds one inside its transaction — with every read connection
// held by a transaction waiting to prepare, nobody would ever give one back.
func (c *stmtCache) get(query string) *sql.Stmt {
	c.mu.RLock()
	st := c.m[query]
	c.mu.RUnlock()
	if st != nil || len(query) > maxCachedStmtLen {
		return st
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || c.pending[query] || len(c.m)+len(c.pending) >= maxCachedStmts {
		return c.m[query]
	}
	c.pending[query] = true
	c.wg.Add(1)
	go c.prepare(query)
	return nil
}

// prepare prepares query on the pool, holding no connection while it waits
// for one. A text that does not prepare (bad SQL) is not cached; its
// unprepared runs report the error to their callers.
func (c *stmtCache) prepare(query string) {
	defer c.wg.Done()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := c.db.PrepareContext(ctx, query)
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.pending, query)
	if err != nil {
		return
	}
	if c.closed {
		_ = st.Close()
		return
	}
	c.m[query] = st
}

// close waits for background preparations and closes every statement.
func (c *stmtCache) close() error {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.wg.Wait()
	c.mu.Lock()
	defer c.mu.Unlock()
	var errs []error
	for q, st := range c.m {
		errs = append(errs, st.Close())
		delete(c.m, q)
	}
	return errors.Join(errs...)
}

// readTx is a read transaction whose statements come from the cache.
type readTx struct {
	sqlcore.SQLTx
	cache *stmtCache
}

// stmt is the cached statement bound to this transaction, or nil.
func (t readTx) stmt(ctx context.Context, query string) *sql.Stmt {
	st := t.cache.get(query)
	if st == nil {
		return nil
	}
	return t.Tx.StmtContext(ctx, st)
}

// Exec runs a statement (read transactions are query_only; kept for the
// interface).
func (t readTx) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	return t.SQLTx.Exec(ctx, query, args...)
}

// Query runs a query through its cached statement.
func (t readTx) Query(ctx context.Context, query string, args ...any) (sqlcore.Rows, error) {
	st := t.stmt(ctx, query)
	if st == nil {
		return t.SQLTx.Query(ctx, query, args...)
	}
	r, err := st.QueryContext(ctx, args...)
	if err != nil {
		return nil, err
	}
	return rows{r}, nil
}

// QueryRow runs a single-row query through its cached statement.
func (t readTx) QueryRow(ctx context.Context, query string, args ...any) sqlcore.Row {
	st := t.stmt(ctx, query)
	if st == nil {
		return t.SQLTx.QueryRow(ctx, query, args...)
	}
	return row{st.QueryRowContext(ctx, args...)}
}

type rows struct{ *sql.Rows }

func (r rows) Close() { _ = r.Rows.Close() }

type row struct{ r *sql.Row }

func (r row) Scan(dest ...any) error {
	err := r.r.Scan(dest...)
	if errors.Is(err, sql.ErrNoRows) {
		return sqlcore.ErrNoRows
	}
	return err
}
