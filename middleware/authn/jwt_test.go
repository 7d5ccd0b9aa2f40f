package authn

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/go-cmp/cmp"
)

func jwtAuth(t testing.TB, p *idp, clock *fakeClock) *Authenticator {
	t.Helper()
	return newAuth(t, Options{LogtoEndpoint: p.srv.URL + "/", Audience: testAudience, Now: clock.Now})
}

func TestJWT(t *testing.T) {
	t.Parallel()
	es := ecSigner(t, 0, "ec-1")
	rs := rsaSigner(t, "rsa-1")
	unpublished := ecSigner(t, 1, "ec-1") // same kid, different key
	_, rsaPriv := testKeys(t)
	rsaPubDER, err := x509.MarshalPKIXPublicKey(&rsaPriv.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	rsaPubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: rsaPubDER})

	type tc struct {
		name     string
		token    func(p *idp, now time.Time) string
		wantDesc string // "" = accepted
	}
	tests := []tc{
		{"valid ES384", func(p *idp, now time.Time) string { return sign(t, es, p.claims(now)) }, ""},
		{"valid RS256", func(p *idp, now time.Time) string { return sign(t, rs, p.claims(now)) }, ""},
		{"audience in a list", func(p *idp, now time.Time) string {
			c := p.claims(now)
			c["aud"] = []string{"https://other", testAudience}
			return sign(t, es, c)
		}, ""},
		{"expired", func(p *idp, now time.Time) string {
			c := p.claims(now)
			c["exp"] = now.Add(-time.Minute).Unix()
			return sign(t, es, c)
		}, "token expired"},
		{"expired within leeway", func(p *idp, now time.Time) string {
			c := p.claims(now)
			c["exp"] = now.Add(-10 * time.Second).Unix()
			return sign(t, es, c)
		}, ""},
		{"nbf in the future", func(p *idp, now time.Time) string {
			c := p.claims(now)
			c["nbf"] = now.Add(5 * time.Minute).Unix()
			return sign(t, es, c)
		}, "token not valid yet"},
		{"iat in the future", func(p *idp, now time.Time) string {
			c := p.claims(now)
			c["iat"] = now.Add(5 * time.Minute).Unix()
			return sign(t, es, c)
		}, "token not valid yet"},
		{"no exp", func(p *idp, now time.Time) string {
			c := p.claims(now)
			delete(c, "exp")
			return sign(t, es, c)
		}, "token lacks a required claim"},
		{"wrong issuer", func(p *idp, now time.Time) string {
			c := p.claims(now)
			c["iss"] = "https://evil.example.com/oidc"
			return sign(t, es, c)
		}, "wrong issuer"},
		{"wrong audience", func(p *idp, now time.Time) string {
			c := p.claims(now)
			c["aud"] = "https://other.example.com"
			return sign(t, es, c)
		}, "wrong audience"},
		{"no audience", func(p *idp, now time.Time) string {
			c := p.claims(now)
			delete(c, "aud")
			return sign(t, es, c)
		}, "token lacks a required claim"},
		{"no subject", func(p *idp, now time.Time) string {
			c := p.claims(now)
			delete(c, "sub")
			return sign(t, es, c)
		}, "token has no subject"},
		{"alg none", func(p *idp, now time.Time) string {
			tok := jwt.NewWithClaims(jwt.SigningMethodNone, p.claims(now))
			tok.Header["kid"] = "ec-1"
			s, err := tok.SignedString(jwt.UnsafeAllowNoneSignatureType)
			if err != nil {
				t.Fatal(err)
			}
			return s
		}, "token signature could not be verified"},
		{"HS256 with the public key as secret", func(p *idp, now time.Time) string {
			tok := jwt.NewWithClaims(jwt.SigningMethodHS256, p.claims(now))
			tok.Header["kid"] = "rsa-1"
			s, err := tok.SignedString(rsaPubPEM)
			if err != nil {
				t.Fatal(err)
			}
			return s
		}, "token signature could not be verified"},
		{"ES256 is not accepted", func(p *idp, now time.Time) string {
			// Re-label an ES384 token: the alg allow-list must refuse it
			// before any key is consulted.
			s := sign(t, es, p.claims(now))
			parts := strings.Split(s, ".")
			parts[0] = jwtSegment(t, map[string]any{"alg": "ES256", "kid": "ec-1", "typ": "JWT"})
			return strings.Join(parts, ".")
		}, "token signature could not be verified"},
		{"alg swapped to RS256 on an EC key", func(p *idp, now time.Time) string {
			s := sign(t, es, p.claims(now))
			parts := strings.Split(s, ".")
			parts[0] = jwtSegment(t, map[string]any{"alg": "RS256", "kid": "ec-1", "typ": "JWT"})
			return strings.Join(parts, ".")
		}, "token signature could not be verified"},
		{"signed by an unpublished key with a known kid", func(p *idp, now time.Time) string {
			return sign(t, unpublished, p.claims(now))
		}, "token signature could not be verified"},
		{"unknown kid", func(p *idp, now time.Time) string {
			return sign(t, ecSigner(t, 1, "ec-unknown"), p.claims(now))
		}, "token signed by an unknown key"},
		{"no kid", func(p *idp, now time.Time) string {
			return sign(t, ecSigner(t, 0, ""), p.claims(now))
		}, "token signature could not be verified"},
		{"tampered payload", func(p *idp, now time.Time) string {
			s := sign(t, es, p.claims(now))
			parts := strings.Split(s, ".")
			c := p.claims(now)
			c["sub"] = "admin"
			parts[1] = jwtSegment(t, c)
			return strings.Join(parts, ".")
		}, "token signature could not be verified"},
		{"garbage with two dots", func(*idp, time.Time) string { return "a.b.c" }, "malformed token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			clock := newClock()
			p := newIDP(t, es, rs)
			a := jwtAuth(t, p, clock)
			got, err := a.Authenticate(context.Background(), tt.token(p, clock.Now()))
			if tt.wantDesc == "" {
				if err != nil {
					t.Fatalf("Authenticate: %v", err)
				}
				if got.Kind != KindUser || got.Subject != "user-123" {
					t.Errorf("principal = %+v, want user user-123", got)
				}
				return
			}
			var ae *Error
			if !errors.As(err, &ae) || !errors.Is(err, ErrInvalidToken) {
				t.Fatalf("err = %v, want an invalid-token *Error", err)
			}
			if ae.Description != tt.wantDesc {
				t.Errorf("description = %q, want %q (err %v)", ae.Description, tt.wantDesc, err)
			}
		})
	}
}

