// Package config is the one typed configuration of `fast-saas serve`.
//
// Values come, in increasing order of precedence, from built-in defaults
// (an embedded SQLite file and in-process limiter, so zero configuration
// works), environment variables (DATABASE_URL, REDIS_URL, FASTSAAS_*), and
// command-line flags. Secrets also accept a NAME_FILE variable that names a
// file holding the value (Docker and Kubernetes secrets), so they need not
// sit in the process environment.
//
// Every option is declared once in the options table below: the loader, the
// flags and docs/config.md are all derived from it.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Config is the server configuration. Field comments are the reference
// documentation (docs/config.md is generated from the options table that
// carries the same text).
type Config struct {
	// Addr is the host:port the HTTP server listens on.
	Addr string
	// DataDir holds the embedded SQLite database (fast-saas.db) when
	// DatabaseURL is empty.
	DataDir string
	// DatabaseURL selects PostgreSQL (postgres://…); empty means embedded SQLite.
	DatabaseURL string
	// RedisURL selects Redis (redis://…) for the rate limiter, caches and the
	// usage buffer; empty means in-process equivalents (single replica).
	RedisURL string
	// TrustedProxies are the CIDRs whose X-Forwarded-For header is believed.
	TrustedProxies []netip.Prefix
	// LogtoEndpoint is the Logto base URL; JWTs are accepted only when set.
	LogtoEndpoint string
	// LogtoAudience is the API resource indicator Logto puts in `aud`.
	LogtoAudience string
	// LagoAPIURL is the Lago API base URL; empty disables billing sync.
	LagoAPIURL string
	// LagoAPIKey authenticates to Lago (secret).
	LagoAPIKey string
	// LagoWebhookHMACKey verifies Lago webhooks signed with hmac (secret);
	// LagoWebhookPublicKey those signed with jwt (Lago's RSA public key,
	// PEM or Lago's base64 of it; empty: fetched from LagoAPIURL);
	// LagoWebhookIssuer, when set, is the iss a jwt signature must carry.
	LagoWebhookHMACKey, LagoWebhookPublicKey, LagoWebhookIssuer string
	// SentryDSN enables error reporting to GlitchTip/Sentry (secret).
	SentryDSN string
	// LogLevel is the minimum level of the JSON logs.
	LogLevel slog.Level
	// CORSOrigins is the allow-list of browser origins; empty = CORS off.
	CORSOrigins []string
	// OllamaURL, LangflowURL, LangfuseURL, AgentURL are the AI upstreams.
	OllamaURL      string
	LangflowURL    string
	LangflowAPIKey string
	LangfuseURL    string
	AgentURL       string
	AgentKey       string
	// PlansFile replaces the default plan table (YAML or JSON).
	PlansFile string
	// MaxBodyBytes caps every request body.
	MaxBodyBytes int64
	// ShutdownTimeout bounds graceful shutdown (finish in-flight, flush usage).
	ShutdownTimeout time.Duration
	// RedisPrefix namespaces every Redis key of this deployment.
	RedisPrefix string
	// IPRateLimit is the per-client-address limit per minute applied before
	// authentication; -1 disables it.
	IPRateLimit int
	// RateLimitLease is the Redis rate limiter's local lease time
	// (ratelimit.RedisOptions.Lease); 0 = off.
	RateLimitLease time.Duration
	// MeteredCallsDurable makes a metered API call answer only once Redis
	// has its usage event (usage.RedisOptions.Buffered off); false buffers
	// the events in process.
	MeteredCallsDurable bool
	// MemoryLimit is the Go runtime's soft memory limit in bytes
	// (runtime/debug.SetMemoryLimit), MemoryLimitAuto for the built-in
	// choice (see EffectiveMemoryLimit), or 0 for none.
	MemoryLimit int64
	// GCPercent is the garbage collector's target heap growth in percent
	// (runtime/debug.SetGCPercent, like GOGC), or GCPercentAuto to leave
	// the runtime's (GOGC from the environment, else Go's default of 100;
	// see EmbeddedMemoryLimit for why that is the default).
	GCPercent int
}

// MemoryLimitAuto is the MemoryLimit value "auto".
const MemoryLimitAuto = -1

// GCPercentAuto is the GCPercent value "auto".
const GCPercentAuto = 0

