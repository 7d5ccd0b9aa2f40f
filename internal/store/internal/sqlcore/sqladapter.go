package sqlcore

import (
	"context"
	"database/sql"
	"errors"
)

// SQLTx adapts a database/sql transaction to TxConn.
type SQLTx struct{ Tx *sql.Tx }

// Exec runs a statement and returns the number of rows affected.
func (t SQLTx) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	r, err := t.Tx.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	return r.RowsAffected()
}

// Query runs a query.
func (t SQLTx) Query(ctx context.Context, query string, args ...any) (Rows, error) {
	r, err := t.Tx.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return sqlRows{r}, nil
}

// QueryRow runs a query expected to return at most one row.
func (t SQLTx) QueryRow(ctx context.Context, query string, args ...any) Row {
	return sqlRow{t.Tx.QueryRowContext(ctx, query, args...)}
}

// Commit commits.
func (t SQLTx) Commit(context.Context) error { return t.Tx.Commit() }

// Rollback rolls back.
func (t SQLTx) Rollback(context.Context) error { return t.Tx.Rollback() }

type sqlRows struct{ *sql.Rows }

func (r sqlRows) Close() { _ = r.Rows.Close() }

type sqlRow struct{ r *sql.Row }

func (r sqlRow) Scan(dest ...any) error {
	err := r.r.Scan(dest...)
	if errors.Is(err, sql.ErrNoRows) {
		return ErrNoRows
	}
	return err
}
