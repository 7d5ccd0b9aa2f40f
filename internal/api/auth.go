package api

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/fast-saas/fast-saas/internal/core"
	"github.com/fast-saas/fast-saas/internal/store"
	"github.com/fast-saas/fast-saas/middleware/apikey"
)

// UserVerifier checks a user's bearer token (a Logto JWT) and returns its
// subject, email and organization. Implemented over middleware/authn by
// the composition root; nil means JWTs are not accepted.
type UserVerifier interface {
	VerifyUser(ctx context.Context, token string) (sub, email, org string, err error)
}

// ErrAuthUnavailable wraps verifier failures that are not the token's
// fault (JWKS unreachable): they answer 503, not 401.
var ErrAuthUnavailable = errors.New("identity provider unavailable")

// Authenticator turns a bearer token into a core.Caller: platform keys and
// tenant keys by SHA-256 lookup (cached), user JWTs through Users.
type Authenticator struct {
	Store   store.Store
	Service *core.Service
	Users   UserVerifier
	Now     func() time.Time
	// TTL bounds how long a key lookup is trusted before the store is asked
	// again (revocations through this process apply at once via Forget).
	TTL time.Duration

	mu    sync.Mutex
	cache map[[32]byte]cachedKey
}

type cachedKey struct {
	caller  core.Caller
	revoked *time.Time
	expires *time.Time
	until   time.Time
}

const maxCachedKeys = 100_000

func (a *Authenticator) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

// Forget drops a key from the cache (on revoke or rotation).
func (a *Authenticator) Forget(hash []byte) {
	if len(hash) != 32 {
		return
	}
	a.mu.Lock()
	delete(a.cache, [32]byte(hash))
	a.mu.Unlock()
}

var errBadToken = errors.New("invalid token")

func usable(now time.Time, revoked, expires *time.Time) bool {
	return (revoked == nil || now.Before(*revoked)) && (expires == nil || now.Before(*expires))
}

// authenticateKey resolves an fsp_/fsk_ key.
func (a *Authenticator) authenticateKey(ctx context.Context, token string) (core.Caller, error) {
	kind, err := apikey.Parse(token)
	if err != nil {
		return core.Caller{}, errBadToken // malformed or bad checksum: no lookup
	}
	hash := apikey.Hash(token)
	now := a.now()
	a.mu.Lock()
	ent, ok := a.cache[hash]
	a.mu.Unlock()
	if ok && now.Before(ent.until) {
		if !usable(now, ent.revoked, ent.expires) {
			return core.Caller{}, errBadToken
		}
		return ent.caller, nil
	}
	switch kind {
	case apikey.KindPlatform:
		k, err := a.Store.PlatformKeyByHash(ctx, hash[:])
		if errors.Is(err, store.ErrNotFound) {
			return core.Caller{}, errBadToken
		}
		if err != nil {
			return core.Caller{}, fmt.Errorf("look up platform key: %w", err)
		}
		// The store found it by hash; compare anyway in constant time so a
		// backend that matched loosely cannot let a different key through.
		if subtle.ConstantTimeCompare(k.Hash, hash[:]) != 1 {
			return core.Caller{}, errBadToken
		}
		ent = cachedKey{caller: core.Caller{Kind: core.PlatformCaller, KeyID: k.ID, Label: "platform:" + k.ID}, revoked: k.RevokedAt}
	case apikey.KindTenant:
		k, err := a.Store.APIKeyByHash(ctx, hash[:])
		if errors.Is(err, store.ErrNotFound) {
			return core.Caller{}, errBadToken
		}
		if err != nil {
			return core.Caller{}, fmt.Errorf("look up api key: %w", err)
		}
		if subtle.ConstantTimeCompare(k.Hash, hash[:]) != 1 {
			return core.Caller{}, errBadToken
		}
		ent = cachedKey{caller: core.Caller{Kind: core.TenantKeyCaller, KeyID: k.ID, TenantID: k.TenantID, Scopes: k.Scopes, Label: "key:" + k.ID},
			revoked: k.RevokedAt, expires: k.ExpiresAt}
	default:
		return core.Caller{}, errBadToken
	}
	ttl := a.TTL
	if ttl <= 0 {
		ttl = 30 * time.Second
	}
	ent.until = now.Add(ttl)
	a.mu.Lock()
	if a.cache == nil || len(a.cache) >= maxCachedKeys {
		a.cache = make(map[[32]byte]cachedKey)
	}
	a.cache[hash] = ent
	a.mu.Unlock()
	if !usable(now, ent.revoked, ent.expires) {
		return core.Caller{}, errBadToken
	}
	return ent.caller, nil
}

// Authenticate resolves the request's bearer token. No Authorization
// header is Anonymous (operations decide whether that is enough).
func (a *Authenticator) Authenticate(r *http.Request) (core.Caller, error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return core.Caller{Kind: core.Anonymous}, nil
	}
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return core.Caller{}, errBadToken
	}
	token = strings.TrimSpace(token)
	if strings.HasPrefix(token, apikey.PlatformPrefix) || strings.HasPrefix(token, apikey.TenantPrefix) {
		return a.authenticateKey(r.Context(), token)
	}
	if a.Users == nil {
		return core.Caller{}, errBadToken
	}
	sub, email, org, err := a.Users.VerifyUser(r.Context(), token)
	if err != nil {
		return core.Caller{}, err
	}
	u, err := a.Service.ProvisionUser(r.Context(), sub, email)
	if err != nil {
		return core.Caller{}, err
	}
	return core.Caller{Kind: core.UserCaller, UserID: u.ID, Email: u.Email, OrganizationID: org, Label: "user:" + u.ID}, nil
}

// middleware authenticates every request; a presented but invalid token is
// refused here (401), a missing one passes as Anonymous.
func (a *Authenticator) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := a.Authenticate(r)
		if err != nil {
			switch {
			case errors.Is(err, errBadToken) || (!errors.Is(err, ErrAuthUnavailable) && isTokenError(err)):
				w.Header().Set("WWW-Authenticate", `Bearer realm="fast-saas", error="invalid_token"`)
				writeProblem(w, r, http.StatusUnauthorized, "invalid_token", "the bearer token is invalid, expired or revoked")
			case errors.Is(err, ErrAuthUnavailable):
				writeProblem(w, r, http.StatusServiceUnavailable, "auth_unavailable", "cannot verify tokens right now")
			default:
				logFault(r.Context(), http.StatusServiceUnavailable, err)
				writeProblem(w, r, http.StatusServiceUnavailable, core.CodeUnavailable, "authentication backend unavailable")
			}
			return
		}
		next.ServeHTTP(w, r.WithContext(core.WithCaller(r.Context(), c)))
	})
}

// TokenError marks verifier errors that are the token's fault.
type TokenError struct{ Err error }

func (e *TokenError) Error() string { return "invalid token: " + e.Err.Error() }
func (e *TokenError) Unwrap() error { return e.Err }

func isTokenError(err error) bool {
	var te *TokenError
	return errors.As(err, &te)
}
