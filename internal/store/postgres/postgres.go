// Package postgres is the distributed store backend: a pgx/v5 connection
// pool, embedded goose migrations, and row-level security on every
// tenant-scoped table (see migrations/00001_init.sql for the policy).
//
// Every store call runs in a transaction that first sets its scope with
// set_config(…, true) — transaction-local, so a pooled connection never
// carries one caller's tenant into the next caller's query:
//
//	tenant call:    app.tenant_id = <tenant id>, app.bypass_rls = off
//	platform call:  app.tenant_id = '',          app.bypass_rls = on
//
// Usage batches go through COPY into a session-local staging table followed
// by one INSERT (the Lago state is on the event row); a batch holding
// events already stored is moved again with ON CONFLICT DO NOTHING, so
// duplicates are skipped rather than failing the batch.
// The batch's tenants are checked and locked once per batch, not by a
// per-row foreign key (migration 00004).
package postgres

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/fast-saas/fast-saas/internal/store"
	"github.com/fast-saas/fast-saas/internal/store/internal/sqlcore"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Migrations returns the embedded, append-only Postgres migrations.
func Migrations() fs.FS {
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		panic(err) // the embed pattern above guarantees the directory
	}
	return sub
}

// Options configure Open.
type Options struct {
	// URL is the connection string (postgres://…).
	URL string
	// Plans are the valid plan ids (nil = store.DefaultPlans).
	Plans []string
	// Now is the clock (nil = time.Now).
	Now func() time.Time
	// MaxConns caps the pool (0 = pgxpool's default).
	MaxConns int32
}

// NewMigrator returns a goose provider of the embedded migrations over db.
// A Postgres advisory lock keeps replicas starting together from racing.
func NewMigrator(db *sql.DB) (*goose.Provider, error) {
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		return nil, fmt.Errorf("postgres migration lock: %w", err)
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db, Migrations(), goose.WithSessionLocker(locker))
	if err != nil {
		return nil, fmt.Errorf("postgres migrations: %w", err)
	}
	return p, nil
}

// OpenPool connects a pgx pool.
func OpenPool(ctx context.Context, url string, maxConns int32) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("parse postgres url: %w", redact(err))
	}
	if maxConns > 0 {
		cfg.MaxConns = maxConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect postgres: %w", redact(err))
	}
	return pool, nil
}

// redact drops the error text of URL parse failures, which may echo the password.
func redact(err error) error {
	if strings.Contains(err.Error(), "@") {
		return errors.New("invalid connection string")
	}
	return err
}

// Migrate applies pending migrations over pool.
func Migrate(ctx context.Context, pool *pgxpool.Pool) error {
	db := stdlib.OpenDBFromPool(pool)
	defer db.Close()
	mig, err := NewMigrator(db)
	if err != nil {
		return err
	}
	if _, err := mig.Up(ctx); err != nil {
		return fmt.Errorf("migrate postgres: %w", err)
	}
	return nil
}

// Open connects, applies pending migrations and returns the store.
func Open(ctx context.Context, opts Options) (store.Store, error) {
	pool, err := OpenPool(ctx, opts.URL, opts.MaxConns)
	if err != nil {
		return nil, err
	}
	if err := Migrate(ctx, pool); err != nil {
		pool.Close()
		return nil, err
	}
	return sqlcore.New(&backend{pool: pool}, opts.Plans, opts.Now), nil
}

type backend struct {
	pool    *pgxpool.Pool
	rebound sync.Map // query with ? → query with $n; the set of queries is small and fixed
}

// Begin starts a transaction. Reads outside Tx get a pipelined
// connection instead (see readConn): no BEGIN/COMMIT round trips.
func (b *backend) Begin(ctx context.Context, write bool) (sqlcore.TxConn, error) {
	if !write {
		return &readConn{be: b}, nil
	}
	tx, err := b.pool.Begin(ctx)
	if err != nil {
		return nil, err
	}
	return &conn{tx: tx, be: b}, nil
}

