// Package backend picks and opens the store backend from configuration:
// Postgres when DatabaseURL is a postgres:// URL, otherwise the embedded
// SQLite file in DataDir. Open applies pending migrations; Migrator gives
// the `fast-saas migrate` command explicit control over them.
package backend

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"

	"github.com/fast-saas/fast-saas/internal/store"
	"github.com/fast-saas/fast-saas/internal/store/postgres"
	"github.com/fast-saas/fast-saas/internal/store/sqlite"
)

// Options select and configure the backend.
type Options struct {
	// DatabaseURL (DATABASE_URL): postgres:// or postgresql:// selects
	// Postgres. Empty selects SQLite.
	DatabaseURL string
	// DataDir (FASTSAAS_DATA_DIR) holds the SQLite file when DatabaseURL is empty ("" = ./data).
	DataDir string
	// Plans are the valid plan ids (nil = store.DefaultPlans).
	Plans []string
	// Now is the clock (nil = time.Now).
	Now func() time.Time
}

// DefaultDataDir is where the SQLite database lives by default.
const DefaultDataDir = "./data"

// Postgres reports whether url selects the Postgres backend.
func Postgres(url string) bool {
	return strings.HasPrefix(url, "postgres://") || strings.HasPrefix(url, "postgresql://")
}

// SQLitePath is the database file used when DatabaseURL is empty.
func (o Options) SQLitePath() string {
	dir := o.DataDir
	if dir == "" {
		dir = DefaultDataDir
	}
	return filepath.Join(dir, sqlite.DefaultFile)
}

// Name describes the selected backend without secrets ("postgres" or "sqlite <path>").
func (o Options) Name() string {
	if o.DatabaseURL != "" {
		return "postgres"
	}
	return "sqlite " + o.SQLitePath()
}

func (o Options) check() error {
	if o.DatabaseURL != "" && !Postgres(o.DatabaseURL) {
		return errors.New("DATABASE_URL must be a postgres:// or postgresql:// URL (leave it empty for the embedded SQLite database)")
	}
	return nil
}

// Open opens the selected backend and applies pending migrations.
func Open(ctx context.Context, o Options) (store.Store, error) {
	if err := o.check(); err != nil {
		return nil, err
	}
	if o.DatabaseURL != "" {
		s, err := postgres.Open(ctx, postgres.Options{URL: o.DatabaseURL, Plans: o.Plans, Now: o.Now})
		if err != nil {
			return nil, fmt.Errorf("open store: %w", err)
		}
		return s, nil
	}
	s, err := sqlite.Open(ctx, sqlite.Options{Path: o.SQLitePath(), Plans: o.Plans, Now: o.Now})
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	return s, nil
}

// Migrator runs the selected backend's embedded migrations.
type Migrator struct {
	*goose.Provider
	close func() error
}

// Close releases the database connection.
func (m *Migrator) Close() error { return m.close() }

// NewMigrator connects to the selected backend (without migrating).
func NewMigrator(ctx context.Context, o Options) (*Migrator, error) {
	if err := o.check(); err != nil {
		return nil, err
	}
	var (
		db      *sql.DB
		closeFn func() error
		p       *goose.Provider
		err     error
	)
	if o.DatabaseURL != "" {
		var pool *pgxpool.Pool
		if pool, err = postgres.OpenPool(ctx, o.DatabaseURL, 2); err != nil {
			return nil, err
		}
		db = stdlib.OpenDBFromPool(pool)
		closeFn = func() error { err := db.Close(); pool.Close(); return err }
		p, err = postgres.NewMigrator(db)
	} else {
		if db, err = sqlite.OpenDB(o.SQLitePath()); err != nil {
			return nil, err
		}
		closeFn = db.Close
		p, err = sqlite.NewMigrator(db)
	}
	if err != nil {
		_ = closeFn()
		return nil, err
	}
	return &Migrator{Provider: p, close: closeFn}, nil
}
