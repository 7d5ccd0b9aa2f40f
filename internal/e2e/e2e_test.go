// Package e2e drives the built fast-saas binary over HTTP: `serve` on a
// random port, embedded (SQLite) and distributed (Postgres + Redis).
package e2e

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/fast-saas/fast-saas/client"
	"github.com/fast-saas/fast-saas/internal/testenv"
)

var binary string

func TestMain(m *testing.M) {
	if os.Getenv(helloEnv) == "1" { // TestLoad's reference server
		serveHello()
		return
	}
	dir, err := os.MkdirTemp("", "fast-saas-e2e")
	if err != nil {
		panic(err)
	}
	// Built as `make build` does, so the tests (and the startup
	// benchmark) exercise the shipped binary.
	binary, err = testenv.BuildBinary(dir)
	if err != nil {
		panic(err)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// logto is a stand-in Logto: a JWKS endpoint and a signer of RS256 access
// tokens with Logto's issuer (<endpoint>/oidc) and our audience.
type logto struct {
	srv *httptest.Server
	key *rsa.PrivateKey
}

const audience = "https://api.fast-saas.test"

func newLogto(t *testing.T) *logto {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	l := &logto{key: key}
	b64 := base64.RawURLEncoding.EncodeToString
	jwks, _ := json.Marshal(map[string]any{"keys": []map[string]string{{
		"kty": "RSA", "kid": "k1", "use": "sig", "alg": "RS256",
		"n": b64(key.N.Bytes()), "e": b64(big.NewInt(int64(key.E)).Bytes()),
	}}})
	l.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/oidc/jwks" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(jwks)
	}))
	t.Cleanup(l.srv.Close)
	return l
}

func (l *logto) token(t *testing.T, sub string) string {
	t.Helper()
	now := time.Now()
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{
		"iss": l.srv.URL + "/oidc", "aud": audience, "sub": sub, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
		"scope": "", "client_id": "e2e",
	})
	tok.Header["kid"] = "k1"
	s, err := tok.SignedString(l.key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

type server struct {
	base, platformKey string
	cmd               *exec.Cmd
	stopped           bool
}

// stop sends SIGINT and waits for a graceful exit (idempotent).
func (s *server) stop(t *testing.T) {
	if s.stopped {
		return
	}
	s.stopped = true
	_ = s.cmd.Process.Signal(os.Interrupt)
	done := make(chan error, 1)
	go func() { done <- s.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("serve exited with %v after SIGINT, want a clean exit", err)
		}
	case <-time.After(20 * time.Second):
		_ = s.cmd.Process.Kill()
		t.Error("serve did not stop within 20 s of SIGINT")
	}
}

var keyRE = regexp.MustCompile(`fsp_[0-9A-Za-z]+`)

// start runs `fast-saas serve` on a random port with env and waits for it
// to print its URL and first platform key.
func start(t *testing.T, env ...string) *server {
	t.Helper()
	return startIn(t, t.TempDir(), env...)
}

// startIn is start with a chosen data directory (to restart on the same data).
func startIn(t *testing.T, dataDir string, env ...string) *server {
	t.Helper()
	cmd := exec.Command(binary, "serve", "--addr", "127.0.0.1:0", "--data-dir", dataDir)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = &logTail{t: t}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &server{cmd: cmd}
	t.Cleanup(func() { s.stop(t) })
	sc := bufio.NewScanner(out)
	deadline := time.AfterFunc(60*time.Second, func() { _ = cmd.Process.Kill() })
	defer deadline.Stop()
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, "fast-saas is listening on "); ok {
			s.base = strings.Fields(rest)[0]
		}
		if k := keyRE.FindString(line); k != "" {
			s.platformKey = k
			break
		}
		if strings.HasPrefix(line, "Platform admin key: created on first start") {
			break
		}
	}
	go func() {
		for sc.Scan() {
		}
	}()
	if s.base == "" {
		t.Fatalf("serve did not print its URL")
	}
	return s
}

// logTail keeps the server's log out of passing tests' output but shows
// its errors.
type logTail struct{ t *testing.T }

func (l *logTail) Write(p []byte) (int, error) {
	for _, line := range strings.Split(string(p), "\n") {
		if strings.Contains(line, `"level":"ERROR"`) {
			l.t.Logf("server: %s", line)
		}
	}
	return len(p), nil
}

