// Command load is the load harness behind `make bench-load`: it builds
// fast-saas, runs `serve` embedded (SQLite) and with Postgres + Redis on
// loopback, seeds tenants with keys through the API, and measures fixed
// scenarios with a bounded closed-loop generator against a bare net/http
// hello server (the ceiling, measured in the same run, before and after the
// scenarios). It prints one table.
//
//	go run ./bench/cmd/load [-duration 5s] [-runs 3] [-conns 32] [-tenants 1000]
//	go run ./bench/cmd/load -backends postgres -scenarios tenant,jwt -pprof /tmp/prof
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/fast-saas/fast-saas/bench/internal/harness"
	"github.com/fast-saas/fast-saas/middleware/entitlements"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "hello" {
		hello()
		return
	}
	var cfg config
	flag.DurationVar(&cfg.duration, "duration", 5*time.Second, "length of each measured run")
	flag.IntVar(&cfg.runs, "runs", 3, "runs per scenario; the table shows medians")
	flag.IntVar(&cfg.conns, "conns", 32, "concurrent keep-alive connections")
	flag.IntVar(&cfg.tenants, "tenants", 1000, "tenants seeded (the mixed scenario spreads over all of them)")
	flag.IntVar(&cfg.batch, "batch", 1000, "events per ingest request")
	flag.StringVar(&cfg.pgAdmin, "postgres", envOr("FASTSAAS_BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"),
		"admin URL of the Postgres server where a dedicated database is created and dropped (env FASTSAAS_BENCH_POSTGRES_URL)")
	flag.StringVar(&cfg.backends, "backends", "embedded,postgres", "backends to measure, comma-separated")
	flag.DurationVar(&cfg.rateWindow, "ratelimit-window", 10*time.Second, "how long 3 replicas are hammered for the rate-limit accuracy check (postgres backend); 0 skips it")
	flag.StringVar(&cfg.scenarios, "scenarios", "", "scenarios to measure, comma-separated, of "+strings.Join(scenarioKeys, ",")+" (default all; the ceiling is always measured)")
	flag.StringVar(&cfg.pprofDir, "pprof", "", "directory for a CPU profile of serve per scenario (first measured run); builds ./bench/cmd/servepprof, serve with a pprof listener")
	flag.Parse()
	for _, k := range splitList(cfg.scenarios) {
		if !slices.Contains(scenarioKeys, k) {
			fmt.Fprintf(os.Stderr, "bench-load: unknown scenario %q (want %s)\n", k, strings.Join(scenarioKeys, ","))
			os.Exit(2)
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, cfg, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "bench-load:", err)
		os.Exit(1)
	}
}

type config struct {
	duration                    time.Duration
	runs, conns, tenants, batch int
	pgAdmin, backends           string
	rateWindow                  time.Duration
	scenarios, pprofDir         string
}

// scenarioKeys name the scenarios for -scenarios, in table order.
var scenarioKeys = []string{"health", "platform", "tenant", "jwt", "ingest", "mixed"}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// wants says whether scenario key is selected by -scenarios.
func (c config) wants(key string) bool {
	keys := splitList(c.scenarios)
	return len(keys) == 0 || slices.Contains(keys, key)
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// hello is the ceiling: the smallest useful net/http server, in its own
// process like serve, so both pay the same loopback and scheduling costs.
func hello() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(ln.Addr().String())
	body := []byte("hello\n")
	_ = http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write(body)
	}))
}

// row is one scenario's medians.
type row struct {
	backend, name, key string
	rps, eventsPerReq  float64
	p50, p99           time.Duration
	rssKiB, hwmKiB     int64
	anonKiB, fileKiB   int64
	cpuPerReq          time.Duration
	failures           int
	note               string
	// CPU per request of the processes around serve: the load generator
	// (this process), redis-server and serve's Postgres backends.
	genPerReq, redisPerReq, pgPerReq time.Duration
}

