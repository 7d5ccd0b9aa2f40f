package authn

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/redis/go-redis/v9"

	"github.com/fast-saas/fast-saas/internal/testenv"
	"github.com/fast-saas/fast-saas/middleware/apikey"
)

func keyAuth(t testing.TB, store KeyStore, clock *fakeClock) *Authenticator {
	t.Helper()
	return newAuth(t, Options{Keys: store, Now: clock.Now})
}

func TestAPIKeys(t *testing.T) {
	t.Parallel()
	valid, err := apikey.Generate(apikey.KindTenant)
	if err != nil {
		t.Fatal(err)
	}
	last := byte('0') // change the last checksum digit
	if valid.Secret[apikey.Len-1] == '0' {
		last = '1'
	}
	badSum := valid.Secret[:apikey.Len-1] + string(last)

	tests := []struct {
		name      string
		setup     func(s *fakeStore, now time.Time) string // returns the token
		wantDesc  string                                   // "" = accepted
		wantCalls int64
	}{
		{"malformed", func(*fakeStore, time.Time) string { return "fsk_short" }, "malformed api key", 0},
		{"bad checksum", func(*fakeStore, time.Time) string { return badSum }, "api key checksum mismatch", 0},
		{"unknown", func(*fakeStore, time.Time) string { return valid.Secret }, "unknown api key", 1},
		{"valid tenant key", func(s *fakeStore, _ time.Time) string {
			k, _ := s.add(t, apikey.KindTenant, nil)
			return k
		}, "", 1},
		{"valid platform key", func(s *fakeStore, _ time.Time) string {
			k, _ := s.add(t, apikey.KindPlatform, nil)
			return k
		}, "", 1},
		{"expired", func(s *fakeStore, now time.Time) string {
			k, _ := s.add(t, apikey.KindTenant, func(r *KeyRecord) { r.ExpiresAt = now })
			return k
		}, "api key expired", 1},
		{"revoked", func(s *fakeStore, _ time.Time) string {
			k, _ := s.add(t, apikey.KindTenant, func(r *KeyRecord) { r.Revoked = true })
			return k
		}, "api key revoked", 1},
		{"revoked_at passed", func(s *fakeStore, now time.Time) string {
			k, _ := s.add(t, apikey.KindTenant, func(r *KeyRecord) { r.RevokedAt = now.Add(-time.Second) })
			return k
		}, "api key revoked", 1},
		{"in rotation grace period", func(s *fakeStore, now time.Time) string {
			k, _ := s.add(t, apikey.KindTenant, func(r *KeyRecord) { r.RevokedAt = now.Add(time.Hour) })
			return k
		}, "", 1},
		{"platform prefix on a tenant record", func(s *fakeStore, _ time.Time) string {
			k, rec := s.add(t, apikey.KindPlatform, nil)
			rec.Kind = apikey.KindTenant
			rec.TenantID = "tenant-1"
			s.set(rec)
			return k
		}, "unknown api key", 1},
		{"tenant key without tenant", func(s *fakeStore, _ time.Time) string {
			k, _ := s.add(t, apikey.KindTenant, func(r *KeyRecord) { r.TenantID = "" })
			return k
		}, "unknown api key", 1},
		{"store returns a record with another hash", func(s *fakeStore, _ time.Time) string {
			k, rec := s.add(t, apikey.KindTenant, nil)
			h := rec.Hash
			rec.Hash[0] ^= 1
			s.mu.Lock()
			s.recs[h] = rec
			s.mu.Unlock()
			return k
		}, "unknown api key", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			clock := newClock()
			s := newStore()
			a := keyAuth(t, keyOnlyStore{s}, clock)
			tok := tt.setup(s, clock.Now())
			got, err := a.Authenticate(context.Background(), tok)
			if calls := s.calls.Load(); calls != tt.wantCalls {
				t.Errorf("store calls = %d, want %d", calls, tt.wantCalls)
			}
			if tt.wantDesc == "" {
				if err != nil {
					t.Fatalf("Authenticate: %v", err)
				}
				if got.KeyID == "" || got.Subject != got.KeyID {
					t.Errorf("principal = %+v, want KeyID = Subject", got)
				}
				return
			}
			var ae *Error
			if !errors.As(err, &ae) || !errors.Is(err, ErrInvalidToken) {
				t.Fatalf("err = %v, want an invalid-token *Error", err)
			}
			if ae.Description != tt.wantDesc {
				t.Errorf("description = %q, want %q", ae.Description, tt.wantDesc)
			}
			if strings.Contains(err.Error(), tok) {
				t.Error("error message contains the key")
			}
		})
	}
}

