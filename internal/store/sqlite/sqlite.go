// Package sqlite is the embedded store backend: one SQLite file (pure Go,
// modernc.org/sqlite) in WAL mode with a busy timeout and foreign keys on.
//
// SQLite allows one writer at a time, so the store keeps exactly ONE writer
// connection (write transactions queue in Go instead of failing with
// SQLITE_BUSY) and a separate pool of read connections, which WAL lets run
// alongside the writer.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"iter"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pressly/goose/v3"
	sqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/fast-saas/fast-saas/internal/store"
	"github.com/fast-saas/fast-saas/internal/store/internal/sqlcore"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Migrations returns the embedded, append-only SQLite migrations.
func Migrations() fs.FS {
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		panic(err) // the embed pattern above guarantees the directory
	}
	return sub
}

// DefaultFile is the database file name inside the data directory.
const DefaultFile = "fast-saas.db"

// Options configure Open. The zero value (plus Path) works.
type Options struct {
	// Path of the database file; its directory is created if missing.
	Path string
	// Plans are the valid plan ids (nil = store.DefaultPlans).
	Plans []string
	// Now is the clock (nil = time.Now).
	Now func() time.Time
	// ReadConns is the size of the read pool (0 = number of CPUs, at least 2).
	ReadConns int
	// BusyTimeout is how long a connection waits on a lock (0 = 5s).
	BusyTimeout time.Duration
}

// pageCacheKiB is the writer connection's page cache, readCacheKiB each
// read connection's. The caches live outside the Go heap (modernc's C
// allocator) and, once filled, stay: with 32 MiB on each of the three
// connections, serve's RSS rose from 46 to 110 MiB as soon as every API call
// was metered into usage_events (measured with /proc/<pid>/status under
// wrk). With 2 MiB it stays near 48 MiB. Live ingest (current timestamps)
// runs at the same events per CPU-second with 2 MiB as with 32 MiB
// (BenchmarkInsertUsageBatch/live, 1M events: 103,700 vs 102,600); a
// backfill of old timestamps loses about 17% (15,300 vs 18,400), and 8 MiB
// on the writer alone cost 13 MiB more RSS.
//
// Readers need less: the hot reads (keys, tenants, memberships) are cached
// above the store, and the pages they touch are a few hundred KiB for 1,000
// tenants; a miss is a read from the OS page cache. 512 KiB per reader took
// about 1 MiB off serve's RSS under the issue-5 read scenarios at the same
// CPU per request (bench/cmd/load, embedded).
const (
	pageCacheKiB = 2048
	readCacheKiB = 512
)

// DSN returns the modernc.org/sqlite data source for path. Write
// connections take the lock at BEGIN (immediate), so a transaction that reads
// then writes never fails half-way on an upgrade.
func DSN(path string, write bool, busy time.Duration) string {
	if busy <= 0 {
		busy = 5 * time.Second
	}
	q := url.Values{}
	// Before journal_mode: the page size of a new database is fixed when
	// WAL is enabled. Larger pages mean fewer write calls per batch.
	q.Add("_pragma", "page_size(16384)")
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busy.Milliseconds()))
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(NORMAL)") // durable across process crashes in WAL mode
	// Statement journals (multi-row INSERT … ON CONFLICT with a trigger)
	// and sorts stay in memory instead of temp files (measured on the
	// ingest benchmark).
	q.Add("_pragma", "temp_store(MEMORY)")
	cache := pageCacheKiB
	if !write {
		cache = readCacheKiB
	}
	q.Add("_pragma", fmt.Sprintf("cache_size(-%d)", cache))
	// Checkpoint every 4096 WAL pages (64 MiB) instead of SQLite's 1000:
	// an index page changed by many batches is copied back to the database
	// once per checkpoint, so fewer checkpoints write less. The WAL file
	// stays up to about this size on disk. Measured on the ingest benchmark.
	q.Add("_pragma", "wal_autocheckpoint(4096)")
	if write {
		q.Set("_txlock", "immediate")
	} else {
		q.Add("_pragma", "query_only(1)")
	}
	return "file:" + path + "?" + q.Encode()
}

// OpenDB opens a single-connection database/sql handle on path (for migrations).
func OpenDB(path string) (*sql.DB, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	db, err := sql.Open("sqlite", DSN(path, true, 0))
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	db.SetMaxOpenConns(1)
	return db, nil
}

