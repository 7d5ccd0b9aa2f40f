package cli

import (
	"context"
	"fmt"
	"path"
	"text/tabwriter"
	"time"

	"github.com/pressly/goose/v3"
	"github.com/spf13/cobra"

	"github.com/fast-saas/fast-saas/internal/store/backend"
)

// newMigrateCmd applies or rolls back the store's embedded migrations.
// `serve` migrates up by itself; this command is for operators who want to
// migrate before a rollout, inspect the state, or roll back.
func newMigrateCmd(io IO) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Apply, roll back or list database migrations",
		Long: `Apply, roll back or list the embedded database migrations.

DATABASE_URL=postgres://… selects PostgreSQL; otherwise the SQLite database
in --data-dir (FASTSAAS_DATA_DIR, default ./data) is used.`,
	}
	run := func(use, short string, args cobra.PositionalArgs, fn func(ctx context.Context, m *backend.Migrator, cmd *cobra.Command) error) *cobra.Command {
		c := &cobra.Command{
			Use:   use,
			Short: short,
			Args:  args,
			RunE: func(c *cobra.Command, _ []string) error {
				cfg, err := loadConfig(c.Flags())
				if err != nil {
					return fmt.Errorf("migrate: %w", err)
				}
				opts := backend.Options{DatabaseURL: cfg.DatabaseURL, DataDir: cfg.DataDir}
				m, err := backend.NewMigrator(c.Context(), opts)
				if err != nil {
					return fmt.Errorf("migrate: %w", err)
				}
				defer m.Close()
				fmt.Fprintf(io.Err, "database: %s\n", opts.Name())
				if err := fn(c.Context(), m, c); err != nil {
					return fmt.Errorf("migrate %s: %w", c.Name(), err)
				}
				return nil
			},
		}
		addConfigFlags(c.Flags())
		return c
	}
	report := func(results []*goose.MigrationResult) {
		if len(results) == 0 {
			fmt.Fprintln(io.Out, "nothing to do")
		}
		for _, r := range results {
			fmt.Fprintf(io.Out, "%-4s %05d %s (%s)\n", r.Direction, r.Source.Version, path.Base(r.Source.Path), r.Duration.Round(time.Microsecond))
		}
	}

	up := run("up", "Apply all pending migrations", cobra.NoArgs, func(ctx context.Context, m *backend.Migrator, _ *cobra.Command) error {
		results, err := m.Up(ctx)
		report(results)
		return err
	})
	to := int64(-1)
	down := run("down", "Roll back the last migration (or down to --to VERSION; --to 0 = all)", cobra.NoArgs, func(ctx context.Context, m *backend.Migrator, _ *cobra.Command) error {
		if to >= 0 {
			results, err := m.DownTo(ctx, to)
			report(results)
			return err
		}
		r, err := m.Down(ctx)
		if r != nil {
			report([]*goose.MigrationResult{r})
		}
		return err
	})
	down.Flags().Int64Var(&to, "to", to, "roll back every migration above this version (0 = all)")
	status := run("status", "List migrations and whether each is applied", cobra.NoArgs, func(ctx context.Context, m *backend.Migrator, _ *cobra.Command) error {
		st, err := m.Status(ctx)
		if err != nil {
			return err
		}
		w := tabwriter.NewWriter(io.Out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "VERSION\tNAME\tSTATE\tAPPLIED AT")
		for _, s := range st {
			at := "-"
			if !s.AppliedAt.IsZero() {
				at = s.AppliedAt.UTC().Format("2006-01-02 15:04:05Z")
			}
			fmt.Fprintf(w, "%05d\t%s\t%s\t%s\n", s.Source.Version, path.Base(s.Source.Path), s.State, at)
		}
		return w.Flush()
	})
	cmd.AddCommand(up, down, status)
	return cmd
}
