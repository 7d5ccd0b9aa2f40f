package postgres_test

import (
	"context"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/fast-saas/fast-saas/internal/store"
	"github.com/fast-saas/fast-saas/internal/store/postgres"
	"github.com/fast-saas/fast-saas/internal/store/storetest"
	"github.com/fast-saas/fast-saas/internal/testenv"
)

// appDatabase returns the URL of a fresh database owned by a fresh
// NON-superuser role, connecting as that role (superusers bypass row-level
// security, so the store must be tested the way it runs in production),
// and the admin URL of the same database.
func appDatabase(t testing.TB) (app, admin string) {
	t.Helper()
	root := os.Getenv(testenv.PostgresVar)
	if root == "" {
		testenv.Postgres(t) // skips, or fails in CI, naming the variable
	}
	ctx := context.Background()
	role := "fst_app_" + testenv.Suffix()
	conn, err := pgx.Connect(ctx, root)
	if err != nil {
		testenv.Postgres(t) // same skip/fail handling for an unreachable server
		t.Fatalf("connect admin: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE ROLE "+role+" LOGIN NOSUPERUSER NOBYPASSRLS"); err != nil {
		t.Fatalf("create role: %v", err)
	}
	// Registered before testenv.Postgres, so it runs after the database is dropped.
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), root)
		if err != nil {
			t.Logf("drop role %s: %v", role, err)
			return
		}
		defer c.Close(context.Background())
		if _, err := c.Exec(context.Background(), "DROP ROLE IF EXISTS "+role); err != nil {
			t.Logf("drop role %s: %v", role, err)
		}
	})
	dbURL := testenv.Postgres(t)
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	name := strings.TrimPrefix(u.Path, "/")
	if _, err := conn.Exec(ctx, "ALTER DATABASE "+pgx.Identifier{name}.Sanitize()+" OWNER TO "+role); err != nil {
		t.Fatalf("alter database owner: %v", err)
	}
	u.User = url.User(role)
	return u.String(), dbURL
}

func open(t testing.TB, now func() time.Time) (store.Store, string) {
	t.Helper()
	s, dsn, _ := openBoth(t, now)
	return s, dsn
}

// openBoth opens the store as the app role and returns its URL and the admin URL.
func openBoth(t testing.TB, now func() time.Time) (store.Store, string, string) {
	t.Helper()
	dsn, admin := appDatabase(t)
	s, err := postgres.Open(context.Background(), postgres.Options{URL: dsn, Now: now})
	if err != nil {
		t.Fatalf("open postgres: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s, dsn, admin
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T, now func() time.Time) store.Store {
		s, _ := open(t, now)
		return s
	})
}
