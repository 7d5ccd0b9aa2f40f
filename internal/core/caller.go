package core

import "context"

// CallerKind says how a request authenticated.
type CallerKind int

// Caller kinds, from least to most privileged in general.
const (
	Anonymous CallerKind = iota
	UserCaller
	TenantKeyCaller
	PlatformCaller
)

func (k CallerKind) String() string {
	switch k {
	case UserCaller:
		return "user"
	case TenantKeyCaller:
		return "tenant_key"
	case PlatformCaller:
		return "platform"
	}
	return "anonymous"
}

// Caller is the authenticated principal of one operation call, as adapters
// (REST, MCP) hand it to core. Core never looks at tokens itself.
type Caller struct {
	Kind CallerKind
	// UserID is our user id (users.id) for UserCaller, resolved (and
	// provisioned on first sight) by the adapter from the JWT subject.
	UserID string
	// Email of the user when the token carried one.
	Email string
	// OrganizationID is the Logto organization of an organization token.
	OrganizationID string
	// KeyID is the API key id for TenantKeyCaller and PlatformCaller keys.
	KeyID string
	// TenantID is the key's own tenant for TenantKeyCaller.
	TenantID string
	// Scopes of a tenant key (read, write, usage:write, keys:manage, ai).
	Scopes []string
	// Label describes the principal in audit rows (never a secret).
	Label string
}

// HasScope reports whether a tenant key carries scope.
func (c Caller) HasScope(scope string) bool {
	for _, s := range c.Scopes {
		if s == scope {
			return true
		}
	}
	return false
}

type callerKey struct{}

// WithCaller returns ctx carrying c.
func WithCaller(ctx context.Context, c Caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

// CallerFrom returns the caller in ctx (Anonymous when there is none).
func CallerFrom(ctx context.Context) Caller {
	c, _ := ctx.Value(callerKey{}).(Caller)
	return c
}
