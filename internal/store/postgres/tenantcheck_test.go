package postgres_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/fast-saas/fast-saas/internal/store"
)

// TestUsageTenantIntegrity covers what the usage_events → tenants foreign
// key did before migration 00004 replaced it with a per-batch check: a
// batch naming a tenant being deleted waits for the delete and then fails
// (no orphan events), and deleting a tenant deletes its events.
func TestUsageTenantIntegrity(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _, admin := openBoth(t, nil)
	keep, err := s.CreateTenant(ctx, store.Tenant{Slug: "keep", Name: "K", Plan: "free"}, "")
	if err != nil {
		t.Fatal(err)
	}
	gone, err := s.CreateTenant(ctx, store.Tenant{Slug: "gone", Name: "G", Plan: "free"}, "")
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	ev := func(tenant, tx string) store.UsageEvent {
		return store.UsageEvent{TenantID: tenant, Metric: "api_calls", Quantity: 1, TransactionID: tx, OccurredAt: at}
	}
	if ins, _, err := s.InsertUsageBatch(ctx, []store.UsageEvent{ev(keep.ID, "a"), ev(gone.ID, "a")}); err != nil || ins != 2 {
		t.Fatalf("InsertUsageBatch = %d, %v; want 2, nil", ins, err)
	}

	adminConn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatal(err)
	}
	defer adminConn.Close(ctx)
	deleting, err := adminConn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer deleting.Rollback(ctx)
	if _, err := deleting.Exec(ctx, `DELETE FROM tenants WHERE id = $1`, gone.ID); err != nil {
		t.Fatalf("delete tenant: %v", err)
	}

	// The batch must wait for the uncommitted delete (the tenant lock), then
	// find the tenant gone and store nothing.
	done := make(chan error, 1)
	go func() {
		_, _, err := s.InsertUsageBatch(ctx, []store.UsageEvent{ev(keep.ID, "b"), ev(gone.ID, "b")})
		done <- err
	}()
	waitForLockWait(t, deleting)
	select {
	case err := <-done:
		t.Fatalf("InsertUsageBatch returned %v while the tenant's delete was uncommitted; want it to wait", err)
	default:
	}
	if err := deleting.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-done; !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("InsertUsageBatch after the tenant's delete = %v, want ErrNotFound", err)
	}

	var keepN, goneN int
	if err := adminConn.QueryRow(ctx, `SELECT count(*) FILTER (WHERE tenant_id = $1), count(*) FILTER (WHERE tenant_id = $2) FROM usage_events`,
		keep.ID, gone.ID).Scan(&keepN, &goneN); err != nil {
		t.Fatal(err)
	}
	if keepN != 1 || goneN != 0 {
		t.Errorf("events left: kept tenant %d, deleted tenant %d; want 1 (the failed batch stored nothing), 0 (cascade)", keepN, goneN)
	}
}

// waitForLockWait polls (from a connection other than the one holding the
// lock) until some backend waits on a lock. No timing assertion: it only
// bounds how long a broken build can hang.
func waitForLockWait(t *testing.T, holder pgx.Tx) {
	t.Helper()
	ctx := context.Background()
	// The holder's connection is busy in its transaction, so ask through a
	// fresh one to the same database.
	cfg := holder.Conn().Config().Copy()
	probe, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer probe.Close(ctx)
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		var waiting int
		if err := probe.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		if waiting > 0 {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("no backend waited on the deleted tenant's lock within 30 s")
}