func jwtSegment(t testing.TB, v any) string {
	t.Helper()
	b, err := jsonMarshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func TestJWTPrincipalClaims(t *testing.T) {
	t.Parallel()
	clock := newClock()
	es := ecSigner(t, 0, "ec-1")
	p := newIDP(t, es)
	a := jwtAuth(t, p, clock)
	got, err := a.Authenticate(context.Background(), sign(t, es, p.claims(clock.Now())))
	if err != nil {
		t.Fatal(err)
	}
	want := Principal{
		Kind: KindUser, Subject: "user-123", Scopes: []string{"read", "write"}, Email: "ada@example.com",
		OrganizationID: "org-1", ClientID: "app-1", ExpiresAt: time.Unix(clock.Now().Add(time.Hour).Unix(), 0),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("principal (-want +got):\n%s", diff)
	}
	if !got.HasScope("write") || got.HasScope("admin") {
		t.Errorf("HasScope wrong for scopes %v", got.Scopes)
	}
}

func TestJWTCache(t *testing.T) {
	t.Parallel()
	clock := newClock()
	es := ecSigner(t, 0, "ec-1")
	p := newIDP(t, es)
	a := jwtAuth(t, p, clock)
	c := p.claims(clock.Now())
	c["exp"] = clock.Now().Add(2 * time.Minute).Unix()
	tok := sign(t, es, c)
	if _, err := a.Authenticate(context.Background(), tok); err != nil {
		t.Fatal(err)
	}
	if got := a.tokens.len(); got != 1 {
		t.Fatalf("token cache holds %d entries, want 1", got)
	}
	// The cached verification survives the key leaving the JWKS...
	p.setSigners()
	if _, err := a.Authenticate(context.Background(), tok); err != nil {
		t.Fatalf("cached token refused: %v", err)
	}
	// ...but not the token's expiry (+ leeway).
	clock.Advance(3 * time.Minute)
	_, err := a.Authenticate(context.Background(), tok)
	if !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("after exp: err = %v, want invalid token", err)
	}
}

func TestJWTKeyRotation(t *testing.T) {
	t.Parallel()
	clock := newClock()
	oldKey, newKey := ecSigner(t, 0, "old"), rsaSigner(t, "new")
	p := newIDP(t, oldKey)
	a := jwtAuth(t, p, clock)
	ctx := context.Background()

	if _, err := a.Authenticate(ctx, sign(t, oldKey, p.claims(clock.Now()))); err != nil {
		t.Fatalf("old key: %v", err)
	}
	if got := p.hits.Load(); got != 1 {
		t.Fatalf("JWKS fetched %d times, want 1", got)
	}
	// Logto rotates: the set now has both keys and new tokens use "new".
	p.setSigners(oldKey, newKey)
	clock.Advance(31 * time.Second) // past the unknown-kid rate limit
	if _, err := a.Authenticate(ctx, sign(t, newKey, p.claims(clock.Now()))); err != nil {
		t.Fatalf("new key after rotation: %v", err)
	}
	if got := p.hits.Load(); got != 2 {
		t.Fatalf("JWKS fetched %d times, want 2 (one refresh for the new kid)", got)
	}

	// Forged kids cannot make us refetch more than once per interval.
	for i := range 20 {
		tok := sign(t, ecSigner(t, 2, "forged-"+string(rune('a'+i))), p.claims(clock.Now()))
		_, err := a.Authenticate(ctx, tok)
		var ae *Error
		if !errors.As(err, &ae) || ae.Description != "token signed by an unknown key" {
			t.Fatalf("forged kid: err = %v, want unknown key", err)
		}
	}
	if got := p.hits.Load(); got != 2 {
		t.Errorf("JWKS fetched %d times after 20 forged kids within the interval, want 2", got)
	}
	clock.Advance(31 * time.Second)
	_, _ = a.Authenticate(ctx, sign(t, ecSigner(t, 2, "forged-z"), p.claims(clock.Now())))
	if got := p.hits.Load(); got != 3 {
		t.Errorf("JWKS fetched %d times after the interval, want 3", got)
	}
}

