package server

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/fast-saas/fast-saas/internal/config"
	"github.com/fast-saas/fast-saas/internal/lago"
	"github.com/fast-saas/fast-saas/internal/lago/lagofake"
	"github.com/fast-saas/fast-saas/internal/store"
	"github.com/fast-saas/fast-saas/internal/testenv"
)

// webhookServer is `serve` composed with Lago pointing at fake: the public
// key is fetched from it, the HMAC key and issuer are its own.
func webhookServer(t *testing.T, fake *lagofake.Server, redisURL, prefix string) (*Server, string) {
	t.Helper()
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.IPRateLimit = -1
	cfg.LagoAPIURL, cfg.LagoAPIKey = fake.URL, fake.APIKey()
	cfg.LagoWebhookHMACKey, cfg.LagoWebhookIssuer = fake.HMACKey(), fake.Issuer()
	if redisURL != "" {
		cfg.RedisURL, cfg.RedisPrefix = redisURL, prefix
	}
	srv, err := New(context.Background(), cfg, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	ts := httptest.NewServer(srv.Handler)
	t.Cleanup(ts.Close)
	return srv, ts.URL
}

// send posts a delivery and returns the status and the answer's code
// (problem code or ack status).
func send(t *testing.T, url string, w lagofake.Webhook) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url+"/api/v1/webhooks/lago", bytes.NewReader(w.Body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header = w.Header.Clone()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct{ Code, Status any }
	raw, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(raw, &body)
	if resp.StatusCode >= 400 {
		if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
			t.Errorf("%d answer with content type %q: %s", resp.StatusCode, ct, raw)
		}
		s, _ := body.Code.(string)
		return resp.StatusCode, s
	}
	s, _ := body.Status.(string)
	return resp.StatusCode, s
}

func mustWebhook(t *testing.T, fake *lagofake.Server, typ, objectType string, object map[string]any, algo string) lagofake.Webhook {
	t.Helper()
	w, err := fake.NewWebhook(typ, objectType, object, algo)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// scrape reads the counters of the server's /metrics by series.
func scrape(t *testing.T, url string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "lago_webhook") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("metric line %q: %v", line, err)
		}
		out[line[:i]] = v
	}
	return out
}

