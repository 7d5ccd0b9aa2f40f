package catalog

// Default returns the real catalog. The list is explicit and ordered: the
// order is the order of docs, .env sections and compose services.
func Default() *Catalog {
	c, err := New(modules())
	if err != nil {
		// The list is static and covered by tests; a failure is a programming error.
		panic("catalog: invalid built-in catalog: " + err.Error())
	}
	return c
}

// Helpers that keep the module list readable.

func env(pairs ...string) []EnvVar {
	if len(pairs)%2 != 0 {
		panic("catalog: env needs name/value pairs")
	}
	out := make([]EnvVar, 0, len(pairs)/2)
	for i := 0; i < len(pairs); i += 2 {
		out = append(out, EnvVar{Name: pairs[i], Value: pairs[i+1]})
	}
	return out
}

func join(parts ...[]EnvVar) []EnvVar {
	var out []EnvVar
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func cmd(args ...string) *Health { return &Health{Test: append([]string{"CMD"}, args...)} }

func shell(script string) *Health { return &Health{Test: []string{"CMD-SHELL", script}} }

func slow(h *Health, startPeriod string) *Health { h.StartPeriod = startPeriod; return h }

// nodeGet is a health check for Node images: fetch is built in, while curl
// and even busybox wget are missing from some of them.
func nodeGet(url string) *Health {
	return cmd("node", "-e", "fetch('"+url+"').then(r=>process.exit(r.ok?0:1)).catch(()=>process.exit(1))")
}

// pythonGet is a health check for Python images (no curl, no wget).
func pythonGet(url string) *Health {
	return cmd("python", "-c", "import sys,urllib.request;sys.exit(0 if urllib.request.urlopen('"+url+"',timeout=5).status<400 else 1)")
}

func wget(url string) *Health { return cmd("wget", "-q", "--spider", url) }

func healthy(services ...string) []Dependency {
	out := make([]Dependency, len(services))
	for i, s := range services {
		out[i] = Dependency{Service: s, Condition: Healthy}
	}
	return out
}

func completed(service string) Dependency { return Dependency{Service: service, Condition: Completed} }

func vol(source, target string) Mount { return Mount{Source: source, Target: target} }

func ro(source, target string) Mount { return Mount{Source: source, Target: target, ReadOnly: true} }

func hexSecret(key string, n int, desc string) Secret {
	return Secret{Key: key, Format: FormatHex, Bytes: n, Description: desc}
}

func password(key, desc string) Secret {
	return Secret{Key: key, Format: FormatAlnum, Bytes: 32, Description: desc}
}

// smtp returns the stack-wide SMTP settings mapped onto one upstream's names.
// SMTP_* live in .env once (default: the stalwart container).
func smtpEnv(host, port, user, pass, from string) []EnvVar {
	return env(host, "${SMTP_HOST}", port, "${SMTP_PORT}", user, "${SMTP_USER}", pass, "${SMTP_PASSWORD}", from, "${SMTP_FROM}")
}

// Public URL of a route, as the browser sees it.
func publicURL(sub string) string { return "https://" + sub + ".${DOMAIN}" }

// The shared Redis is reached with its password; modules use separate
// logical databases so their keys never collide.
const redisPassword = "${REDIS_PASSWORD}"

func redisURL(db string) string { return "redis://:" + redisPassword + "@redis:6379/" + db }

func modules() []Module {
	return []Module{
		postgresModule(), redisModule(), caddyModule(),
		logtoModule(), lagoModule(), rustfsModule(), saasAPIModule(),
		glitchtipModule(), uptimeKumaModule(), grafanaStackModule(),
		matomoModule(), posthogModule(), mauticModule(), stalwartModule(), nocodbModule(),
		n8nModule(), appsmithModule(), docmostModule(),
		librechatModule(), langflowModule(), ollamaModule(), claudeAgentModule(), langfuseModule(),
	}
}

func postgresModule() Module {
	return Module{
		ID: "postgres", Name: "PostgreSQL", Layer: Essential, Default: true,
		Description: "Shared relational database: one database and one role per module",
		Containers: []Container{{
			Name:  "postgres",
			Image: ImagePostgres,
			Env:   env("POSTGRES_USER", "postgres", "POSTGRES_PASSWORD", "${POSTGRES_PASSWORD}", "POSTGRES_DB", "postgres"),
			Ports: []int{5432},
			// Postgres ≥ 18 keeps its data under /var/lib/postgresql/<major>/docker;
			// mounting the old .../data path makes the container refuse to start.
			Volumes: []Mount{vol("postgres-data", "/var/lib/postgresql")},
			Health:  cmd("pg_isready", "-U", "postgres", "-d", "postgres"),
		}},
		Secrets:  []Secret{password("POSTGRES_PASSWORD", "superuser password of the shared Postgres")},
		MemoryMB: 512,
		Note: "Every module that needs Postgres gets its own database and role, created by the `db-init` job on every " +
			"`up` (postgres/init-databases.sh), so a module added later gets its database too. Postgres is never published on the host.",
	}
}

func redisModule() Module {
	return Module{
		ID: "redis", Name: "Redis", Layer: Essential, Default: true,
		Description: "Cache, rate-limit state and usage stream (AOF on, no eviction)",
		Containers: []Container{{
			Name:  "redis",
			Image: ImageRedis,
			// noeviction + AOF: usage events and job queues (BullMQ, Sidekiq)
			// live here until flushed and must never be evicted or lost. The
			// password comes from the container's environment rather than the
			// compose file; going through docker-entrypoint.sh keeps the
			// image's switch to the unprivileged redis user.
			Command: []string{"sh", "-c", `exec docker-entrypoint.sh redis-server --requirepass "$$REDIS_PASSWORD" --appendonly yes --maxmemory-policy noeviction`},
			Env:     env("REDIS_PASSWORD", redisPassword),
			Ports:   []int{6379},
			Volumes: []Mount{vol("redis-data", "/data")},
			// REDISCLI_AUTH keeps the password out of the health check's argv.
			Health: shell(`REDISCLI_AUTH="$$REDIS_PASSWORD" redis-cli ping | grep -q PONG`),
		}},
		Secrets:  []Secret{password("REDIS_PASSWORD", "password of the shared Redis (requirepass)")},
		MemoryMB: 256,
		Note:     "Modules share one Redis with separate logical databases. It runs with a password, AOF persistence and no eviction.",
	}
}

func caddyModule() Module {
	return Module{
		ID: "caddy", Name: "Caddy", Layer: Essential, Default: true,
		Description: "Reverse proxy with automatic HTTPS for every public route",
		Containers: []Container{{
			Name:  "caddy",
			Image: ImageCaddy,
			Env: env("DOMAIN", "${DOMAIN}", "ACME_EMAIL", "${ACME_EMAIL}",
				"CADDY_ADMIN_USER", "${CADDY_ADMIN_USER}", "CADDY_ADMIN_HASH", "${CADDY_ADMIN_HASH}"),
			Ports: []int{80, 443},
			Volumes: []Mount{
				ro("./Caddyfile", "/etc/caddy/Caddyfile"),
				vol("caddy-data", "/data"), // ACME certificates: must persist
				vol("caddy-config", "/config"),
			},
			// The admin API listens on loopback inside the container only.
			Health:    wget("http://127.0.0.1:2019/config/"),
			HostPorts: []HostPort{{Host: 80, Container: 80}, {Host: 443, Container: 443}, {Host: 443, Container: 443, Protocol: "udp"}},
			Edge:      true,
		}},
		Secrets: []Secret{
			password("CADDY_ADMIN_PASSWORD", "basic-auth password in front of admin consoles (user CADDY_ADMIN_USER)"),
			{Key: "CADDY_ADMIN_HASH", Format: FormatBcrypt, DerivedFrom: "CADDY_ADMIN_PASSWORD", Description: "bcrypt hash of CADDY_ADMIN_PASSWORD, read by the Caddyfile"},
		},
		Settings: []Setting{{Key: "CADDY_ADMIN_USER", Default: "admin", Description: "basic-auth user in front of admin consoles"}},
		MemoryMB: 64,
		Note: "Consoles where the first visitor becomes admin are behind basic auth (CADDY_ADMIN_USER / CADDY_ADMIN_PASSWORD) " +
			"until you turn it off per module. `localhost` and `*.localhost` domains get `tls internal` certificates.",
	}
}

func logtoModule() Module {
	return Module{
		ID: "logto", Name: "Logto", Layer: Core, Default: true,
		Description:  "Authentication, SSO, RBAC and organizations (OIDC provider)",
		Dependencies: []string{"postgres"},
		Containers: []Container{{
			Name:  "logto",
			Image: ImageLogto,
			// The seed must run before first boot; --swe skips it when done.
			Entrypoint: []string{"sh", "-c", "npm run cli db seed -- --swe && npm start"},
			Env: env(
				"DB_URL", "postgres://logto:${LOGTO_DB_PASSWORD}@postgres:5432/logto",
				"ENDPOINT", publicURL("auth"),
				"ADMIN_ENDPOINT", publicURL("auth-admin"),
				"TRUST_PROXY_HEADER", "1",
			),
			Ports:  []int{3001, 3002},
			Health: slow(nodeGet("http://127.0.0.1:3001/api/status"), "120s"),
		}},
		Routes: []Route{
			{Subdomain: "auth", Service: "logto", Port: 3001, HealthPath: "/api/status"},
			{Subdomain: "auth-admin", Service: "logto", Port: 3002, AdminConsole: true},
		},
		Secrets: []Secret{password("LOGTO_DB_PASSWORD", "password of the logto database role")},
		// The seed creates logto_tenant_* roles, so the role needs CREATEROLE.
		Database: &Database{Name: "logto", Role: "logto", PasswordKey: "LOGTO_DB_PASSWORD", CreateRole: true},
		MemoryMB: 512,
		Note: "Open https://auth-admin.<domain> (basic auth) and create the admin account, then an API resource " +
			"`https://api.<domain>` for the fast-saas API. The issuer is https://auth.<domain>/oidc.",
	}
}

func lagoModule() Module {
	common := join(
		env(
			"RAILS_ENV", "production",
			"RAILS_LOG_TO_STDOUT", "true",
			"DATABASE_URL", "postgresql://lago:${LAGO_DB_PASSWORD}@postgres:5432/lago?search_path=public",
			"REDIS_URL", redisURL("0"),
			"REDIS_PASSWORD", redisPassword,
			"LAGO_REDIS_CACHE_URL", redisURL("1"),
			"SECRET_KEY_BASE", "${LAGO_SECRET_KEY_BASE}",
			"LAGO_ENCRYPTION_PRIMARY_KEY", "${LAGO_ENCRYPTION_PRIMARY_KEY}",
			"LAGO_ENCRYPTION_DETERMINISTIC_KEY", "${LAGO_ENCRYPTION_DETERMINISTIC_KEY}",
			"LAGO_ENCRYPTION_KEY_DERIVATION_SALT", "${LAGO_ENCRYPTION_KEY_DERIVATION_SALT}",
			"LAGO_API_URL", publicURL("billing-api"),
			"LAGO_FRONT_URL", publicURL("billing"),
			"LAGO_PDF_URL", "http://lago-pdf:3000",
			"LAGO_USE_AWS_S3", "false",
			"LAGO_DISABLE_SEGMENT", "true",
			"LAGO_SIDEKIQ_WEB", "false",
			// Headless init: the organisation and its API key exist before
			// anyone can reach the front, and sign-up stays closed.
			"LAGO_CREATE_ORG", "true",
			"LAGO_ORG_NAME", "${LAGO_ORG_NAME}",
			"LAGO_ORG_USER_EMAIL", "${ADMIN_EMAIL}",
			"LAGO_ORG_USER_PASSWORD", "${LAGO_ADMIN_PASSWORD}",
			"LAGO_ORG_API_KEY", "${LAGO_API_KEY}",
			"LAGO_DISABLE_SIGNUP", "true",
		),
		smtpEnv("LAGO_SMTP_ADDRESS", "LAGO_SMTP_PORT", "LAGO_SMTP_USERNAME", "LAGO_SMTP_PASSWORD", "LAGO_FROM_EMAIL"),
	)
	// Every container that boots the Rails app (migrate included: its rake
	// tasks load the initializers) reads the RSA key from the lago-keys
	// volume, which the lago-keys job fills before any of them starts.
	storage := []Mount{vol("lago-storage", "/app/storage"), ro("lago-keys", lagoKeyDir)}
	afterMigrate := append([]Dependency{completed("lago-keys"), completed("lago-migrate")}, healthy("redis")...)
	return Module{
		ID: "lago", Name: "Lago", Layer: Core, Default: true,
		Description:  "Usage-based billing: plans, metering, invoices",
		Dependencies: []string{"postgres", "redis"},
		Containers: []Container{
			{
				Name: "lago-keys", Image: ImageLagoAPI, Entrypoint: []string{"sh", "-c", lagoKeysScript},
				Env:     env("LAGO_RSA_PRIVATE_KEY", "${LAGO_RSA_PRIVATE_KEY}"),
				Volumes: []Mount{vol("lago-keys", lagoKeyDir)}, OneShot: true,
			},
			{
				Name: "lago-migrate", Image: ImageLagoAPI, Command: []string{"./scripts/migrate.sh"}, Env: common, Volumes: storage,
				DependsOn: []Dependency{completed("lago-keys")}, OneShot: true,
			},
			{
				Name: "lago-api", Image: ImageLagoAPI, Command: []string{"./scripts/start.api.sh"}, Env: common, Volumes: storage,
				Ports: []int{3000}, Health: slow(cmd("curl", "-f", "http://localhost:3000/health"), "60s"),
				DependsOn: append(afterMigrate, Dependency{Service: "lago-pdf", Condition: Started}),
			},
			{
				Name: "lago-worker", Image: ImageLagoAPI, Command: []string{"./scripts/start.worker.sh"}, Env: common, Volumes: storage,
				Ports: []int{8080}, Health: slow(cmd("curl", "-f", "http://localhost:8080"), "60s"), DependsOn: afterMigrate,
			},
			{Name: "lago-clock", Image: ImageLagoAPI, Command: []string{"./scripts/start.clock.sh"}, Env: common, Volumes: storage, DependsOn: afterMigrate},
			{
				Name: "lago-front", Image: ImageLagoFront,
				Env:   env("API_URL", publicURL("billing-api"), "APP_ENV", "production", "LAGO_DISABLE_SIGNUP", "true"),
				Ports: []int{80}, DependsOn: healthy("lago-api"),
			},
			{Name: "lago-pdf", Image: ImageLagoPDF, Ports: []int{3000}},
		},
		Routes: []Route{
			{Subdomain: "billing-api", Service: "lago-api", Port: 3000, HealthPath: "/health"},
			{Subdomain: "billing", Service: "lago-front", Port: 80},
		},
		Secrets: []Secret{
			password("LAGO_DB_PASSWORD", "password of the lago database role"),
			hexSecret("LAGO_SECRET_KEY_BASE", 64, "Rails SECRET_KEY_BASE (openssl rand -hex 64)"),
			{
				Key: "LAGO_RSA_PRIVATE_KEY", Format: FormatRSAPEMBase64, FirstBoot: true,
				Description: "optional: Lago's RSA private key (PEM, base64 on one line). Leave empty: the lago-keys job creates one " +
					"in the lago-keys volume on first boot. A value set here is installed there instead, only while the volume holds no key",
			},
			password("LAGO_ENCRYPTION_PRIMARY_KEY", "ActiveRecord encryption primary key; never change after first boot"),
			password("LAGO_ENCRYPTION_DETERMINISTIC_KEY", "ActiveRecord encryption deterministic key; never change after first boot"),
			password("LAGO_ENCRYPTION_KEY_DERIVATION_SALT", "ActiveRecord encryption key derivation salt; never change after first boot"),
			password("LAGO_ADMIN_PASSWORD", "password of the first Lago user (ADMIN_EMAIL)"),
			hexSecret("LAGO_API_KEY", 32, "API key of the first Lago organisation, used by the fast-saas API"),
		},
		Settings: []Setting{{Key: "LAGO_ORG_NAME", Default: "fast-saas", Description: "name of the Lago organisation created on first boot"}},
		Database: &Database{Name: "lago", Role: "lago", PasswordKey: "LAGO_DB_PASSWORD"},
		MemoryMB: 2048,
		Note: "The organisation, its first user (ADMIN_EMAIL / LAGO_ADMIN_PASSWORD) and its API key (LAGO_API_KEY) are created " +
			"on first boot; sign-up is disabled. Lago signs webhooks with an RSA key that the one-shot `lago-keys` job creates " +
			"on first boot in the `lago-keys` volume (" + lagoKeyDir + "/private.pem, read by api, worker, clock and migrate); " +
			"back that volume up with the database. Projects whose .env holds LAGO_RSA_PRIVATE_KEY (created before the job existed) " +
			"keep that key: the job installs it when the volume is empty. Lago uses the shared Postgres without pg_partman: event " +
			"partitioning is skipped, which is fine until very large event volumes.",
	}
}

// lagoKeyDir is where Lago looks for its RSA key: config/initializers/rsa_keys.rb
// (getlago/lago-api at a74c1288) reads config/keys/private.pem when the file
// exists and only otherwise decodes LAGO_RSA_PRIVATE_KEY. Lago's own
// production compose fills this directory the same way, from a one-shot job
// in a volume, with getlago/api:v1.27.1 and LAGO_RSA_PRIVATE_KEY empty by
// default, so that tag already reads the file. That the v1.48.1 we pin still
// does is inferred (the initializer was not read at that tag): check it when
// bumping ImageLagoAPI.
const lagoKeyDir = "/app/config/keys"

// lagoKeysScript is the lago-keys job, run on every `up` in the Lago API
// image. It writes private.pem only when the volume has none: the
// LAGO_RSA_PRIVATE_KEY of .env when set (projects created when fast-saas
// still generated the key keep it, so webhook signatures stay verifiable),
// else a new RSA-2048 key. The key is parsed before it is moved into place,
// so a bad value fails the job and Lago does not start with it. $$ is
// Compose's escape for a literal $.
const lagoKeysScript = `set -eu
key=` + lagoKeyDir + `/private.pem
if [ -s "$$key" ]; then
  if [ -n "$${LAGO_RSA_PRIVATE_KEY:-}" ] && ! printf '%s' "$$LAGO_RSA_PRIVATE_KEY" | base64 -d 2>/dev/null | cmp -s - "$$key"; then
    echo "lago-keys: LAGO_RSA_PRIVATE_KEY in .env differs from the key in the volume; Lago keeps the volume's key" >&2
  fi
  echo "lago-keys: key present"
  exit 0
fi
umask 077
if [ -n "$${LAGO_RSA_PRIVATE_KEY:-}" ]; then
  printf '%s' "$$LAGO_RSA_PRIVATE_KEY" | base64 -d > "$$key.new"
  echo "lago-keys: installing LAGO_RSA_PRIVATE_KEY from .env"
else
  openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$$key.new"
  echo "lago-keys: generated a new RSA-2048 key"
fi
openssl pkey -in "$$key.new" -noout
mv "$$key.new" "$$key"
`

func rustfsModule() Module {
	return Module{
		ID: "rustfs", Name: "RustFS", Layer: Core, Default: true,
		Description: "S3-compatible object storage",
		Containers: []Container{{
			Name:  "rustfs",
			Image: ImageRustFS,
			Env: env(
				"RUSTFS_ACCESS_KEY", "${RUSTFS_ACCESS_KEY}",
				"RUSTFS_SECRET_KEY", "${RUSTFS_SECRET_KEY}",
				"RUSTFS_VOLUMES", "/data",
				"RUSTFS_ADDRESS", "0.0.0.0:9000",
				"RUSTFS_CONSOLE_ADDRESS", "0.0.0.0:9001",
				"RUSTFS_CONSOLE_ENABLE", "true",
				"RUSTFS_CONSOLE_CORS_ALLOWED_ORIGINS", publicURL("storage-console"),
			),
			Ports:   []int{9000, 9001},
			Volumes: []Mount{vol("rustfs-data", "/data")},
			// 403 also means the server is up (anonymous request refused).
			Health: shell(`code=$$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:9000/health); [ "$$code" = 200 ] || [ "$$code" = 403 ]`),
		}},
		Routes: []Route{
			{Subdomain: "storage", Service: "rustfs", Port: 9000},
			{Subdomain: "storage-console", Service: "rustfs", Port: 9001},
		},
		Secrets: []Secret{
			{Key: "RUSTFS_ACCESS_KEY", Format: FormatAlnum, Bytes: 20, Description: "S3 access key (the upstream default is public)"},
			{Key: "RUSTFS_SECRET_KEY", Format: FormatAlnum, Bytes: 40, Description: "S3 secret key"},
		},
		MemoryMB: 256,
		Note:     "S3 endpoint https://storage.<domain>, console https://storage-console.<domain>; log in with RUSTFS_ACCESS_KEY / RUSTFS_SECRET_KEY.",
	}
}

func saasAPIModule() Module {
	return Module{
		ID: "saas-api", Name: "fast-saas API", Layer: Core, Default: true,
		Description:  "Our multi-tenant REST API, MCP endpoint and admin dashboard (`fast-saas serve`)",
		Dependencies: []string{"postgres", "redis"},
		Containers: []Container{{
			Name:    "saas-api",
			Image:   ImageFastSaaS,
			Build:   true,
			Command: []string{"serve"},
			Env: []EnvVar{
				{Name: "DATABASE_URL", Value: "postgres://saas:${SAAS_DB_PASSWORD}@postgres:5432/saas?sslmode=disable"},
				{Name: "REDIS_URL", Value: redisURL("4")},
				{Name: "FASTSAAS_ADDR", Value: ":8080"},
				// Only containers of the stack reach the API (Caddy, or the
				// loopback-published --local port via Docker's gateway), all
				// from Docker's private ranges: trust their X-Forwarded-For.
				{Name: "FASTSAAS_TRUSTED_PROXIES", Value: "10.0.0.0/8,172.16.0.0/12,192.168.0.0/16"},
				{Name: "FASTSAAS_LOGTO_ENDPOINT", Value: publicURL("auth"), If: "logto"},
				{Name: "FASTSAAS_LOGTO_AUDIENCE", Value: publicURL("api"), If: "logto"},
				{Name: "FASTSAAS_LAGO_API_URL", Value: "http://lago-api:3000", If: "lago"},
				{Name: "FASTSAAS_LAGO_API_KEY", Value: "${LAGO_API_KEY}", If: "lago"},
				{Name: "FASTSAAS_SENTRY_DSN", Value: "${FASTSAAS_SENTRY_DSN}", If: "glitchtip"},
				{Name: "FASTSAAS_OLLAMA_URL", Value: "http://ollama:11434", If: "ollama"},
				{Name: "FASTSAAS_LANGFLOW_URL", Value: "http://langflow:7860", If: "langflow"},
				{Name: "FASTSAAS_LANGFLOW_API_KEY", Value: "${FASTSAAS_LANGFLOW_API_KEY}", If: "langflow"},
				{Name: "FASTSAAS_LANGFUSE_URL", Value: "http://langfuse-web:3000", If: "langfuse"},
				{Name: "FASTSAAS_AGENT_URL", Value: "http://claude-agent:8090", If: "claude-agent"},
				{Name: "FASTSAAS_AGENT_KEY", Value: "${FASTSAAS_AGENT_KEY}", If: "claude-agent"},
			},
			Ports: []int{8080},
			// Distroless image: no shell or wget, so the binary probes itself.
			Health:    cmd("/usr/local/bin/fast-saas", "probe", "http://127.0.0.1:8080/health"),
			DependsOn: healthy("redis"),
		}},
		Routes: []Route{
			{Subdomain: "api", Service: "saas-api", Port: 8080, HealthPath: "/health"},
			{Subdomain: "app", Service: "saas-api", Port: 8080, HealthPath: "/health"},
		},
		Secrets:  []Secret{password("SAAS_DB_PASSWORD", "password of the saas database role")},
		Settings: []Setting{{Key: "FASTSAAS_VERSION", Description: "fast-saas release the API image is built from", Required: true}},
		Database: &Database{Name: "saas", Role: "saas", PasswordKey: "SAAS_DB_PASSWORD"},
		Metrics:  []Scrape{{Job: "saas-api", Service: "saas-api", Port: 8080}},
		MemoryMB: 128,
		Note: "Built locally from the generated Dockerfile (`go install` of FASTSAAS_VERSION into a distroless image). " +
			"REST API at https://api.<domain>, dashboard at https://app.<domain>; migrations run on start.",
	}
}

func glitchtipModule() Module {
	common := join(
		env(
			"DATABASE_URL", "postgres://glitchtip:${GLITCHTIP_DB_PASSWORD}@postgres:5432/glitchtip",
			"VALKEY_URL", redisURL("2"),
			"SECRET_KEY", "${GLITCHTIP_SECRET_KEY}",
			"GLITCHTIP_DOMAIN", publicURL("errors"),
			"PORT", "8000",
			"DEFAULT_FROM_EMAIL", "${SMTP_FROM}",
			"EMAIL_URL", "smtp://${SMTP_USER}:${SMTP_PASSWORD}@${SMTP_HOST}:${SMTP_PORT}",
			// Only the first user can still register: the admin, behind basic auth.
			"ENABLE_USER_REGISTRATION", "false",
			"ENABLE_OBSERVABILITY_API", "true",
		),
	)
	uploads := []Mount{vol("glitchtip-uploads", "/code/uploads")}
	after := append([]Dependency{completed("glitchtip-migrate")}, healthy("redis")...)
	return Module{
		ID: "glitchtip", Name: "GlitchTip", Layer: Ops, Default: true,
		Description:  "Sentry-compatible error tracking",
		Dependencies: []string{"postgres", "redis"},
		Containers: []Container{
			{Name: "glitchtip-migrate", Image: ImageGlitchTip, Command: []string{"./bin/run-migrate.sh"}, Env: common, OneShot: true},
			{
				Name: "glitchtip-web", Image: ImageGlitchTip, Env: common, Volumes: uploads, Ports: []int{8000},
				Health: slow(pythonGet("http://127.0.0.1:8000/_health/"), "60s"), DependsOn: after,
			},
			{Name: "glitchtip-worker", Image: ImageGlitchTip, Command: []string{"./bin/run-worker.sh"}, Env: common, Volumes: uploads, DependsOn: after},
		},
		Routes:   []Route{{Subdomain: "errors", Service: "glitchtip-web", Port: 8000, AdminConsole: true, HealthPath: "/_health/"}},
		Secrets:  []Secret{password("GLITCHTIP_DB_PASSWORD", "password of the glitchtip database role"), hexSecret("GLITCHTIP_SECRET_KEY", 32, "Django SECRET_KEY")},
		Settings: []Setting{{Key: "FASTSAAS_SENTRY_DSN", Description: "DSN of the GlitchTip project the API reports to (copy it from GlitchTip after creating the project)"}},
		Database: &Database{Name: "glitchtip", Role: "glitchtip", PasswordKey: "GLITCHTIP_DB_PASSWORD"},
		Metrics:  []Scrape{{Job: "glitchtip", Service: "glitchtip-web", Port: 8000}},
		MemoryMB: 768,
		Note: "Register the first (admin) user at https://errors.<domain>; registration is closed after that. Create a project " +
			"and put its DSN in FASTSAAS_SENTRY_DSN. Browser SDKs need the route without basic auth: turn it off for glitchtip once the admin exists.",
	}
}

func uptimeKumaModule() Module {
	return Module{
		ID: "uptime-kuma", Name: "Uptime Kuma", Layer: Ops, Default: true,
		Description: "Uptime monitoring and status page",
		Containers: []Container{{
			Name:    "uptime-kuma",
			Image:   ImageUptimeKuma,
			Env:     env("UPTIME_KUMA_DB_TYPE", "sqlite"),
			Ports:   []int{3001},
			Volumes: []Mount{vol("uptime-kuma-data", "/app/data")},
			Health:  slow(nodeGet("http://127.0.0.1:3001/robots.txt"), "60s"),
		}},
		Routes:   []Route{{Subdomain: "status", Service: "uptime-kuma", Port: 3001, AdminConsole: true}},
		MemoryMB: 256,
		Note:     "The first visitor of https://status.<domain> creates the admin account (basic auth until you turn it off).",
	}
}

func grafanaStackModule() Module {
	return Module{
		ID: "grafana-stack", Name: "Grafana, Prometheus, Loki", Layer: Ops, Default: true,
		Description: "Dashboards, metrics and logs, with exporters and a log shipper",
		Containers: []Container{
			{
				Name:  "grafana",
				Image: ImageGrafana,
				Env: env(
					"GF_SECURITY_ADMIN_USER", "admin",
					"GF_SECURITY_ADMIN_PASSWORD", "${GRAFANA_ADMIN_PASSWORD}",
					"GF_SERVER_ROOT_URL", publicURL("monitor"),
					"GF_USERS_ALLOW_SIGN_UP", "false",
					"GF_AUTH_ANONYMOUS_ENABLED", "false",
				),
				Ports: []int{3000},
				Volumes: []Mount{
					vol("grafana-data", "/var/lib/grafana"),
					ro("./ops/grafana/provisioning", "/etc/grafana/provisioning"),
				},
				Health:    wget("http://127.0.0.1:3000/api/health"),
				DependsOn: healthy("prometheus", "loki"),
			},
			{
				Name:  "prometheus",
				Image: ImagePrometheus,
				// Overriding the command replaces every default flag.
				Command: []string{"--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus", "--storage.tsdb.retention.time=30d"},
				Ports:   []int{9090},
				Volumes: []Mount{ro("./ops/prometheus", "/etc/prometheus"), vol("prometheus-data", "/prometheus")},
				Health:  wget("http://127.0.0.1:9090/-/healthy"),
			},
			{
				Name:    "loki",
				Image:   ImageLoki,
				Command: []string{"-config.file=/etc/loki/loki.yml"},
				Ports:   []int{3100},
				Volumes: []Mount{ro("./ops/loki/loki.yml", "/etc/loki/loki.yml"), vol("loki-data", "/loki")},
				// Distroless with busybox under /busybox.
				Health: slow(cmd("/busybox/wget", "-q", "--spider", "http://127.0.0.1:3100/ready"), "60s"),
			},
			{
				Name:    "alloy",
				Image:   ImageAlloy,
				Command: []string{"run", "--server.http.listen-addr=0.0.0.0:12345", "--storage.path=/var/lib/alloy/data", "/etc/alloy/config.alloy"},
				Ports:   []int{12345},
				Volumes: []Mount{
					ro("./ops/alloy/config.alloy", "/etc/alloy/config.alloy"),
					ro("/var/run/docker.sock", "/var/run/docker.sock"),
					vol("alloy-data", "/var/lib/alloy/data"),
				},
				DependsOn: healthy("loki"),
			},
			{
				Name:    "node-exporter",
				Image:   ImageNodeExporter,
				Command: []string{"--path.rootfs=/host"},
				Ports:   []int{9100},
				Volumes: []Mount{ro("/", "/host")},
				PIDHost: true,
			},
			{
				Name:       "cadvisor",
				Image:      ImageCAdvisor,
				Ports:      []int{8080},
				Privileged: true,
				Devices:    []string{"/dev/kmsg"},
				Volumes: []Mount{
					ro("/", "/rootfs"), ro("/var/run", "/var/run"), ro("/sys", "/sys"),
					ro("/var/lib/docker", "/var/lib/docker"), ro("/dev/disk", "/dev/disk"),
				},
			},
			{
				Name:      "postgres-exporter",
				Image:     ImagePostgresExporter,
				Env:       env("DATA_SOURCE_NAME", "postgresql://postgres:${POSTGRES_PASSWORD}@postgres:5432/postgres?sslmode=disable"),
				Ports:     []int{9187},
				DependsOn: healthy("postgres"),
			},
			{
				Name:  "redis-exporter",
				Image: ImageRedisExporter,
				Env:   env("REDIS_ADDR", "redis://redis:6379", "REDIS_PASSWORD", redisPassword),
				Ports: []int{9121},
				// Built FROM scratch: no health check is possible; Prometheus' `up` covers it.
				DependsOn: healthy("redis"),
			},
		},
		Routes:  []Route{{Subdomain: "monitor", Service: "grafana", Port: 3000, AdminConsole: true, HealthPath: "/api/health"}},
		Secrets: []Secret{password("GRAFANA_ADMIN_PASSWORD", "Grafana admin password (user admin)")},
		Metrics: []Scrape{
			{Job: "prometheus", Service: "prometheus", Port: 9090},
			{Job: "grafana", Service: "grafana", Port: 3000},
			{Job: "loki", Service: "loki", Port: 3100},
			{Job: "alloy", Service: "alloy", Port: 12345},
			{Job: "node", Service: "node-exporter", Port: 9100},
			{Job: "cadvisor", Service: "cadvisor", Port: 8080},
			{Job: "postgres", Service: "postgres-exporter", Port: 9187},
			{Job: "redis", Service: "redis-exporter", Port: 9121},
		},
		MemoryMB: 1536,
		Note: "Grafana at https://monitor.<domain> (admin / GRAFANA_ADMIN_PASSWORD). cAdvisor runs privileged and Alloy reads the " +
			"Docker socket (log shipping into Loki); node-exporter shares the host PID namespace. None of them is published.",
	}
}

func mariaDB(name, db, userKey, rootKey, volume string) Container {
	return Container{
		Name:    name,
		Image:   ImageMariaDB,
		Command: []string{"--max-allowed-packet=64MB"},
		Env: env(
			"MARIADB_DATABASE", db, "MARIADB_USER", db,
			"MARIADB_PASSWORD", "${"+userKey+"}", "MARIADB_ROOT_PASSWORD", "${"+rootKey+"}",
			"MARIADB_AUTO_UPGRADE", "1", "MARIADB_INITDB_SKIP_TZINFO", "1",
		),
		Ports:   []int{3306},
		Volumes: []Mount{vol(volume, "/var/lib/mysql")},
		Health:  slow(cmd("healthcheck.sh", "--connect", "--innodb_initialized"), "60s"),
	}
}

func matomoModule() Module {
	return Module{
		ID: "matomo", Name: "Matomo", Layer: Growth,
		Description: "Privacy-friendly web analytics",
		Containers: []Container{
			mariaDB("matomo-db", "matomo", "MATOMO_DB_PASSWORD", "MATOMO_DB_ROOT_PASSWORD", "matomo-db"),
			{
				Name:  "matomo",
				Image: ImageMatomo,
				Env: env(
					"MATOMO_DATABASE_ADAPTER", "mysql", "MATOMO_DATABASE_HOST", "matomo-db",
					"MATOMO_DATABASE_USERNAME", "matomo", "MATOMO_DATABASE_PASSWORD", "${MATOMO_DB_PASSWORD}",
					"MATOMO_DATABASE_DBNAME", "matomo", "MATOMO_DATABASE_TABLES_PREFIX", "matomo_",
				),
				Ports:     []int{80},
				Volumes:   []Mount{vol("matomo-data", "/var/www/html")},
				Health:    slow(cmd("curl", "-fsS", "-o", "/dev/null", "http://localhost/matomo.js"), "60s"),
				DependsOn: healthy("matomo-db"),
			},
		},
		Routes: []Route{{Subdomain: "analytics", Service: "matomo", Port: 80, AdminConsole: true}},
		Secrets: []Secret{
			password("MATOMO_DB_PASSWORD", "password of the matomo MariaDB user"),
			password("MATOMO_DB_ROOT_PASSWORD", "root password of the matomo MariaDB"),
		},
		MemoryMB: 768,
		Note: "Run the web installer at https://analytics.<domain> (behind basic auth: whoever finishes it owns the instance), " +
			"then turn basic auth off for matomo so the tracker (matomo.js, matomo.php) is reachable. Schedule `core:archive` for large sites.",
	}
}

func posthogModule() Module {
	return Module{
		ID: "posthog", Name: "PostHog", Layer: Growth, External: true,
		Description: "Product analytics, feature flags, session replay (connect an external PostHog)",
		Settings: []Setting{
			{Key: "POSTHOG_HOST", Description: "URL of your PostHog instance, e.g. https://product.example.com"},
			{Key: "POSTHOG_PROJECT_API_KEY", Description: "project API key (phc_…) from PostHog's project settings"},
		},
		Note: "PostHog's self-hosted stack is about 35 containers (ClickHouse, Kafka, its own Postgres with hard-coded " +
			"credentials, its own Caddy on ports 80/443) and needs 8 GB+ RAM, so it is not generated into this stack. Install it " +
			"on its own host with upstream's `deploy-hobby` script (or use PostHog Cloud) and set POSTHOG_HOST and POSTHOG_PROJECT_API_KEY.",
	}
}

func mauticModule() Module {
	common := env(
		"MAUTIC_DB_HOST", "mautic-db", "MAUTIC_DB_PORT", "3306", "MAUTIC_DB_DATABASE", "mautic",
		"MAUTIC_DB_USER", "mautic", "MAUTIC_DB_PASSWORD", "${MAUTIC_DB_PASSWORD}",
		"MAUTIC_MESSENGER_DSN_EMAIL", "doctrine://default", "MAUTIC_MESSENGER_DSN_HIT", "doctrine://default",
	)
	mounts := []Mount{
		vol("mautic-config", "/var/www/html/config"),
		vol("mautic-logs", "/var/www/html/var/logs"),
		vol("mautic-media-files", "/var/www/html/docroot/media/files"),
		vol("mautic-media-images", "/var/www/html/docroot/media/images"),
		vol("mautic-cron", "/opt/mautic/cron"),
	}
	role := func(name, r string) Container {
		return Container{
			Name: name, Image: ImageMautic, Env: join(common, env("DOCKER_MAUTIC_ROLE", r)),
			Volumes: mounts, DependsOn: healthy("mautic-web"),
		}
	}
	return Module{
		ID: "mautic", Name: "Mautic", Layer: Growth,
		Description: "Email marketing automation",
		Containers: []Container{
			mariaDB("mautic-db", "mautic", "MAUTIC_DB_PASSWORD", "MAUTIC_DB_ROOT_PASSWORD", "mautic-db"),
			{
				Name: "mautic-web", Image: ImageMautic,
				Env:       join(common, env("DOCKER_MAUTIC_ROLE", "mautic_web", "DOCKER_MAUTIC_RUN_MIGRATIONS", "true", "DOCKER_MAUTIC_LOAD_TEST_DATA", "false")),
				Ports:     []int{80},
				Volumes:   mounts,
				Health:    slow(cmd("curl", "-fsS", "-o", "/dev/null", "http://localhost"), "120s"),
				DependsOn: healthy("mautic-db"),
			},
			role("mautic-cron", "mautic_cron"),
			role("mautic-worker", "mautic_worker"),
		},
		Routes: []Route{{Subdomain: "email", Service: "mautic-web", Port: 80, AdminConsole: true}},
		Secrets: []Secret{
			password("MAUTIC_DB_PASSWORD", "password of the mautic MariaDB user"),
			password("MAUTIC_DB_ROOT_PASSWORD", "root password of the mautic MariaDB"),
		},
		MemoryMB: 1024,
		Note: "Mautic needs MySQL/MariaDB (not Postgres) and gets its own MariaDB. Finish the installer at https://email.<domain> " +
			"(behind basic auth) and set the mailer DSN to smtp://SMTP_HOST:SMTP_PORT; tracking pixels need basic auth turned off afterwards.",
	}
}

func stalwartModule() Module {
	return Module{
		ID: "stalwart", Name: "Stalwart", Layer: Growth,
		Description: "SMTP/IMAP mail server for transactional mail",
		Containers: []Container{{
			Name:  "stalwart",
			Image: ImageStalwart,
			Env:   env("STALWART_RECOVERY_ADMIN", "admin:${STALWART_ADMIN_PASSWORD}"),
			Ports: []int{25, 465, 587, 993, 8080},
			Volumes: []Mount{
				vol("stalwart-data", "/var/lib/stalwart"),
				vol("stalwart-config", "/etc/stalwart"),
			},
			// Debian slim with only ca-certificates: bash's /dev/tcp is the probe.
			Health: cmd("bash", "-c", "</dev/tcp/127.0.0.1/8080"),
			HostPorts: []HostPort{
				{Host: 25, Container: 25}, {Host: 465, Container: 465},
				{Host: 587, Container: 587}, {Host: 993, Container: 993},
			},
		}},
		Secrets:  []Secret{password("STALWART_ADMIN_PASSWORD", "password of the Stalwart recovery admin (user admin)")},
		MemoryMB: 256,
		Note: "Mail ports 25, 465, 587 and 993 are published; the admin UI (8080) is not: reach it with `--local` or an SSH tunnel. " +
			"Create a mail account for the stack and set SMTP_USER / SMTP_PASSWORD; add MX, SPF, DKIM and PTR records for your domain. " +
			"Remove the recovery admin once a permanent admin exists.",
	}
}

func nocodbModule() Module {
	return Module{
		ID: "nocodb", Name: "NocoDB", Layer: Growth,
		Description:  "Spreadsheet UI over Postgres",
		Dependencies: []string{"postgres"},
		Containers: []Container{{
			Name:  "nocodb",
			Image: ImageNocoDB,
			Env: env(
				"NC_DB", "pg://postgres:5432?u=nocodb&p=${NOCODB_DB_PASSWORD}&d=nocodb",
				"NC_AUTH_JWT_SECRET", "${NOCODB_JWT_SECRET}",
				"NC_PUBLIC_URL", publicURL("admin"),
				"NC_DISABLE_TELE", "true",
			),
			Ports:   []int{8080},
			Volumes: []Mount{vol("nocodb-data", "/usr/app/data")},
			Health:  slow(nodeGet("http://127.0.0.1:8080/api/v1/health"), "60s"),
		}},
		Routes:   []Route{{Subdomain: "admin", Service: "nocodb", Port: 8080, AdminConsole: true, HealthPath: "/api/v1/health"}},
		Secrets:  []Secret{password("NOCODB_DB_PASSWORD", "password of the nocodb database role"), hexSecret("NOCODB_JWT_SECRET", 32, "NC_AUTH_JWT_SECRET")},
		Database: &Database{Name: "nocodb", Role: "nocodb", PasswordKey: "NOCODB_DB_PASSWORD"},
		MemoryMB: 512,
		Note:     "The first sign-up at https://admin.<domain> becomes super admin (behind basic auth until you turn it off).",
	}
}

func n8nModule() Module {
	return Module{
		ID: "n8n", Name: "n8n", Layer: Growth,
		Description:  "Workflow automation",
		Dependencies: []string{"postgres"},
		Containers: []Container{
			{
				Name:  "n8n",
				Image: ImageN8N,
				Env: join(env(
					"DB_TYPE", "postgresdb", "DB_POSTGRESDB_HOST", "postgres", "DB_POSTGRESDB_PORT", "5432",
					"DB_POSTGRESDB_DATABASE", "n8n", "DB_POSTGRESDB_USER", "n8n", "DB_POSTGRESDB_PASSWORD", "${N8N_DB_PASSWORD}",
					"N8N_ENCRYPTION_KEY", "${N8N_ENCRYPTION_KEY}",
					"N8N_RUNNERS_MODE", "external", "N8N_RUNNERS_AUTH_TOKEN", "${N8N_RUNNERS_AUTH_TOKEN}",
					"N8N_RUNNERS_BROKER_LISTEN_ADDRESS", "0.0.0.0",
					"N8N_METRICS", "true",
					"N8N_HOST", "auto.${DOMAIN}", "N8N_PROTOCOL", "https", "N8N_PROXY_HOPS", "1",
					"WEBHOOK_URL", publicURL("auto")+"/", "N8N_EDITOR_BASE_URL", publicURL("auto")+"/",
					"N8N_DIAGNOSTICS_ENABLED", "false",
					"N8N_EMAIL_MODE", "smtp",
				), smtpEnv("N8N_SMTP_HOST", "N8N_SMTP_PORT", "N8N_SMTP_USER", "N8N_SMTP_PASS", "N8N_SMTP_SENDER")),
				Ports:   []int{5678, 5679},
				Volumes: []Mount{vol("n8n-data", "/home/node/.n8n"), ro("./ops/n8n/workflows", "/workflows")},
				Health:  slow(nodeGet("http://127.0.0.1:5678/healthz"), "60s"),
			},
			{
				Name:      "n8n-runner",
				Image:     ImageN8NRunners,
				Env:       env("N8N_RUNNERS_AUTH_TOKEN", "${N8N_RUNNERS_AUTH_TOKEN}", "N8N_RUNNERS_TASK_BROKER_URI", "http://n8n:5679"),
				DependsOn: healthy("n8n"),
			},
		},
		Routes: []Route{{Subdomain: "auto", Service: "n8n", Port: 5678, AdminConsole: true, HealthPath: "/healthz"}},
		Secrets: []Secret{
			password("N8N_DB_PASSWORD", "password of the n8n database role"),
			hexSecret("N8N_ENCRYPTION_KEY", 32, "encrypts stored credentials; losing it makes them unreadable"),
			hexSecret("N8N_RUNNERS_AUTH_TOKEN", 32, "shared by n8n and its task runner"),
		},
		Database: &Database{Name: "n8n", Role: "n8n", PasswordKey: "N8N_DB_PASSWORD"},
		Metrics:  []Scrape{{Job: "n8n", Service: "n8n", Port: 5678}},
		MemoryMB: 768,
		Note: "The first visitor of https://auto.<domain> sets up the owner account (behind basic auth). Workflows shipped in " +
			"ops/n8n/workflows are mounted at /workflows: import them with `docker compose exec n8n n8n import:workflow --separate --input=/workflows`. " +
			"Public webhooks need basic auth turned off for n8n.",
	}
}

func appsmithModule() Module {
	return Module{
		ID: "appsmith", Name: "Appsmith", Layer: Growth,
		Description: "Low-code internal tools",
		Containers: []Container{{
			Name:  "appsmith",
			Image: ImageAppsmith,
			Env: env(
				"APPSMITH_ENCRYPTION_PASSWORD", "${APPSMITH_ENCRYPTION_PASSWORD}",
				"APPSMITH_ENCRYPTION_SALT", "${APPSMITH_ENCRYPTION_SALT}",
				"APPSMITH_DISABLE_TELEMETRY", "true",
			),
			Ports:   []int{80},
			Volumes: []Mount{vol("appsmith-stacks", "/appsmith-stacks")},
			Health:  slow(cmd("/opt/appsmith/healthcheck.sh"), "180s"),
		}},
		Routes: []Route{{Subdomain: "tools", Service: "appsmith", Port: 80, AdminConsole: true}},
		Secrets: []Secret{
			password("APPSMITH_ENCRYPTION_PASSWORD", "encrypts datasource credentials"),
			password("APPSMITH_ENCRYPTION_SALT", "salt of APPSMITH_ENCRYPTION_PASSWORD"),
		},
		MemoryMB: 2048,
		Note:     "One container with its own embedded stack. The first sign-up at https://tools.<domain> becomes instance admin (behind basic auth).",
	}
}

func docmostModule() Module {
	return Module{
		ID: "docmost", Name: "Docmost", Layer: Growth,
		Description:  "Knowledge base and wiki",
		Dependencies: []string{"postgres", "redis"},
		Containers: []Container{{
			Name:  "docmost",
			Image: ImageDocmost,
			Env: join(env(
				"APP_URL", publicURL("docs"),
				"APP_SECRET", "${DOCMOST_APP_SECRET}",
				"DATABASE_URL", "postgresql://docmost:${DOCMOST_DB_PASSWORD}@postgres:5432/docmost?schema=public",
				"REDIS_URL", redisURL("3"),
				"STORAGE_DRIVER", "local",
				"DISABLE_TELEMETRY", "true",
				"MAIL_DRIVER", "smtp",
			), smtpEnv("SMTP_HOST", "SMTP_PORT", "SMTP_USERNAME", "SMTP_PASSWORD", "MAIL_FROM_ADDRESS")),
			Ports:     []int{3000},
			Volumes:   []Mount{vol("docmost-data", "/app/data/storage")},
			Health:    slow(nodeGet("http://127.0.0.1:3000/api/health"), "60s"),
			DependsOn: healthy("redis"),
		}},
		Routes: []Route{{Subdomain: "docs", Service: "docmost", Port: 3000, AdminConsole: true, HealthPath: "/api/health"}},
		Secrets: []Secret{
			password("DOCMOST_DB_PASSWORD", "password of the docmost database role"),
			hexSecret("DOCMOST_APP_SECRET", 32, "APP_SECRET (at least 32 characters)"),
		},
		Database: &Database{Name: "docmost", Role: "docmost", PasswordKey: "DOCMOST_DB_PASSWORD"},
		MemoryMB: 512,
		Note:     "The first visitor of https://docs.<domain> creates the workspace and its owner (behind basic auth until you turn it off).",
	}
}

func librechatModule() Module {
	return Module{
		ID: "librechat", Name: "LibreChat", Layer: AI,
		Description: "Multi-model chat UI",
		Containers: []Container{
			{
				Name:    "librechat-mongo",
				Image:   ImageMongo,
				Command: []string{"mongod", "--bind_ip_all"},
				Ports:   []int{27017},
				Volumes: []Mount{vol("librechat-mongo", "/data/db")},
				Health:  slow(cmd("mongosh", "--quiet", "--eval", "db.runCommand({ping:1}).ok"), "30s"),
			},
			{
				Name:    "librechat-meili",
				Image:   ImageMeilisearch,
				Env:     env("MEILI_MASTER_KEY", "${LIBRECHAT_MEILI_MASTER_KEY}", "MEILI_NO_ANALYTICS", "true", "MEILI_ENV", "production"),
				Ports:   []int{7700},
				Volumes: []Mount{vol("librechat-meili", "/meili_data")},
				Health:  shell("wget -q --spider http://127.0.0.1:7700/health || curl -fsS -o /dev/null http://127.0.0.1:7700/health"),
			},
			{
				Name:  "librechat",
				Image: ImageLibreChat,
				Env: join(env(
					"HOST", "0.0.0.0", "PORT", "3080", "NODE_ENV", "production",
					"MONGO_URI", "mongodb://librechat-mongo:27017/LibreChat",
					"MEILI_HOST", "http://librechat-meili:7700", "MEILI_MASTER_KEY", "${LIBRECHAT_MEILI_MASTER_KEY}",
					"CREDS_KEY", "${LIBRECHAT_CREDS_KEY}", "CREDS_IV", "${LIBRECHAT_CREDS_IV}",
					"JWT_SECRET", "${LIBRECHAT_JWT_SECRET}", "JWT_REFRESH_SECRET", "${LIBRECHAT_JWT_REFRESH_SECRET}",
					"DOMAIN_CLIENT", publicURL("chat"), "DOMAIN_SERVER", publicURL("chat"),
					"ALLOW_REGISTRATION", "${LIBRECHAT_ALLOW_REGISTRATION}",
					"EMAIL_HOST", "${SMTP_HOST}", "EMAIL_PORT", "${SMTP_PORT}",
					"EMAIL_USERNAME", "${SMTP_USER}", "EMAIL_PASSWORD", "${SMTP_PASSWORD}", "EMAIL_FROM", "${SMTP_FROM}",
				), []EnvVar{{Name: "OLLAMA_BASE_URL", Value: "http://ollama:11434", If: "ollama"}}),
				Ports: []int{3080},
				Volumes: []Mount{
					vol("librechat-images", "/app/client/public/images"),
					vol("librechat-uploads", "/app/uploads"),
					vol("librechat-logs", "/app/api/logs"),
				},
				Health:    slow(nodeGet("http://127.0.0.1:3080/health"), "60s"),
				DependsOn: healthy("librechat-mongo", "librechat-meili"),
			},
		},
		Routes: []Route{{Subdomain: "chat", Service: "librechat", Port: 3080, HealthPath: "/health"}},
		Secrets: []Secret{
			hexSecret("LIBRECHAT_CREDS_KEY", 32, "CREDS_KEY: 32 bytes as 64 hex characters"),
			hexSecret("LIBRECHAT_CREDS_IV", 16, "CREDS_IV: 16 bytes as 32 hex characters"),
			hexSecret("LIBRECHAT_JWT_SECRET", 32, "JWT_SECRET"),
			hexSecret("LIBRECHAT_JWT_REFRESH_SECRET", 32, "JWT_REFRESH_SECRET"),
			password("LIBRECHAT_MEILI_MASTER_KEY", "Meilisearch master key"),
		},
		Settings: []Setting{{Key: "LIBRECHAT_ALLOW_REGISTRATION", Default: "true", Description: "set to false once your users have registered"}},
		MemoryMB: 1536,
		Note: "The first registered user at https://chat.<domain> gets the ADMIN role: register before sharing the URL, then set " +
			"LIBRECHAT_ALLOW_REGISTRATION=false. MongoDB and Meilisearch stay internal. With ollama selected, add it as a custom endpoint " +
			"(OLLAMA_BASE_URL) in librechat.yaml.",
	}
}

func langflowModule() Module {
	return Module{
		ID: "langflow", Name: "Langflow", Layer: AI,
		Description:  "Visual LLM workflows",
		Dependencies: []string{"postgres"},
		Containers: []Container{{
			Name:  "langflow",
			Image: ImageLangflow,
			Env: env(
				"LANGFLOW_DATABASE_URL", "postgresql://langflow:${LANGFLOW_DB_PASSWORD}@postgres:5432/langflow",
				"LANGFLOW_CONFIG_DIR", "/app/langflow",
				"LANGFLOW_HOST", "0.0.0.0", "LANGFLOW_PORT", "7860",
				"LANGFLOW_AUTO_LOGIN", "false",
				"LANGFLOW_SUPERUSER", "admin", "LANGFLOW_SUPERUSER_PASSWORD", "${LANGFLOW_SUPERUSER_PASSWORD}",
				"LANGFLOW_SECRET_KEY", "${LANGFLOW_SECRET_KEY}",
				"LANGFLOW_NEW_USER_IS_ACTIVE", "false",
				"DO_NOT_TRACK", "true",
			),
			Ports:   []int{7860},
			Volumes: []Mount{vol("langflow-data", "/app/langflow")},
			// /health answers before Langflow is up; /health_check also
			// queries its database.
			Health: slow(pythonGet("http://127.0.0.1:7860/health_check"), "120s"),
		}},
		Routes: []Route{{Subdomain: "flow", Service: "langflow", Port: 7860, AdminConsole: true, HealthPath: "/health_check"}},
		Secrets: []Secret{
			password("LANGFLOW_DB_PASSWORD", "password of the langflow database role"),
			password("LANGFLOW_SUPERUSER_PASSWORD", "Langflow superuser password (user admin)"),
			hexSecret("LANGFLOW_SECRET_KEY", 32, "encrypts stored secrets"),
		},
		Settings: []Setting{{Key: "FASTSAAS_LANGFLOW_API_KEY", Description: "Langflow API key the fast-saas API uses (create it in Langflow under Settings → API keys)"}},
		Database: &Database{Name: "langflow", Role: "langflow", PasswordKey: "LANGFLOW_DB_PASSWORD"},
		MemoryMB: 1536,
		Note: "Auto-login is off; log in at https://flow.<domain> as admin / LANGFLOW_SUPERUSER_PASSWORD, create an API key and put it " +
			"in FASTSAAS_LANGFLOW_API_KEY for the fast-saas API. Langflow's MCP endpoints never require auth, so keep basic auth on for langflow.",
	}
}

func ollamaModule() Module {
	return Module{
		ID: "ollama", Name: "Ollama", Layer: AI,
		Description: "Local LLM runtime (internal only: it has no authentication)",
		Containers: []Container{{
			Name:    "ollama",
			Image:   ImageOllama,
			Env:     env("OLLAMA_HOST", "0.0.0.0:11434"),
			Ports:   []int{11434},
			Volumes: []Mount{vol("ollama-data", "/root/.ollama")},
			// No curl in the image; the CLI talks to the server.
			Health: slow(cmd("ollama", "list"), "30s"),
			GPU:    true,
		}},
		MemoryMB: 4096,
		Note: "Not routed: Ollama has no authentication; the API reaches it at http://ollama:11434. Pull a model with " +
			"`docker compose exec ollama ollama pull <model>`. Use `--gpu` to reserve NVIDIA GPUs.",
	}
}

func claudeAgentModule() Module {
	return Module{
		ID: "claude-agent", Name: "Claude agent", Layer: AI,
		Description: "Our Claude Code runner with an async job API (`fast-saas agent`), reached through the API",
		Containers: []Container{{
			Name:    "claude-agent",
			Image:   ImageFastSaaS,
			Build:   true,
			Command: []string{"agent"},
			Env: env(
				"FASTSAAS_AGENT_ADDR", ":8090",
				"FASTSAAS_AGENT_KEY", "${FASTSAAS_AGENT_KEY}",
				"FASTSAAS_AGENT_DATA", "/var/lib/fast-saas",
				"ANTHROPIC_API_KEY", "${ANTHROPIC_API_KEY}",
			),
			Ports:   []int{8090},
			Volumes: []Mount{vol("claude-agent-data", "/var/lib/fast-saas")},
			Health:  cmd("/usr/local/bin/fast-saas", "probe", "http://127.0.0.1:8090/health"),
		}},
		Secrets: []Secret{hexSecret("FASTSAAS_AGENT_KEY", 32, "bearer key shared by the agent and the API")},
		Settings: []Setting{
			{Key: "ANTHROPIC_API_KEY", Description: "your Anthropic API key", Required: true},
			{Key: "FASTSAAS_VERSION", Description: "fast-saas release the agent image is built from", Required: true},
		},
		MemoryMB: 512,
		Note:     "Internal only (port 8090, no route): the API calls it with FASTSAAS_AGENT_KEY. Set ANTHROPIC_API_KEY in .env before `up`.",
	}
}

func langfuseModule() Module {
	s3 := func(prefix, endpoint, path string) []EnvVar {
		return env(
			prefix+"BUCKET", "langfuse", prefix+"REGION", "us-east-1",
			prefix+"ACCESS_KEY_ID", "${RUSTFS_ACCESS_KEY}", prefix+"SECRET_ACCESS_KEY", "${RUSTFS_SECRET_KEY}",
			prefix+"ENDPOINT", endpoint, prefix+"FORCE_PATH_STYLE", "true", prefix+"PREFIX", path,
		)
	}
	common := join(
		env(
			"DATABASE_URL", "postgresql://langfuse:${LANGFUSE_DB_PASSWORD}@postgres:5432/langfuse",
			"SALT", "${LANGFUSE_SALT}",
			"ENCRYPTION_KEY", "${LANGFUSE_ENCRYPTION_KEY}",
			"CLICKHOUSE_MIGRATION_URL", "clickhouse://langfuse-clickhouse:9000",
			"CLICKHOUSE_URL", "http://langfuse-clickhouse:8123",
			"CLICKHOUSE_USER", "langfuse", "CLICKHOUSE_PASSWORD", "${LANGFUSE_CLICKHOUSE_PASSWORD}",
			"CLICKHOUSE_CLUSTER_ENABLED", "false",
			"REDIS_HOST", "redis", "REDIS_PORT", "6379", "REDIS_AUTH", redisPassword,
			"TELEMETRY_ENABLED", "false",
			"LANGFUSE_USE_AZURE_BLOB", "false",
			"HOSTNAME", "0.0.0.0",
		),
		s3("LANGFUSE_S3_EVENT_UPLOAD_", "http://rustfs:9000", "events/"),
		// Media and export URLs are opened by the browser: use the public route.
		s3("LANGFUSE_S3_MEDIA_UPLOAD_", publicURL("storage"), "media/"),
	)
	web := join(common, env(
		"NEXTAUTH_URL", publicURL("observe"),
		"NEXTAUTH_SECRET", "${LANGFUSE_NEXTAUTH_SECRET}",
		"LANGFUSE_INIT_ORG_ID", "fast-saas", "LANGFUSE_INIT_ORG_NAME", "fast-saas",
		"LANGFUSE_INIT_PROJECT_ID", "fast-saas", "LANGFUSE_INIT_PROJECT_NAME", "fast-saas",
		"LANGFUSE_INIT_PROJECT_PUBLIC_KEY", "pk-lf-${LANGFUSE_PUBLIC_KEY}",
		"LANGFUSE_INIT_PROJECT_SECRET_KEY", "sk-lf-${LANGFUSE_SECRET_KEY}",
		"LANGFUSE_INIT_USER_EMAIL", "${ADMIN_EMAIL}", "LANGFUSE_INIT_USER_NAME", "admin",
		"LANGFUSE_INIT_USER_PASSWORD", "${LANGFUSE_ADMIN_PASSWORD}",
		// The admin is created headlessly, so nobody else may sign up.
		"AUTH_DISABLE_SIGNUP", "true",
	))
	deps := append(healthy("langfuse-clickhouse", "redis"), completed("langfuse-bucket"))
	return Module{
		ID: "langfuse", Name: "Langfuse", Layer: AI,
		Description:  "LLM tracing, evaluation and cost tracking",
		Dependencies: []string{"postgres", "redis", "rustfs"},
		Containers: []Container{
			{
				Name:  "langfuse-clickhouse",
				Image: ImageClickHouse,
				User:  "101:101",
				Env:   env("CLICKHOUSE_DB", "default", "CLICKHOUSE_USER", "langfuse", "CLICKHOUSE_PASSWORD", "${LANGFUSE_CLICKHOUSE_PASSWORD}"),
				Ports: []int{8123, 9000},
				Volumes: []Mount{
					vol("langfuse-clickhouse-data", "/var/lib/clickhouse"),
					vol("langfuse-clickhouse-logs", "/var/log/clickhouse-server"),
				},
				Health: slow(wget("http://localhost:8123/ping"), "30s"),
			},
			{
				Name:       "langfuse-bucket",
				Image:      ImageMinioClient,
				Entrypoint: []string{"sh", "-c", `mc alias set s3 http://rustfs:9000 "$$RUSTFS_ACCESS_KEY" "$$RUSTFS_SECRET_KEY" && mc mb --ignore-existing s3/langfuse`},
				Env:        env("RUSTFS_ACCESS_KEY", "${RUSTFS_ACCESS_KEY}", "RUSTFS_SECRET_KEY", "${RUSTFS_SECRET_KEY}"),
				OneShot:    true,
				DependsOn:  healthy("rustfs"),
			},
			{
				Name: "langfuse-web", Image: ImageLangfuse, Env: web, Ports: []int{3000},
				Health:    slow(nodeGet("http://127.0.0.1:3000/api/public/health"), "120s"),
				DependsOn: deps,
			},
			{
				Name: "langfuse-worker", Image: ImageLangfuseWorker, Env: common, Ports: []int{3030},
				Health:    slow(nodeGet("http://127.0.0.1:3030/api/health"), "120s"),
				DependsOn: deps,
			},
		},
		Routes: []Route{{Subdomain: "observe", Service: "langfuse-web", Port: 3000, AdminConsole: true, HealthPath: "/api/public/health"}},
		Secrets: []Secret{
			password("LANGFUSE_DB_PASSWORD", "password of the langfuse database role"),
			hexSecret("LANGFUSE_SALT", 32, "SALT for API key hashing"),
			hexSecret("LANGFUSE_ENCRYPTION_KEY", 32, "ENCRYPTION_KEY: exactly 64 hex characters"),
			hexSecret("LANGFUSE_NEXTAUTH_SECRET", 32, "NEXTAUTH_SECRET"),
			password("LANGFUSE_CLICKHOUSE_PASSWORD", "ClickHouse password of the langfuse user"),
			password("LANGFUSE_ADMIN_PASSWORD", "password of the first Langfuse user (ADMIN_EMAIL)"),
			hexSecret("LANGFUSE_PUBLIC_KEY", 16, "project public key, used as pk-lf-<value>"),
			hexSecret("LANGFUSE_SECRET_KEY", 32, "project secret key, used as sk-lf-<value>"),
		},
		Database: &Database{Name: "langfuse", Role: "langfuse", PasswordKey: "LANGFUSE_DB_PASSWORD"},
		MemoryMB: 3072,
		Note: "Langfuse v3: web, worker, ClickHouse, and S3 on RustFS (bucket `langfuse` created by a one-shot job). The org, project, " +
			"API keys (pk-lf-/sk-lf-) and first user (ADMIN_EMAIL / LANGFUSE_ADMIN_PASSWORD) are created on first boot; sign-up is disabled. " +
			"The API reaches it internally; SDKs outside the stack need basic auth turned off for langfuse.",
	}
}
