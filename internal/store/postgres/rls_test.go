package postgres_test

import (
	"context"
	"crypto/sha256"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/fast-saas/fast-saas/internal/store"
)

// tenantTables are the tables under row-level security and the column that
// holds the tenant.
var tenantTables = []struct{ table, column string }{
	{"tenants", "id"},
	{"memberships", "tenant_id"},
	{"api_keys", "tenant_id"},
	{"usage_events", "tenant_id"},
	{"usage_daily", "tenant_id"},
	{"lago_outbox", "tenant_id"},
	{"audit_log", "tenant_id"},
	{"tenant_overrides", "tenant_id"},
}

// seed gives a tenant one row in every tenant-scoped table.
func seed(t *testing.T, s store.Store, slug string) store.Tenant {
	t.Helper()
	ctx := context.Background()
	u, err := s.CreateUser(ctx, store.User{Email: slug + "@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	tn, err := s.CreateTenant(ctx, store.Tenant{Slug: slug, Name: slug, Plan: "free"}, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.Sum256([]byte(slug))
	if _, err := s.CreateAPIKey(ctx, store.APIKey{TenantID: tn.ID, Name: "k", Hash: h[:]}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.InsertUsageBatch(ctx, []store.UsageEvent{{TenantID: tn.ID, Metric: "api_calls", Quantity: 1, TransactionID: "t", OccurredAt: time.Now()}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.EnqueueOutbox(ctx, store.OutboxItem{TenantID: tn.ID, Kind: store.OutboxKindCreateCustomer}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AppendAudit(ctx, store.AuditEntry{TenantID: tn.ID, Principal: "platform", Action: "seed"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SetOverrides(ctx, tn.ID, store.PlanOverrides{Features: map[string]bool{"sso": true}}); err != nil {
		t.Fatal(err)
	}
	return tn
}

// TestRowLevelSecurity connects as the application role (not a superuser,
// owner of the tables) and proves the policies: no tenant setting → no rows;
// tenant A's setting → only A's rows; A's setting cannot write B's rows.
func TestRowLevelSecurity(t *testing.T) {
	t.Parallel()
	s, dsn := open(t, nil)
	a, b := seed(t, s, "rls-a"), seed(t, s, "rls-b")
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)

	var super, bypass bool
	if err := conn.QueryRow(ctx, `SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user`).Scan(&super, &bypass); err != nil {
		t.Fatal(err)
	}
	if super || bypass {
		t.Fatalf("test role is superuser=%v bypassrls=%v: RLS would not apply", super, bypass)
	}

	scoped := func(tenant, bypassRLS string, fn func(tx pgx.Tx)) {
		t.Helper()
		tx, err := conn.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback(ctx)
		if tenant != "" || bypassRLS != "" {
			if _, err := tx.Exec(ctx, `SELECT set_config('app.tenant_id', $1, true), set_config('app.bypass_rls', $2, true)`, tenant, bypassRLS); err != nil {
				t.Fatal(err)
			}
		}
		fn(tx)
	}
	count := func(tx pgx.Tx, q string, args ...any) int {
		t.Helper()
		var n int
		if err := tx.QueryRow(ctx, q, args...).Scan(&n); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		return n
	}

	for _, tt := range tenantTables {
		t.Run(tt.table, func(t *testing.T) {
			var forced bool
			if err := conn.QueryRow(ctx, `SELECT relforcerowsecurity FROM pg_class WHERE oid = $1::regclass`, tt.table).Scan(&forced); err != nil || !forced {
				t.Errorf("%s: FORCE ROW LEVEL SECURITY = %v (%v), want true", tt.table, forced, err)
			}
			all := `SELECT count(*) FROM ` + tt.table
			scoped("", "", func(tx pgx.Tx) {
				if n := count(tx, all); n != 0 {
					t.Errorf("no tenant setting: %s shows %d rows, want 0", tt.table, n)
				}
			})
			scoped(a.ID, "off", func(tx pgx.Tx) {
				mine := count(tx, all+` WHERE `+tt.column+` = $1`, a.ID)
				if n := count(tx, all); n != mine || mine == 0 {
					t.Errorf("tenant A setting: %s shows %d rows, %d of them A's; want only A's (> 0)", tt.table, n, mine)
				}
				if n := count(tx, all+` WHERE `+tt.column+` = $1`, b.ID); n != 0 {
					t.Errorf("tenant A setting: %s shows %d of B's rows even when asked by id", tt.table, n)
				}
			})
			scoped("", "on", func(tx pgx.Tx) {
				if n := count(tx, all+` WHERE `+tt.column+` IN ($1, $2)`, a.ID, b.ID); n < 2 {
					t.Errorf("platform bypass: %s shows %d rows, want both tenants'", tt.table, n)
				}
			})
		})
	}

	// Writes: with A's setting, B's rows can be neither changed nor created.
	scoped(a.ID, "off", func(tx pgx.Tx) {
		tag, err := tx.Exec(ctx, `UPDATE tenants SET name = 'pwned' WHERE id = $1`, b.ID)
		if err != nil || tag.RowsAffected() != 0 {
			t.Errorf("update B's tenant under A's setting: %d rows, %v; want 0 rows", tag.RowsAffected(), err)
		}
	})
	scoped(a.ID, "off", func(tx pgx.Tx) {
		_, err := tx.Exec(ctx, `INSERT INTO audit_log (id, tenant_id, principal, action, at) VALUES ($1, $2, 'x', 'x', now())`, store.NewID(), b.ID)
		if err == nil {
			t.Error("insert a row for tenant B under A's setting succeeded, want a row-level security violation")
		}
	})
	// The setting is transaction-local: it does not leak into the next transaction on the connection.
	scoped(a.ID, "off", func(pgx.Tx) {})
	scoped("", "", func(tx pgx.Tx) {
		if n := count(tx, `SELECT count(*) FROM api_keys`); n != 0 {
			t.Errorf("after a scoped transaction the connection still sees %d keys", n)
		}
	})

	// Reads outside Tx send set_config and the query as one pipeline (one
	// Sync): the scope must apply to the query and end with it.
	batch := &pgx.Batch{}
	batch.Queue(`SELECT set_config('app.tenant_id', $1, true), set_config('app.bypass_rls', 'off', true)`, a.ID)
	batch.Queue(`SELECT count(*) FROM api_keys`)
	br := conn.SendBatch(ctx, batch)
	if _, err := br.Exec(); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := br.QueryRow().Scan(&n); err != nil || n != 1 {
		t.Errorf("pipelined scoped read saw %d keys (%v), want A's 1", n, err)
	}
	if err := br.Close(); err != nil {
		t.Fatal(err)
	}
	var after string
	if err := conn.QueryRow(ctx, `SELECT coalesce(current_setting('app.tenant_id', true), '')`).Scan(&after); err != nil || after != "" {
		t.Errorf("after a pipelined read the connection keeps app.tenant_id = %q (%v), want empty", after, err)
	}
}
