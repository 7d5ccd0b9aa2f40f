// Package sqlcore implements the store contract once, in SQL both SQLite and
// Postgres understand, over a small Backend interface that each dialect
// package fills in: transactions, the row-level-security scope, error
// classification, time encoding and the bulk usage insert (COPY into a
// staging table on Postgres, multi-row INSERT on SQLite).
//
// Queries are written with ? placeholders; the Postgres connection rewrites
// them to $n. Every tenant-scoped query filters by tenant_id explicitly AND
// runs in a transaction scoped to that tenant, so on Postgres row-level
// security is a second wall behind the WHERE clause.
package sqlcore

import (
	"context"
	"time"

	"github.com/fast-saas/fast-saas/internal/store"
)

// Row is one result row.
type Row interface {
	Scan(dest ...any) error
}

// Rows is a result set.
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close()
}

// Conn runs statements (with ? placeholders) inside a transaction.
type Conn interface {
	Exec(ctx context.Context, query string, args ...any) (int64, error)
	Query(ctx context.Context, query string, args ...any) (Rows, error)
	QueryRow(ctx context.Context, query string, args ...any) Row
}

// TxConn is an open transaction.
type TxConn interface {
	Conn
	Commit(ctx context.Context) error
	Rollback(ctx context.Context) error
}

// PlatformScope is the scope of calls that are not about one tenant
// (lookups by hash or slug, lists across tenants, stats, the outbox).
const PlatformScope = ""

// Backend is what a dialect provides.
type Backend interface {
	// Begin starts a transaction; write=false may use a read-only pool.
	Begin(ctx context.Context, write bool) (TxConn, error)
	// Scope sets the row-level-security scope of the open transaction: a
	// tenant id, or PlatformScope. Called before every operation.
	Scope(ctx context.Context, c Conn, tenantID string) error
	// Time encodes a UTC time as a query argument.
	Time(t time.Time) any
	// DayExpr is an SQL expression giving the UTC day number (days since
	// 1970-01-01) of a timestamp column.
	DayExpr(column string) string
	// ForUpdate is the row-locking clause appended to SELECTs that guard a
	// read-modify-write (" FOR UPDATE" or "" where transactions serialize).
	ForUpdate() string
	// SkipLocked is the clause that lets concurrent outbox claimers skip
	// each other's rows.
	SkipLocked() string
	// Classify maps a driver error caused by the caller to store.ErrConflict
	// / ErrNotFound / ErrInvalid with a short detail; kind is nil for any
	// other error.
	Classify(err error) (detail string, kind error)
	// InsertEvents inserts validated events (unique ids, no duplicate
	// (tenant, transaction_id) within the slice), skipping those already
	// stored, each pending for Lago (lago_next_attempt_at = lago_updated_at
	// = received_at). It returns how many were inserted.
	InsertEvents(ctx context.Context, c Conn, events []store.UsageEvent) (int, error)
	Ping(ctx context.Context) error
	Close() error
}

// InsertPreparer is implemented by a Backend that prepares its event
// inserts on first use. InsertUsageBatch calls PrepareInserts with the
// number of events before it begins the write transaction, because SQLite's
// only writer connection is taken once the transaction is open. Inside a
// caller's Tx it is not called; InsertEvents then prepares what it lacks
// on the transaction.
type InsertPreparer interface {
	PrepareInserts(ctx context.Context, n int) error
}