// tenantWithKey creates a tenant on plan and returns it with a client that
// calls as a tenant API key of it (scope read).
func tenantWithKey(t *testing.T, admin *client.Client, slug, plan string) (client.Tenant, *client.Client) {
	t.Helper()
	ctx := context.Background()
	tenant, err := admin.CreateTenant(ctx, client.CreateTenant{Slug: slug, Name: slug, Plan: plan})
	if err != nil {
		t.Fatal(err)
	}
	key, err := admin.CreateAPIKey(ctx, tenant.ID, client.CreateAPIKey{Name: "k", Scopes: []string{"read"}})
	if err != nil {
		t.Fatal(err)
	}
	return tenant, admin.WithToken(key.Key)
}

// metricTotal is the summary's total for metric (0 when it is absent).
func metricTotal(sum client.UsageSummary, metric string) float64 {
	for _, m := range sum.Metrics {
		if m.Metric == metric {
			return m.Total
		}
	}
	return 0
}

func apiStatus(err error) int {
	var e *client.Error
	if errors.As(err, &e) {
		return e.Status
	}
	return 0
}

func TestStorySQLite(t *testing.T) {
	t.Parallel()
	l := newLogto(t)
	s := start(t, "FASTSAAS_LOGTO_ENDPOINT="+l.srv.URL, "FASTSAAS_LOGTO_AUDIENCE="+audience, "DATABASE_URL=", "REDIS_URL=")
	story(t, s, l)
}

func TestStoryPostgresRedis(t *testing.T) {
	t.Parallel()
	pg := testenv.Postgres(t)
	_, prefix := testenv.Redis(t)
	l := newLogto(t)
	s := start(t, "FASTSAAS_LOGTO_ENDPOINT="+l.srv.URL, "FASTSAAS_LOGTO_AUDIENCE="+audience,
		"DATABASE_URL="+pg, "REDIS_URL="+testenv.RedisURL(t), "FASTSAAS_REDIS_PREFIX="+prefix)
	story(t, s, l)
}