func run(ctx context.Context, cfg config, out io.Writer) error {
	tmp, err := os.MkdirTemp("", "fast-saas-bench-load")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	fmt.Fprintln(out, "building fast-saas (CGO_ENABLED=0)…")
	pkg := "./cmd/fast-saas"
	if cfg.pprofDir != "" {
		pkg = "./bench/cmd/servepprof"
		if err := os.MkdirAll(cfg.pprofDir, 0o755); err != nil {
			return err
		}
	}
	bin, err := harness.BuildPackage(ctx, tmp, pkg)
	if err != nil {
		return err
	}

	var rows []row
	ceiling, err := measureHello(ctx, cfg)
	if err != nil {
		return err
	}
	rows = append(rows, ceiling)
	fmt.Fprintf(out, "ceiling (bare net/http): %.0f req/s\n", ceiling.rps)

	var rc *rateCheck
	for _, backend := range strings.Split(cfg.backends, ",") {
		got, check, err := measureBackend(ctx, cfg, bin, tmp, strings.TrimSpace(backend), out)
		if err != nil {
			return fmt.Errorf("%s: %w", backend, err)
		}
		rows = append(rows, got...)
		if check != nil {
			rc = check
		}
	}
	// The ceiling again: a shared host's speed can change during the
	// minutes of a run, and a ratio to a ceiling the host no longer has
	// would be wrong. The ratios use the mean of both measurements; a
	// drift above 10% is said in the output.
	end, err := measureHello(ctx, cfg)
	if err != nil {
		return err
	}
	end.name = "hello (ceiling, again at the end)"
	rows = append(rows, end)
	ceilingRPS := (ceiling.rps + end.rps) / 2
	drift := end.rps/ceiling.rps - 1
	fmt.Fprintf(out, "ceiling again at the end: %.0f req/s (%+.0f%%)\n", end.rps, 100*drift)

	host, _ := os.Hostname()
	fmt.Fprintf(out, "\nfast-saas load — %s, %s, nproc %d, %d conns, %d × %s per scenario (medians), loopback\n",
		time.Now().UTC().Format(time.RFC3339), host, nproc(), cfg.conns, cfg.runs, cfg.duration)
	fmt.Fprintf(out, "× ceiling: against %.0f req/s, the mean of the ceiling before (%.0f) and after (%.0f) the scenarios\n",
		ceilingRPS, ceiling.rps, end.rps)
	if drift > 0.1 || drift < -0.1 {
		fmt.Fprintf(out, "warning: the ceiling moved %+.0f%% during the run: the host's speed changed, and the ratios are approximate; run again\n", 100*drift)
	}
	t := harness.Table{Header: []string{"backend", "scenario", "req/s", "p50", "p99", "RSS MiB", "anon + file", "peak MiB", "CPU/req", "× ceiling", "failed", "note"}}
	for _, r := range rows {
		note := r.note
		if r.eventsPerReq > 1 {
			note = strings.TrimSpace(fmt.Sprintf("%.0f events/s %s", r.rps*r.eventsPerReq, note))
		}
		ratio := fmt.Sprintf("%.2f", r.rps/ceilingRPS)
		if r.eventsPerReq > 1 {
			ratio = "n/a" // a 1,000-event write is not comparable with a hello
		}
		t.Add(r.backend, r.name, fmt.Sprintf("%.0f", r.rps), ms(r.p50), ms(r.p99),
			mib(r.rssKiB), mib(r.anonKiB)+" + "+mib(r.fileKiB), mib(r.hwmKiB), us(r.cpuPerReq), ratio, strconv.Itoa(r.failures), note)
	}
	t.Print(out)
	fmt.Fprintln(out, "\nCPU per successful request, medians (serve; load generator = this process; redis-server; serve's Postgres backends):")
	ct := harness.Table{Header: []string{"backend", "scenario", "serve", "generator", "redis", "postgres", "total"}}
	for _, r := range rows {
		ct.Add(r.backend, r.name, us(r.cpuPerReq), us(r.genPerReq), us(r.redisPerReq), us(r.pgPerReq),
			us(r.cpuPerReq+r.genPerReq+r.redisPerReq+r.pgPerReq))
	}
	ct.Print(out)
	if rc != nil {
		fmt.Fprintln(out, "\nrate limit accuracy (one tenant, replicas sharing one Redis):")
		rc.print(out)
		if !rc.ok {
			return errors.New("rate limit accuracy outside [95%, 100%] of the admissible count")
		}
	}
	return nil
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2fms", float64(d)/1e6) }
func us(d time.Duration) string { return fmt.Sprintf("%.0fµs", float64(d)/1e3) }
func mib(k int64) string        { return fmt.Sprintf("%.1f", float64(k)/1024) }

func nproc() int {
	out, err := exec.Command("nproc").Output()
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(strings.TrimSpace(string(out)))
	return n
}

func measureHello(ctx context.Context, cfg config) (row, error) {
	self, err := os.Executable()
	if err != nil {
		return row{}, err
	}
	cmd := exec.Command(self, "hello")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return row{}, err
	}
	if err := cmd.Start(); err != nil {
		return row{}, fmt.Errorf("start hello server: %w", err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	buf := make([]byte, 64)
	n, err := stdout.Read(buf)
	if err != nil {
		return row{}, fmt.Errorf("hello server address: %w", err)
	}
	url := "http://" + strings.TrimSpace(string(buf[:n])) + "/"
	sc := scenario{name: "hello (ceiling)", next: func(int, int) (*http.Request, error) { return http.NewRequest(http.MethodGet, url, nil) }}
	r := measure(ctx, cfg, probe{pid: cmd.Process.Pid}, sc)
	r.backend = "net/http"
	return r, nil
}

// scenario is one fixed request mix.
type scenario struct {
	key, name    string
	next         func(w, i int) (*http.Request, error)
	eventsPerReq float64
}

// probe is what measure watches besides the answers: serve's process, and
// optionally redis-server, serve's Postgres database and a pprof listener.
type probe struct {
	pid, redisPID int
	dbURL         string
	pprofAddr     string
	profile       string // file for the CPU profile of the first run
}

// measure runs sc cfg.runs times (after a short warm-up) and keeps the
// medians: the machine is shared, so single runs are noisy.
func measure(ctx context.Context, cfg config, pr probe, sc scenario) row {
	harness.Load(ctx, harness.LoadOptions{Conns: cfg.conns, Duration: time.Second, Next: sc.next})
	var rps []float64
	var p50, p99, cpu, gen, rcpu, pcpu []time.Duration
	r := row{key: sc.key, name: sc.name, eventsPerReq: sc.eventsPerReq}
	perReq := func(sec float64, n int) time.Duration { return time.Duration(sec * 1e9 / float64(n)) }
	for run := range cfg.runs {
		var pgPIDs []int
		if pr.dbURL != "" {
			pgPIDs, _ = harness.BackendPIDs(ctx, pr.dbURL)
		}
		var prof chan error
		if run == 0 && pr.pprofAddr != "" && pr.profile != "" {
			prof = make(chan error, 1)
			go func() { prof <- fetchProfile(ctx, pr.pprofAddr, cfg.duration, pr.profile) }()
		}
		before, _ := harness.ReadProc(pr.pid)
		genBefore, redisBefore, pgBefore := selfCPU(), harness.CPUByPID([]int{pr.redisPID}), harness.CPUByPID(pgPIDs)
		res := harness.Load(ctx, harness.LoadOptions{Conns: cfg.conns, Duration: cfg.duration, Next: sc.next})
		after, err := harness.ReadProc(pr.pid)
		if pr.dbURL != "" {
			// Backends serve's pool opened during the run did all their
			// work in it: count them too (they count from zero). A backend
			// that closed before the end is lost to the count.
			now, _ := harness.BackendPIDs(ctx, pr.dbURL)
			pgPIDs = append(pgPIDs, now...)
		}
		genAfter, redisAfter, pgAfter := selfCPU(), harness.CPUByPID([]int{pr.redisPID}), harness.CPUByPID(pgPIDs)
		if err != nil {
			r.note = "process gone: " + err.Error()
		}
		if prof != nil {
			if err := <-prof; err != nil && r.note == "" {
				r.note = "profile: " + err.Error()
			}
		}
		rps = append(rps, res.RPS())
		p50, p99 = append(p50, res.P50), append(p99, res.P99)
		if res.Requests > 0 {
			cpu = append(cpu, perReq(after.CPUSeconds-before.CPUSeconds, res.Requests))
			gen = append(gen, perReq(genAfter-genBefore, res.Requests))
			rcpu = append(rcpu, perReq(harness.CPUDelta(redisBefore, redisAfter), res.Requests))
			pcpu = append(pcpu, perReq(harness.CPUDelta(pgBefore, pgAfter), res.Requests))
		}
		r.rssKiB, r.hwmKiB = after.RSSKiB, after.HWMKiB
		r.anonKiB, r.fileKiB = after.AnonKiB, after.FileKiB
		r.failures += res.Failures
		if res.FirstErr != nil && r.note == "" {
			r.note = "first failure: " + res.FirstErr.Error()
		}
	}
	r.rps = median(rps)
	r.p50, r.p99, r.cpuPerReq = median(p50), median(p99), median(cpu)
	r.genPerReq, r.redisPerReq, r.pgPerReq = median(gen), median(rcpu), median(pcpu)
	return r
}

func selfCPU() float64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

// fetchProfile saves a CPU profile of serve over d (whole seconds, at
// least 1) from its pprof listener.
func fetchProfile(ctx context.Context, addr string, d time.Duration, file string) error {
	secs := max(1, int(d/time.Second))
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", addr, secs), nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("pprof: status %d", resp.StatusCode)
	}
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	_, err = io.Copy(f, resp.Body)
	return errors.Join(err, f.Close())
}

func median[T int64 | float64 | time.Duration](xs []T) T {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

func measureBackend(ctx context.Context, cfg config, bin, tmp, backend string, out io.Writer) (rows []row, rc *rateCheck, err error) {
	dataDir, err := os.MkdirTemp(tmp, backend)
	if err != nil {
		return nil, nil, err
	}
	logto, err := harness.NewLogto("https://api.bench.fast-saas.test")
	if err != nil {
		return nil, nil, err
	}
	defer logto.Close()
	env := []string{
		"FASTSAAS_LOGTO_ENDPOINT=" + logto.URL, "FASTSAAS_LOGTO_AUDIENCE=" + logto.Audience,
		// One load generator is one client address: the per-IP limit
		// (before authentication) would measure itself, not the chain.
		"FASTSAAS_IP_RATE_LIMIT=-1",
		"FASTSAAS_LAGO_API_URL=", "FASTSAAS_SENTRY_DSN=",
	}
	pr := probe{}
	if cfg.pprofDir != "" {
		port, err := harness.FreePort()
		if err != nil {
			return nil, nil, err
		}
		pr.pprofAddr = fmt.Sprintf("127.0.0.1:%d", port)
		env = append(env, "FASTSAAS_BENCH_PPROF_ADDR="+pr.pprofAddr)
	}
	switch backend {
	case "embedded":
		env = append(env, "DATABASE_URL=", "REDIS_URL=")
	case "postgres":
		dbURL, drop, err := harness.CreateDatabase(ctx, cfg.pgAdmin, fmt.Sprintf("fastsaas_bench_%d", time.Now().UnixNano()))
		if err != nil {
			return nil, nil, err
		}
		defer func() { _ = drop(context.Background()) }()
		rdb, err := harness.StartRedis(ctx, harness.RedisOptions{Dir: dataDir})
		if err != nil {
			return nil, nil, err
		}
		defer func() { _ = rdb.Kill() }()
		env = append(env, "DATABASE_URL="+dbURL, "REDIS_URL="+rdb.URL)
		pr.dbURL, pr.redisPID = dbURL, rdb.PID()
	default:
		return nil, nil, fmt.Errorf("unknown backend %q (embedded, postgres)", backend)
	}
	logFile, err := os.Create(dataDir + "/serve.log")
	if err != nil {
		return nil, nil, err
	}
	defer logFile.Close()
	srv, err := harness.StartServe(ctx, harness.ServeOptions{Binary: bin, DataDir: dataDir, Env: env, Log: logFile})
	if err != nil {
		return nil, nil, err
	}
	defer func() { _ = srv.Stop() }()
	if srv.PlatformKey == "" {
		return nil, nil, fmt.Errorf("serve printed no platform key")
	}
	admin := harness.API{Base: srv.Base, Token: srv.PlatformKey}
	fmt.Fprintf(out, "%s: seeding %d tenants…\n", backend, cfg.tenants)
	// Limits far above what the run can reach, but finite: every tenant
	// request goes through the whole chain — the rate-limit decision and
	// the quota check included (-1, unlimited, would skip both) — and is
	// never refused.
	tenants, err := harness.Seed(ctx, admin, harness.SeedOptions{Count: cfg.tenants, Prefix: "bench", Plan: "pro",
		Scopes: []string{"read", "usage:write"}, RatePerMinute: entitlements.MaxRatePerMinute, CallsPerMonth: 1_000_000_000_000})
	if err != nil {
		return nil, nil, err
	}
	// A Logto user, member of the first tenant, reads with a JWT.
	var user struct {
		ID string `json:"id"`
	}
	if err := admin.Do(ctx, http.MethodPost, "/api/v1/users", map[string]any{"email": "bench@example.com", "external_id": "bench-user"}, &user); err != nil {
		return nil, nil, err
	}
	if err := admin.Do(ctx, http.MethodPost, "/api/v1/tenants/"+tenants[0].ID+"/members", map[string]any{"user_id": user.ID, "role": "member"}, nil); err != nil {
		return nil, nil, err
	}
	jwt, err := logto.Token("bench-user")
	if err != nil {
		return nil, nil, err
	}

	get := func(path, token string) func(int, int) (*http.Request, error) {
		return func(int, int) (*http.Request, error) {
			req, err := http.NewRequest(http.MethodGet, srv.Base+path, nil)
			if err == nil && token != "" {
				req.Header.Set("Authorization", "Bearer "+token)
			}
			return req, err
		}
	}
	run := time.Now().UnixNano()
	ingest := func(t harness.Tenant, events int, w, i int) (*http.Request, error) {
		body := ingestBody(fmt.Sprintf("%d-%d-%d", run, w, i), events)
		req, err := http.NewRequest(http.MethodPost, srv.Base+"/api/v1/tenants/"+t.ID+"/usage/events", bytes.NewReader(body))
		if err == nil {
			req.Header.Set("Authorization", "Bearer "+t.Key)
			req.Header.Set("Content-Type", "application/json")
		}
		return req, err
	}
	scenarios := []scenario{
		{key: "health", name: "GET /health", next: get("/health", "")},
		{key: "platform", name: "GET /api/v1/tenants platform key", next: get("/api/v1/tenants", srv.PlatformKey)},
		{key: "tenant", name: "GET /api/v1/tenants tenant key", next: get("/api/v1/tenants", tenants[0].Key)},
		{key: "jwt", name: "GET /api/v1/tenants JWT (ES384)", next: get("/api/v1/tenants", jwt)},
		{key: "ingest", name: fmt.Sprintf("ingest %d events/request", cfg.batch), eventsPerReq: float64(cfg.batch),
			next: func(w, i int) (*http.Request, error) { return ingest(tenants[w%len(tenants)], cfg.batch, w, i) }},
		{key: "mixed", name: fmt.Sprintf("mixed 90%% read / 10%% ingest ×10, %d tenants", len(tenants)),
			next: func(w, i int) (*http.Request, error) {
				t := tenants[rand.IntN(len(tenants))]
				if rand.IntN(10) == 0 {
					return ingest(t, 10, w, i)
				}
				return get("/api/v1/tenants/"+t.ID, t.Key)(w, i)
			}},
	}
	for _, sc := range scenarios {
		if !cfg.wants(sc.key) {
			continue
		}
		fmt.Fprintf(out, "%s: %s…\n", backend, sc.name)
		pr.pid = srv.PID()
		if cfg.pprofDir != "" {
			pr.profile = filepath.Join(cfg.pprofDir, backend+"-"+sc.key+".pprof")
		}
		r := measure(ctx, cfg, pr, sc)
		r.backend = backend
		rows = append(rows, r)
		if ctx.Err() != nil {
			return rows, nil, ctx.Err()
		}
	}
	if backend != "postgres" || cfg.rateWindow <= 0 {
		return rows, nil, nil
	}
	// Two more replicas on the same Postgres database and Redis.
	replicas := []*harness.Serve{srv}
	for i := range 2 {
		r, err := harness.StartServe(ctx, harness.ServeOptions{Binary: bin, DataDir: dataDir, Env: env, Log: logFile, Replica: true})
		if err != nil {
			return rows, nil, fmt.Errorf("replica %d: %w", i+2, err)
		}
		defer func() { _ = r.Stop() }()
		replicas = append(replicas, r)
	}
	check, err := checkRateLimit(ctx, replicas, admin, cfg.conns, cfg.rateWindow, out)
	if err != nil {
		return rows, nil, err
	}
	return rows, &check, nil
}

// ingestBody is a batch of n events with unique transaction ids.
func ingestBody(prefix string, n int) []byte {
	b := make([]byte, 0, 16+n*80)
	b = append(b, `{"events":[`...)
	for j := range n {
		if j > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"transaction_id":"`...)
		b = append(b, prefix...)
		b = append(b, '-')
		b = strconv.AppendInt(b, int64(j), 10)
		b = append(b, `","metric":"bench_events","quantity":1}`...)
	}
	return append(b, `]}`...)
}