// EmbeddedMemoryLimit is the soft memory limit "auto" means in embedded
// mode (measured with bench/cmd/load, embedded backend, 32 connections;
// method in docs/performance.md).
//
// The limit is a backstop against bursts, not a way to shrink the steady
// state: ingest keeps 20-30 MiB of request bodies and decoded events live,
// and a limit below that makes the collector run all the time (24 MiB: 6×
// the CPU per ingest request; 32 MiB with GOGC=50: 2×). 64 MiB is above
// what the measured scenarios need and caps heavier bursts.
//
// The collector's target is left at Go's default (GOGC=100) on purpose:
// GOGC=50 took only 0.2-2.5 MiB off RSS in the read scenarios (about 10 MiB
// in ingest) and cost 12-23% more CPU per request in the same run (2026-11-26,
// embedded, platform key 84 → 98 µs, tenant key 85 → 105 µs). Operators who
// prefer memory to CPU set FASTSAAS_GC_PERCENT (or GOGC).
const EmbeddedMemoryLimit = 64 << 20

// EffectiveMemoryLimit resolves MemoryLimit: the soft limit serve should
// set, 0 for none (leave the runtime as it is). "auto" defers to GOMEMLIMIT
// when the environment sets it (gomemlimitSet), else means
// EmbeddedMemoryLimit in embedded mode and none with Postgres or Redis,
// where the operator sizes the container.
func (c Config) EffectiveMemoryLimit(gomemlimitSet bool) int64 {
	switch {
	case c.MemoryLimit >= 0:
		return c.MemoryLimit
	case gomemlimitSet || !c.Embedded():
		return 0
	default:
		return EmbeddedMemoryLimit
	}
}

// Option describes one setting: where it comes from and what it means.
type Option struct {
	Env     string // environment variable
	Flag    string // command-line flag of `serve`, "" when env-only
	Default string // textual default, as documented
	Secret  bool   // also read from Env+"_FILE"; never printed
	Doc     string
	set     func(*Config, string) error
}

func str(f func(*Config) *string) func(*Config, string) error {
	return func(c *Config, v string) error { *f(c) = v; return nil }
}

func httpURL(name string, f func(*Config) *string) func(*Config, string) error {
	return func(c *Config, v string) error {
		if v != "" {
			u, err := url.Parse(v)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				return fmt.Errorf("%s: want an http(s) URL, got %q", name, v)
			}
			v = strings.TrimRight(v, "/")
		}
		*f(c) = v
		return nil
	}
}

