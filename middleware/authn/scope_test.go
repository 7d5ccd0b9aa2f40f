package authn

import (
	"bytes"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/fast-saas/fast-saas/middleware/apikey"
)

func TestRequireScope(t *testing.T) {
	t.Parallel()
	a := newAuth(t, Options{})
	h := a.RequireScope("usage:write")(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	}))
	tests := []struct {
		name     string
		p        *Principal
		want     int
		wantAuth string
	}{
		{"has scope", &Principal{Kind: KindTenantKey, Scopes: []string{"read", "usage:write"}}, 204, ""},
		{"lacks scope", &Principal{Kind: KindTenantKey, Scopes: []string{"read"}}, 403,
			`Bearer realm="fast-saas", error="insufficient_scope", scope="usage:write"`},
		{"user lacks scope", &Principal{Kind: KindUser, Scopes: nil}, 403,
			`Bearer realm="fast-saas", error="insufficient_scope", scope="usage:write"`},
		{"platform has every scope", &Principal{Kind: KindPlatform}, 204, ""},
		{"no principal", nil, 401, `Bearer realm="fast-saas"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest(http.MethodPost, "/", nil)
			if tt.p != nil {
				r = r.WithContext(NewContext(r.Context(), *tt.p))
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			if rec.Code != tt.want {
				t.Fatalf("status = %d, want %d", rec.Code, tt.want)
			}
			if got := rec.Header().Get("WWW-Authenticate"); got != tt.wantAuth {
				t.Errorf("WWW-Authenticate = %q, want %q", got, tt.wantAuth)
			}
		})
	}
}

// Failure paths that log must never log the presented secret.
func TestTokensNeverLogged(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	clock := newClock()
	s := newStore()
	es := ecSigner(t, 0, "ec-1")
	p := newIDP(t, es)
	p.down.Store(true)
	a := newAuth(t, Options{LogtoEndpoint: p.srv.URL, Audience: testAudience, Keys: keyOnlyStore{s}, Now: clock.Now, Logger: logger})

	// Inconsistent record (logged as an error), store outage and JWKS
	// outage (logged as warnings).
	inconsistent, rec := s.add(t, apikey.KindTenant, nil)
	rec.TenantID = ""
	s.set(rec)
	down, _ := s.add(t, apikey.KindTenant, nil)
	jwtTok := sign(t, es, p.claims(clock.Now()))

	h := a.Middleware(okHandler())
	if got := serve(h, "Bearer "+inconsistent).Code; got != 401 {
		t.Fatalf("inconsistent record: status %d", got)
	}
	s.setErr(errors.New("store down"))
	if got := serve(h, "Bearer "+down).Code; got != 503 {
		t.Fatalf("store down: status %d", got)
	}
	clock.Advance(11 * time.Second) // past the outage-log rate limit
	if got := serve(h, "Bearer "+jwtTok).Code; got != 503 {
		t.Fatalf("jwks down: status %d", got)
	}
	logs := buf.String()
	if !strings.Contains(logs, "inconsistent record") || !strings.Contains(logs, "unavailable") {
		t.Fatalf("expected log lines missing; logs:\n%s", logs)
	}
	for _, secret := range []string{inconsistent, down, jwtTok, strings.Split(jwtTok, ".")[2]} {
		if strings.Contains(logs, secret) {
			t.Errorf("logs contain a token:\n%s", logs)
		}
	}
}