// NewMigrator returns a goose provider of the embedded migrations over db.
func NewMigrator(db *sql.DB) (*goose.Provider, error) {
	p, err := goose.NewProvider(goose.DialectSQLite3, db, Migrations())
	if err != nil {
		return nil, fmt.Errorf("sqlite migrations: %w", err)
	}
	return p, nil
}

// Open opens (creating if needed) the database at opts.Path and applies
// pending migrations.
func Open(ctx context.Context, opts Options) (store.Store, error) {
	if opts.Path == "" {
		return nil, errors.New("open sqlite: empty path")
	}
	w, err := OpenDB(opts.Path)
	if err != nil {
		return nil, err
	}
	mig, err := NewMigrator(w)
	if err != nil {
		w.Close()
		return nil, err
	}
	if _, err := mig.Up(ctx); err != nil {
		w.Close()
		return nil, fmt.Errorf("migrate sqlite %s: %w", opts.Path, err)
	}
	r, err := sql.Open("sqlite", DSN(opts.Path, false, opts.BusyTimeout))
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", opts.Path, err)
	}
	n := opts.ReadConns
	if n <= 0 {
		n = max(runtime.NumCPU(), 2)
	}
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	r.SetConnMaxIdleTime(0)
	b := &backend{w: w, r: r, reads: newStmtCache(r)}
	return sqlcore.New(b, opts.Plans, opts.Now), nil
}

type backend struct {
	w, r  *sql.DB
	reads *stmtCache // prepared read statements on r

	// inserts[i] is insertEventsSQL(insertSizes[i]) prepared on w, nil
	// until PrepareInserts first needs it. InsertEvents loads it without
	// taking prepareMu: it runs inside a write transaction, which holds
	// the writer connection a preparer may be waiting for.
	inserts   [len(insertSizes)]atomic.Pointer[sql.Stmt]
	prepareMu sync.Mutex // one preparer at a time
}

func (b *backend) Begin(ctx context.Context, write bool) (sqlcore.TxConn, error) {
	db := b.r
	if write {
		db = b.w
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	if !write {
		return readTx{SQLTx: sqlcore.SQLTx{Tx: tx}, cache: b.reads}, nil
	}
	return sqlcore.SQLTx{Tx: tx}, nil
}

// Scope is a no-op: SQLite has no row-level security; the tenant_id filter
// in every query is the wall.
func (b *backend) Scope(context.Context, sqlcore.Conn, string) error { return nil }

func (b *backend) Time(t time.Time) any { return t.UnixMicro() }

// DayExpr divides microseconds by a day rounding down, also before 1970:
// SQLite's integer division rounds toward zero, so a negative remainder
// takes one day off (the same expression is in migration 00004).
func (b *backend) DayExpr(column string) string {
	return "(" + column + " / 86400000000 - (" + column + " % 86400000000 < 0))"
}

// ForUpdate is empty: the single writer connection serializes write transactions.
func (b *backend) ForUpdate() string { return "" }

func (b *backend) SkipLocked() string { return "" }

func (b *backend) Classify(err error) (string, error) {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return "", nil
	}
	msg := se.Error()
	detail := msg
	if i := strings.Index(msg, "constraint failed: "); i >= 0 {
		detail = msg[i+len("constraint failed: "):]
		if j := strings.IndexAny(detail, " ("); j >= 0 {
			detail = detail[:j]
		}
	}
	switch se.Code() {
	case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
		return detail + " taken", store.ErrConflict
	case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
		return "referenced tenant or user", store.ErrNotFound
	case sqlite3.SQLITE_CONSTRAINT_CHECK, sqlite3.SQLITE_CONSTRAINT_NOTNULL:
		return detail, store.ErrInvalid
	}
	return "", nil
}

// chunk is the number of rows per multi-row INSERT (10 parameters each,
// well under SQLite's 32766-variable limit). It matches the default batch
// of the usage buffer (usage.MemoryOptions.BatchSize), so a full batch is
// one run of one statement.
const chunk = 500

// insertSizes are the row counts of the prepared insert statements,
// largest first: a batch is written as full chunks, then the rest with at
// most three runs of each smaller size (399 = 256 + 2×64 + 3×4 + 3×1).
// Preparing a statement for the exact size instead costs more than the
// runs it saves: parsing and compiling a 400-row insert was 18% of writing
// a 400-event batch (CPU profile of serve, metered requests).
//
// Each is prepared when a batch first needs it, not at Open: preparing all
// six is most of what Open costs once the database exists (≈ 5 ms; 100 ms
// under the race detector), and a deployment that stores only merged API
// calls uses the small ones alone.
var insertSizes = [...]int{chunk, 256, 64, 16, 4, 1}

