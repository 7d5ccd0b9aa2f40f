package sqlite

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fast-saas/fast-saas/internal/store"
)

func TestStmtCache(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, err := OpenDB(filepath.Join(t.TempDir(), "c.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	c := newStmtCache(db)
	defer c.close()

	a, err := c.get(ctx, "SELECT 1")
	if err != nil || a == nil {
		t.Fatalf("get: %v, %v; want a prepared statement", a, err)
	}
	if b, _ := c.get(ctx, "SELECT 1"); b != a {
		t.Errorf("second get of the same text prepared again (%p != %p)", b, a)
	}
	if st, err := c.get(ctx, "SELEC nonsense"); err == nil || st != nil {
		t.Errorf("bad SQL: got %v, %v; want a preparation error", st, err)
	}
	if st, err := c.get(ctx, "SELECT 1 "+strings.Repeat(" ", maxCachedStmtLen)); st != nil || err != nil {
		t.Errorf("over-long text: got %v, %v; want not cached, no error", st, err)
	}
	for i := len(c.m); i < maxCachedStmts; i++ {
		if _, err := c.get(ctx, fmt.Sprintf("SELECT %d", i+2)); err != nil {
			t.Fatal(err)
		}
	}
	if st, err := c.get(ctx, "SELECT 'one too many'"); st != nil || err != nil {
		t.Errorf("full cache: got %v, %v; want not cached, no error", st, err)
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