const setScope = `SELECT set_config('app.tenant_id', $1, true), set_config('app.bypass_rls', $2, true)`

func scopeArgs(tenantID string) (string, string) {
	if tenantID == sqlcore.PlatformScope {
		return "", "on"
	}
	return tenantID, "off"
}

func (b *backend) Scope(ctx context.Context, c sqlcore.Conn, tenantID string) error {
	if rc, ok := c.(*readConn); ok {
		rc.tenant, rc.bypass = scopeArgs(tenantID)
		return nil
	}
	tenant, bypass := scopeArgs(tenantID)
	_, err := c.(*conn).tx.Exec(ctx, setScope, tenant, bypass)
	return err
}

func (b *backend) Time(t time.Time) any { return t }

func (b *backend) DayExpr(column string) string { return dayExpr(column) }

func dayExpr(column string) string {
	return "(extract(epoch FROM date_trunc('day', " + column + " AT TIME ZONE 'UTC'))::bigint / 86400)"
}

// dayNumber is DayExpr of an event's occurred_at as usage_daily.day.
var dayNumber = dayExpr("occurred_at") + "::integer"

func (b *backend) ForUpdate() string  { return " FOR UPDATE" }
func (b *backend) SkipLocked() string { return " FOR UPDATE SKIP LOCKED" }

func (b *backend) Classify(err error) (string, error) {
	if unreachable(err) {
		return "cannot reach Postgres", store.ErrUnavailable
	}
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return "", nil
	}
	switch pe.Code {
	case "23505": // unique_violation
		return pe.ConstraintName + " taken", store.ErrConflict
	case "23503": // foreign_key_violation
		return "referenced tenant or user (" + pe.ConstraintName + ")", store.ErrNotFound
	case "23514", "23502": // check, not null
		return pe.ConstraintName + pe.ColumnName, store.ErrInvalid
	case "22P02", "22021", "22P05": // invalid text representation, bad UTF-8 or NUL, unsupported \u escape
		return "value not representable", store.ErrInvalid
	}
	return "", nil
}

// unreachable reports errors that mean the server is not there (refused,
// lost or timed-out connections; SQLSTATE class 08 connection exceptions;
// 57P01–57P03 shutdown and start-up), as opposed to a statement's failure.
func unreachable(err error) bool {
	var ce *pgconn.ConnectError
	var ne net.Error
	var pe *pgconn.PgError
	switch {
	case errors.As(err, &ce), errors.As(err, &ne), pgconn.Timeout(err),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed):
		return true
	case errors.As(err, &pe):
		return strings.HasPrefix(pe.Code, "08") || pe.Code == "57P01" || pe.Code == "57P02" || pe.Code == "57P03"
	}
	return false
}

// stageDDL creates the per-session staging table once per connection;
// ON COMMIT DELETE ROWS empties it at the end of every transaction.
//
// Usage events cannot be copied into usage_events directly: Postgres
// refuses COPY FROM into a table with row-level security unless the role
// bypasses it. So a batch is copied into this stage and moved from there.
const stageDDL = `CREATE TEMP TABLE IF NOT EXISTS usage_stage (
    id uuid, tenant_id uuid, metric text, quantity double precision, properties jsonb,
    transaction_id text, occurred_at timestamptz, received_at timestamptz
) ON COMMIT DELETE ROWS`

// moveStaged moves the staged events into usage_events, pending for Lago
// (the outbox state lives on the event row, migration 00003). It fails on
// the first event already stored; then moveStagedSkipping does the work.
var moveStaged = `INSERT INTO usage_events (` + sqlcore.EventCols + `, lago_next_attempt_at, lago_updated_at)
SELECT ` + sqlcore.EventCols + `, received_at, received_at FROM usage_stage`