func auditActions(t *testing.T, st store.Store, tenantID string) map[string]int {
	t.Helper()
	entries, _, err := st.ListAudit(context.Background(), tenantID, store.AuditFilter{}, store.Page{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, e := range entries {
		if e.Principal == "lago" {
			out[e.Action+" "+e.Target]++
		}
	}
	return out
}

// TestLagoWebhooks drives the receiver end to end with deliveries signed
// and sent the way Lago does, against `serve` composed from config.
func TestLagoWebhooks(t *testing.T) {
	t.Parallel()
	fake := lagofake.New(lagofake.Options{})
	t.Cleanup(fake.Close)
	other := lagofake.New(lagofake.Options{}) // another Lago: other RSA key, other HMAC key
	t.Cleanup(other.Close)
	srv, url := webhookServer(t, fake, "", "")
	ctx := context.Background()
	tenant, err := srv.Store.CreateTenant(ctx, store.Tenant{Slug: "acme", Name: "Acme", Plan: "pro"}, "")
	if err != nil {
		t.Fatal(err)
	}
	sub := map[string]any{"lago_id": "0b1d8c3f-5f0c-4f7a-9a55-31b9f3a0e001", "external_id": tenant.ID, "external_customer_id": tenant.ID, "plan_code": "pro", "status": "active"}
	inv := map[string]any{"lago_id": "1c2e9d40-6a1d-4b8b-8b66-42cae4b1f002", "number": "ACM-001", "status": "finalized",
		"customer": map[string]any{"lago_id": "2d3fa051-7b2e-4c9c-9c77-53dbf5c20003", "external_id": tenant.ID}}

	jwtSub := mustWebhook(t, fake, "subscription.started", "subscription", sub, lago.AlgorithmJWT)
	hmacInv := mustWebhook(t, fake, "invoice.created", "invoice", inv, lago.AlgorithmHMAC)
	tampered := func(w lagofake.Webhook) lagofake.Webhook {
		w.Body = bytes.Replace(w.Body, []byte(`"pro"`), []byte(`"free"`), 1)
		w.Header = w.Header.Clone()
		w.Header.Set(lago.HeaderUniqueKey, uuid.NewString())
		if bytes.Equal(w.Body, jwtSub.Body) || bytes.Equal(w.Body, hmacInv.Body) {
			t.Fatal("tampering changed nothing")
		}
		return w
	}
	invPro := mustWebhook(t, fake, "invoice.created", "invoice", map[string]any{"lago_id": "x", "plan_code": "pro", "customer": map[string]any{"external_id": tenant.ID}}, lago.AlgorithmHMAC)
	noSig := mustWebhook(t, fake, "invoice.created", "invoice", inv, lago.AlgorithmHMAC)
	noSig.Header.Del(lago.HeaderSignature)
	md5 := mustWebhook(t, fake, "invoice.created", "invoice", inv, lago.AlgorithmHMAC)
	md5.Header.Set(lago.HeaderAlgorithm, "md5")
	unknownType := mustWebhook(t, fake, "invoice.teleported", "invoice", inv, lago.AlgorithmJWT)
	noKey := mustWebhook(t, fake, "invoice.created", "invoice", inv, lago.AlgorithmHMAC)
	noKey.Header.Del(lago.HeaderUniqueKey)
	unknownCustomer := mustWebhook(t, fake, "customer.created", "customer", map[string]any{"lago_id": "c1", "external_id": uuid.NewString()}, lago.AlgorithmJWT)
	notATenantID := mustWebhook(t, fake, "customer.updated", "customer", map[string]any{"lago_id": "c2", "external_id": "cus_42"}, lago.AlgorithmHMAC)
	notAWebhook := mustWebhook(t, fake, "invoice.created", "customer", map[string]any{"id": 1}, lago.AlgorithmHMAC)
	notAWebhook.Body = []byte(`[1,2,3]`)
	// Re-sign the non-object body with the right key, so only its shape is wrong.
	notAWebhook = resign(t, fake, notAWebhook)

	steps := []struct {
		name   string
		w      lagofake.Webhook
		status int
		code   string
	}{
		{"valid jwt", jwtSub, 200, lago.OutcomeAccepted},
		{"valid hmac", hmacInv, 200, lago.OutcomeAccepted},
		{"jwt replayed (Lago's retry)", jwtSub, 200, lago.OutcomeDuplicate},
		{"hmac replayed", hmacInv, 200, lago.OutcomeDuplicate},
		{"tampered jwt body", tampered(jwtSub), 401, lago.ReasonBadSignature},
		{"tampered hmac body", tampered(invPro), 401, lago.ReasonBadSignature},
		{"jwt from another Lago", mustWebhook(t, other, "subscription.started", "subscription", sub, lago.AlgorithmJWT), 401, lago.ReasonBadSignature},
		{"hmac with another key", mustWebhook(t, other, "invoice.created", "invoice", inv, lago.AlgorithmHMAC), 401, lago.ReasonBadSignature},
		{"no signature", noSig, 401, lago.ReasonMissingSignature},
		{"unknown algorithm", md5, 401, lago.ReasonUnsupportedAlgorithm},
		{"unknown webhook type (recorded, counted)", unknownType, 200, lago.OutcomeUnknownType},
		{"unknown webhook type replayed", unknownType, 200, lago.OutcomeDuplicate},
		{"no unique key", noKey, 400, lago.ReasonMalformed},
		{"signed, but not a webhook", notAWebhook, 400, lago.ReasonMalformed},
		{"unknown customer", unknownCustomer, 200, lago.OutcomeUnknownCustomer},
		{"customer id that is no tenant id", notATenantID, 200, lago.OutcomeUnknownCustomer},
		{"unknown customer replayed", unknownCustomer, 200, lago.OutcomeDuplicate},
	}
	for _, s := range steps {
		if status, code := send(t, url, s.w); status != s.status || code != s.code {
			t.Errorf("%s: %d %q, want %d %q", s.name, status, code, s.status, s.code)
		}
	}

	wantAudit := map[string]int{
		"lago.subscription.started subscription:" + sub["lago_id"].(string): 1,
		"lago.invoice.created invoice:" + inv["lago_id"].(string):           1,
		"lago.invoice.teleported invoice:" + inv["lago_id"].(string):        1,
	}
	got := auditActions(t, srv.Store, tenant.ID)
	if len(got) != len(wantAudit) {
		t.Errorf("audit rows by lago: %v, want %v", got, wantAudit)
	}
	for k, n := range wantAudit {
		if got[k] != n {
			t.Errorf("audit %q: %d rows, want %d (all: %v)", k, got[k], n, got)
		}
	}

	wantMetrics := map[string]float64{
		`lago_webhook_failures_total{reason="bad_signature"}`:         4,
		`lago_webhook_failures_total{reason="missing_signature"}`:     1,
		`lago_webhook_failures_total{reason="unsupported_algorithm"}`: 1,
		`lago_webhook_failures_total{reason="malformed"}`:             2,
		`lago_webhook_failures_total{reason="key_unavailable"}`:       0,
		`lago_webhook_failures_total{reason="not_configured"}`:        0,
		`lago_webhook_failures_total{reason="unavailable"}`:           0,
		`lago_webhooks_received_total{outcome="accepted"}`:            2,
		`lago_webhooks_received_total{outcome="duplicate"}`:           4,
		`lago_webhooks_received_total{outcome="unknown_type"}`:        1,
		`lago_webhooks_received_total{outcome="unknown_customer"}`:    2,
	}
	gotMetrics := scrape(t, url)
	for k, v := range wantMetrics {
		if g, ok := gotMetrics[k]; !ok || g != v {
			t.Errorf("%s = %v (present %v), want %v", k, g, ok, v)
		}
	}
	// The public key was fetched from Lago once, then cached.
	if n := fake.Requests("GET /api/v1/webhooks/public_key"); n != 1 {
		t.Errorf("public key fetched %d times, want 1", n)
	}
}

// resign signs w's (changed) body again with fake's HMAC key.
func resign(t *testing.T, fake *lagofake.Server, w lagofake.Webhook) lagofake.Webhook {
	t.Helper()
	w.Header = w.Header.Clone()
	w.Header.Set(lago.HeaderSignature, lagofake.SignHMAC([]byte(fake.HMACKey()), w.Body))
	return w
}

// TestLagoWebhooksSharedDedup: with Redis, replicas share the unique keys,
// so Lago's retry reaching another replica is still a duplicate.
func TestLagoWebhooksSharedDedup(t *testing.T) {
	t.Parallel()
	_, prefix := testenv.Redis(t)
	redisURL := testenv.RedisURL(t)
	fake := lagofake.New(lagofake.Options{})
	t.Cleanup(fake.Close)
	a, urlA := webhookServer(t, fake, redisURL, prefix)
	_, urlB := webhookServer(t, fake, redisURL, prefix)
	tenant, err := a.Store.CreateTenant(context.Background(), store.Tenant{Slug: "acme", Name: "Acme", Plan: "pro"}, "")
	if err != nil {
		t.Fatal(err)
	}
	w := mustWebhook(t, fake, "wallet.created", "wallet", map[string]any{"lago_id": "w1", "external_customer_id": tenant.ID}, lago.AlgorithmJWT)
	if status, code := send(t, urlA, w); status != 200 || code != lago.OutcomeAccepted {
		t.Fatalf("replica A: %d %s", status, code)
	}
	if status, code := send(t, urlB, w); status != 200 || code != lago.OutcomeDuplicate {
		t.Errorf("replica B, same delivery: %d %s, want 200 duplicate", status, code)
	}
}
