package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/fast-saas/fast-saas/internal/core"
	"github.com/fast-saas/fast-saas/internal/store"
	"github.com/fast-saas/fast-saas/middleware/apikey"
	"github.com/fast-saas/fast-saas/middleware/authn"
)

// TokenVerifier verifies a bearer token (API key or Logto JWT); it is
// *authn.Authenticator in production.
type TokenVerifier interface {
	Authenticate(ctx context.Context, token string) (authn.Principal, error)
}

// Authenticator turns a request's bearer token into a core.Caller:
// tokens are verified by Verifier (middleware/authn), and JWT users are
// provisioned on first sight through the core service.
type Authenticator struct {
	Verifier TokenVerifier
	Service  *core.Service
}

// Authenticate resolves the request's bearer token. No Authorization
// header is Anonymous (operations decide whether that is enough).
func (a *Authenticator) Authenticate(r *http.Request) (core.Caller, error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return core.Caller{Kind: core.Anonymous}, nil
	}
	scheme, token, ok := strings.Cut(h, " ")
	token = strings.TrimSpace(token)
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return core.Caller{}, &authn.Error{Kind: authn.ErrInvalidToken, Description: "not a Bearer credential"}
	}
	p, err := a.Verifier.Authenticate(r.Context(), token)
	if err != nil {
		return core.Caller{}, err
	}
	switch p.Kind {
	case authn.KindPlatform:
		return core.Caller{Kind: core.PlatformCaller, KeyID: p.KeyID, Label: "platform:" + p.KeyID}, nil
	case authn.KindTenantKey:
		return core.Caller{Kind: core.TenantKeyCaller, KeyID: p.KeyID, TenantID: p.TenantID, Scopes: p.Scopes, Label: "key:" + p.KeyID}, nil
	case authn.KindUser:
		u, err := a.Service.ProvisionUser(r.Context(), p.Subject, p.Email)
		if err != nil {
			return core.Caller{}, &authn.Error{Kind: authn.ErrUnavailable, Description: "cannot load the user", Cause: err}
		}
		return core.Caller{Kind: core.UserCaller, UserID: u.ID, Email: u.Email, OrganizationID: p.OrganizationID, Label: "user:" + u.ID}, nil
	}
	return core.Caller{}, &authn.Error{Kind: authn.ErrInvalidToken, Description: "unknown principal"}
}

// middleware authenticates every request; a presented but invalid token is
// refused here (401), a missing one passes as Anonymous. An identity
// backend that cannot answer is 503, never 500.
func (a *Authenticator) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := a.Authenticate(r)
		if err != nil {
			desc := "the bearer token is invalid, expired or revoked"
			var ae *authn.Error
			if errors.As(err, &ae) && ae.Description != "" {
				desc = ae.Description
			}
			if errors.Is(err, authn.ErrUnavailable) {
				logFault(r.Context(), http.StatusServiceUnavailable, err)
				writeProblem(w, r, http.StatusServiceUnavailable, "auth_unavailable", "cannot verify credentials right now")
				return
			}
			w.Header().Set("WWW-Authenticate", `Bearer realm="fast-saas", error="invalid_token"`)
			writeProblem(w, r, http.StatusUnauthorized, "invalid_token", desc)
			return
		}
		next.ServeHTTP(w, r.WithContext(core.WithCaller(r.Context(), c)))
	})
}

// StoreKeys implements authn.KeyStore and authn.KeyToucher over the store:
// tenant keys and platform keys, both looked up by SHA-256.
type StoreKeys struct {
	Store store.Store

	mu      sync.Mutex
	tenants map[string]string // key id → tenant id, for Touch
}

// LookupKey finds a tenant or platform key by hash.
func (k *StoreKeys) LookupKey(ctx context.Context, hash [32]byte) (authn.KeyRecord, error) {
	tk, err := k.Store.APIKeyByHash(ctx, hash[:])
	if err == nil && len(tk.Hash) != len(hash) {
		return authn.KeyRecord{}, fmt.Errorf("api key %s: stored hash has %d bytes", tk.ID, len(tk.Hash))
	}
	if err == nil {
		k.mu.Lock()
		if k.tenants == nil || len(k.tenants) > 100_000 {
			k.tenants = map[string]string{}
		}
		k.tenants[tk.ID] = tk.TenantID
		k.mu.Unlock()
		rec := authn.KeyRecord{ID: tk.ID, Kind: apikey.KindTenant, TenantID: tk.TenantID, Hash: [32]byte(tk.Hash), Scopes: tk.Scopes, CreatedBy: tk.CreatedBy}
		if tk.ExpiresAt != nil {
			rec.ExpiresAt = *tk.ExpiresAt
		}
		if tk.RevokedAt != nil {
			rec.RevokedAt = *tk.RevokedAt
		}
		return rec, nil
	}
	if !errors.Is(err, store.ErrNotFound) {
		return authn.KeyRecord{}, fmt.Errorf("look up api key: %w", err)
	}
	pk, err := k.Store.PlatformKeyByHash(ctx, hash[:])
	if errors.Is(err, store.ErrNotFound) {
		return authn.KeyRecord{}, authn.ErrKeyNotFound
	}
	if err != nil {
		return authn.KeyRecord{}, fmt.Errorf("look up platform key: %w", err)
	}
	if len(pk.Hash) != len(hash) {
		return authn.KeyRecord{}, fmt.Errorf("platform key %s: stored hash has %d bytes", pk.ID, len(pk.Hash))
	}
	rec := authn.KeyRecord{ID: pk.ID, Kind: apikey.KindPlatform, Hash: [32]byte(pk.Hash)}
	if pk.RevokedAt != nil {
		rec.RevokedAt = *pk.RevokedAt
	}
	return rec, nil
}

// Touch records a tenant key's last use (platform keys are not tracked).
func (k *StoreKeys) Touch(ctx context.Context, keyID string, at time.Time) error {
	k.mu.Lock()
	tenant, ok := k.tenants[keyID]
	k.mu.Unlock()
	if !ok {
		return nil
	}
	return k.Store.TouchAPIKey(ctx, tenant, keyID, at)
}
