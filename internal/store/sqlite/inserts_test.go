package sqlite

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/fast-saas/fast-saas/internal/store"
	"github.com/fast-saas/fast-saas/internal/store/internal/sqlcore"
)

func TestParts(t *testing.T) {
	rows := func(n int) []int {
		var out []int
		for i := range parts(n) {
			out = append(out, insertSizes[i])
		}
		return out
	}
	for n, want := range map[int][]int{
		0:    nil,
		1:    {1},
		3:    {1, 1, 1},
		399:  {256, 64, 64, 4, 4, 4, 1, 1, 1},
		500:  {500},
		1001: {500, 500, 1},
	} {
		if got := rows(n); !slices.Equal(got, want) {
			t.Errorf("parts(%d) = %v, want %v", n, got, want)
		}
	}
	for n := range 2000 {
		sum, runs := 0, map[int]int{}
		for i := range parts(n) {
			sum += insertSizes[i]
			runs[i]++
		}
		if sum != n {
			t.Fatalf("parts(%d) writes %d rows", n, sum)
		}
		for i, k := range runs {
			if i > 0 && k > 3 {
				t.Fatalf("parts(%d) runs the %d-row insert %d times", n, insertSizes[i], k)
			}
		}
	}
}

// Insert statements are prepared when a batch first needs them, outside
// the write transaction. Batches of every size, at once, from many
// goroutines: each must be stored whole, and none may wait forever for
// the writer connection held by another's transaction.
func TestInsertsPreparedOnFirstUse(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := Open(ctx, Options{Path: filepath.Join(t.TempDir(), "i.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	be := st.(*sqlcore.DB).Backend().(*backend)
	for i := range be.inserts {
		if be.inserts[i].Load() != nil {
			t.Fatalf("the %d-row insert was prepared by Open", insertSizes[i])
		}
	}
	tn, err := st.CreateTenant(ctx, store.Tenant{Slug: "t", Name: "T", Plan: "free"}, "")
	if err != nil {
		t.Fatal(err)
	}
	sizes := []int{1, 3, 17, 70, 260, 500, 777, 1001}
	errc := make(chan error, len(sizes))
	now := time.Now()
	for g, n := range sizes {
		go func() {
			batch := make([]store.UsageEvent, n)
			for i := range batch {
				batch[i] = store.UsageEvent{TenantID: tn.ID, Metric: "m", Quantity: 1,
					TransactionID: fmt.Sprintf("g%d-%d", g, i), OccurredAt: now}
			}
			inserted, dup, err := st.InsertUsageBatch(ctx, batch)
			if err == nil && (inserted != n || dup != 0) {
				err = fmt.Errorf("batch of %d: %d inserted, %d duplicates", n, inserted, dup)
			}
			errc <- err
		}()
	}
	for range sizes {
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	}
	for i := range be.inserts {
		if be.inserts[i].Load() == nil {
			t.Errorf("the %d-row insert was never prepared", insertSizes[i])
		}
	}
}

// Inside a caller's transaction the writer connection is taken, so a batch
// whose statements are not prepared yet prepares them on the transaction.
func TestInsertsInsideTx(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := Open(ctx, Options{Path: filepath.Join(t.TempDir(), "tx.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	tn, err := st.CreateTenant(ctx, store.Tenant{Slug: "t", Name: "T", Plan: "free"}, "")
	if err != nil {
		t.Fatal(err)
	}
	batch := make([]store.UsageEvent, 21) // 16 + 4 + 1
	for i := range batch {
		batch[i] = store.UsageEvent{TenantID: tn.ID, Metric: "m", Quantity: 2, TransactionID: fmt.Sprint(i), OccurredAt: time.Now()}
	}
	err = st.Tx(ctx, func(tx store.Tx) error {
		inserted, _, err := tx.InsertUsageBatch(ctx, batch)
		if err == nil && inserted != len(batch) {
			err = fmt.Errorf("%d inserted, want %d", inserted, len(batch))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	got, _, err := st.ListUsageEvents(ctx, tn.ID, store.UsageFilter{}, store.Page{Limit: 100})
	if err != nil || len(got) != len(batch) {
		t.Fatalf("after the transaction: %d events, %v", len(got), err)
	}
}