// Options is the table of every setting, in documentation order.
var Options = []Option{
	{Env: "FASTSAAS_ADDR", Flag: "addr", Default: "127.0.0.1:8080", Doc: "Address (host:port) the HTTP server listens on. Use 0.0.0.0:8080 in a container.",
		set: func(c *Config, v string) error {
			if _, _, err := splitHostPort(v); err != nil {
				return fmt.Errorf("FASTSAAS_ADDR: %w", err)
			}
			c.Addr = v
			return nil
		}},
	{Env: "FASTSAAS_DATA_DIR", Flag: "data-dir", Default: "./data", Doc: "Directory of the embedded SQLite database (fast-saas.db), used when DATABASE_URL is empty.",
		set: str(func(c *Config) *string { return &c.DataDir })},
	{Env: "DATABASE_URL", Flag: "database-url", Secret: true, Doc: "PostgreSQL URL (postgres://user:pass@host/db). Empty: embedded SQLite in the data directory.",
		set: func(c *Config, v string) error {
			if v != "" && !strings.HasPrefix(v, "postgres://") && !strings.HasPrefix(v, "postgresql://") {
				return fmt.Errorf("DATABASE_URL: want a postgres:// URL, got scheme %q", scheme(v))
			}
			c.DatabaseURL = v
			return nil
		}},
	{Env: "REDIS_URL", Flag: "redis-url", Secret: true, Doc: "Redis URL (redis:// or rediss://) shared by replicas for rate limits, caches and the usage buffer. Empty: in-process (one replica).",
		set: func(c *Config, v string) error {
			if v != "" && !strings.HasPrefix(v, "redis://") && !strings.HasPrefix(v, "rediss://") {
				return fmt.Errorf("REDIS_URL: want a redis:// URL, got scheme %q", scheme(v))
			}
			c.RedisURL = v
			return nil
		}},
	{Env: "FASTSAAS_REDIS_PREFIX", Default: "fastsaas:", Doc: "Prefix of every Redis key (rate limits, usage stream), so deployments can share one Redis.",
		set: func(c *Config, v string) error {
			if v == "" || len(v) > 64 || strings.ContainsAny(v, " \t\r\n") {
				return fmt.Errorf("FASTSAAS_REDIS_PREFIX: want 1-64 characters without spaces, got %q", v)
			}
			c.RedisPrefix = v
			return nil
		}},
	{Env: "FASTSAAS_TRUSTED_PROXIES", Flag: "trusted-proxies", Doc: "Comma-separated CIDRs (or IPs) of reverse proxies whose X-Forwarded-For is trusted. Empty: the peer address is the client.",
		set: func(c *Config, v string) error {
			c.TrustedProxies = nil
			for _, s := range splitList(v) {
				p, err := netip.ParsePrefix(s)
				if err != nil {
					a, aerr := netip.ParseAddr(s)
					if aerr != nil {
						return fmt.Errorf("FASTSAAS_TRUSTED_PROXIES: %q is neither a CIDR nor an IP", s)
					}
					p = netip.PrefixFrom(a, a.BitLen())
				}
				c.TrustedProxies = append(c.TrustedProxies, p.Masked())
			}
			return nil
		}},
	{Env: "FASTSAAS_LOGTO_ENDPOINT", Flag: "logto-endpoint", Doc: "Logto base URL (e.g. https://auth.example.com). User JWTs are accepted only when set; issuer is <endpoint>/oidc.",
		set: httpURL("FASTSAAS_LOGTO_ENDPOINT", func(c *Config) *string { return &c.LogtoEndpoint })},
	{Env: "FASTSAAS_LOGTO_AUDIENCE", Flag: "logto-audience", Doc: "API resource indicator that Logto access tokens must carry in `aud`. Required with the endpoint.",
		set: str(func(c *Config) *string { return &c.LogtoAudience })},
	{Env: "FASTSAAS_LAGO_API_URL", Flag: "lago-api-url", Doc: "Lago API base URL. Empty: billing sync is off (outbox rows wait).",
		set: httpURL("FASTSAAS_LAGO_API_URL", func(c *Config) *string { return &c.LagoAPIURL })},
	{Env: "FASTSAAS_LAGO_API_KEY", Secret: true, Doc: "Lago API key. Required with the Lago URL.",
		set: str(func(c *Config) *string { return &c.LagoAPIKey })},
	{Env: "FASTSAAS_LAGO_WEBHOOK_HMAC_KEY", Secret: true, Doc: "HMAC key of the Lago organization, to verify webhooks sent with the `hmac` signature to POST /api/v1/webhooks/lago.",
		set: str(func(c *Config) *string { return &c.LagoWebhookHMACKey })},
	{Env: "FASTSAAS_LAGO_WEBHOOK_PUBLIC_KEY", Secret: true, Doc: "Lago's RSA public key (PEM, or the base64 text Lago's GET /api/v1/webhooks/public_key answers), to verify webhooks sent with the `jwt` signature. Empty: fetched from the Lago URL with the API key and cached.",
		set: str(func(c *Config) *string { return &c.LagoWebhookPublicKey })},
	{Env: "FASTSAAS_LAGO_WEBHOOK_ISSUER", Doc: "The `iss` that Lago's `jwt` webhook signatures must carry (Lago's own LAGO_API_URL). Empty: not checked (the RSA signature is).",
		set: str(func(c *Config) *string { return &c.LagoWebhookIssuer })},
	{Env: "FASTSAAS_SENTRY_DSN", Flag: "sentry-dsn", Secret: true, Doc: "Sentry/GlitchTip DSN: 5xx answers and panics are reported when set.",
		set: str(func(c *Config) *string { return &c.SentryDSN })},
	{Env: "FASTSAAS_LOG_LEVEL", Flag: "log-level", Default: "info", Doc: "Minimum log level: debug, info, warn or error. Logs are JSON lines on stderr; at info every request adds an access line. Lines are written in chunks (32 KiB, or 100 ms after the first waiting line), warnings and errors at once, so a SIGKILL loses at most the last 100 ms of info lines.",
		set: func(c *Config, v string) error {
			if err := c.LogLevel.UnmarshalText([]byte(v)); err != nil {
				return fmt.Errorf("FASTSAAS_LOG_LEVEL: want debug, info, warn or error, got %q", v)
			}
			return nil
		}},
	{Env: "FASTSAAS_CORS_ORIGINS", Flag: "cors-origins", Doc: "Comma-separated browser origins allowed by CORS (https://app.example.com). Empty: CORS off.",
		set: func(c *Config, v string) error {
			c.CORSOrigins = nil
			for _, s := range splitList(v) {
				u, err := url.Parse(s)
				if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
					return fmt.Errorf("FASTSAAS_CORS_ORIGINS: %q is not an origin (scheme://host[:port])", s)
				}
				c.CORSOrigins = append(c.CORSOrigins, u.Scheme+"://"+u.Host)
			}
			return nil
		}},
	{Env: "FASTSAAS_OLLAMA_URL", Doc: "Ollama base URL for the AI proxy (e.g. http://ollama:11434). Empty: Ollama operations answer 503.",
		set: httpURL("FASTSAAS_OLLAMA_URL", func(c *Config) *string { return &c.OllamaURL })},
	{Env: "FASTSAAS_LANGFLOW_URL", Doc: "Langflow base URL for the AI proxy. Empty: Langflow operations answer 503.",
		set: httpURL("FASTSAAS_LANGFLOW_URL", func(c *Config) *string { return &c.LangflowURL })},
	{Env: "FASTSAAS_LANGFLOW_API_KEY", Secret: true, Doc: "Langflow API key (x-api-key).",
		set: str(func(c *Config) *string { return &c.LangflowAPIKey })},
	{Env: "FASTSAAS_LANGFUSE_URL", Doc: "Langfuse base URL (health is reported under /api/v1/ai/langfuse/health).",
		set: httpURL("FASTSAAS_LANGFUSE_URL", func(c *Config) *string { return &c.LangfuseURL })},
	{Env: "FASTSAAS_AGENT_URL", Doc: "Claude agent runner base URL (`fast-saas agent`). Empty: agent operations answer 503.",
		set: httpURL("FASTSAAS_AGENT_URL", func(c *Config) *string { return &c.AgentURL })},
	{Env: "FASTSAAS_AGENT_KEY", Secret: true, Doc: "Shared secret the API presents to the agent runner.",
		set: str(func(c *Config) *string { return &c.AgentKey })},
	{Env: "FASTSAAS_PLANS_FILE", Flag: "plans-file", Doc: "YAML or JSON file replacing the default plan table.",
		set: str(func(c *Config) *string { return &c.PlansFile })},
	{Env: "FASTSAAS_MAX_BODY_BYTES", Default: "1048576", Doc: "Largest accepted request body in bytes; larger bodies get 413.",
		set: func(c *Config, v string) error {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 1024 || n > 1<<30 {
				return fmt.Errorf("FASTSAAS_MAX_BODY_BYTES: want an integer from 1024 to 1073741824, got %q", v)
			}
			c.MaxBodyBytes = n
			return nil
		}},
	{Env: "FASTSAAS_SHUTDOWN_TIMEOUT", Default: "15s", Doc: "How long graceful shutdown waits for in-flight requests and the usage flush.",
		set: func(c *Config, v string) error {
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 {
				return fmt.Errorf("FASTSAAS_SHUTDOWN_TIMEOUT: want a positive duration such as 15s, got %q", v)
			}
			c.ShutdownTimeout = d
			return nil
		}},
	{Env: "FASTSAAS_IP_RATE_LIMIT", Default: "1200", Doc: "Requests per minute per client address, before authentication (tenants are then limited by plan). -1 disables it.",
		set: func(c *Config, v string) error {
			n, err := strconv.Atoi(v)
			if err != nil || n < -1 || n == 0 {
				return fmt.Errorf("FASTSAAS_IP_RATE_LIMIT: want a positive integer or -1, got %q", v)
			}
			c.IPRateLimit = n
			return nil
		}},
	{Env: "FASTSAAS_RATE_LIMIT_LEASE", Default: "20ms",
		Doc: "With REDIS_URL: how long a replica may admit a busy tenant's requests from tokens it took from Redis ahead of them (at most 1s), " +
			"so a busy tenant costs one Redis round trip per lease instead of one per request. Only tenants whose limit allows at least 4 requests per lease " +
			"lease (12,000/min with 20ms: the default plans never do); their announced burst drops by the requests of one lease (at most 2%). " +
			"It never admits more than the limit, but a replica stalled past its lease loses the tokens it held: with 3 replicas on 2 busy cores a tenant " +
			"hammered at its limit got 99.6-99.9% of it (100% without leases). Every replica must use the same value. 0 = off.",
		set: func(c *Config, v string) error {
			d, err := time.ParseDuration(v)
			if v == "0" {
				d, err = 0, nil
			}
			if err != nil || d < 0 || d > time.Second {
				return fmt.Errorf("FASTSAAS_RATE_LIMIT_LEASE: want 0 or a duration up to 1s such as 20ms, got %q", v)
			}
			c.RateLimitLease = d
			return nil
		}},
	{Env: "FASTSAAS_METERED_CALLS", Default: "buffered",
		Doc: "With REDIS_URL: when a metered API call's usage event is written. `buffered`: the response does not wait; the event is queued in process and " +
			"appended to the Redis stream within about 2 ms (the writer waits that long so that one append carries many events); while Redis is down the queue (4,096 events) holds them and the " +
			"writes are retried, and a graceful shutdown writes what is queued, but a crash loses it. `durable`: each response waits until Redis has its " +
			"event (one round trip), so a crash loses nothing that was answered, but a call whose event Redis refuses is answered anyway and its event is " +
			"lost (logged); under load this costs 20-30% more CPU per metered request. Ingested events are always durable before the 202. Embedded mode " +
			"always buffers (up to 50 ms).",
		set: func(c *Config, v string) error {
			switch v {
			case "buffered", "durable":
				c.MeteredCallsDurable = v == "durable"
				return nil
			}
			return fmt.Errorf("FASTSAAS_METERED_CALLS: want buffered or durable, got %q", v)
		}},
	{Env: "FASTSAAS_GC_PERCENT", Flag: "gc-percent", Default: "auto",
		Doc: "Garbage collection target of the Go runtime, as GOGC sets it: the heap may grow by this percentage of the live data before the next collection (10-1000), " +
			"or `auto` = GOGC from the environment, else Go's default (100). Lower values use less memory and more CPU (50: 12-23% more CPU per request for 0.2-2.5 MiB less RSS under read load).",
		set: func(c *Config, v string) error {
			if strings.EqualFold(v, "auto") {
				c.GCPercent = GCPercentAuto
				return nil
			}
			n, err := strconv.Atoi(v)
			if err != nil || n < 10 || n > 1000 {
				return fmt.Errorf("FASTSAAS_GC_PERCENT: want auto or an integer from 10 to 1000, got %q", v)
			}
			c.GCPercent = n
			return nil
		}},
	{Env: "FASTSAAS_MEMORY_LIMIT", Flag: "memory-limit", Default: "auto",
		Doc: "Soft memory limit of the Go runtime, as GOMEMLIMIT sets it: a size (`48MiB`, `1GiB`, bytes without a suffix), `off`, or `auto` = 64MiB in embedded mode unless GOMEMLIMIT is set, none with DATABASE_URL or REDIS_URL. " +
			"Near the limit the garbage collector runs more often instead of letting the heap grow, up to half the CPU when the live data does not fit; serve never fails for it. " +
			"It covers the Go heap, stacks and runtime data, not the binary's own pages or SQLite's page caches, which come on top.",
		set: func(c *Config, v string) error {
			switch strings.ToLower(v) {
			case "auto":
				c.MemoryLimit = MemoryLimitAuto
				return nil
			case "off", "0":
				c.MemoryLimit = 0
				return nil
			}
			n, err := parseSize(v)
			if err != nil || n < 8<<20 {
				return fmt.Errorf("FASTSAAS_MEMORY_LIMIT: want auto, off or a size of at least 8MiB such as 48MiB, got %q", v)
			}
			c.MemoryLimit = n
			return nil
		}},
}

