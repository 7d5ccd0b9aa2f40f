package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/fast-saas/fast-saas/client"
	"github.com/fast-saas/fast-saas/internal/testenv"
	"github.com/fast-saas/fast-saas/middleware/entitlements"
)

// TestLoad is the load benchmark of the brief (wrk, 32 connections,
// loopback): GET /api/v1/tenants with a platform key, a tenant key and a
// JWT, and GET /health, then the server's RSS. It runs with
// FASTSAAS_E2E_LOAD=1 (10 s per case by default) and in CI
// (FASTSAAS_TEST_REQUIRE_SERVICES=1, 1 s per case). It reports the numbers
// and asserts only what does not depend on the machine's speed: wrk
// completed requests and every answer was 2xx.
//
//	FASTSAAS_E2E_LOAD=1 go test -run TestLoad -v ./internal/e2e
//
// FASTSAAS_E2E_LOAD_MODE=distributed runs it on Postgres + Redis (testenv).
func TestLoad(t *testing.T) {
	explicit := os.Getenv("FASTSAAS_E2E_LOAD") == "1"
	if !explicit && !testenv.Required() {
		t.Skip("set FASTSAAS_E2E_LOAD=1 to run the wrk load benchmark")
	}
	wrk := testenv.Tool(t, "wrk")
	duration := os.Getenv("FASTSAAS_E2E_LOAD_DURATION")
	switch {
	case duration != "":
	case explicit:
		duration = "10s"
	default:
		duration = "1s"
	}
	l := newLogto(t)
	// No per-IP limit: wrk is one client address.
	env := []string{"FASTSAAS_LOGTO_ENDPOINT=" + l.srv.URL, "FASTSAAS_LOGTO_AUDIENCE=" + audience,
		"FASTSAAS_IP_RATE_LIMIT=-1", "FASTSAAS_LOG_LEVEL=warn", "DATABASE_URL=", "REDIS_URL="}
	if os.Getenv("FASTSAAS_E2E_LOAD_MODE") == "distributed" { // Postgres + Redis from testenv
		_, prefix := testenv.Redis(t)
		env = append(env, "DATABASE_URL="+testenv.Postgres(t), "REDIS_URL="+testenv.RedisURL(t), "FASTSAAS_REDIS_PREFIX="+prefix)
	}
	s := start(t, env...)
	ctx := context.Background()
	admin := client.New(s.base, s.platformKey)
	tenant, err := admin.CreateTenant(ctx, client.CreateTenant{Slug: "load", Name: "Load", Plan: "enterprise"})
	if err != nil {
		t.Fatal(err)
	}
	// Limits far above what a run reaches, but finite: every tenant-key
	// request pays the rate-limit decision and the quota check (unlimited
	// would skip both), and none is refused.
	overrides := map[string]any{"rate_limit_per_minute": entitlements.MaxRatePerMinute, "api_calls_per_month": 1_000_000_000_000}
	if err := admin.Do(ctx, http.MethodPut, "/api/v1/tenants/"+tenant.ID+"/overrides", nil, overrides, nil); err != nil {
		t.Fatal(err)
	}
	user, err := admin.CreateUser(ctx, client.CreateUser{Email: "load@example.com", ExternalID: "logto-load"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.AddMember(ctx, tenant.ID, user.ID, "owner"); err != nil {
		t.Fatal(err)
	}
	key, err := admin.CreateAPIKey(ctx, tenant.ID, client.CreateAPIKey{Name: "load", Scopes: []string{"read"}})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct{ name, path, token string }{
		{"platform key", "/api/v1/tenants", s.platformKey},
		{"tenant key", "/api/v1/tenants", key.Key},
		{"JWT", "/api/v1/tenants", l.token(t, "logto-load")},
		{"health", "/health", ""},
	}
	reqRE := regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)
	p99RE := regexp.MustCompile(`\s99%\s+([0-9.]+\w+)`)
	nonRE := regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)`)
	for _, c := range cases {
		args := []string{"-t2", "-c32", "-d" + duration, "--latency"}
		if c.token != "" {
			args = append(args, "-H", "Authorization: Bearer "+c.token)
		}
		out, err := exec.Command(wrk, append(args, s.base+c.path)...).CombinedOutput()
		if err != nil {
			t.Fatalf("wrk %s: %v\n%s", c.name, err, out)
		}
		rps, p99, non2xx := "?", "?", "0"
		if m := reqRE.FindSubmatch(out); m != nil {
			rps = string(m[1])
		}
		if n, err := strconv.ParseFloat(rps, 64); err != nil || n <= 0 {
			t.Errorf("%s: wrk completed no requests (Requests/sec %q)\n%s", c.name, rps, out)
		}
		if m := p99RE.FindSubmatch(out); m != nil {
			p99 = string(m[1])
		}
		if m := nonRE.FindSubmatch(out); m != nil {
			non2xx = string(m[1])
		}
		t.Logf("%-13s %10s req/s   p99 %8s   non-2xx %s", c.name, rps, p99, non2xx)
		if non2xx != "0" {
			t.Errorf("%s: %s answers were not 2xx\n%s", c.name, non2xx, out)
		}
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	if err == nil {
		for _, line := range strings.Split(string(status), "\n") {
			if strings.HasPrefix(line, "VmHWM") || strings.HasPrefix(line, "VmRSS") {
				t.Log(strings.Join(strings.Fields(line), " "))
			}
		}
	}
}
