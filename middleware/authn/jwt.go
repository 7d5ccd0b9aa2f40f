package authn

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"
)

// logtoClaims are the access-token claims we read. Logto puts the granted
// permissions in "scope" (space separated) and, for organization tokens,
// the organization in "organization_id".
type logtoClaims struct {
	jwt.RegisteredClaims
	Scope          string `json:"scope,omitempty"`
	OrganizationID string `json:"organization_id,omitempty"`
	ClientID       string `json:"client_id,omitempty"`
	Email          string `json:"email,omitempty"`
}

var (
	errUnknownKID = errors.New("no key with this kid in the JWKS")
	errJWKSDown   = errors.New("jwks unavailable")
)

func (a *Authenticator) verifyJWT(ctx context.Context, token string) (*Principal, error) {
	now := a.now()
	h := hashToken(token)
	if p, ok := a.tokens.get(h, now); ok {
		return p, nil
	}
	var claims logtoClaims
	_, err := a.jwtParser.ParseWithClaims(token, &claims, func(t *jwt.Token) (any, error) {
		return a.keyFor(ctx, t)
	})
	if err != nil {
		return nil, classifyJWTError(err)
	}
	if claims.Subject == "" {
		return nil, invalid("token has no subject", nil)
	}
	p := &Principal{
		Kind:           KindUser,
		Subject:        claims.Subject,
		Scopes:         strings.Fields(claims.Scope),
		Email:          claims.Email,
		OrganizationID: claims.OrganizationID,
		ClientID:       claims.ClientID,
		ExpiresAt:      claims.ExpiresAt.Time, // required by the parser
	}
	// Cache until exp (not exp+leeway): a later request re-verifies and the
	// leeway still applies there.
	a.tokens.put(h, p, p.ExpiresAt, a.tokens.generation(), now)
	return p, nil
}

// hashToken is sha256.Sum256 without a heap copy for typical token sizes
// (Logto access tokens are about 1 KB): this is the JWT hot path.
func hashToken(token string) [32]byte {
	if len(token) <= 4096 {
		var buf [4096]byte
		n := copy(buf[:], token)
		return sha256.Sum256(buf[:n])
	}
	return sha256.Sum256([]byte(token))
}

// keyFor finds the verification key of a token whose alg the parser has
// already restricted to ES384 or RS256.
func (a *Authenticator) keyFor(ctx context.Context, t *jwt.Token) (any, error) {
	kid, _ := t.Header["kid"].(string)
	if kid == "" {
		return nil, errors.New("token header has no kid")
	}
	k, err := a.jwks.lookup(ctx, kid)
	if err != nil {
		return nil, err
	}
	alg := t.Method.Alg()
	if k.alg != "" && k.alg != alg {
		return nil, fmt.Errorf("token alg %s does not match key alg %s", alg, k.alg)
	}
	switch pub := k.key.(type) {
	case *ecdsa.PublicKey:
		if alg == "ES384" && pub.Curve == elliptic.P384() {
			return pub, nil
		}
	case *rsa.PublicKey:
		if alg == "RS256" && pub.N.BitLen() >= 2048 {
			return pub, nil
		}
	}
	return nil, fmt.Errorf("key %q cannot verify %s", kid, alg)
}

// classifyJWTError maps parser errors to a public description.
func classifyJWTError(err error) error {
	switch {
	case errors.Is(err, errJWKSDown):
		return unavailable("the identity provider's signing keys cannot be fetched", err)
	case errors.Is(err, jwt.ErrTokenExpired):
		return invalid("token expired", err)
	case errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return invalid("token not valid yet", err)
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return invalid("wrong issuer", err)
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return invalid("wrong audience", err)
	case errors.Is(err, jwt.ErrTokenMalformed):
		return invalid("malformed token", err)
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return invalid("token lacks a required claim", err)
	case errors.Is(err, errUnknownKID):
		return invalid("token signed by an unknown key", err)
	default:
		return invalid("token signature could not be verified", err)
	}
}

type verificationKey struct {
	key any
	alg string // the JWK "alg", if the set states one
}

// jwksCache holds the identity provider's public keys. It refetches the set
// when a token names an unknown kid (rate-limited) and in the background
// when the set is older than maxAge; during an outage known keys keep
// working.
//
// It replaces keyfunc/v3's HTTP storage, which does refresh on unknown kids
// but (a) makes the request wait on the rate limiter (up to a minute by
// default) and (b) reports a failed fetch only to a log callback, so an
// unreachable Logto would look like a bad token (401) instead of an outage
// (503). jwkset still parses the keys.
type jwksCache struct {
	url        string
	client     *http.Client
	now        func() time.Time
	maxAge     time.Duration
	minRefresh time.Duration
	retryAfter time.Duration // after a failed fetch

	mu        sync.RWMutex
	keys      map[string]verificationKey
	fetched   time.Time // last successful fetch
	attempted time.Time // last attempt
	lastErr   error

	fetchMu    sync.Mutex  // one fetch at a time
	refreshing atomic.Bool // a background refresh is running
	fetches    atomic.Int64
}