// parseSize reads a byte count in GOMEMLIMIT's syntax: an integer with an
// optional B, KiB, MiB, GiB or TiB suffix.
func parseSize(v string) (int64, error) {
	units := []struct {
		suffix string
		shift  uint
	}{{"TiB", 40}, {"GiB", 30}, {"MiB", 20}, {"KiB", 10}, {"B", 0}}
	shift := uint(0)
	for _, u := range units {
		if num, ok := strings.CutSuffix(v, u.suffix); ok {
			v, shift = num, u.shift
			break
		}
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 || n > (1<<62)>>shift {
		return 0, fmt.Errorf("bad size %q", v)
	}
	return n << shift, nil
}

func scheme(v string) string {
	if i := strings.Index(v, "://"); i > 0 {
		return v[:i]
	}
	return ""
}

func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func splitHostPort(v string) (string, int, error) {
	i := strings.LastIndexByte(v, ':')
	if i < 0 {
		return "", 0, fmt.Errorf("want host:port, got %q", v)
	}
	port, err := strconv.Atoi(v[i+1:])
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("bad port in %q", v)
	}
	return v[:i], port, nil
}

// Source supplies raw values. Env looks up an environment variable; Flag
// returns a flag's value and whether it was set on the command line;
// ReadFile reads a *_FILE secret. Nil funcs mean "nothing from there".
type Source struct {
	Env      func(string) (string, bool)
	Flag     func(name string) (string, bool)
	ReadFile func(string) ([]byte, error)
}

