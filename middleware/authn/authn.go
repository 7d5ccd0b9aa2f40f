// Package authn authenticates HTTP requests that carry a Bearer token and
// puts the resulting Principal in the request context.
//
// Two kinds of token are accepted:
//
//   - Logto access tokens (JWT), verified against the Logto JWKS
//     (<endpoint>/oidc/jwks; issuer <endpoint>/oidc; audience = the API
//     resource). Only ES384 (Logto's default EC P-384 keys) and RS256 (its
//     RSA keys) are accepted. Verified tokens are cached by their SHA-256
//     until they expire, so the hot path is a map lookup, not a signature
//     check.
//   - fast-saas API keys (fsp_… platform, fsk_… tenant; see package apikey):
//     format and checksum are checked before any lookup, then the key is
//     looked up by SHA-256 through the caller's KeyStore and kept in a short
//     positive cache that Revoke invalidates — on every replica when a Redis
//     client is configured.
//
// Every failure answers 401 with a WWW-Authenticate challenge (RFC 6750) and
// an RFC 9457 problem body; an unreachable JWKS or key store answers 503,
// never 500. Tokens are never logged.
package authn

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/redis/go-redis/v9"

	"github.com/fast-saas/fast-saas/middleware/apikey"
	"github.com/fast-saas/fast-saas/middleware/problem"
)

// Sentinel errors of Authenticate, matched with errors.Is.
var (
	// ErrNoCredentials: the request carries no Bearer token.
	ErrNoCredentials = errors.New("authn: no bearer token")
	// ErrInvalidToken: the token is malformed, unknown, expired, revoked or
	// fails verification.
	ErrInvalidToken = errors.New("authn: invalid token")
	// ErrUnavailable: the JWKS endpoint or the key store cannot answer, so
	// the token can be neither accepted nor refused.
	ErrUnavailable = errors.New("authn: identity backend unavailable")
	// ErrKeyNotFound is what a KeyStore returns for an unknown hash.
	ErrKeyNotFound = errors.New("authn: api key not found")
)

// Error is the error type returned by Authenticate. Description is safe to
// show to the client; the wrapped cause may not be.
type Error struct {
	Kind        error  // ErrNoCredentials, ErrInvalidToken or ErrUnavailable
	Description string // public, fixed text (no token material)
	Cause       error  // internal detail, for logs
}

func (e *Error) Error() string {
	s := e.Kind.Error() + ": " + e.Description
	if e.Cause != nil {
		s += ": " + e.Cause.Error()
	}
	return s
}

// Unwrap exposes both the sentinel kind and the cause to errors.Is/As.
func (e *Error) Unwrap() []error {
	if e.Cause == nil {
		return []error{e.Kind}
	}
	return []error{e.Kind, e.Cause}
}

func invalid(desc string, cause error) error {
	return &Error{Kind: ErrInvalidToken, Description: desc, Cause: cause}
}

func unavailable(desc string, cause error) error {
	return &Error{Kind: ErrUnavailable, Description: desc, Cause: cause}
}

// Options configure an Authenticator. The zero value authenticates nothing:
// set LogtoEndpoint+Audience for JWTs, Keys for API keys, or both.
type Options struct {
	// LogtoEndpoint is the Logto base URL, e.g. https://auth.example.com
	// (FASTSAAS_LOGTO_ENDPOINT). Empty disables JWT authentication.
	LogtoEndpoint string
	// Audience is the API resource indicator tokens must be issued for
	// (FASTSAAS_LOGTO_AUDIENCE). Required with LogtoEndpoint.
	Audience string
	// Issuer overrides the expected "iss" (default LogtoEndpoint + "/oidc").
	Issuer string
	// JWKSURL overrides the key set URL (default LogtoEndpoint + "/oidc/jwks").
	JWKSURL string
	// HTTPClient fetches the JWKS (default: a client with a 5 s timeout).
	HTTPClient *http.Client
	// Leeway tolerates clock skew on exp, nbf and iat (default 30 s).
	Leeway time.Duration
	// JWKSMaxAge is how long a fetched key set is used before it is
	// refreshed in the background (default 1 h).
	JWKSMaxAge time.Duration
	// JWKSMinRefreshInterval rate-limits refetches triggered by an unknown
	// key id, so forged kids cannot make us hammer Logto (default 30 s; a
	// failed fetch is retried after at most 5 s).
	JWKSMinRefreshInterval time.Duration
	// TokenCacheSize bounds the verified-JWT cache (default 10000 entries).
	TokenCacheSize int

	// Keys looks API keys up by hash. Nil disables API keys. If it also
	// implements KeyToucher, last-use times are recorded.
	Keys KeyStore
	// KeyCacheTTL is how long a verified key is trusted without a lookup
	// (default 30 s; negative disables the cache). Revoke cuts it short.
	KeyCacheTTL time.Duration
	// KeyCacheSize bounds the key cache (default 10000 entries).
	KeyCacheSize int
	// TouchInterval is the minimum time between two last-use updates of one
	// key (default 1 min).
	TouchInterval time.Duration

	// Redis, when set, carries revocations to every replica over pub/sub.
	Redis redis.UniversalClient
	// RevocationChannel is the pub/sub channel (default
	// "fastsaas:authn:revocations").
	RevocationChannel string

	// Realm is the WWW-Authenticate realm (default "fast-saas").
	Realm string
	// Now returns the current time (default time.Now).
	Now func() time.Time
	// Logger receives warnings; tokens are never logged (default slog.Default()).
	Logger *slog.Logger
}