// addDaily adds the per-day sums of a batch that moveStaged stored, as
// dailyRows computes them, to usage_daily (migration 00006). The rows are
// written in key order, so concurrent batches lock shared rows in the same
// order and never deadlock.
const addDaily = `INSERT INTO usage_daily AS u (tenant_id, metric, day, quantity, events)
SELECT * FROM unnest($1::uuid[], $2::text[], $3::integer[], $4::double precision[], $5::bigint[]) ORDER BY 1, 2, 3
ON CONFLICT (tenant_id, metric, day)
DO UPDATE SET quantity = u.quantity + excluded.quantity, events = u.events + excluded.events`

// moveStagedSkipping is moveStaged and addDaily for a batch that holds
// events already stored: it skips those, adds only the events it inserted
// to usage_daily, and returns how many it inserted.
var moveStagedSkipping = `WITH ins AS (
    INSERT INTO usage_events (` + sqlcore.EventCols + `, lago_next_attempt_at, lago_updated_at)
    SELECT ` + sqlcore.EventCols + `, received_at, received_at FROM usage_stage
    ON CONFLICT (tenant_id, transaction_id) DO NOTHING
    RETURNING tenant_id, metric, quantity, occurred_at
), daily AS (
    INSERT INTO usage_daily AS u (tenant_id, metric, day, quantity, events)
    SELECT tenant_id, metric, ` + dayNumber + `, sum(quantity), count(*)
    FROM ins GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
    ON CONFLICT (tenant_id, metric, day)
    DO UPDATE SET quantity = u.quantity + excluded.quantity, events = u.events + excluded.events
)
SELECT count(*) FROM ins`

var eventColumns = strings.Split(strings.ReplaceAll(sqlcore.EventCols, " ", ""), ",")

// lockTenants takes, once per batch, the lock a foreign key's check takes
// per row (migration 00004): a concurrent delete of one of the batch's
// tenants waits for the batch to commit (and then cascades to its events),
// and a tenant deleted before is not found.
const lockTenants = `SELECT count(*) FROM (SELECT 1 FROM tenants WHERE id = ANY($1::uuid[]) FOR KEY SHARE) t`