func newJWKSCache(url string, client *http.Client, now func() time.Time, maxAge, minRefresh time.Duration) *jwksCache {
	if maxAge <= 0 {
		maxAge = time.Hour
	}
	if minRefresh <= 0 {
		minRefresh = 30 * time.Second
	}
	return &jwksCache{url: url, client: client, now: now, maxAge: maxAge, minRefresh: minRefresh,
		retryAfter: min(minRefresh, 5*time.Second)}
}

func (c *jwksCache) lookup(ctx context.Context, kid string) (verificationKey, error) {
	c.mu.RLock()
	k, ok := c.keys[kid]
	stale := c.now().Sub(c.fetched) >= c.maxAge
	c.mu.RUnlock()
	if ok {
		if stale && c.refreshing.CompareAndSwap(false, true) {
			go func() {
				defer c.refreshing.Store(false)
				c.refresh(context.WithoutCancel(ctx))
			}()
		}
		return k, nil
	}
	c.refresh(ctx)
	c.mu.RLock()
	k, ok = c.keys[kid]
	lastErr := c.lastErr
	c.mu.RUnlock()
	switch {
	case ok:
		return k, nil
	case lastErr != nil:
		// The kid may well be a rotated key we cannot see: refusing the
		// token would be a lie, so report the outage.
		return verificationKey{}, fmt.Errorf("%w: %w", errJWKSDown, lastErr)
	default:
		return verificationKey{}, fmt.Errorf("%w: %q", errUnknownKID, kid)
	}
}

// check refreshes a missing or stale set and returns the last fetch error.
func (c *jwksCache) check(ctx context.Context) error {
	c.mu.RLock()
	stale := c.fetched.IsZero() || c.now().Sub(c.fetched) >= c.maxAge
	c.mu.RUnlock()
	if stale {
		c.refresh(ctx)
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.lastErr
}

// refresh fetches the key set unless the rate limit forbids it. Callers
// that queue behind a running fetch see its result instead of fetching again.
func (c *jwksCache) refresh(ctx context.Context) {
	c.fetchMu.Lock()
	defer c.fetchMu.Unlock()
	c.mu.RLock()
	attempted, lastErr := c.attempted, c.lastErr
	c.mu.RUnlock()
	wait := c.minRefresh
	if lastErr != nil {
		wait = c.retryAfter
	}
	if !attempted.IsZero() && c.now().Sub(attempted) < wait {
		return
	}
	// Detach from the request: one impatient client must not poison the
	// shared result with its cancellation.
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	keys, err := c.fetch(fctx)
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.attempted = now
	c.lastErr = err
	if err == nil {
		c.keys = keys
		c.fetched = now
	}
}

// maxJWKSBytes bounds the key set document.
const maxJWKSBytes = 1 << 20

func (c *jwksCache) fetch(ctx context.Context) (map[string]verificationKey, error) {
	c.fetches.Add(1)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url, nil)
	if err != nil {
		return nil, fmt.Errorf("fetch jwks: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetch jwks: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetch jwks: status %d", resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSBytes+1))
	if err != nil {
		return nil, fmt.Errorf("fetch jwks: read: %w", err)
	}
	if len(body) > maxJWKSBytes {
		return nil, fmt.Errorf("fetch jwks: document larger than %d bytes", maxJWKSBytes)
	}
	return parseJWKS(body)
}

// parseJWKS keeps the usable signature keys of a JWK Set: EC and RSA public
// keys with a kid. Other keys (encryption keys, symmetric keys, unknown
// types) are skipped rather than failing the whole set.
func parseJWKS(body []byte) (map[string]verificationKey, error) {
	var set jwkset.JWKSMarshal
	if err := json.Unmarshal(body, &set); err != nil {
		return nil, fmt.Errorf("parse jwks: %w", err)
	}
	keys := make(map[string]verificationKey, len(set.Keys))
	for _, m := range set.Keys {
		if m.KID == "" || (m.USE != "" && m.USE != jwkset.UseSig) {
			continue
		}
		if m.KTY != jwkset.KtyEC && m.KTY != jwkset.KtyRSA {
			continue
		}
		m.D, m.P, m.Q, m.DP, m.DQ, m.QI, m.OTH = "", "", "", "", "", "", nil // never hold private parts
		j, err := jwkset.NewJWKFromMarshal(m, jwkset.JWKMarshalOptions{}, jwkset.JWKValidateOptions{})
		if err != nil {
			continue
		}
		switch j.Key().(type) {
		case *ecdsa.PublicKey, *rsa.PublicKey:
			keys[m.KID] = verificationKey{key: j.Key(), alg: m.ALG.String()}
		}
	}
	return keys, nil
}