// OSSource reads the process environment and the file system.
func OSSource() Source { return Source{Env: os.LookupEnv, ReadFile: os.ReadFile} }

// Load builds a Config from defaults, then the environment, then flags.
// It does not call Validate.
func Load(src Source) (Config, error) {
	var c Config
	var errs []error
	for _, o := range Options {
		v, from := o.Default, "default"
		if src.Env != nil {
			if s, ok := src.Env(o.Env); ok {
				v, from = s, o.Env
			}
			if o.Secret {
				if path, ok := src.Env(o.Env + "_FILE"); ok && path != "" {
					if _, direct := src.Env(o.Env); direct {
						errs = append(errs, fmt.Errorf("%s and %s_FILE are both set; keep one", o.Env, o.Env))
						continue
					}
					if src.ReadFile == nil {
						errs = append(errs, fmt.Errorf("%s_FILE: no file reader", o.Env))
						continue
					}
					b, err := src.ReadFile(path)
					if err != nil {
						// The path is not secret; the content is never shown.
						errs = append(errs, fmt.Errorf("%s_FILE: %w", o.Env, err))
						continue
					}
					v, from = strings.TrimRight(string(b), "\r\n"), o.Env+"_FILE"
				}
			}
		}
		if o.Flag != "" && src.Flag != nil {
			if s, ok := src.Flag(o.Flag); ok {
				v, from = s, "--"+o.Flag
			}
		}
		v = strings.TrimSpace(v)
		if err := o.set(&c, v); err != nil {
			if from != o.Env && !strings.HasPrefix(from, o.Env) {
				err = fmt.Errorf("%w (from %s)", err, from)
			}
			errs = append(errs, err)
		}
	}
	return c, errors.Join(errs...)
}

