package server

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"syscall"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/fast-saas/fast-saas/internal/config"
	"github.com/fast-saas/fast-saas/internal/store"
	"github.com/fast-saas/fast-saas/middleware/apikey"
)

// benchWorld is an embedded (SQLite) server composed exactly as `serve`
// composes it, seeded like bench/cmd/load: tenants on plan pro with
// unlimited overrides, one read key each, and a Logto user who is a member
// of the first tenant. Requests go straight to the handler (no network),
// so a CPU profile shows the chain, not loopback TCP.
type benchWorld struct {
	srv                        *Server
	platformKey, tenantKey, jw string
}

// benchLogto serves an ES384 JWKS (Logto's default key type) and signs
// access tokens for it.
type benchLogto struct {
	*httptest.Server
	key *ecdsa.PrivateKey
}

func newBenchLogto(tb testing.TB) *benchLogto {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	pub, err := key.PublicKey.Bytes()
	if err != nil {
		tb.Fatal(err)
	}
	enc := base64.RawURLEncoding.EncodeToString
	set, err := json.Marshal(map[string]any{"keys": []map[string]string{{
		"kty": "EC", "crv": "P-384", "kid": "k1", "use": "sig", "alg": "ES384", "x": enc(pub[1:49]), "y": enc(pub[49:]),
	}}})
	if err != nil {
		tb.Fatal(err)
	}
	l := &benchLogto{key: key}
	l.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(set)
	}))
	tb.Cleanup(l.Close)
	return l
}

func (l *benchLogto) token(tb testing.TB, audience, sub string) string {
	tb.Helper()
	now := time.Now()
	tok := jwt.NewWithClaims(jwt.SigningMethodES384, jwt.MapClaims{
		"iss": l.URL + "/oidc", "aud": audience, "sub": sub, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	})
	tok.Header["kid"] = "k1"
	s, err := tok.SignedString(l.key)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

func newBenchWorld(tb testing.TB, tenants int) *benchWorld {
	tb.Helper()
	ctx := context.Background()
	logto := newBenchLogto(tb)
	const audience = "https://api.bench.test"
	cfg := config.Default()
	cfg.DataDir = tb.TempDir()
	cfg.LogtoEndpoint, cfg.LogtoAudience = logto.URL, audience
	cfg.IPRateLimit = -1
	srv, err := New(ctx, cfg, io.Discard)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = srv.Close() })
	w := &benchWorld{srv: srv}
	if w.platformKey, err = srv.EnsurePlatformKey(ctx); err != nil {
		tb.Fatal(err)
	}
	unlimited := int64(-1)
	var first string
	for i := range tenants {
		t, err := srv.Store.CreateTenant(ctx, store.Tenant{Slug: fmt.Sprintf("bench-%04d", i), Name: fmt.Sprintf("Bench %d", i), Plan: "pro"}, "")
		if err != nil {
			tb.Fatal(err)
		}
		if _, err := srv.Store.SetOverrides(ctx, t.ID, store.PlanOverrides{RateLimitPerMinute: &unlimited, APICallsPerMonth: &unlimited}); err != nil {
			tb.Fatal(err)
		}
		k, err := apikey.Generate(apikey.KindTenant)
		if err != nil {
			tb.Fatal(err)
		}
		if _, err := srv.Store.CreateAPIKey(ctx, store.APIKey{TenantID: t.ID, Name: "bench", Prefix: k.Display, Hash: k.Hash[:], Scopes: []string{"read", "usage:write"}}); err != nil {
			tb.Fatal(err)
		}
		if i == 0 {
			first, w.tenantKey = t.ID, k.Secret
		}
	}
	u, err := srv.Store.CreateUser(ctx, store.User{ExternalID: "bench-user", Email: "bench@example.com"})
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := srv.Store.AddMember(ctx, store.Membership{TenantID: first, UserID: u.ID, Role: store.RoleMember}); err != nil {
		tb.Fatal(err)
	}
	w.jw = logto.token(tb, audience, "bench-user")
	return w
}

// get serves one GET through the whole handler and fails on a status
// other than 200.
func (w *benchWorld) get(tb testing.TB, path, token string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	w.srv.Handler.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		tb.Fatalf("GET %s: status %d, body %s", path, rec.Code, rec.Body.String())
	}
	return rec
}

// BenchmarkHotPath measures the issue-5 scenarios of bench/cmd/load in
// process: the same handler, store and pipeline as `serve` (embedded),
// with 1,000 tenants.
func BenchmarkHotPath(b *testing.B) {
	w := newBenchWorld(b, 1000)
	for _, sc := range []struct{ name, path, token string }{
		{"health", "/health", ""},
		{"tenants-platform-key", "/api/v1/tenants", w.platformKey},
		{"tenants-tenant-key", "/api/v1/tenants", w.tenantKey},
		{"tenants-jwt", "/api/v1/tenants", w.jw},
	} {
		b.Run(sc.name, func(b *testing.B) {
			w.get(b, sc.path, sc.token) // warm the caches, check the answer
			b.ReportAllocs()
			cpu0 := processCPU(b)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					w.get(b, sc.path, sc.token)
				}
			})
			b.StopTimer()
			// CPU of the whole process (handler and background workers such
			// as the usage buffer's flushes) per request: on the shared
			// test machine wall-clock ns/op mostly measures the neighbours.
			b.ReportMetric(float64((processCPU(b)-cpu0).Microseconds())/float64(b.N), "cpu-µs/op")
		})
	}
}

// processCPU is the user+system CPU time this process has used.
func processCPU(tb testing.TB) time.Duration {
	tb.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
