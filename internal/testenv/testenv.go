// Package testenv gives tests their own slice of the machine's real services:
// a fresh Postgres database and a private Redis key prefix per test.
//
// A service-backed test calls Postgres(t) or Redis(t). When the service's
// variable is unset the test is skipped with a message naming the variable,
// unless FASTSAAS_TEST_REQUIRE_SERVICES=1 (set by CI), in which case a missing
// service fails the test: in CI a skipped service-backed test is a failure.
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
)

// Variables read by this package.
const (
	PostgresVar = "FASTSAAS_TEST_POSTGRES_URL" // admin URL, e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable
	RedisVar    = "FASTSAAS_TEST_REDIS_URL"    // e.g. redis://127.0.0.1:6379/0
	RequireVar  = "FASTSAAS_TEST_REQUIRE_SERVICES"
)

// Required reports whether missing services must fail tests instead of skipping them.
func Required() bool { return os.Getenv(RequireVar) == "1" }

func unavailable(t testing.TB, variable, why string) {
	t.Helper()
	if Required() {
		t.Fatalf("%s is required (%s=1) but %s", variable, RequireVar, why)
	}
	t.Skipf("set %s to run this test against a real server (%s)", variable, why)
}

// Suffix returns a short random lowercase hex string for unique names.
func Suffix() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Postgres creates a fresh database for the calling test and returns a URL
// for it, connecting as the admin user of FASTSAAS_TEST_POSTGRES_URL. The
// database is dropped when the test ends.
func Postgres(t testing.TB) string {
	t.Helper()
	admin := os.Getenv(PostgresVar)
	if admin == "" {
		unavailable(t, PostgresVar, "it is not set")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		unavailable(t, PostgresVar, "connect: "+err.Error())
	}
	defer conn.Close(ctx)
	name := "fst_" + strings.ToLower(strings.NewReplacer("/", "_", " ", "_", "-", "_").Replace(t.Name()))
	if len(name) > 40 {
		name = name[:40]
	}
	name += "_" + Suffix()
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, admin)
		if err != nil {
			t.Logf("drop test database %s: %v", name, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			t.Logf("drop test database %s: %v", name, err)
		}
	})
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatalf("parse %s: %v", PostgresVar, err)
	}
	u.Path = "/" + name
	return u.String()
}

// Redis returns a client for FASTSAAS_TEST_REDIS_URL and a key prefix that
// is unique to the calling test. Keys under the prefix are deleted when the
// test ends.
func Redis(t testing.TB) (*redis.Client, string) {
	t.Helper()
	raw := os.Getenv(RedisVar)
	if raw == "" {
		unavailable(t, RedisVar, "it is not set")
	}
	opts, err := redis.ParseURL(raw)
	if err != nil {
		t.Fatalf("parse %s: %v", RedisVar, err)
	}
	client := redis.NewClient(opts)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := client.Ping(ctx).Err(); err != nil {
		client.Close()
		unavailable(t, RedisVar, "ping: "+err.Error())
	}
	prefix := "fst:" + Suffix() + ":"
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		iter := client.Scan(ctx, 0, prefix+"*", 500).Iterator()
		for iter.Next(ctx) {
			client.Del(ctx, iter.Val())
		}
		client.Close()
	})
	return client, prefix
}

// RedisURL returns FASTSAAS_TEST_REDIS_URL, skipping or failing like Redis.
func RedisURL(t testing.TB) string {
	t.Helper()
	raw := os.Getenv(RedisVar)
	if raw == "" {
		unavailable(t, RedisVar, "it is not set")
	}
	return raw
}

// Tool returns the path of an external program a test needs (caddy,
// promtool, chromium…). Missing, it skips the test, or fails it when
// services are required (CI installs every tool in .ci/run).
func Tool(t testing.TB, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		if Required() {
			t.Fatalf("%s is required (%s=1) but not on PATH: install it (.ci/run does)", name, RequireVar)
		}
		t.Skipf("%s is not on PATH (apt-get install it, as .ci/run does)", name)
	}
	return path
}

// BuildBinary builds cmd/fast-saas into dir as `make build` does (static,
// CGO_ENABLED=0, -trimpath, stripped) and returns its path. End-to-end
// suites call it once from TestMain, so they test the binary we ship.
func BuildBinary(dir string) (string, error) {
	bin := filepath.Join(dir, "fast-saas")
	build := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", bin, "github.com/fast-saas/fast-saas/cmd/fast-saas")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build fast-saas: %w\n%s", err, out)
	}
	return bin, nil
}
