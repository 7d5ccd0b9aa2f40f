package config

import (
	"errors"
	"flag"
	"io/fs"
	"log/slog"
	"maps"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite docs/config.md")

func envOf(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestDefaults(t *testing.T) {
	t.Parallel()
	c := Default()
	if c.Addr != "127.0.0.1:8080" || c.DataDir != "./data" || c.LogLevel != slog.LevelInfo ||
		c.MaxBodyBytes != 1<<20 || c.ShutdownTimeout != 15*time.Second || !c.Embedded() {
		t.Errorf("Default() = %+v", c)
	}
	if got, want := c.SQLitePath(), "data/fast-saas.db"; got != want {
		t.Errorf("SQLitePath() = %q, want %q", got, want)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("Validate(defaults) = %v", err)
	}
}

func TestPrecedenceAndParsing(t *testing.T) {
	t.Parallel()
	env := map[string]string{
		"FASTSAAS_ADDR":              "0.0.0.0:9000",
		"DATABASE_URL":               "postgres://u@db/app",
		"REDIS_URL":                  "redis://cache:6379/0",
		"FASTSAAS_TRUSTED_PROXIES":   "10.0.0.0/8, 192.168.1.7",
		"FASTSAAS_CORS_ORIGINS":      "https://app.example.com,http://localhost:3000/",
		"FASTSAAS_LOG_LEVEL":         "debug",
		"FASTSAAS_LOGTO_ENDPOINT":    "https://auth.example.com/",
		"FASTSAAS_LOGTO_AUDIENCE":    "https://api.example.com",
		"FASTSAAS_LAGO_API_URL":      "http://lago:3000",
		"FASTSAAS_LAGO_API_KEY_FILE": "/run/secrets/lago",
	}
	files := map[string]string{"/run/secrets/lago": "s3cret\n"}
	flags := map[string]string{"addr": "127.0.0.1:7000"}
	c, err := Load(Source{
		Env:  envOf(env),
		Flag: func(n string) (string, bool) { v, ok := flags[n]; return v, ok },
		ReadFile: func(p string) ([]byte, error) {
			if v, ok := files[p]; ok {
				return []byte(v), nil
			}
			return nil, fs.ErrNotExist
		},
	})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	want := Config{
		Addr: "127.0.0.1:7000", DataDir: "./data", DatabaseURL: "postgres://u@db/app", RedisURL: "redis://cache:6379/0",
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.168.1.7/32")},
		LogtoEndpoint:  "https://auth.example.com", LogtoAudience: "https://api.example.com",
		LagoAPIURL: "http://lago:3000", LagoAPIKey: "s3cret", LogLevel: slog.LevelDebug,
		CORSOrigins:  []string{"https://app.example.com", "http://localhost:3000"},
		MaxBodyBytes: 1 << 20, ShutdownTimeout: 15 * time.Second, IPRateLimit: 1200, RedisPrefix: "fastsaas:", RateLimitLease: 20 * time.Millisecond,
		MemoryLimit: MemoryLimitAuto, GCPercent: GCPercentAuto,
	}
	if diff := cmp.Diff(want, c, cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); diff != "" {
		t.Errorf("Load mismatch (-want +got):\n%s", diff)
	}
	if c.Embedded() {
		t.Error("Embedded() = true with DATABASE_URL and REDIS_URL set")
	}
}

func TestLoadErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		env     map[string]string
		wantErr string
	}{
		{"bad addr", map[string]string{"FASTSAAS_ADDR": "nocolon"}, "FASTSAAS_ADDR"},
		{"bad port", map[string]string{"FASTSAAS_ADDR": "host:99999"}, "bad port"},
		{"mysql url", map[string]string{"DATABASE_URL": "mysql://x"}, `got scheme "mysql"`},
		{"redis scheme", map[string]string{"REDIS_URL": "http://x"}, "REDIS_URL"},
		{"bad cidr", map[string]string{"FASTSAAS_TRUSTED_PROXIES": "10.0.0.0/99"}, "FASTSAAS_TRUSTED_PROXIES"},
		{"bad level", map[string]string{"FASTSAAS_LOG_LEVEL": "loud"}, "FASTSAAS_LOG_LEVEL"},
		{"bad origin", map[string]string{"FASTSAAS_CORS_ORIGINS": "https://x.com/path"}, "not an origin"},
		{"bad url", map[string]string{"FASTSAAS_OLLAMA_URL": "ftp://x"}, "FASTSAAS_OLLAMA_URL"},
		{"both secret forms", map[string]string{"FASTSAAS_SENTRY_DSN": "a", "FASTSAAS_SENTRY_DSN_FILE": "/x"}, "both set"},
		{"missing secret file", map[string]string{"FASTSAAS_AGENT_KEY_FILE": "/nope"}, "FASTSAAS_AGENT_KEY_FILE"},
		{"small body", map[string]string{"FASTSAAS_MAX_BODY_BYTES": "10"}, "FASTSAAS_MAX_BODY_BYTES"},
		{"zero ip limit", map[string]string{"FASTSAAS_IP_RATE_LIMIT": "0"}, "FASTSAAS_IP_RATE_LIMIT"},
		{"bad timeout", map[string]string{"FASTSAAS_SHUTDOWN_TIMEOUT": "-1s"}, "FASTSAAS_SHUTDOWN_TIMEOUT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Load(Source{Env: envOf(tt.env), ReadFile: func(string) ([]byte, error) { return nil, fs.ErrNotExist }})
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Load(%v) error = %v, want it to mention %q", tt.env, err, tt.wantErr)
			}
		})
	}
}