// InsertEvents stores a batch in four round trips of the store's
// transaction: the tenant check, the COPY into the stage (two) and the move.
//
// Most batches hold no event already stored, and the plain INSERT of
// moveStaged costs Postgres a fifth to a quarter less CPU per event than
// INSERT … ON CONFLICT DO NOTHING (BenchmarkIngest, server CPU). So the
// move first tries that, under a savepoint. A batch with an event already
// stored (a client's retry, a redelivery from the Redis stream) fails on
// the unique index, or in a deadlock with a concurrent batch holding the
// same events; it is rolled back to the savepoint and moved again with
// moveStagedSkipping.
func (b *backend) InsertEvents(ctx context.Context, c sqlcore.Conn, events []store.UsageEvent) (int, error) {
	tx := c.(*conn).tx
	tenants := distinctTenants(events)
	// One round trip for both: the stage exists after the first batch on a
	// connection, and the tenant check needs nothing from the COPY.
	batch := &pgx.Batch{}
	batch.Queue(stageDDL)
	batch.Queue(lockTenants, tenants)
	var found int
	err := sendBatch(ctx, tx, batch, func(br pgx.BatchResults) error {
		if _, err := br.Exec(); err != nil {
			return err
		}
		return br.QueryRow().Scan(&found)
	})
	if err != nil {
		return 0, err
	}
	if found != len(tenants) {
		return 0, fmt.Errorf("%w: tenant of %d of the batch's %d tenants", store.ErrNotFound, len(tenants)-found, len(tenants))
	}
	// No TRUNCATE here (it rewrites the relation each time): ON COMMIT
	// DELETE ROWS empties the stage at the end of every transaction. Rows
	// left by an earlier batch of the same Tx are already in usage_events,
	// so they conflict: moveStaged fails, and moveStagedSkipping does not
	// count them again.
	if _, err := CopyEvents(ctx, tx.Conn().PgConn(), "usage_stage", events, false); err != nil {
		return 0, err
	}
	// One round trip: when moveStaged fails, Postgres skips the statements
	// after it up to the batch's end.
	batch = &pgx.Batch{}
	batch.Queue(`SAVEPOINT move_staged`)
	batch.Queue(moveStaged)
	batch.Queue(addDaily, dailyRows(events)...)
	batch.Queue(`RELEASE SAVEPOINT move_staged`)
	err = sendBatch(ctx, tx, batch, func(br pgx.BatchResults) error {
		for range batch.Len() {
			if _, err := br.Exec(); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil {
		return len(events), nil
	}
	if pe := (*pgconn.PgError)(nil); !errors.As(err, &pe) || (pe.Code != "23505" && pe.Code != "40P01") { // unique_violation, deadlock_detected
		return 0, err
	}
	// Not in one batch: pgx prepares a batch's new statements first, and
	// the aborted transaction refuses all but the rollback.
	if _, err := tx.Exec(ctx, `ROLLBACK TO SAVEPOINT move_staged`); err != nil {
		return 0, err
	}
	var inserted int
	err = tx.QueryRow(ctx, moveStagedSkipping).Scan(&inserted)
	return inserted, err
}

// sendBatch sends batch, reads its results with read and closes them.
func sendBatch(ctx context.Context, tx pgx.Tx, batch *pgx.Batch, read func(pgx.BatchResults) error) error {
	br := tx.SendBatch(ctx, batch)
	err := read(br)
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	return err
}

// dailyRows sums events per (tenant, metric, UTC day) into addDaily's
// arguments: the sums moveStagedSkipping's GROUP BY makes, in event order.
func dailyRows(events []store.UsageEvent) []any {
	type key struct {
		tenant, metric string
		day            int32
	}
	index := make(map[key]int, 4)
	var tenants, metrics []string
	var days []int32
	var sums []float64
	var counts []int64
	i, last := -1, key{}
	for j := range events {
		e := &events[j]
		k := key{e.TenantID, e.Metric, dayOf(e.OccurredAt)}
		if i < 0 || k != last { // events in a row usually share their key
			var ok bool
			if i, ok = index[k]; !ok {
				i = len(tenants)
				index[k] = i
				tenants, metrics, days = append(tenants, k.tenant), append(metrics, k.metric), append(days, k.day)
				sums, counts = append(sums, 0), append(counts, 0)
			}
			last = k
		}
		sums[i] += e.Quantity
		counts[i]++
	}
	return []any{tenants, metrics, days, sums, counts}
}

// dayOf is t's UTC day number, days since 1970-01-01 (negative before):
// dayNumber's value in Go. Truncate counts whole days from the zero time,
// a UTC midnight, so it rounds down before 1970 too.
func dayOf(t time.Time) int32 {
	return int32(t.Truncate(24*time.Hour).Unix() / 86400)
}

// distinctTenants lists the tenant ids of events once each (a batch from
// the usage pipeline usually holds a handful of tenants).
func distinctTenants(events []store.UsageEvent) []string {
	var out []string
	seen := make(map[string]struct{}, 8)
	for _, e := range events {
		if _, ok := seen[e.TenantID]; !ok {
			seen[e.TenantID] = struct{}{}
			out = append(out, e.TenantID)
		}
	}
	return out
}

func (b *backend) Ping(ctx context.Context) error {
	if err := b.pool.Ping(ctx); err != nil {
		return fmt.Errorf("ping postgres: %w", err)
	}
	return nil
}

func (b *backend) Close() error {
	b.pool.Close()
	return nil
}

// conn adapts a pgx transaction to sqlcore.TxConn, rewriting ? to $n.
type conn struct {
	tx pgx.Tx
	be *backend
}

func (c *conn) Exec(ctx context.Context, q string, args ...any) (int64, error) {
	tag, err := c.tx.Exec(ctx, c.be.rebind(q), args...)
	if err != nil {
		return 0, err
	}
	return tag.RowsAffected(), nil
}

func (c *conn) Query(ctx context.Context, q string, args ...any) (sqlcore.Rows, error) {
	rows, err := c.tx.Query(ctx, c.be.rebind(q), args...)
	if err != nil {
		return nil, err
	}
	return rows, nil
}

func (c *conn) QueryRow(ctx context.Context, q string, args ...any) sqlcore.Row {
	return row{c.tx.QueryRow(ctx, c.be.rebind(q), args...)}
}

func (c *conn) Commit(ctx context.Context) error   { return c.tx.Commit(ctx) }
func (c *conn) Rollback(ctx context.Context) error { return c.tx.Rollback(ctx) }

// readConn runs each read statement as a two-statement pipeline —
// set_config(…, true) then the query — sent in one round trip with one Sync.
// The extended protocol runs everything before a Sync in one implicit
// transaction, so the transaction-local scope applies to the query and ends
// with it: one round trip per read instead of four (BEGIN, scope, query,
// COMMIT). This is what keeps APIKeyByHash, on every API request, fast.
// Statements of one read operation do not share a snapshot.
type readConn struct {
	be             *backend
	tenant, bypass string
}

func (c *readConn) send(ctx context.Context, q string, args []any) (pgx.BatchResults, error) {
	batch := &pgx.Batch{}
	batch.Queue(setScope, c.tenant, c.bypass)
	batch.Queue(c.be.rebind(q), args...)
	br := c.be.pool.SendBatch(ctx, batch)
	if _, err := br.Exec(); err != nil {
		br.Close()
		return nil, err
	}
	return br, nil
}

func (c *readConn) Exec(ctx context.Context, q string, args ...any) (int64, error) {
	br, err := c.send(ctx, q, args)
	if err != nil {
		return 0, err
	}
	tag, err := br.Exec()
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	return tag.RowsAffected(), err
}

func (c *readConn) Query(ctx context.Context, q string, args ...any) (sqlcore.Rows, error) {
	br, err := c.send(ctx, q, args)
	if err != nil {
		return nil, err
	}
	rows, err := br.Query()
	if err != nil {
		br.Close()
		return nil, err
	}
	return &batchRows{Rows: rows, br: br}, nil
}

func (c *readConn) QueryRow(ctx context.Context, q string, args ...any) sqlcore.Row {
	br, err := c.send(ctx, q, args)
	if err != nil {
		return errRow{err}
	}
	return batchRow{r: br.QueryRow(), br: br}
}

func (c *readConn) Commit(context.Context) error   { return nil }
func (c *readConn) Rollback(context.Context) error { return nil }

// batchRows closes the batch (returning the connection) with the rows.
type batchRows struct {
	pgx.Rows
	br  pgx.BatchResults
	err error
}

func (r *batchRows) Close() {
	r.Rows.Close()
	r.err = r.br.Close()
}

func (r *batchRows) Err() error {
	if err := r.Rows.Err(); err != nil {
		return err
	}
	return r.err
}

type batchRow struct {
	r  pgx.Row
	br pgx.BatchResults
}

func (r batchRow) Scan(dest ...any) error {
	err := r.r.Scan(dest...)
	cerr := r.br.Close()
	if errors.Is(err, pgx.ErrNoRows) {
		return sqlcore.ErrNoRows
	}
	if err == nil {
		err = cerr
	}
	return err
}

type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }

type row struct{ r pgx.Row }

func (r row) Scan(dest ...any) error {
	err := r.r.Scan(dest...)
	if errors.Is(err, pgx.ErrNoRows) {
		return sqlcore.ErrNoRows
	}
	return err
}

// rebind rewrites ? placeholders to $1, $2, … (queries hold no literal '?').
func (b *backend) rebind(q string) string {
	if v, ok := b.rebound.Load(q); ok {
		return v.(string)
	}
	var w strings.Builder
	w.Grow(len(q) + 16)
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] == '?' {
			n++
			w.WriteByte('$')
			w.WriteString(strconv.Itoa(n))
			continue
		}
		w.WriteByte(q[i])
	}
	out := w.String()
	b.rebound.Store(q, out)
	return out
}
