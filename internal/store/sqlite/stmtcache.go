package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"sync"

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
	db *sql.DB
	mu sync.RWMutex
	m  map[string]*sql.Stmt
}

func newStmtCache(db *sql.DB) *stmtCache {
	return &stmtCache{db: db, m: make(map[string]*sql.Stmt)}
}

// get returns the prepared statement for query, or nil when query is not
// cached (too long, cache full); err is a preparation error (bad SQL).
func (c *stmtCache) get(ctx context.Context, query string) (*sql.Stmt, error) {
	c.mu.RLock()
	st, ok := c.m[query]
	c.mu.RUnlock()
	if ok {
		return st, nil
	}
	if len(query) > maxCachedStmtLen {
		return nil, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if st, ok := c.m[query]; ok {
		return st, nil
	}
	if len(c.m) >= maxCachedStmts {
		return nil, nil
	}
	st, err := c.db.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	c.m[query] = st
	return st, nil
}

func (c *stmtCache) close() error {
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
func (t readTx) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	st, err := t.cache.get(ctx, query)
	if st == nil || err != nil {
		return nil, err
	}
	return t.Tx.StmtContext(ctx, st), nil
}

// Exec runs a statement (read transactions are query_only; kept for the
// interface).
func (t readTx) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	return t.SQLTx.Exec(ctx, query, args...)
}

// Query runs a query through its cached statement.
func (t readTx) Query(ctx context.Context, query string, args ...any) (sqlcore.Rows, error) {
	st, err := t.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
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
	st, err := t.stmt(ctx, query)
	if err != nil {
		return errRow{err}
	}
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

type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }
