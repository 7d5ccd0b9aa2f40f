package sqlite_test

import (
	"testing"
	"time"

	"github.com/fast-saas/fast-saas/internal/store"
	"github.com/fast-saas/fast-saas/internal/store/sqlite"
	"github.com/fast-saas/fast-saas/internal/store/sqlite/sqlitetest"
	"github.com/fast-saas/fast-saas/internal/store/storetest"
)

func open(t testing.TB, now func() time.Time) store.Store {
	t.Helper()
	s := sqlitetest.Open(t, sqlite.Options{Now: now})
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T, now func() time.Time) store.Store { return open(t, now) })
}
