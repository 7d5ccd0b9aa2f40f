package authn

import (
	"context"
	"fmt"
	"slices"
	"time"
)

// Kind says how a principal authenticated.
type Kind int

// Principal kinds. The zero Kind means "not authenticated".
const (
	KindPlatform  Kind = iota + 1 // platform admin API key (fsp_…): may do everything
	KindUser                      // Logto access token (JWT)
	KindTenantKey                 // tenant API key (fsk_…): its own tenant, within its scopes
)

// String returns "platform", "user" or "tenant_key".
func (k Kind) String() string {
	switch k {
	case KindPlatform:
		return "platform"
	case KindUser:
		return "user"
	case KindTenantKey:
		return "tenant_key"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Principal is the authenticated caller of a request. Principals handed out
// by an Authenticator may be shared between requests: treat them, and their
// Scopes slice, as read-only.
type Principal struct {
	Kind Kind
	// Subject identifies the caller: the JWT "sub" (the Logto user id) for
	// users, the key id for API keys.
	Subject string
	// KeyID is the API key's id (API keys only).
	KeyID string
	// TenantID is the tenant a tenant key belongs to (tenant keys only).
	TenantID string
	// Scopes are the key's scopes, or the space-separated JWT "scope" claim.
	Scopes []string
	// Email is the JWT "email" claim when present (Logto adds it only when
	// configured to); never authoritative for authorization.
	Email string
	// OrganizationID is the Logto "organization_id" claim of an
	// organization token: it selects the tenant linked to that organization.
	OrganizationID string
	// ClientID is the Logto "client_id" claim: the application that
	// obtained the token.
	ClientID string
	// CreatedBy is the id of the user who created the API key.
	CreatedBy string
	// ExpiresAt is when the credential stops being valid; zero means never.
	ExpiresAt time.Time
}

// IsPlatform reports whether p is a platform administrator.
func (p Principal) IsPlatform() bool { return p.Kind == KindPlatform }

// HasScope reports whether p holds scope. Platform principals hold every
// scope.
func (p Principal) HasScope(scope string) bool {
	return p.Kind == KindPlatform || slices.Contains(p.Scopes, scope)
}

type ctxKey struct{}

// NewContext returns a copy of ctx carrying p. The middleware does this; it
// is exported for tests and for callers that authenticate by other means.
func NewContext(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, ctxKey{}, &p)
}

// newContextShared stores a cached principal without copying it.
func newContextShared(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, ctxKey{}, p)
}

// FromContext returns the principal of an authenticated request.
func FromContext(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(ctxKey{}).(*Principal)
	if !ok || p == nil {
		return Principal{}, false
	}
	return *p, true
}
