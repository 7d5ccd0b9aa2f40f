package core

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/fast-saas/fast-saas/internal/store"
)

// User is a user as the API shows it.
type User struct {
	ID            string     `json:"id"`
	Email         string     `json:"email"`
	Name          string     `json:"name"`
	AvatarURL     string     `json:"avatar_url,omitempty"`
	EmailVerified bool       `json:"email_verified"`
	ExternalID    string     `json:"external_id,omitempty"`
	LastLoginAt   *time.Time `json:"last_login_at,omitempty"`
	CreatedAt     time.Time  `json:"created_at"`
}

func userView(u store.User) User {
	return User{ID: u.ID, Email: u.Email, Name: u.Name, AvatarURL: u.AvatarURL, EmailVerified: u.EmailVerified,
		ExternalID: u.ExternalID, LastLoginAt: u.LastLoginAt, CreatedAt: u.CreatedAt}
}

type createUserInput struct {
	Body struct {
		Email         string `json:"email" format:"email" maxLength:"320"`
		Name          string `json:"name,omitempty" maxLength:"200"`
		ExternalID    string `json:"external_id,omitempty" maxLength:"200" doc:"Logto user id (sub)"`
		EmailVerified bool   `json:"email_verified,omitempty"`
	}
}

type userInput struct {
	ID string `path:"id" format:"uuid" doc:"User id"`
}

type updateUserInput struct {
	ID   string `path:"id" format:"uuid" doc:"User id"`
	Body struct {
		Name          *string `json:"name,omitempty" maxLength:"200"`
		AvatarURL     *string `json:"avatar_url,omitempty" maxLength:"2000" format:"uri"`
		EmailVerified *bool   `json:"email_verified,omitempty" doc:"Platform admins only"`
	}
}

// Me describes the caller.
type Me struct {
	Kind        string       `json:"kind" enum:"user,tenant_key,platform"`
	User        *User        `json:"user,omitempty"`
	TenantID    string       `json:"tenant_id,omitempty"`
	KeyID       string       `json:"key_id,omitempty"`
	Scopes      []string     `json:"scopes,omitempty"`
	Memberships []Membership `json:"memberships,omitempty"`
}

// Membership is one of the caller's tenant roles.
type Membership struct {
	TenantID string `json:"tenant_id"`
	Role     string `json:"role"`
}

// ProvisionUser finds the user of a Logto subject, creating it on first
// sight (users.external_id = sub). An existing user with the same email but
// no external id is linked rather than duplicated.
func (s *Service) ProvisionUser(ctx context.Context, sub, email string) (store.User, error) {
	s.caches()
	now := time.Now()
	if u, ok := s.users.get(sub, now); ok {
		return u, nil
	}
	u, err := s.Store.UserByExternalID(ctx, sub)
	if err == nil {
		s.users.put(sub, u, now)
		return u, nil
	}
	if !errors.Is(err, store.ErrNotFound) {
		return store.User{}, fmt.Errorf("provision user: %w", err)
	}
	var out store.User
	err = s.Store.Tx(ctx, func(tx store.Tx) error {
		if email != "" {
			if u, err := tx.UserByEmail(ctx, email); err == nil && u.ExternalID == "" {
				u.ExternalID = sub
				out, err = tx.UpdateUser(ctx, u)
				return err
			}
		}
		if email == "" {
			email = sub + "@users.invalid" // Logto tokens need not carry an email
		}
		now := s.now()
		out, err = tx.CreateUser(ctx, store.User{ExternalID: sub, Email: email, LastLoginAt: &now})
		return err
	})
	if errors.Is(err, store.ErrConflict) {
		// A concurrent first request provisioned the same subject.
		return s.Store.UserByExternalID(ctx, sub)
	}
	if err != nil {
		return store.User{}, fmt.Errorf("provision user: %w", err)
	}
	return out, nil
}

// mayViewUser: platform, the user themselves, or someone sharing a tenant.
func (s *Service) mayViewUser(ctx context.Context, c *Call, userID string) (bool, error) {
	switch c.Caller.Kind {
	case PlatformCaller:
		return true, nil
	case UserCaller:
		if c.Caller.UserID == userID {
			return true, nil
		}
		mine, err := s.Store.MembershipsOfUser(ctx, c.Caller.UserID)
		if err != nil {
			return false, err
		}
		theirs, err := s.Store.MembershipsOfUser(ctx, userID)
		if err != nil {
			return false, err
		}
		seen := map[string]bool{}
		for _, m := range mine {
			seen[m.TenantID] = true
		}
		for _, m := range theirs {
			if seen[m.TenantID] {
				return true, nil
			}
		}
	}
	return false, nil
}

