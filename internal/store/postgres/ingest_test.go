package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/fast-saas/fast-saas/internal/store"
)

// TestInsertUsageBatchOutlivesDeadlock: a batch whose events another
// transaction is storing at the same time, in the other order, deadlocks
// with it. Postgres aborts one side; when that is the batch's plain INSERT,
// the batch is moved again with ON CONFLICT DO NOTHING and reports the
// events as duplicates instead of failing.
func TestInsertUsageBatchOutlivesDeadlock(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _, admin := openBoth(t, nil)
	tn, err := s.CreateTenant(ctx, store.Tenant{Slug: "dead", Name: "D", Plan: "free"}, "")
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	ev := func(tx string) store.UsageEvent {
		return store.UsageEvent{TenantID: tn.ID, Metric: "api_calls", Quantity: 1, TransactionID: tx, OccurredAt: at}
	}

	other, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close(ctx)
	tx, err := other.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	// The batch's backend has waited longer, so its deadlock check (after
	// the default deadlock_timeout, 1 s) runs first and makes it the victim;
	// this side's later check would pick this side instead.
	if _, err := tx.Exec(ctx, `SET LOCAL deadlock_timeout = '30s'`); err != nil {
		t.Fatal(err)
	}
	const insert = `INSERT INTO usage_events (id, tenant_id, metric, quantity, properties, transaction_id, occurred_at, received_at, lago_next_attempt_at, lago_updated_at)
		VALUES (gen_random_uuid(), $1, 'api_calls', 1, '{}', $2, $3, $3, $3, $3)`
	if _, err := tx.Exec(ctx, insert, tn.ID, "k1", at); err != nil {
		t.Fatal(err)
	}

	type result struct {
		ins, dup int
		err      error
	}
	done := make(chan result, 1)
	go func() {
		// Stores k2, then waits for the other transaction's k1.
		ins, dup, err := s.InsertUsageBatch(ctx, []store.UsageEvent{ev("k2"), ev("k1")})
		done <- result{ins, dup, err}
	}()
	waitForLockWait(t, tx)
	// Waits for the batch's k2: a deadlock, which aborts the batch's INSERT
	// and its k2, so this returns.
	if _, err := tx.Exec(ctx, insert, tn.ID, "k2", at); err != nil {
		t.Fatalf("the other transaction's k2: %v", err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.err != nil || r.ins != 0 || r.dup != 2 {
		t.Fatalf("InsertUsageBatch = %d inserted, %d duplicates, %v; want 0, 2, nil", r.ins, r.dup, r.err)
	}
	var stored int
	if err := other.QueryRow(ctx, `SELECT count(*) FROM usage_events WHERE tenant_id = $1`, tn.ID).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if stored != 2 {
		t.Errorf("stored %d events, want 2", stored)
	}
	daily, err := s.UsageDaily(ctx, tn.ID, "", at.Truncate(24*time.Hour), at.Truncate(24*time.Hour).Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(daily) != 0 {
		t.Errorf("usage_daily after a batch that stored nothing = %+v, want no rows (this test's own inserts bypass it)", daily)
	}
}