// Authenticator verifies Bearer tokens. It is safe for concurrent use.
// Call Close to stop its background goroutines.
type Authenticator struct {
	realm  string
	now    func() time.Time
	logger *slog.Logger

	// JWT
	jwtParser *jwt.Parser
	jwks      *jwksCache
	tokens    *principalCache

	// API keys
	store    KeyStore
	keys     *principalCache
	keyTTL   time.Duration
	touch    *toucher
	revoker  *revocationBus
	closeOne sync.Once

	lastOutageLog atomic.Int64 // unix nanos
}

// New returns an Authenticator configured by opts. With opts.Redis set it
// subscribes to the revocation channel before returning (waiting at most
// 5 s; if Redis is down it keeps retrying in the background).
func New(ctx context.Context, opts Options) (*Authenticator, error) {
	a := &Authenticator{
		realm:  opts.Realm,
		now:    opts.Now,
		logger: opts.Logger,
		store:  opts.Keys,
		keyTTL: opts.KeyCacheTTL,
	}
	if a.realm == "" {
		a.realm = "fast-saas"
	}
	if strings.ContainsAny(a.realm, "\"\\\r\n") {
		return nil, errors.New("authn: realm must not contain quotes, backslashes or newlines")
	}
	if a.now == nil {
		a.now = time.Now
	}
	if a.logger == nil {
		a.logger = slog.Default()
	}
	if opts.LogtoEndpoint != "" || opts.JWKSURL != "" {
		if err := a.initJWT(opts); err != nil {
			return nil, err
		}
	}
	if a.keyTTL == 0 {
		a.keyTTL = 30 * time.Second
	}
	a.keys = newPrincipalCache(opts.KeyCacheSize)
	if t, ok := opts.Keys.(KeyToucher); ok {
		interval := opts.TouchInterval
		if interval <= 0 {
			interval = time.Minute
		}
		a.touch = newToucher(t, interval, a.logger)
	}
	if opts.Redis != nil {
		ch := opts.RevocationChannel
		if ch == "" {
			ch = "fastsaas:authn:revocations"
		}
		a.revoker = newRevocationBus(ctx, opts.Redis, ch, a.keys, a.logger)
	}
	return a, nil
}

func (a *Authenticator) initJWT(opts Options) error {
	endpoint := strings.TrimRight(opts.LogtoEndpoint, "/")
	issuer, jwksURL := opts.Issuer, opts.JWKSURL
	if issuer == "" {
		if endpoint == "" {
			return errors.New("authn: Issuer is required when LogtoEndpoint is empty")
		}
		issuer = endpoint + "/oidc"
	}
	if jwksURL == "" {
		jwksURL = endpoint + "/oidc/jwks"
	}
	if u, err := url.Parse(jwksURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("authn: JWKS URL %q must be an absolute http(s) URL (check LogtoEndpoint)", jwksURL)
	}
	if opts.Audience == "" {
		return errors.New("authn: Audience is required for JWT authentication (the Logto API resource indicator)")
	}
	leeway := opts.Leeway
	if leeway == 0 {
		leeway = 30 * time.Second
	}
	a.jwtParser = jwt.NewParser(
		jwt.WithValidMethods([]string{"ES384", "RS256"}),
		jwt.WithIssuer(issuer),
		jwt.WithAudience(opts.Audience),
		jwt.WithLeeway(leeway),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithTimeFunc(a.now),
	)
	client := opts.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: 5 * time.Second}
	}
	a.jwks = newJWKSCache(jwksURL, client, a.now, opts.JWKSMaxAge, opts.JWKSMinRefreshInterval)
	a.tokens = newPrincipalCache(opts.TokenCacheSize)
	return nil
}

// CheckJWKS reports whether the identity provider's key set can be used:
// nil when JWT authentication is off or the last fetch succeeded. It
// fetches the set if it was never fetched or is stale (rate-limited like
// any refresh), so it doubles as a readiness check
// (health.Check{Name: "logto", Fn: auth.CheckJWKS}) and a startup probe.
func (a *Authenticator) CheckJWKS(ctx context.Context) error {
	if a.jwks == nil {
		return nil
	}
	return a.jwks.check(ctx)
}