func (s *Service) userOps() []Operation {
	const g = "users"
	return []Operation{
		newOp(s, Operation{ID: "createUser", Method: http.MethodPost, Path: "/api/v1/users", Summary: "Create a user", Group: g, Access: platformOnly, Status: http.StatusCreated},
			func(ctx context.Context, c *Call, in *createUserInput) (*Body[User], error) {
				u, err := s.Store.CreateUser(ctx, store.User{Email: in.Body.Email, Name: in.Body.Name, ExternalID: in.Body.ExternalID, EmailVerified: in.Body.EmailVerified})
				if err != nil {
					return nil, storeErr(err, "user")
				}
				return &Body[User]{Body: userView(u)}, nil
			}),
		newOp(s, Operation{ID: "listUsers", Method: http.MethodGet, Path: "/api/v1/users", Summary: "List users (platform: all; users: co-members)", Group: g, Access: Access{NoKeys: true}},
			func(ctx context.Context, c *Call, in *ListParams) (*Body[List[User]], error) {
				var f store.UserFilter
				if c.Caller.Kind == UserCaller {
					f.SharesTenantWith = c.Caller.UserID
				}
				items, next, err := s.Store.ListUsers(ctx, f, in.page())
				if err != nil {
					return nil, storeErr(err, "users")
				}
				return listOf(items, next, userView), nil
			}),
		newOp(s, Operation{ID: "getUser", Method: http.MethodGet, Path: "/api/v1/users/{id}", Summary: "Get a user", Group: g, Access: Access{NoKeys: true}},
			func(ctx context.Context, c *Call, in *userInput) (*Body[User], error) {
				ok, err := s.mayViewUser(ctx, c, in.ID)
				if err != nil {
					return nil, storeErr(err, "user")
				}
				if !ok {
					return nil, NotFound("user")
				}
				u, err := s.Store.GetUser(ctx, in.ID)
				if err != nil {
					return nil, storeErr(err, "user")
				}
				return &Body[User]{Body: userView(u)}, nil
			}),
		newOp(s, Operation{ID: "updateUser", Method: http.MethodPatch, Path: "/api/v1/users/{id}", Summary: "Update a user's profile (own, or any as platform)", Group: g, Access: Access{NoKeys: true}},
			func(ctx context.Context, c *Call, in *updateUserInput) (*Body[User], error) {
				if c.Caller.Kind != PlatformCaller {
					if c.Caller.UserID != in.ID {
						if ok, err := s.mayViewUser(ctx, c, in.ID); err != nil || !ok {
							return nil, NotFound("user")
						}
						return nil, Forbidden("you may only update your own profile")
					}
					if in.Body.EmailVerified != nil {
						return nil, Forbidden("email_verified is set by platform admins")
					}
				}
				var out store.User
				err := s.Store.Tx(ctx, func(tx store.Tx) error {
					u, err := tx.GetUser(ctx, in.ID)
					if err != nil {
						return storeErr(err, "user")
					}
					if in.Body.Name != nil {
						u.Name = *in.Body.Name
					}
					if in.Body.AvatarURL != nil {
						u.AvatarURL = *in.Body.AvatarURL
					}
					if in.Body.EmailVerified != nil {
						u.EmailVerified = *in.Body.EmailVerified
					}
					out, err = tx.UpdateUser(ctx, u)
					return storeErr(err, "user")
				})
				if err != nil {
					return nil, err
				}
				return &Body[User]{Body: userView(out)}, nil
			}),
		newOp(s, Operation{ID: "getMe", Method: http.MethodGet, Path: "/api/v1/me", Summary: "Describe the caller", Group: g, Access: authenticated},
			func(ctx context.Context, c *Call, in *struct{}) (*Body[Me], error) {
				me := Me{Kind: c.Caller.Kind.String(), KeyID: c.Caller.KeyID}
				switch c.Caller.Kind {
				case TenantKeyCaller:
					me.TenantID, me.Scopes = c.Caller.TenantID, c.Caller.Scopes
				case UserCaller:
					u, err := s.Store.GetUser(ctx, c.Caller.UserID)
					if err != nil {
						return nil, storeErr(err, "user")
					}
					v := userView(u)
					me.User = &v
					ms, err := s.Store.MembershipsOfUser(ctx, u.ID)
					if err != nil {
						return nil, storeErr(err, "memberships")
					}
					for _, m := range ms {
						me.Memberships = append(me.Memberships, Membership{TenantID: m.TenantID, Role: string(m.Role)})
					}
				}
				return &Body[Me]{Body: me}, nil
			}),
	}
}