func TestSecretNeverInError(t *testing.T) {
	t.Parallel()
	_, err := Load(Source{Env: envOf(map[string]string{"DATABASE_URL": "mysql://user:hunter2@x"})})
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("error %v must exist and not contain the secret", err)
	}
}

func TestFlagErrorNamesFlag(t *testing.T) {
	t.Parallel()
	_, err := Load(Source{Flag: func(n string) (string, bool) { return "x", n == "log-level" }})
	if err == nil || !strings.Contains(err.Error(), "--log-level") {
		t.Errorf("error = %v, want it to name --log-level", err)
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		mutate  func(*Config)
		wantErr string
	}{
		{"logto endpoint without audience", func(c *Config) { c.LogtoEndpoint = "https://a" }, "set together"},
		{"lago without key", func(c *Config) { c.LagoAPIURL = "https://lago" }, "FASTSAAS_LAGO_API_KEY"},
		{"no data dir", func(c *Config) { c.DataDir = "" }, "FASTSAAS_DATA_DIR"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := Default()
			tt.mutate(&c)
			if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Validate() = %v, want mention of %q", err, tt.wantErr)
			}
		})
	}
}

func TestReferenceUpToDate(t *testing.T) {
	const path = "../../docs/config.md"
	got := Reference()
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	if string(want) != got {
		t.Errorf("docs/config.md is stale; run go test ./internal/config -update\n%s", cmp.Diff(string(want), got))
	}
	for _, o := range Options {
		if o.Doc == "" || o.set == nil {
			t.Errorf("option %s lacks Doc or setter", o.Env)
		}
	}
}

func TestMemoryLimit(t *testing.T) {
	t.Parallel()
	tests := []struct {
		value      string
		env        map[string]string // besides FASTSAAS_MEMORY_LIMIT
		gomemlimit bool
		want       int64 // EffectiveMemoryLimit
	}{
		{value: "", want: EmbeddedMemoryLimit}, // unset: the default, auto
		{value: "auto", want: EmbeddedMemoryLimit},
		{value: "AUTO", gomemlimit: true, want: 0},
		{value: "auto", env: map[string]string{"DATABASE_URL": "postgres://db/app"}, want: 0},
		{value: "auto", env: map[string]string{"REDIS_URL": "redis://cache:6379"}, want: 0},
		{value: "off", want: 0},
		{value: "0", want: 0},
		{value: "48MiB", want: 48 << 20},
		{value: "48MiB", gomemlimit: true, want: 48 << 20}, // explicit beats GOMEMLIMIT
		{value: "1GiB", env: map[string]string{"DATABASE_URL": "postgres://db/app"}, want: 1 << 30},
		{value: "16777216", want: 16 << 20},
		{value: "16777216B", want: 16 << 20},
		{value: "8192KiB", want: 8 << 20},
	}
	for _, tt := range tests {
		t.Run(tt.value, func(t *testing.T) {
			t.Parallel()
			c := loadWith(t, "FASTSAAS_MEMORY_LIMIT", tt.value, tt.env)
			if got := c.EffectiveMemoryLimit(tt.gomemlimit); got != tt.want {
				t.Errorf("EffectiveMemoryLimit(%v) = %d, want %d", tt.gomemlimit, got, tt.want)
			}
		})
	}
	refuses(t, "FASTSAAS_MEMORY_LIMIT", "lots", "48MB", "48 MiB", "-1", "1MiB", "1B", "99999999999TiB", "1.5GiB")
}