// parts yields, in order, the index into insertSizes of each statement run
// that writes n events.
func parts(n int) iter.Seq[int] {
	return func(yield func(int) bool) {
		size := 0
		for left := n; left > 0; left -= insertSizes[size] {
			for insertSizes[size] > left {
				size++
			}
			if !yield(size) {
				return
			}
		}
	}
}

// PrepareInserts prepares the insert statements that writing n events
// uses and that are not prepared yet (sqlcore.InsertPreparer). It must not
// be called inside a write transaction: it waits for the writer connection.
func (b *backend) PrepareInserts(ctx context.Context, n int) error {
	b.prepareMu.Lock()
	defer b.prepareMu.Unlock()
	for i := range parts(n) {
		if b.inserts[i].Load() != nil {
			continue
		}
		st, err := b.w.PrepareContext(ctx, insertEventsSQL(insertSizes[i]))
		if err != nil {
			return fmt.Errorf("sqlite: prepare event insert: %w", err)
		}
		b.inserts[i].Store(st)
	}
	return nil
}

// argsPool holds argument slices of InsertEvents (chunk × 10 values).
var argsPool = sync.Pool{New: func() any { s := make([]any, 0, chunk*10); return &s }}

// insertEventsSQL is the multi-row insert of n events.
func insertEventsSQL(n int) string {
	const row = "(?,?,?,?,?,?,?,?,?,?)"
	return `INSERT INTO usage_events (` + sqlcore.EventCols + `, lago_next_attempt_at, lago_updated_at) VALUES ` +
		strings.TrimSuffix(strings.Repeat(row+",", n), ",") +
		` ON CONFLICT (tenant_id, transaction_id) DO NOTHING`
}

func (b *backend) InsertEvents(ctx context.Context, c sqlcore.Conn, events []store.UsageEvent) (int, error) {
	tx, ok := c.(sqlcore.SQLTx)
	if !ok {
		return 0, fmt.Errorf("sqlite insert events: unexpected connection %T", c)
	}
	inserted := 0
	// The argument slice of a full chunk is 5,000 interfaces (80 KB);
	// batches arrive back to back during ingest, so it is reused.
	argp := argsPool.Get().(*[]any)
	args := (*argp)[:0]
	defer func() {
		clear(args) // drop the references to this batch's strings
		*argp = args[:0]
		argsPool.Put(argp)
	}()
	start := 0
	for size := range parts(len(events)) {
		part := events[start : start+insertSizes[size]]
		start += len(part)
		var st *sql.Stmt
		if prepared := b.inserts[size].Load(); prepared != nil {
			// Prepared on the (only) writer connection, which this
			// transaction holds: Tx.StmtContext finds it there.
			st = tx.Tx.StmtContext(ctx, prepared)
		} else {
			// Not prepared ahead, because the batch is written inside
			// a caller's store.Tx: a statement for this transaction.
			var err error
			if st, err = tx.Tx.PrepareContext(ctx, insertEventsSQL(insertSizes[size])); err != nil {
				return 0, err
			}
		}
		args = args[:0]
		for _, e := range part {
			args = append(args, e.ID, e.TenantID, e.Metric, e.Quantity, string(e.Properties), e.TransactionID,
				e.OccurredAt.UnixMicro(), e.ReceivedAt.UnixMicro(), e.ReceivedAt.UnixMicro(), e.ReceivedAt.UnixMicro())
		}
		res, err := st.ExecContext(ctx, args...)
		if err != nil {
			return 0, err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return 0, err
		}
		inserted += int(n)
	}
	return inserted, nil
}

func (b *backend) Ping(ctx context.Context) error {
	if err := b.r.PingContext(ctx); err != nil {
		return fmt.Errorf("ping sqlite: %w", err)
	}
	return nil
}

func (b *backend) Close() error {
	var errs []error
	for i := range b.inserts {
		if st := b.inserts[i].Load(); st != nil {
			errs = append(errs, st.Close())
		}
	}
	return errors.Join(append(errs, b.reads.close(), b.r.Close(), b.w.Close())...)
}
