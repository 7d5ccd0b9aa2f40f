// Package sqlitetest opens migrated SQLite stores for tests, fast.
//
// Running the migrations is most of what sqlite.Open costs on a new file,
// and under -race it is ≈ 100 ms, because SQLite's parser is Go code
// translated from C and every memory access of it is checked. Tests that
// open a store per case (the authorization matrix opens hundreds) pay it
// once per test binary instead: the migrations run into a template file,
// and each store starts from a copy of it. sqlite.Open still runs on the
// copy and finds nothing to apply. Tests of the migrations themselves open
// new files with sqlite.Open, as serve does.
package sqlitetest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/fast-saas/fast-saas/internal/store"
	"github.com/fast-saas/fast-saas/internal/store/sqlite"
)

var (
	once     sync.Once
	template []byte // a migrated database file, WAL checkpointed into it
	errTmpl  error
)

// Open opens a migrated store at opts.Path (a file in t.TempDir() when
// empty), which must not exist yet, and closes it when the test ends.
func Open(t testing.TB, opts sqlite.Options) store.Store {
	t.Helper()
	once.Do(func() { template, errTmpl = migrated() })
	if errTmpl != nil {
		t.Fatalf("sqlitetest: template database: %v", errTmpl)
	}
	if opts.Path == "" {
		opts.Path = filepath.Join(t.TempDir(), "test.db")
	}
	// O_EXCL: a test that points two stores at one path is a mistake.
	f, err := os.OpenFile(opts.Path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		t.Fatalf("sqlitetest: %v", err)
	}
	_, err = f.Write(template)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatalf("sqlitetest: copy template: %v", err)
	}
	st, err := sqlite.Open(context.Background(), opts)
	if err != nil {
		t.Fatalf("sqlitetest: open: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// migrated returns the bytes of a new database with every migration
// applied.
func migrated() ([]byte, error) {
	dir, err := os.MkdirTemp("", "fastsaas-sqlitetest-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "template.db")
	db, err := sqlite.OpenDB(path)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	mig, err := sqlite.NewMigrator(db)
	if err != nil {
		return nil, err
	}
	if _, err := mig.Up(context.Background()); err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	// Everything into the main file, so that the file alone is the database.
	if _, err := db.Exec("PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	return os.ReadFile(path)
}