// Default is the zero-configuration Config (embedded mode).
func Default() Config {
	c, err := Load(Source{})
	if err != nil {
		panic("config: built-in defaults are invalid: " + err.Error()) // a programming error
	}
	return c
}

// Validate checks combinations that single options cannot.
func (c Config) Validate() error {
	var errs []error
	if (c.LogtoEndpoint == "") != (c.LogtoAudience == "") {
		errs = append(errs, errors.New("FASTSAAS_LOGTO_ENDPOINT and FASTSAAS_LOGTO_AUDIENCE must be set together"))
	}
	if c.LagoAPIURL != "" && c.LagoAPIKey == "" {
		errs = append(errs, errors.New("FASTSAAS_LAGO_API_URL is set but FASTSAAS_LAGO_API_KEY is empty"))
	}
	if c.DatabaseURL == "" && c.DataDir == "" {
		errs = append(errs, errors.New("FASTSAAS_DATA_DIR must not be empty when DATABASE_URL is unset"))
	}
	if c.Addr == "" {
		errs = append(errs, errors.New("FASTSAAS_ADDR must not be empty"))
	}
	return errors.Join(errs...)
}

// SQLitePath is the embedded database file used when DatabaseURL is empty.
func (c Config) SQLitePath() string { return filepath.Join(c.DataDir, "fast-saas.db") }

// Embedded reports whether the server runs without Postgres and Redis.
func (c Config) Embedded() bool { return c.DatabaseURL == "" && c.RedisURL == "" }
