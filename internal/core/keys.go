package core

import (
	"context"
	"net/http"
	"time"

	"github.com/fast-saas/fast-saas/internal/store"
	"github.com/fast-saas/fast-saas/middleware/apikey"
)

// APIKey is a tenant API key's metadata (never the secret).
type APIKey struct {
	ID         string     `json:"id"`
	TenantID   string     `json:"tenant_id"`
	Name       string     `json:"name"`
	Prefix     string     `json:"prefix" doc:"First 12 characters, for recognition"`
	Scopes     []string   `json:"scopes"`
	ExpiresAt  *time.Time `json:"expires_at,omitempty"`
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
	RevokedAt  *time.Time `json:"revoked_at,omitempty"`
	CreatedBy  string     `json:"created_by"`
	CreatedAt  time.Time  `json:"created_at"`
}

// CreatedAPIKey is a new key: the secret is in Key, shown this once.
type CreatedAPIKey struct {
	APIKey
	Key string `json:"key" doc:"The secret. Shown once; store it now."`
}

func keyView(k store.APIKey) APIKey {
	scopes := k.Scopes
	if scopes == nil {
		scopes = []string{}
	}
	return APIKey{ID: k.ID, TenantID: k.TenantID, Name: k.Name, Prefix: k.Prefix, Scopes: scopes, ExpiresAt: k.ExpiresAt,
		LastUsedAt: k.LastUsedAt, RevokedAt: k.RevokedAt, CreatedBy: k.CreatedByLabel, CreatedAt: k.CreatedAt}
}

type createKeyInput struct {
	TenantPath
	Body struct {
		Name      string     `json:"name" minLength:"1" maxLength:"100"`
		Scopes    []string   `json:"scopes" minItems:"1" maxItems:"5" uniqueItems:"true" enum:"read,write,usage:write,keys:manage,ai"`
		ExpiresAt *time.Time `json:"expires_at,omitempty" doc:"RFC 3339; absent = never"`
	}
}

type listKeysInput struct {
	TenantPath
	ListParams
}

type keyInput struct {
	TenantPath
	KeyID string `path:"keyId" format:"uuid" doc:"API key id"`
}

type rotateKeyInput struct {
	TenantPath
	KeyID string `path:"keyId" format:"uuid" doc:"API key id"`
	Body  *struct {
		GraceSeconds int `json:"grace_seconds,omitempty" minimum:"0" maximum:"604800" doc:"How long the old key keeps working (default 0: revoked at once)"`
	} `required:"false"`
}

// mayGrant: a key never exceeds the role (or scopes) of its creator.
func mayGrant(c *Call, scopes []string) error {
	for _, sc := range scopes {
		need, ok := scopeRole[sc]
		if !ok {
			return Invalid("scopes", "unknown scope "+sc)
		}
		switch c.Caller.Kind {
		case UserCaller:
			if !c.Role.AtLeast(need) {
				return Forbidden("scope " + sc + " exceeds your role")
			}
		case TenantKeyCaller:
			if !c.Caller.HasScope(sc) {
				return Forbidden("scope " + sc + " exceeds the creating key's scopes")
			}
		}
	}
	return nil
}

func (s *Service) mintKey(ctx context.Context, q store.Queries, c *Call, name string, scopes []string, expires *time.Time) (CreatedAPIKey, error) {
	k, err := apikey.Generate(apikey.KindTenant)
	if err != nil {
		return CreatedAPIKey{}, err
	}
	rec, err := q.CreateAPIKey(ctx, store.APIKey{TenantID: c.Tenant.ID, Name: name, Prefix: k.Display, Hash: k.Hash[:],
		Scopes: scopes, ExpiresAt: expires, CreatedBy: c.Caller.UserID, CreatedByLabel: c.Caller.principalLabel()})
	if err != nil {
		return CreatedAPIKey{}, storeErr(err, "api key")
	}
	return CreatedAPIKey{APIKey: keyView(rec), Key: k.Secret}, nil
}