func TestAPIKeyPrincipal(t *testing.T) {
	t.Parallel()
	clock := newClock()
	s := newStore()
	a := keyAuth(t, keyOnlyStore{s}, clock)
	exp := clock.Now().Add(24 * time.Hour)
	tenantKey, rec := s.add(t, apikey.KindTenant, func(r *KeyRecord) {
		r.Scopes = []string{"read", "usage:write"}
		r.ExpiresAt = exp
	})
	platformKey, prec := s.add(t, apikey.KindPlatform, func(r *KeyRecord) { r.TenantID = "ignored" })
	tests := []struct {
		name  string
		token string
		want  Principal
	}{
		{"tenant", tenantKey, Principal{Kind: KindTenantKey, Subject: rec.ID, KeyID: rec.ID, TenantID: "tenant-1",
			Scopes: []string{"read", "usage:write"}, CreatedBy: "user-1", ExpiresAt: exp}},
		{"platform", platformKey, Principal{Kind: KindPlatform, Subject: prec.ID, KeyID: prec.ID,
			Scopes: []string{"read"}, CreatedBy: "user-1"}},
	}
	for _, tt := range tests {
		got, err := a.Authenticate(context.Background(), tt.token)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("%s principal (-want +got):\n%s", tt.name, diff)
		}
	}
}

func TestAPIKeyStoreDownIs503(t *testing.T) {
	t.Parallel()
	clock := newClock()
	s := newStore()
	a := keyAuth(t, keyOnlyStore{s}, clock)
	k, _ := s.add(t, apikey.KindTenant, nil)
	s.setErr(errors.New("connection refused"))
	rec := serve(a.Middleware(okHandler()), "Bearer "+k)
	if rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("status = %d, want 503", rec.Code)
	}
	if strings.Contains(rec.Body.String(), "connection refused") {
		t.Errorf("503 body leaks the internal cause: %s", rec.Body)
	}
}

