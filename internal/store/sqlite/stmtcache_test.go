package sqlite

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fast-saas/fast-saas/internal/store"
)

func TestStmtCache(t *testing.T) {
	t.Parallel()
	db, err := OpenDB(filepath.Join(t.TempDir(), "c.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	c := newStmtCache(db)
	defer c.close()

	if st := c.get("SELECT 1"); st != nil {
		t.Fatalf("first get: %v; want a miss that prepares in the background", st)
	}
	c.wg.Wait()
	a := c.get("SELECT 1")
	if a == nil {
		t.Fatal("get after preparation: nil; want the prepared statement")
	}
	if b := c.get("SELECT 1"); b != a {
		t.Errorf("second get of the same text prepared again (%p != %p)", b, a)
	}
	c.get("SELEC nonsense")
	c.wg.Wait()
	if st := c.get("SELEC nonsense"); st != nil {
		t.Errorf("bad SQL: got %v; want it never cached", st)
	}
	c.get("SELECT 1 " + strings.Repeat(" ", maxCachedStmtLen))
	c.wg.Wait()
	if st := c.get("SELECT 1 " + strings.Repeat(" ", maxCachedStmtLen)); st != nil {
		t.Errorf("over-long text: got %v; want not cached", st)
	}
	for i := len(c.m); i < maxCachedStmts; i++ {
		c.get(fmt.Sprintf("SELECT %d", i+2))
	}
	c.wg.Wait()
	c.get("SELECT 'one too many'")
	c.wg.Wait()
	if st := c.get("SELECT 'one too many'"); st != nil {
		t.Errorf("full cache: got %v; want not cached", st)
	}
	if len(c.m) != maxCachedStmts {
		t.Errorf("cache holds %d statements, want %d", len(c.m), maxCachedStmts)
	}
}

// Reads through cached statements answer like uncached ones, including
// "no rows" and a text that is not cached.
func TestReadsThroughStmtCache(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, err := Open(ctx, Options{Path: filepath.Join(t.TempDir(), "r.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for i := range 3 {
		if _, err := st.CreateTenant(ctx, store.Tenant{Slug: fmt.Sprintf("t-%d", i), Name: "T", Plan: "free"}, ""); err != nil {
			t.Fatal(err)
		}
	}
	for range 2 { // the second round reuses the prepared statements
		ts, _, err := st.ListTenants(ctx, store.TenantFilter{}, store.Page{Limit: 2})
		if err != nil || len(ts) != 2 {
			t.Fatalf("ListTenants: %d tenants, %v; want 2", len(ts), err)
		}
		got, err := st.GetTenant(ctx, ts[1].ID)
		if err != nil || got.Slug != ts[1].Slug {
			t.Fatalf("GetTenant = %q, %v; want %q", got.Slug, err, ts[1].Slug)
		}
		if _, err := st.GetTenant(ctx, store.NewID()); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("GetTenant of an unknown id: %v, want not found", err)
		}
	}
}

// BenchmarkListTenantsPage reads the API's default page (20 tenants).
func BenchmarkListTenantsPage(b *testing.B) {
	ctx := context.Background()
	st, err := Open(ctx, Options{Path: filepath.Join(b.TempDir(), "b.db")})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	for i := range 100 {
		if _, err := st.CreateTenant(ctx, store.Tenant{Slug: fmt.Sprintf("t-%d", i), Name: "T", Plan: "free"}, ""); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := st.ListTenants(ctx, store.TenantFilter{}, store.Page{Limit: 20}); err != nil {
			b.Fatal(err)
		}
	}
}

// Many first uses of distinct query texts at once, while every read
// connection is inside a transaction, must not wait on each other: a
// statement prepared on the pool needs a free connection, which a
// transaction waiting for the cache would never give back.
func TestStmtCacheConcurrentFirstUse(t *testing.T) {
	t.Parallel()
	st, err := Open(context.Background(), Options{Path: filepath.Join(t.TempDir(), "c.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.CreateTenant(context.Background(), store.Tenant{Slug: "t", Name: "T", Plan: "free"}, ""); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	errc := make(chan error, 100)
	for limit := 1; limit <= 100; limit++ { // each page size is a distinct query text
		go func() {
			_, _, err := st.ListTenants(ctx, store.TenantFilter{}, store.Page{Limit: limit})
			errc <- err
		}()
	}
	for range 100 {
		if err := <-errc; err != nil {
			t.Fatalf("ListTenants: %v (reads waited on each other)", err)
		}
	}
}
