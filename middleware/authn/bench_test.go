package authn

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/fast-saas/fast-saas/middleware/apikey"
)

func BenchmarkAPIKeyCacheHit(b *testing.B) {
	s := newStore()
	a := newAuth(b, Options{Keys: s})
	k, _ := s.add(b, apikey.KindTenant, nil)
	ctx := context.Background()
	if _, err := a.authenticate(ctx, k); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := a.authenticate(ctx, k); err != nil {
			b.Fatal(err)
		}
	}
	if s.calls.Load() != 1 {
		b.Fatalf("store called %d times, want 1", s.calls.Load())
	}
}

// BenchmarkAPIKeyMiddlewareCacheHit includes header parsing and the context
// copy of the request.
func BenchmarkAPIKeyMiddlewareCacheHit(b *testing.B) {
	s := newStore()
	a := newAuth(b, Options{Keys: s})
	k, _ := s.add(b, apikey.KindTenant, nil)
	h := a.Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set("Authorization", "Bearer "+k)
	w := httptest.NewRecorder()
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(w, r)
	}
	if w.Code != http.StatusOK {
		b.Fatalf("status %d", w.Code)
	}
}

func benchJWT(b *testing.B, s signer, cached bool) {
	p := newIDP(b, s)
	a := newAuth(b, Options{LogtoEndpoint: p.srv.URL, Audience: testAudience, TokenCacheSize: 1})
	tok := sign(b, s, p.claims(time.Now()))
	ctx := context.Background()
	if _, err := a.authenticate(ctx, tok); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if !cached {
			a.tokens.clear()
		}
		if _, err := a.authenticate(ctx, tok); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkJWTCacheHit(b *testing.B)      { benchJWT(b, ecSigner(b, 0, "k"), true) }
func BenchmarkJWTVerifyES384(b *testing.B)   { benchJWT(b, ecSigner(b, 0, "k"), false) }
func BenchmarkJWTVerifyRS256(b *testing.B)   { benchJWT(b, rsaSigner(b, "k"), false) }
func BenchmarkJWTCacheHitRS256(b *testing.B) { benchJWT(b, rsaSigner(b, "k"), true) }

// BenchmarkAPIKeyCacheHitParallel shows the cache under concurrent load
// (RWMutex read path).
func BenchmarkAPIKeyCacheHitParallel(b *testing.B) {
	s := newStore()
	a := newAuth(b, Options{Keys: s})
	var keys []string
	for range 64 {
		k, _ := s.add(b, apikey.KindTenant, nil)
		keys = append(keys, k)
		if _, err := a.authenticate(context.Background(), k); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, err := a.authenticate(context.Background(), keys[i%len(keys)]); err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
}
