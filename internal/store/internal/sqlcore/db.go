package sqlcore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/fast-saas/fast-saas/internal/store"
)

// DB implements store.Store over a Backend.
type DB struct {
	be    Backend
	plans store.PlanSet
	now   func() time.Time
	tx    TxConn // non-nil inside Tx
}

var _ store.Store = (*DB)(nil)

// New returns a store over be. plans are the valid plan ids (nil = the
// defaults); now is the clock (nil = time.Now).
func New(be Backend, plans []string, now func() time.Time) *DB {
	if len(plans) == 0 {
		plans = store.DefaultPlans
	}
	if now == nil {
		now = time.Now
	}
	return &DB{be: be, plans: store.PlanSet(plans), now: now}
}

// Backend returns the dialect backend (for tests and benchmarks of the package that made it).
func (d *DB) Backend() Backend { return d.be }

// Ping checks the database answers.
func (d *DB) Ping(ctx context.Context) error { return d.be.Ping(ctx) }

// Close releases the connections.
func (d *DB) Close() error { return d.be.Close() }

// clock returns now in UTC at the precision both backends store (µs).
func (d *DB) clock() time.Time { return norm(d.now()) }

func norm(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

func (d *DB) t(t time.Time) any { return d.be.Time(norm(t)) }

func (d *DB) tp(t *time.Time) any {
	if t == nil {
		return nil
	}
	return d.t(*t)
}

func normPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	n := norm(*t)
	return &n
}

// errNested is returned by Tx called inside Tx.
var errNested = errors.New("store: nested Tx")

// Tx runs fn in one write transaction.
func (d *DB) Tx(ctx context.Context, fn func(tx store.Tx) error) (err error) {
	if d.tx != nil {
		return errNested
	}
	tx, err := d.be.Begin(ctx, true)
	if err != nil {
		return d.fail("begin", err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback(context.WithoutCancel(ctx))
		}
	}()
	if err = fn(&DB{be: d.be, plans: d.plans, now: d.now, tx: tx}); err != nil {
		return err
	}
	if err = tx.Commit(ctx); err != nil {
		return d.fail("commit", err)
	}
	return nil
}

// run executes fn in the ambient transaction, or in a new one, scoped to
// tenantID (PlatformScope for platform-wide calls).
func (d *DB) run(ctx context.Context, scope string, write bool, fn func(c Conn) error) (err error) {
	if d.tx != nil {
		if err := d.be.Scope(ctx, d.tx, scope); err != nil {
			return d.fail("set scope", err)
		}
		return fn(d.tx)
	}
	tx, err := d.be.Begin(ctx, write)
	if err != nil {
		return d.fail("begin", err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback(context.WithoutCancel(ctx))
		}
	}()
	if err = d.be.Scope(ctx, tx, scope); err != nil {
		return d.fail("set scope", err)
	}
	if err = fn(tx); err != nil {
		return err
	}
	if err = tx.Commit(ctx); err != nil {
		return d.fail("commit", err)
	}
	return nil
}

// fail wraps err with the operation name, turning driver errors caused by
// the caller (unique and foreign-key violations) into typed store errors,
// and a database that cannot be reached into store.ErrUnavailable.
func (d *DB) fail(op string, err error) error {
	if err == nil {
		return nil
	}
	for _, typed := range []error{store.ErrNotFound, store.ErrConflict, store.ErrInvalid, store.ErrLastOwner, store.ErrUnavailable} {
		if errors.Is(err, typed) {
			return fmt.Errorf("%s: %w", op, err)
		}
	}
	if detail, kind := d.be.Classify(err); kind != nil {
		return fmt.Errorf("%s: %w: %s", op, kind, detail)
	}
	return fmt.Errorf("%s: %w", op, err)
}

func notFound(what string) error { return fmt.Errorf("%w: %s", store.ErrNotFound, what) }

// ts scans a timestamp stored as µs since the epoch (SQLite) or a
// timestamptz (Postgres); NULL leaves ok false.
type ts struct {
	t  time.Time
	ok bool
}

func (s *ts) Scan(v any) error {
	switch x := v.(type) {
	case nil:
		s.ok = false
	case int64:
		s.t, s.ok = time.UnixMicro(x).UTC(), true
	case time.Time:
		s.t, s.ok = x.UTC(), true
	default:
		return fmt.Errorf("scan timestamp: unsupported %T", v)
	}
	return nil
}

func (s ts) ptr() *time.Time {
	if !s.ok {
		return nil
	}
	t := s.t
	return &t
}

// nullStr scans a nullable text/uuid column; NULL becomes "".
type nullStr string

func (s *nullStr) Scan(v any) error {
	switch x := v.(type) {
	case nil:
		*s = ""
	case string:
		*s = nullStr(x)
	case []byte:
		*s = nullStr(x)
	case [16]byte: // uuid in binary form
		*s = nullStr(fmt.Sprintf("%x-%x-%x-%x-%x", x[0:4], x[4:6], x[6:8], x[8:10], x[10:16]))
	default:
		return fmt.Errorf("scan text: unsupported %T", v)
	}
	return nil
}

// orNil turns "" into NULL for nullable columns.
func orNil(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// page resolves the limit and the decoded cursor key of p.
func page(p store.Page, parts int) (int, []string, error) {
	limit, err := store.PageLimit(p)
	if err != nil {
		return 0, nil, err
	}
	key, err := store.DecodeCursor(p.Cursor, parts)
	if err != nil {
		return 0, nil, err
	}
	return limit, key, nil
}

// trim cuts a fetched limit+1 slice to limit and returns the next cursor.
func trim[T any](items []T, limit int, key func(T) []string) ([]T, string) {
	if len(items) <= limit {
		return items, ""
	}
	items = items[:limit]
	return items, store.EncodeCursor(key(items[limit-1])...)
}
