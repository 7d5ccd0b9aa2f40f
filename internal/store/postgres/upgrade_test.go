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

// TestUpgradeAsAppRole migrates a database that already holds events, as
// the application role (not a superuser, so row-level security applies to
// the migrations too), from the first schema to the newest and back: the
// migrations that move or sum every tenant's rows must see them all.
//
//   - 3 moves each event's Lago state from lago_outbox onto the event row
//     (its Down moves it back);
//   - 6 sums the stored events into usage_daily.
func TestUpgradeAsAppRole(t *testing.T) {
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
	if _, err := mig.UpTo(ctx, 2); err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	// platform runs fn with the store's platform scope, as the migrations
	// would need it.
	platform := func(fn func(tx pgx.Tx) error) error {
		return pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `SELECT set_config('app.bypass_rls', 'on', true)`); err != nil {
				return err
			}
			return fn(tx)
		})
	}
	at := time.Date(2026, 3, 10, 15, 0, 0, 0, time.UTC)
	tenant := store.NewID()
	events := []string{store.NewID(), store.NewID()}
	err = platform(func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO tenants (id, slug, name, plan, status, created_at, updated_at) VALUES ($1, 'old', 'Old', 'free', 'active', $2, $2)`, tenant, at); err != nil {
			return err
		}
		for i, q := range []float64{2, 3.5} {
			if _, err := tx.Exec(ctx, `INSERT INTO usage_events (id, tenant_id, metric, quantity, transaction_id, occurred_at, received_at)
				VALUES ($1, $2, 'api_calls', $3, $4, $5, $5)`, events[i], tenant, q, events[i], at.Add(time.Duration(i)*time.Hour)); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `INSERT INTO lago_outbox (id, tenant_id, kind, event_id, status, attempts, last_error, next_attempt_at, created_at, updated_at)
				VALUES ($1, $2, 'event', $1, 'pending', 2, 'lago: 503', $3, $3, $3)`, events[i], tenant, at); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	if _, err := mig.Up(ctx); err != nil {
		t.Fatalf("migrate up as the application role: %v", err)
	}
	var moved int
	var quantity float64
	var counted int64
	err = platform(func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM usage_events WHERE tenant_id = $1 AND lago_attempts = 2 AND lago_last_error = 'lago: 503'`, tenant).Scan(&moved); err != nil {
			return err
		}
		return tx.QueryRow(ctx, `SELECT quantity, events FROM usage_daily WHERE tenant_id = $1 AND metric = 'api_calls' AND day = $2`,
			tenant, at.Unix()/86400).Scan(&quantity, &counted)
	})
	if err != nil || moved != 2 || quantity != 5.5 || counted != 2 {
		t.Fatalf("after the upgrade: %d events carry their Lago state, usage_daily %v in %d events (%v); want 2, and 5.5 in 2 events",
			moved, quantity, counted, err)
	}

	if _, err := mig.DownTo(ctx, 2); err != nil {
		t.Fatalf("migrate down to 2 as the application role: %v", err)
	}
	var back int
	err = platform(func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT count(*) FROM lago_outbox WHERE tenant_id = $1 AND kind = 'event' AND attempts = 2`, tenant).Scan(&back)
	})
	if err != nil || back != 2 {
		t.Fatalf("after rolling back to 2: %d event rows in lago_outbox with their state (%v), want 2", back, err)
	}
}