// story is the acceptance story of issue 5: create tenant → add user →
// make them owner → create API key → call with it → ingest usage → read
// summary → rotate key (old works during grace, then not) → revoke → 401.
func story(t *testing.T, s *server, l *logto) {
	ctx := context.Background()
	admin := client.New(s.base, s.platformKey)

	tenant, err := admin.CreateTenant(ctx, client.CreateTenant{Slug: "acme", Name: "Acme", Plan: "starter"})
	if err != nil || tenant.ID == "" || tenant.Status != "active" {
		t.Fatalf("create tenant: %+v, %v", tenant, err)
	}
	user, err := admin.CreateUser(ctx, client.CreateUser{Email: "ada@example.com", ExternalID: "logto-ada"})
	if err != nil {
		t.Fatalf("create user: %v", err)
	}
	if _, err := admin.AddMember(ctx, tenant.ID, user.ID, "member"); err != nil {
		t.Fatalf("add member: %v", err)
	}
	if m, err := admin.ChangeMemberRole(ctx, tenant.ID, user.ID, "owner"); err != nil || m.Role != "owner" {
		t.Fatalf("make owner: %+v, %v", m, err)
	}

	// The user now acts with a Logto access token (JWT, verified via JWKS).
	ada := admin.WithToken(l.token(t, "logto-ada"))
	if _, err := ada.GetTenant(ctx, tenant.ID); err != nil {
		t.Fatalf("owner reads tenant with JWT: %v", err)
	}
	stranger := admin.WithToken(l.token(t, "logto-stranger")) // provisioned on first sight, member of nothing
	if _, err := stranger.GetTenant(ctx, tenant.ID); apiStatus(err) != http.StatusNotFound {
		t.Fatalf("stranger reads tenant: %v, want 404", err)
	}
	key, err := ada.CreateAPIKey(ctx, tenant.ID, client.CreateAPIKey{Name: "backend", Scopes: []string{"read", "usage:write"}})
	if err != nil || !strings.HasPrefix(key.Key, "fsk_") {
		t.Fatalf("create api key: %+v, %v", key, err)
	}
	keyed := admin.WithToken(key.Key)
	if got, err := keyed.GetTenant(ctx, tenant.ID); err != nil || got.ID != tenant.ID {
		t.Fatalf("call with key: %+v, %v", got, err)
	}
	q := 7.0
	res, err := keyed.IngestUsage(ctx, tenant.ID, []client.UsageEvent{
		{TransactionID: "tx-1", Metric: "tokens", Quantity: &q},
		{TransactionID: "tx-2", Metric: "tokens", Quantity: &q},
	})
	if err != nil || res.Accepted != 2 {
		t.Fatalf("ingest: %+v, %v", res, err)
	}
	if res, err := keyed.IngestUsage(ctx, tenant.ID, []client.UsageEvent{{TransactionID: "tx-1", Metric: "tokens", Quantity: &q}}); err != nil || res.Duplicates != 1 {
		t.Fatalf("re-ingest: %+v, %v, want 1 duplicate", res, err)
	}
	sum, err := ada.UsageSummary(ctx, tenant.ID, "7d")
	if err != nil {
		t.Fatalf("summary: %v", err)
	}
	if tokens := metricTotal(sum, "tokens"); tokens != 14 {
		t.Fatalf("summary tokens = %v, want 14 (%+v)", tokens, sum)
	}
	// The largest quantities add up in the summary (two of 1e308 once made
	// it +Inf, which no JSON encoder writes); a negative quantity, which
	// would take metered usage back, is refused naming the field.
	most, negative := 1e15, -5.0
	if _, err := keyed.IngestUsage(ctx, tenant.ID, []client.UsageEvent{
		{TransactionID: "big-1", Metric: "bytes", Quantity: &most},
		{TransactionID: "big-2", Metric: "bytes", Quantity: &most},
	}); err != nil {
		t.Fatalf("ingest the largest quantities: %v", err)
	}
	var e *client.Error
	if _, err := keyed.IngestUsage(ctx, tenant.ID, []client.UsageEvent{{TransactionID: "neg", Metric: "api_calls", Quantity: &negative}}); !errors.As(err, &e) || e.Status != http.StatusUnprocessableEntity || e.Field != "body.events[0].quantity" {
		t.Fatalf("negative quantity: %v, want 422 naming body.events[0].quantity", err)
	}
	if sum, err = ada.UsageSummary(ctx, tenant.ID, "7d"); err != nil {
		t.Fatalf("summary after the largest quantities: %v", err)
	}
	if bytes := metricTotal(sum, "bytes"); bytes != 2e15 {
		t.Fatalf("summary bytes = %v, want 2e15 (%+v)", bytes, sum)
	}

	const grace = 3
	rotated, err := ada.RotateAPIKey(ctx, tenant.ID, key.ID, grace)
	if err != nil || rotated.Key == "" || rotated.Key == key.Key || rotated.Name != key.Name {
		t.Fatalf("rotate: %+v, %v", rotated, err)
	}
	if _, err := keyed.GetTenant(ctx, tenant.ID); err != nil {
		t.Fatalf("old key during grace: %v", err)
	}
	newKeyed := admin.WithToken(rotated.Key)
	if _, err := newKeyed.GetTenant(ctx, tenant.ID); err != nil {
		t.Fatalf("new key: %v", err)
	}
	// After the grace period the old key stops working.
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := keyed.GetTenant(ctx, tenant.ID)
		if apiStatus(err) == http.StatusUnauthorized {
			break
		}
		if err != nil {
			t.Fatalf("old key after grace: %v, want 401", err)
		}
		if time.Now().After(deadline) {
			t.Fatal("old key still works 30 s after a 3 s grace period")
		}
		time.Sleep(250 * time.Millisecond)
	}
	if err := ada.RevokeAPIKey(ctx, tenant.ID, rotated.ID); err != nil {
		t.Fatalf("revoke: %v", err)
	}
	if _, err := newKeyed.GetTenant(ctx, tenant.ID); apiStatus(err) != http.StatusUnauthorized {
		t.Fatalf("revoked key: %v, want 401", err)
	}

	// Every mutation left an audit row.
	var audit client.List[map[string]any]
	if err := ada.Do(ctx, http.MethodGet, "/api/v1/tenants/"+tenant.ID+"/audit", nil, nil, &audit); err != nil {
		t.Fatalf("audit: %v", err)
	}
	actions := map[string]bool{}
	for _, e := range audit.Items {
		actions[e["action"].(string)] = true
	}
	for _, a := range []string{"tenant.create", "member.add", "member.change_role", "api_key.create", "api_key.rotate", "api_key.revoke"} {
		if !actions[a] {
			t.Errorf("audit log lacks %s (has %v)", a, actions)
		}
	}
	// Readiness reports every dependency up.
	resp, err := http.Get(s.base + "/health/ready")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("ready: %v %v", resp, err)
	}
	resp.Body.Close()
}