func TestAPIKeyCache(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	t.Run("hit, ttl and revoke", func(t *testing.T) {
		t.Parallel()
		clock := newClock()
		s := newStore()
		a := keyAuth(t, keyOnlyStore{s}, clock)
		k, rec := s.add(t, apikey.KindTenant, nil)
		for range 3 {
			if _, err := a.Authenticate(ctx, k); err != nil {
				t.Fatal(err)
			}
		}
		if got := s.calls.Load(); got != 1 {
			t.Fatalf("store calls after 3 uses = %d, want 1 (cached)", got)
		}
		clock.Advance(31 * time.Second)
		if _, err := a.Authenticate(ctx, k); err != nil {
			t.Fatal(err)
		}
		if got := s.calls.Load(); got != 2 {
			t.Fatalf("store calls after TTL = %d, want 2", got)
		}
		// Revoke in the store, then tell the authenticator.
		rec.Revoked = true
		s.set(rec)
		if _, err := a.Authenticate(ctx, k); err != nil {
			t.Fatalf("before Revoke the cached key still works: %v", err)
		}
		if err := a.Revoke(ctx, rec.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := a.Authenticate(ctx, k); !errors.Is(err, ErrInvalidToken) {
			t.Fatalf("after Revoke: err = %v, want invalid token", err)
		}
	})
	t.Run("revoke by hash", func(t *testing.T) {
		t.Parallel()
		clock := newClock()
		s := newStore()
		a := keyAuth(t, keyOnlyStore{s}, clock)
		k, rec := s.add(t, apikey.KindTenant, nil)
		if _, err := a.Authenticate(ctx, k); err != nil {
			t.Fatal(err)
		}
		rec.Revoked = true
		s.set(rec)
		if err := a.RevokeHash(ctx, apikey.Hash(k)); err != nil {
			t.Fatal(err)
		}
		if _, err := a.Authenticate(ctx, k); !errors.Is(err, ErrInvalidToken) {
			t.Fatalf("after RevokeHash: err = %v, want invalid token", err)
		}
	})
	t.Run("entry ends at the key's expiry", func(t *testing.T) {
		t.Parallel()
		clock := newClock()
		s := newStore()
		a := keyAuth(t, keyOnlyStore{s}, clock)
		k, _ := s.add(t, apikey.KindTenant, func(r *KeyRecord) { r.ExpiresAt = clock.Now().Add(5 * time.Second) })
		if _, err := a.Authenticate(ctx, k); err != nil {
			t.Fatal(err)
		}
		clock.Advance(6 * time.Second)
		if _, err := a.Authenticate(ctx, k); !errors.Is(err, ErrInvalidToken) {
			t.Fatalf("after expiry: err = %v, want invalid token", err)
		}
	})
	t.Run("disabled", func(t *testing.T) {
		t.Parallel()
		clock := newClock()
		s := newStore()
		a := newAuth(t, Options{Keys: keyOnlyStore{s}, Now: clock.Now, KeyCacheTTL: -1})
		k, _ := s.add(t, apikey.KindTenant, nil)
		for range 3 {
			if _, err := a.Authenticate(ctx, k); err != nil {
				t.Fatal(err)
			}
		}
		if got := s.calls.Load(); got != 3 {
			t.Fatalf("store calls = %d, want 3 (no cache)", got)
		}
	})
	t.Run("bounded", func(t *testing.T) {
		t.Parallel()
		clock := newClock()
		s := newStore()
		a := newAuth(t, Options{Keys: keyOnlyStore{s}, Now: clock.Now, KeyCacheSize: 32})
		for range 100 {
			k, _ := s.add(t, apikey.KindTenant, nil)
			if _, err := a.Authenticate(ctx, k); err != nil {
				t.Fatal(err)
			}
		}
		if got := a.keys.len(); got > 32 {
			t.Fatalf("cache holds %d entries, want ≤ 32", got)
		}
	})
}

// A lookup that raced with Revoke must not put the revoked key back in the
// cache.
func TestRevokeDuringLookupIsNotCached(t *testing.T) {
	t.Parallel()
	clock := newClock()
	s := newStore()
	a := keyAuth(t, keyOnlyStore{s}, clock)
	k, rec := s.add(t, apikey.KindTenant, nil)
	gen := a.keys.generation()
	if err := a.Revoke(context.Background(), rec.ID); err != nil {
		t.Fatal(err)
	}
	p := &Principal{KeyID: rec.ID}
	a.keys.put(apikey.Hash(k), p, clock.Now().Add(time.Minute), gen, clock.Now())
	if _, ok := a.keys.get(apikey.Hash(k), clock.Now()); ok {
		t.Fatal("an entry read before Revoke was cached after it")
	}
}

func TestTouch(t *testing.T) {
	t.Parallel()
	clock := newClock()
	s := newStore()
	a := newAuth(t, Options{Keys: s, Now: clock.Now})
	k, rec := s.add(t, apikey.KindTenant, nil)
	ctx := context.Background()
	for range 10 {
		if _, err := a.Authenticate(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
	waitTouch(t, s, rec.ID)
	clock.Advance(59 * time.Second)
	if _, err := a.Authenticate(ctx, k); err != nil {
		t.Fatal(err)
	}
	clock.Advance(2 * time.Second)
	if _, err := a.Authenticate(ctx, k); err != nil {
		t.Fatal(err)
	}
	waitTouch(t, s, rec.ID)
	if err := a.Close(); err != nil { // flushes the queue
		t.Fatal(err)
	}
	if n := len(s.touched); n != 0 {
		t.Errorf("%d extra touches, want at most one per minute", n)
	}
}

func waitTouch(t *testing.T, s *fakeStore, id string) {
	t.Helper()
	select {
	case got := <-s.touched:
		if got != id {
			t.Fatalf("touched %q, want %q", got, id)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Touch was not called")
	}
}

// Two replicas share Redis: revoking on A makes B refuse the key it had
// cached.
func TestRevocationAcrossReplicas(t *testing.T) {
	t.Parallel()
	rdb, prefix := testenv.Redis(t)
	clock := newClock()
	s := newStore()
	opts := Options{Keys: keyOnlyStore{s}, Now: clock.Now, Redis: rdb, RevocationChannel: prefix + "revocations"}
	a := newAuth(t, opts)
	b := newAuth(t, opts)
	ctx := context.Background()
	k, rec := s.add(t, apikey.KindTenant, nil)
	if _, err := b.Authenticate(ctx, k); err != nil {
		t.Fatal(err)
	}
	rec.Revoked = true
	s.set(rec)
	if _, err := b.Authenticate(ctx, k); err != nil {
		t.Fatalf("B before revocation (cached): %v", err)
	}
	if err := a.Revoke(ctx, rec.ID); err != nil {
		t.Fatal(err)
	}
	// Delivery is asynchronous: wait (bounded) for B to drop its entry.
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := b.Authenticate(ctx, k)
		if errors.Is(err, ErrInvalidToken) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("B still accepts the key 5 s after A revoked it (err %v)", err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	// Revocation by hash travels too.
	k2, rec2 := s.add(t, apikey.KindTenant, nil)
	if _, err := b.Authenticate(ctx, k2); err != nil {
		t.Fatal(err)
	}
	rec2.Revoked = true
	s.set(rec2)
	if err := a.RevokeHash(ctx, apikey.Hash(k2)); err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(5 * time.Second)
	for {
		if _, err := b.Authenticate(ctx, k2); errors.Is(err, ErrInvalidToken) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("B still accepts the key 5 s after A revoked it by hash")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// When the subscriber's connection drops, revocations published meanwhile
// are lost; on resubscription the replica forgets its whole key cache.
func TestRevocationResubscribeClearsCache(t *testing.T) {
	t.Parallel()
	shared, prefix := testenv.Redis(t)
	o := *shared.Options()
	o.ClientName = "fst-authn-" + testenv.Suffix()
	rdb := redis.NewClient(&o)
	t.Cleanup(func() { rdb.Close() })

	clock := newClock()
	s := newStore()
	b := newAuth(t, Options{Keys: keyOnlyStore{s}, Now: clock.Now, Redis: rdb, RevocationChannel: prefix + "revocations"})
	ctx := context.Background()
	k, _ := s.add(t, apikey.KindTenant, nil)
	for range 2 {
		if _, err := b.Authenticate(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
	if got := s.calls.Load(); got != 1 {
		t.Fatalf("store calls = %d, want 1 (cached)", got)
	}

	// Kill exactly our subscriber connection (found by its client name).
	list, err := shared.ClientList(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	killed := 0
	for _, line := range strings.Split(list, "\n") {
		if strings.Contains(line, " name="+o.ClientName+" ") && !strings.Contains(line, " sub=0 ") {
			for _, field := range strings.Fields(line) {
				if id, ok := strings.CutPrefix(field, "id="); ok {
					if err := shared.Do(ctx, "CLIENT", "KILL", "ID", id).Err(); err != nil {
						t.Fatal(err)
					}
					killed++
				}
			}
		}
	}
	if killed != 1 {
		t.Fatalf("killed %d subscriber connections, want 1; CLIENT LIST:\n%s", killed, list)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := b.Authenticate(ctx, k); err != nil {
			t.Fatal(err)
		}
		if s.calls.Load() > 1 {
			break // the cache was cleared: the key was looked up again
		}
		if time.Now().After(deadline) {
			t.Fatal("cache not cleared 10 s after the subscriber reconnected")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Revoke racing with concurrent lookups: once the store says revoked and
// Revoke has returned, no request may be served from a stale entry.
func TestRevokeUnderConcurrentLoad(t *testing.T) {
	t.Parallel()
	clock := newClock()
	s := newStore()
	a := keyAuth(t, keyOnlyStore{s}, clock)
	ctx := context.Background()
	for i := range 50 {
		k, rec := s.add(t, apikey.KindTenant, nil)
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					default:
						_, _ = a.Authenticate(ctx, k)
					}
				}
			}()
		}
		rec.Revoked = true
		s.set(rec)
		if err := a.Revoke(ctx, rec.ID); err != nil {
			t.Fatal(err)
		}
		_, err := a.Authenticate(ctx, k)
		close(stop)
		wg.Wait()
		if !errors.Is(err, ErrInvalidToken) {
			t.Fatalf("round %d: revoked key accepted after Revoke returned (err %v)", i, err)
		}
	}
}
