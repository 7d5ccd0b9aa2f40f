package backend_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/pressly/goose/v3"

	"github.com/fast-saas/fast-saas/internal/store"
	"github.com/fast-saas/fast-saas/internal/store/backend"
	"github.com/fast-saas/fast-saas/internal/testenv"
)

// TestMigrations applies every migration to an empty database, checks the
// store works, rolls everything back to version 0 and applies them again,
// on both backends.
func TestMigrations(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		opts func(t *testing.T) backend.Options
	}{
		{"sqlite", func(t *testing.T) backend.Options { return backend.Options{DataDir: t.TempDir()} }},
		{"postgres", func(t *testing.T) backend.Options { return backend.Options{DatabaseURL: testenv.Postgres(t)} }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			opts := tc.opts(t)
			m, err := backend.NewMigrator(ctx, opts)
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			sources := m.ListSources()
			if len(sources) == 0 {
				t.Fatal("no embedded migrations")
			}
			latest := sources[len(sources)-1].Version
			if v, err := m.GetDBVersion(ctx); err != nil || v != 0 {
				t.Fatalf("empty database version = %d, %v; want 0", v, err)
			}
			up, err := m.Up(ctx)
			if err != nil || len(up) != len(sources) {
				t.Fatalf("Up applied %d of %d: %v", len(up), len(sources), err)
			}
			status, err := m.Status(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, st := range status {
				if st.State != goose.StateApplied {
					t.Errorf("migration %d state %s after Up, want applied", st.Source.Version, st.State)
				}
			}
			if v, _ := m.GetDBVersion(ctx); v != latest {
				t.Fatalf("version after Up = %d, want %d", v, latest)
			}

			// The migrated schema serves the store, and Open does not re-apply.
			s, err := backend.Open(ctx, opts)
			if err != nil {
				t.Fatalf("Open after Up: %v", err)
			}
			if _, err := s.CreateTenant(ctx, store.Tenant{Slug: "mig", Name: "M", Plan: "free"}, ""); err != nil {
				t.Fatalf("CreateTenant on migrated schema: %v", err)
			}
			s.Close()

			if _, err := m.DownTo(ctx, 0); err != nil {
				t.Fatalf("DownTo(0): %v", err)
			}
			if v, _ := m.GetDBVersion(ctx); v != 0 {
				t.Fatalf("version after DownTo(0) = %d, want 0", v)
			}
			if _, err := m.Up(ctx); err != nil {
				t.Fatalf("Up after DownTo(0): %v", err)
			}
			s, err = backend.Open(ctx, opts)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if _, err := s.TenantBySlug(ctx, "mig"); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("tenant survived down+up: err = %v, want ErrNotFound", err)
			}
		})
	}
}

func TestOpenRejectsForeignURL(t *testing.T) {
	t.Parallel()
	_, err := backend.Open(context.Background(), backend.Options{DatabaseURL: "mysql://u:secret@db/app"})
	if err == nil {
		t.Fatal("Open(mysql://…) succeeded, want an error")
	}
	if got := err.Error(); strings.Contains(got, "secret") {
		t.Errorf("error leaks the password: %q", got)
	}
}
