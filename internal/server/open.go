package server

import (
	"context"
	"fmt"

	"github.com/fast-saas/fast-saas/internal/config"
	"github.com/fast-saas/fast-saas/internal/store"
	"github.com/fast-saas/fast-saas/internal/store/postgres"
	"github.com/fast-saas/fast-saas/internal/store/sqlite"
)

// openStore picks the backend: Postgres with DATABASE_URL, else SQLite in
// the data directory. Migrations run on open.
func openStore(ctx context.Context, cfg config.Config, plans []string) (store.Store, error) {
	if cfg.DatabaseURL != "" {
		st, err := postgres.Open(ctx, postgres.Options{URL: cfg.DatabaseURL, Plans: plans})
		if err != nil {
			return nil, fmt.Errorf("open postgres store: %w", err)
		}
		return st, nil
	}
	st, err := sqlite.Open(ctx, sqlite.Options{Path: cfg.SQLitePath(), Plans: plans})
	if err != nil {
		return nil, fmt.Errorf("open sqlite store: %w", err)
	}
	return st, nil
}
