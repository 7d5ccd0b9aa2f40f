package postgres_test

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver for goose

	"github.com/fast-saas/fast-saas/internal/store"
	"github.com/fast-saas/fast-saas/internal/store/postgres"
)

// TestUsageDailyBackfill migrates, as the application role (not a
// superuser, so row-level security applies to it), a database that already
// holds events to the version with daily totals, and checks the totals
// count those events.
func TestUsageDailyBackfill(t *testing.T) {
	t.Parallel()
	dsn, _ := appDatabase(t)
	ctx := context.Background()
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	mig, err := postgres.NewMigrator(db)
	if err != nil {
		t.Fatal(err)
	}
	const before = 5 // the last version without usage_daily
	if _, err := mig.UpTo(ctx, before); err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	at := time.Date(2026, 3, 10, 15, 0, 0, 0, time.UTC)
	tenant := store.NewID()
	err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT set_config('app.bypass_rls', 'on', true)`); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO tenants (id, slug, name, plan, status, created_at, updated_at) VALUES ($1, 'old', 'Old', 'free', 'active', $2, $2)`, tenant, at); err != nil {
			return err
		}
		for i, q := range []float64{2, 3.5} {
			if _, err := tx.Exec(ctx, `INSERT INTO usage_events (id, tenant_id, metric, quantity, transaction_id, occurred_at, received_at, lago_next_attempt_at, lago_updated_at)
				VALUES ($1, $2, 'api_calls', $3, $4, $5, $5, $5, $5)`, store.NewID(), tenant, q, string(rune('a'+i)), at.Add(time.Duration(i)*time.Hour)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := mig.Up(ctx); err != nil {
		t.Fatalf("migrate up: %v", err)
	}
	var quantity float64
	var events int64
	err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT set_config('app.bypass_rls', 'on', true)`); err != nil {
			return err
		}
		return tx.QueryRow(ctx, `SELECT quantity, events FROM usage_daily WHERE tenant_id = $1 AND metric = 'api_calls' AND day = $2`,
			tenant, at.Unix()/86400).Scan(&quantity, &events)
	})
	if err != nil || quantity != 5.5 || events != 2 {
		t.Fatalf("usage_daily after the upgrade = %v, %d events, %v; want 5.5 in 2 events", quantity, events, err)
	}
}
