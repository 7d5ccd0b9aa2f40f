package cli

import (
	"fmt"
	"log/slog"
	"math"
	"net"
	"os"
	"runtime/debug"
	"strconv"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/fast-saas/fast-saas/internal/config"
	"github.com/fast-saas/fast-saas/internal/server"
)

// addConfigFlags registers a flag for every config option that has one;
// loadConfig applies only the flags given on the command line, so flags
// override env which overrides defaults.
func addConfigFlags(fs *pflag.FlagSet) {
	for _, o := range config.Options {
		if o.Flag != "" {
			fs.String(o.Flag, o.Default, o.Doc+" (env "+o.Env+")")
		}
	}
}

func loadConfig(fs *pflag.FlagSet) (config.Config, error) {
	src := config.OSSource()
	src.Flag = func(name string) (string, bool) {
		f := fs.Lookup(name)
		if f == nil || !f.Changed {
			return "", false
		}
		return f.Value.String(), true
	}
	cfg, err := config.Load(src)
	if err != nil {
		return cfg, err
	}
	return cfg, cfg.Validate()
}

// newServeCmd runs the SaaS API: embedded SQLite by default, Postgres and
// Redis with DATABASE_URL and REDIS_URL.
func newServeCmd(io IO) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the SaaS API server",
		Long: `Run the SaaS API server. With no configuration it stores data in ./data/fast-saas.db
(SQLite), creates a platform admin key on first start and prints it once.
Every flag has an environment variable; see docs/config.md.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd.Flags())
			if err != nil {
				return fmt.Errorf("serve: %w", err)
			}
			memory := setRuntimeMemory(cfg)
			ctx := cmd.Context()
			srv, err := server.New(ctx, cfg, io.Err)
			if err != nil {
				return fmt.Errorf("serve: %w", err)
			}
			defer srv.Close()
			srv.Logger.Info("go runtime memory settings", memory...)
			secret, err := srv.EnsurePlatformKey(ctx)
			if err != nil {
				return fmt.Errorf("serve: %w", err)
			}
			ln, err := net.Listen("tcp", cfg.Addr)
			if err != nil {
				return fmt.Errorf("serve: listen on %s: %w", cfg.Addr, err)
			}
			base := "http://" + ln.Addr().String()
			storage := "SQLite " + cfg.SQLitePath()
			if cfg.DatabaseURL != "" {
				storage = "PostgreSQL"
			}
			fmt.Fprintf(io.Out, "fast-saas is listening on %s (%s)\n", base, storage)
			fmt.Fprintf(io.Out, "  API:       %s/api/v1\n  docs:      %s/docs\n  OpenAPI:   %s/openapi.json\n  health:    %s/health\n  metrics:   %s/metrics\n  dashboard: %s/dashboard (not built yet)\n",
				base, base, base, base, base, base)
			if secret != "" {
				fmt.Fprintf(io.Out, "\nPlatform admin key (shown once, store it now):\n  %s\nTry: curl -H 'Authorization: Bearer %s' %s/api/v1/tenants\n", secret, secret, base)
			} else {
				fmt.Fprintln(io.Out, "\nPlatform admin key: created on first start (mint another with `fast-saas keys create-platform`).")
			}
			return srv.Serve(ctx, ln)
		},
	}
	addConfigFlags(cmd.Flags())
	return cmd
}

// setRuntimeMemory applies the garbage collector target and the soft
// memory limit of the Go runtime (FASTSAAS_GC_PERCENT and
// FASTSAAS_MEMORY_LIMIT, "auto" by default).
// GOGC and GOMEMLIMIT in the environment were applied by the runtime at
// start; "auto" leaves them alone, an explicit setting of ours wins.
// It returns the settings in force as log attributes.
func setRuntimeMemory(cfg config.Config) []any {
	gogc, gogcSet := os.LookupEnv("GOGC")
	gcPercent := "GOGC=" + gogc
	if p := cfg.GCPercent; p != config.GCPercentAuto {
		debug.SetGCPercent(p)
		gcPercent = strconv.Itoa(p)
	} else if !gogcSet {
		gcPercent = "100 (Go's default)"
	}
	_, gomemlimitSet := os.LookupEnv("GOMEMLIMIT")
	if limit := cfg.EffectiveMemoryLimit(gomemlimitSet); limit > 0 {
		debug.SetMemoryLimit(limit)
	} else if cfg.MemoryLimit == 0 {
		debug.SetMemoryLimit(math.MaxInt64) // "off" overrides GOMEMLIMIT too
	}
	attrs := []any{slog.String("gc_percent", gcPercent), slog.String("memory_limit", "none")}
	if limit := debug.SetMemoryLimit(-1); limit != math.MaxInt64 { // a negative value only reads
		attrs[1] = slog.Int64("memory_limit_bytes", limit)
	}
	return attrs
}
