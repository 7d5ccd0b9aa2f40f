package backend_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	_ "modernc.org/sqlite" // database/sql driver for the raw SQLite checks

	"github.com/fast-saas/fast-saas/internal/store"
	"github.com/fast-saas/fast-saas/internal/store/backend"
	"github.com/fast-saas/fast-saas/internal/testenv"
)

// TestUpgradeKeepsOutboxState writes an event and its Lago outbox row with
// the schema before the event rows took over the outbox state, migrates up,
// and checks the state (attempts, last error, due time) survives — then
// rolls back one step and checks it returns to lago_outbox.
func TestUpgradeKeepsOutboxState(t *testing.T) {
	t.Parallel()
	tenant, event := store.NewID(), store.NewID()
	due := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		name   string
		before int64 // last version with event rows in lago_outbox
		opts   func(t *testing.T) backend.Options
		exec   func(t *testing.T, o backend.Options, q string, args ...any)
		count  func(t *testing.T, o backend.Options, q string, args ...any) int
		at     func(time.Time) any
	}{
		{
			name: "sqlite", before: 1,
			opts: func(t *testing.T) backend.Options { return backend.Options{DataDir: t.TempDir()} },
			exec: func(t *testing.T, o backend.Options, q string, args ...any) {
				db := openSQLite(t, o)
				if _, err := db.Exec(q, args...); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			},
			count: func(t *testing.T, o backend.Options, q string, args ...any) int {
				var n int
				if err := openSQLite(t, o).QueryRow(q, args...).Scan(&n); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
				return n
			},
			at: func(t time.Time) any { return t.UnixMicro() },
		},
		{
			name: "postgres", before: 2,
			opts: func(t *testing.T) backend.Options { return backend.Options{DatabaseURL: testenv.Postgres(t)} },
			exec: func(t *testing.T, o backend.Options, q string, args ...any) {
				c := connectPG(t, o)
				if _, err := c.Exec(context.Background(), pgPlaceholders(q), args...); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			},
			count: func(t *testing.T, o backend.Options, q string, args ...any) int {
				var n int
				if err := connectPG(t, o).QueryRow(context.Background(), pgPlaceholders(q), args...).Scan(&n); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
				return n
			},
			at: func(t time.Time) any { return t },
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			o := tc.opts(t)
			m, err := backend.NewMigrator(ctx, o)
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			if _, err := m.UpTo(ctx, tc.before); err != nil {
				t.Fatal(err)
			}
			at := tc.at(due)
			tc.exec(t, o, `INSERT INTO tenants (id, slug, name, plan, status, created_at, updated_at) VALUES (?, 'up', 'Up', 'free', 'active', ?, ?)`, tenant, at, at)
			tc.exec(t, o, `INSERT INTO usage_events (id, tenant_id, metric, quantity, transaction_id, occurred_at, received_at) VALUES (?, ?, 'api_calls', 1, 'tx', ?, ?)`, event, tenant, at, at)
			// SQLite's old trigger already wrote the outbox row; Postgres's ingest did it explicitly.
			if tc.name == "postgres" {
				tc.exec(t, o, `INSERT INTO lago_outbox (id, tenant_id, kind, event_id, status, next_attempt_at, created_at, updated_at) VALUES (?, ?, 'event', ?, 'pending', ?, ?, ?)`, event, tenant, event, at, at, at)
			}
			tc.exec(t, o, `UPDATE lago_outbox SET attempts = 2, last_error = 'lago: 503' WHERE id = ?`, event)

			if _, err := m.Up(ctx); err != nil {
				t.Fatalf("Up: %v", err)
			}
			s, err := backend.Open(ctx, backend.Options{DatabaseURL: o.DatabaseURL, DataDir: o.DataDir, Now: func() time.Time { return due }})
			if err != nil {
				t.Fatal(err)
			}
			items, err := s.ClaimOutbox(ctx, 10, time.Minute)
			// The daily totals (a later migration) count the event stored before them.
			day := due.Truncate(24 * time.Hour)
			total, terr := s.UsageTotal(ctx, tenant, "api_calls", day, day.Add(24*time.Hour))
			s.Close()
			if terr != nil || total != 1 {
				t.Errorf("UsageTotal of the event's day after the upgrade = %v, %v; want 1", total, terr)
			}
			if err != nil || len(items) != 1 {
				t.Fatalf("ClaimOutbox after upgrade = %d items, %v; want the one event", len(items), err)
			}
			it := items[0]
			if it.ID != event || it.Kind != store.OutboxKindEvent || it.Attempts != 2 || it.LastError != "lago: 503" || it.Event == nil {
				t.Fatalf("upgraded outbox item = %+v; want event %s with 2 attempts and its last error", it, event)
			}
			if n := tc.count(t, o, `SELECT count(*) FROM lago_outbox`); n != 0 {
				t.Errorf("lago_outbox keeps %d event rows after the upgrade, want 0", n)
			}

			if _, err := m.DownTo(ctx, tc.before); err != nil {
				t.Fatalf("DownTo(%d): %v", tc.before, err)
			}
			if n := tc.count(t, o, `SELECT count(*) FROM lago_outbox WHERE id = ? AND attempts = 2 AND last_error = 'lago: 503'`, event); n != 1 {
				t.Errorf("after rolling back, lago_outbox has %d rows with the event's state, want 1", n)
			}
		})
	}
}

func openSQLite(t *testing.T, o backend.Options) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Clean(o.SQLitePath())+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func connectPG(t *testing.T, o backend.Options) *pgx.Conn {
	t.Helper()
	c, err := pgx.Connect(context.Background(), o.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

func pgPlaceholders(q string) string {
	out := make([]byte, 0, len(q)+8)
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] == '?' {
			n++
			out = append(out, '$')
			out = strconv.AppendInt(out, int64(n), 10)
			continue
		}
		out = append(out, q[i])
	}
	return string(out)
}
