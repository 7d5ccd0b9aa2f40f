package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/fast-saas/fast-saas/internal/store"
	"github.com/fast-saas/fast-saas/internal/store/sqlite"
	"github.com/fast-saas/fast-saas/internal/store/storetest"
)

func open(t testing.TB, now func() time.Time) store.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), sqlite.Options{Path: filepath.Join(t.TempDir(), "test.db"), Now: now})
	if err != nil {
		t.Fatalf("open sqlite: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T, now func() time.Time) store.Store { return open(t, now) })
}