// Close stops background work (last-use updates, the revocation
// subscription). Pending last-use updates are flushed for up to 5 s.
func (a *Authenticator) Close() error {
	a.closeOne.Do(func() {
		if a.revoker != nil {
			a.revoker.close()
		}
		if a.touch != nil {
			a.touch.close()
		}
	})
	return nil
}

// Authenticate verifies a bare token (without "Bearer ") and returns its
// principal. Errors are *Error values matching ErrInvalidToken or
// ErrUnavailable.
func (a *Authenticator) Authenticate(ctx context.Context, token string) (Principal, error) {
	p, err := a.authenticate(ctx, token)
	if err != nil {
		return Principal{}, err
	}
	return *p, nil
}

// maxTokenLen bounds the work an attacker can make us do per request.
const maxTokenLen = 16 << 10

func (a *Authenticator) authenticate(ctx context.Context, token string) (*Principal, error) {
	switch {
	case token == "":
		return nil, &Error{Kind: ErrNoCredentials, Description: "no bearer token"}
	case len(token) > maxTokenLen:
		return nil, invalid("token too long", nil)
	case apikey.LooksLikeKey(token):
		if a.store == nil {
			return nil, invalid("api keys are not accepted here", nil)
		}
		return a.verifyKey(ctx, token)
	case strings.Count(token, ".") == 2:
		if a.jwks == nil {
			return nil, invalid("access tokens are not accepted here", nil)
		}
		return a.verifyJWT(ctx, token)
	default:
		return nil, invalid("unrecognized token format", nil)
	}
}

// bearerToken extracts the token of an "Authorization: Bearer <token>"
// header. ok is false when the header is present but not a Bearer
// credential.
func bearerToken(r *http.Request) (token string, ok bool) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return "", true
	}
	const scheme = "bearer "
	if len(h) < len(scheme) || !strings.EqualFold(h[:len(scheme)], scheme) {
		return "", false
	}
	token = strings.TrimSpace(h[len(scheme):])
	if token == "" || strings.ContainsAny(token, " \t") {
		return "", false
	}
	return token, true
}

// Middleware requires every request to carry a valid Bearer token and puts
// its Principal in the request context (see FromContext).
func (a *Authenticator) Middleware(next http.Handler) http.Handler {
	return a.handler(next, false)
}

// Optional lets requests without an Authorization header through
// anonymously (FromContext reports false) but still refuses invalid tokens.
func (a *Authenticator) Optional(next http.Handler) http.Handler {
	return a.handler(next, true)
}

func (a *Authenticator) handler(next http.Handler, optional bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, ok := bearerToken(r)
		if !ok {
			a.challenge(w, "invalid_request", "the Authorization header must be: Bearer <token>")
			return
		}
		if token == "" && optional {
			next.ServeHTTP(w, r)
			return
		}
		p, err := a.authenticate(r.Context(), token)
		if err != nil {
			a.WriteError(w, r, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(newContextShared(r.Context(), p)))
	})
}

// WriteError renders an Authenticate error: 401 with a WWW-Authenticate
// challenge, or 503 when the identity backend is unavailable.
func (a *Authenticator) WriteError(w http.ResponseWriter, r *http.Request, err error) {
	var ae *Error
	if !errors.As(err, &ae) {
		ae = &Error{Kind: ErrUnavailable, Description: "authentication failed", Cause: err}
	}
	switch {
	case errors.Is(ae.Kind, ErrUnavailable):
		a.logOutage(r.Context(), ae.Cause)
		w.Header().Set("Retry-After", "5")
		problem.Error(w, http.StatusServiceUnavailable, problem.CodeAuthUnavailable,
			"authentication is temporarily unavailable: "+ae.Description)
	case errors.Is(ae.Kind, ErrNoCredentials):
		w.Header().Set("WWW-Authenticate", `Bearer realm="`+a.realm+`"`)
		problem.Error(w, http.StatusUnauthorized, problem.CodeUnauthorized, "a Bearer token is required")
	default:
		a.challenge(w, "invalid_token", ae.Description)
	}
}

// logOutage logs an identity-backend outage at most once per 10 s: during
// an outage every request fails the same way.
func (a *Authenticator) logOutage(ctx context.Context, cause error) {
	now := a.now().UnixNano()
	last := a.lastOutageLog.Load()
	if now-last < int64(10*time.Second) || !a.lastOutageLog.CompareAndSwap(last, now) {
		return
	}
	a.logger.WarnContext(ctx, "authn: identity backend unavailable; answering 503", "error", cause)
}

// challenge writes a 401 with an RFC 6750 error. desc must be fixed text:
// it is placed in a quoted-string and in the problem body.
func (a *Authenticator) challenge(w http.ResponseWriter, code, desc string) {
	w.Header().Set("WWW-Authenticate",
		`Bearer realm="`+a.realm+`", error="`+code+`", error_description="`+desc+`"`)
	pcode := problem.CodeInvalidToken
	if code != "invalid_token" {
		pcode = problem.CodeUnauthorized
	}
	problem.Error(w, http.StatusUnauthorized, pcode, desc)
}
