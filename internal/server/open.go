package server

import (
	"context"
	"errors"
	"fmt"

	"github.com/fast-saas/fast-saas/internal/config"
	"github.com/fast-saas/fast-saas/internal/store"
	"github.com/fast-saas/fast-saas/internal/store/sqlite"
)

// openStore picks the backend: Postgres with DATABASE_URL, else SQLite in
// the data directory. Migrations run on open.
func openStore(ctx context.Context, cfg config.Config) (store.Store, error) {
	if cfg.DatabaseURL != "" {
		return nil, errors.New("DATABASE_URL: the Postgres backend is not available in this build yet")
	}
	st, err := sqlite.Open(ctx, sqlite.Options{Path: cfg.SQLitePath()})
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	return st, nil
}