func TestJWKSUnavailable(t *testing.T) {
	t.Parallel()
	es := ecSigner(t, 0, "ec-1")
	t.Run("down from the start is 503", func(t *testing.T) {
		t.Parallel()
		clock := newClock()
		p := newIDP(t, es)
		p.down.Store(true)
		a := jwtAuth(t, p, clock)
		rec := serve(a.Middleware(okHandler()), "Bearer "+sign(t, es, p.claims(clock.Now())))
		if rec.Code != http.StatusServiceUnavailable {
			t.Fatalf("status = %d, want 503; body %s", rec.Code, rec.Body)
		}
		if got := rec.Header().Get("Content-Type"); got != "application/problem+json" {
			t.Errorf("Content-Type = %q", got)
		}
		// Once Logto is back (and the retry delay passed), tokens verify.
		p.down.Store(false)
		clock.Advance(6 * time.Second)
		rec = serve(a.Middleware(okHandler()), "Bearer "+sign(t, es, p.claims(clock.Now())))
		if rec.Code != http.StatusOK {
			t.Fatalf("after recovery: status = %d, want 200; body %s", rec.Code, rec.Body)
		}
	})
	t.Run("unreachable host is 503", func(t *testing.T) {
		t.Parallel()
		clock := newClock()
		srv := httptest.NewServer(http.NotFoundHandler())
		url := srv.URL
		srv.Close() // nothing listens there any more
		a := newAuth(t, Options{LogtoEndpoint: url, Audience: testAudience, Now: clock.Now})
		p := &idp{srv: &httptest.Server{URL: url}}
		_, err := a.Authenticate(context.Background(), sign(t, es, p.claims(clock.Now())))
		if !errors.Is(err, ErrUnavailable) {
			t.Fatalf("err = %v, want ErrUnavailable", err)
		}
	})
	t.Run("known keys keep working during an outage", func(t *testing.T) {
		t.Parallel()
		clock := newClock()
		p := newIDP(t, es)
		a := newAuth(t, Options{LogtoEndpoint: p.srv.URL, Audience: testAudience, Now: clock.Now, JWKSMaxAge: time.Minute})
		ctx := context.Background()
		if _, err := a.Authenticate(ctx, sign(t, es, p.claims(clock.Now()))); err != nil {
			t.Fatal(err)
		}
		p.down.Store(true)
		clock.Advance(2 * time.Minute) // the set is stale; refresh fails in the background
		c := p.claims(clock.Now())
		c["sub"] = "user-456" // a different token: not in the token cache
		if _, err := a.Authenticate(ctx, sign(t, es, c)); err != nil {
			t.Fatalf("known kid during outage: %v", err)
		}
		// An unknown kid during the outage cannot be judged: 503.
		clock.Advance(time.Minute)
		_, err := a.Authenticate(ctx, sign(t, ecSigner(t, 1, "rotated"), p.claims(clock.Now())))
		if !errors.Is(err, ErrUnavailable) {
			t.Fatalf("unknown kid during outage: err = %v, want ErrUnavailable", err)
		}
	})
}

func TestNewValidation(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		opts Options
	}{
		{"endpoint without audience", Options{LogtoEndpoint: "https://auth.example.com"}},
		{"jwks url without issuer", Options{JWKSURL: "https://auth.example.com/jwks", Audience: "x"}},
		{"realm with quote", Options{Realm: `a"b`}},
		{"endpoint without scheme", Options{LogtoEndpoint: "auth.example.com", Audience: "x"}},
		{"endpoint with another scheme", Options{LogtoEndpoint: "ftp://auth.example.com", Audience: "x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if _, err := New(context.Background(), tt.opts); err == nil {
				t.Error("New succeeded, want error")
			}
		})
	}
}

func TestCheckJWKS(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	if err := newAuth(t, Options{}).CheckJWKS(ctx); err != nil {
		t.Errorf("JWT disabled: CheckJWKS = %v, want nil", err)
	}
	clock := newClock()
	p := newIDP(t, ecSigner(t, 0, "k"))
	a := jwtAuth(t, p, clock)
	if err := a.CheckJWKS(ctx); err != nil {
		t.Fatalf("CheckJWKS = %v, want nil", err)
	}
	if err := a.CheckJWKS(ctx); err != nil || p.hits.Load() != 1 {
		t.Fatalf("second CheckJWKS = %v with %d fetches, want nil and 1 (fresh set reused)", err, p.hits.Load())
	}
	p.down.Store(true)
	clock.Advance(2 * time.Hour) // stale: the check refetches and fails
	if err := a.CheckJWKS(ctx); err == nil {
		t.Fatal("CheckJWKS with the JWKS down = nil, want an error")
	}
}