func (s *Service) keyOps() []Operation {
	const g = "api-keys"
	manage := tenantAccess(store.RoleAdmin, ScopeKeysManage)
	return []Operation{
		newOp(s, Operation{ID: "createAPIKey", Method: http.MethodPost, Path: "/api/v1/tenants/{id}/api-keys", Summary: "Create an API key (the secret is shown once, in field key)", Group: g, Access: manage, Status: http.StatusCreated},
			func(ctx context.Context, c *Call, in *createKeyInput) (*Body[CreatedAPIKey], error) {
				if err := mayGrant(c, in.Body.Scopes); err != nil {
					return nil, err
				}
				if in.Body.ExpiresAt != nil && !in.Body.ExpiresAt.After(s.now()) {
					return nil, Invalid("expires_at", "expires_at must be in the future")
				}
				var out CreatedAPIKey
				err := s.Store.Tx(ctx, func(tx store.Tx) error {
					var err error
					if out, err = s.mintKey(ctx, tx, c, in.Body.Name, in.Body.Scopes, in.Body.ExpiresAt); err != nil {
						return err
					}
					return audit(ctx, tx, c, c.Tenant.ID, "api_key.create", "key:"+out.ID, map[string]any{"name": out.Name, "scopes": out.Scopes})
				})
				if err != nil {
					return nil, err
				}
				return &Body[CreatedAPIKey]{Body: out}, nil
			}),
		newOp(s, Operation{ID: "listAPIKeys", Method: http.MethodGet, Path: "/api/v1/tenants/{id}/api-keys", Summary: "List API keys (never the secret)", Group: g, Access: manage},
			func(ctx context.Context, c *Call, in *listKeysInput) (*Body[List[APIKey]], error) {
				items, next, err := s.Store.ListAPIKeys(ctx, c.Tenant.ID, in.page())
				if err != nil {
					return nil, storeErr(err, "api keys")
				}
				return listOf(items, next, keyView), nil
			}),
		newOp(s, Operation{ID: "revokeAPIKey", Method: http.MethodDelete, Path: "/api/v1/tenants/{id}/api-keys/{keyId}", Summary: "Revoke an API key at once", Group: g, Access: manage, Status: http.StatusNoContent},
			func(ctx context.Context, c *Call, in *keyInput) (*Empty, error) {
				var hash []byte
				err := s.Store.Tx(ctx, func(tx store.Tx) error {
					k, err := tx.RevokeAPIKey(ctx, c.Tenant.ID, in.KeyID, s.now())
					if err != nil {
						return storeErr(err, "api key")
					}
					hash = k.Hash
					return audit(ctx, tx, c, c.Tenant.ID, "api_key.revoke", "key:"+k.ID, nil)
				})
				if err != nil {
					return nil, err
				}
				if s.KeyRevoked != nil {
					s.KeyRevoked(hash)
				}
				return &Empty{}, nil
			}),
		newOp(s, Operation{ID: "rotateAPIKey", Method: http.MethodPost, Path: "/api/v1/tenants/{id}/api-keys/{keyId}/rotate", Summary: "Rotate an API key: new key first, old one revoked after an optional grace period", Group: g, Access: manage, Status: http.StatusCreated},
			func(ctx context.Context, c *Call, in *rotateKeyInput) (*Body[CreatedAPIKey], error) {
				grace := 0
				if in.Body != nil {
					grace = in.Body.GraceSeconds
				}
				var out CreatedAPIKey
				var oldHash []byte
				err := s.Store.Tx(ctx, func(tx store.Tx) error {
					old, err := tx.GetAPIKey(ctx, c.Tenant.ID, in.KeyID)
					if err != nil {
						return storeErr(err, "api key")
					}
					now := s.now()
					if !old.Usable(now) {
						return Conflict("the key is already revoked or expired")
					}
					if err := mayGrant(c, old.Scopes); err != nil {
						return err
					}
					// The new key exists before the old one is revoked, in the
					// same transaction, so there is no moment without a key.
					if out, err = s.mintKey(ctx, tx, c, old.Name, old.Scopes, old.ExpiresAt); err != nil {
						return err
					}
					if _, err := tx.RevokeAPIKey(ctx, c.Tenant.ID, old.ID, now.Add(time.Duration(grace)*time.Second)); err != nil {
						return storeErr(err, "api key")
					}
					oldHash = old.Hash
					return audit(ctx, tx, c, c.Tenant.ID, "api_key.rotate", "key:"+old.ID, map[string]any{"new_key": out.ID, "grace_seconds": grace})
				})
				if err != nil {
					return nil, err
				}
				if s.KeyRevoked != nil {
					s.KeyRevoked(oldHash)
				}
				return &Body[CreatedAPIKey]{Body: out}, nil
			}),
	}
}