func TestGCPercent(t *testing.T) {
	t.Parallel()
	tests := []struct {
		value string
		env   map[string]string // besides FASTSAAS_GC_PERCENT
		want  int               // GCPercent
	}{
		{value: "", want: 0}, // unset: the default, auto = leave the runtime's
		{value: "auto", want: 0},
		{value: "Auto", want: 0},
		{value: "auto", env: map[string]string{"DATABASE_URL": "postgres://db/app"}, want: 0},
		{value: "auto", env: map[string]string{"REDIS_URL": "redis://cache:6379"}, want: 0},
		{value: "100", want: 100},
		{value: "75", want: 75},
		{value: "10", env: map[string]string{"REDIS_URL": "redis://cache:6379"}, want: 10},
		{value: "1000", want: 1000},
	}
	for _, tt := range tests {
		t.Run(tt.value, func(t *testing.T) {
			t.Parallel()
			c := loadWith(t, "FASTSAAS_GC_PERCENT", tt.value, tt.env)
			if got := c.GCPercent; got != tt.want {
				t.Errorf("GCPercent = %d, want %d", got, tt.want)
			}
		})
	}
	refuses(t, "FASTSAAS_GC_PERCENT", "off", "-1", "0", "9", "1001", "50%", "fifty")
}

func TestRateLimitLease(t *testing.T) {
	t.Parallel()
	for value, want := range map[string]time.Duration{"": 20 * time.Millisecond, "0": 0, "0s": 0, "5ms": 5 * time.Millisecond, "1s": time.Second} {
		if got := loadWith(t, "FASTSAAS_RATE_LIMIT_LEASE", value, nil).RateLimitLease; got != want {
			t.Errorf("FASTSAAS_RATE_LIMIT_LEASE=%q: %v, want %v", value, got, want)
		}
	}
	refuses(t, "FASTSAAS_RATE_LIMIT_LEASE", "20", "-5ms", "2s", "soon")
}

func TestMeteredCalls(t *testing.T) {
	t.Parallel()
	for value, want := range map[string]bool{"": false, "buffered": false, "durable": true} {
		if got := loadWith(t, "FASTSAAS_METERED_CALLS", value, nil).MeteredCallsDurable; got != want {
			t.Errorf("FASTSAAS_METERED_CALLS=%q: durable %v, want %v", value, got, want)
		}
	}
	refuses(t, "FASTSAAS_METERED_CALLS", "sync", "Durable", "true")
}

// loadWith loads the configuration from extra plus name=value (unset when
// value is empty) and fails the test on an error.
func loadWith(t *testing.T, name, value string, extra map[string]string) Config {
	t.Helper()
	env := maps.Clone(extra)
	if env == nil {
		env = map[string]string{}
	}
	if value != "" {
		env[name] = value
	}
	c, err := Load(Source{Env: envOf(env)})
	if err != nil {
		t.Fatalf("%s=%q: Load: %v", name, value, err)
	}
	return c
}

// refuses checks that each bad value of name is an error naming name.
func refuses(t *testing.T, name string, bad ...string) {
	t.Helper()
	for _, v := range bad {
		_, err := Load(Source{Env: envOf(map[string]string{name: v})})
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s=%q: error = %v, want one naming the variable", name, v, err)
		}
	}
}
