package core

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/fast-saas/fast-saas/internal/store"
)

// Member is a tenant member as the API shows it.
type Member struct {
	UserID    string    `json:"user_id"`
	Email     string    `json:"email"`
	Name      string    `json:"name"`
	Role      string    `json:"role" enum:"owner,admin,member,viewer"`
	InvitedBy string    `json:"invited_by,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

func memberView(m store.Member) Member {
	return Member{UserID: m.UserID, Email: m.User.Email, Name: m.User.Name, Role: string(m.Role), InvitedBy: m.InvitedBy, CreatedAt: m.CreatedAt}
}

type listMembersInput struct {
	TenantPath
	ListParams
}

type addMemberInput struct {
	TenantPath
	Body struct {
		UserID string `json:"user_id,omitempty" format:"uuid" doc:"The user to add (or give email)"`
		Email  string `json:"email,omitempty" format:"email" maxLength:"320" doc:"The user's email (or give user_id)"`
		Role   string `json:"role,omitempty" enum:"owner,admin,member,viewer" doc:"Default member"`
	}
}

type memberInput struct {
	TenantPath
	UserID string `path:"userId" format:"uuid" doc:"User id"`
}

type changeRoleInput struct {
	TenantPath
	UserID string `path:"userId" format:"uuid" doc:"User id"`
	Body   struct {
		Role string `json:"role" enum:"owner,admin,member,viewer"`
	}
}

// mayManageRole: only owners (and platform admins) grant, change or remove
// the owner role; admins manage everyone else.
func mayManageRole(c *Call, roles ...store.Role) error {
	if c.Caller.Kind == PlatformCaller || c.Role == store.RoleOwner {
		return nil
	}
	for _, r := range roles {
		if r == store.RoleOwner {
			return Forbidden("only owners manage owners")
		}
	}
	return nil
}

func (s *Service) memberOps() []Operation {
	const g = "members"
	return []Operation{
		newOp(s, Operation{ID: "listMembers", Method: http.MethodGet, Path: "/api/v1/tenants/{id}/members", Summary: "List a tenant's members", Group: g, Access: tenantAccess(store.RoleViewer, ScopeRead)},
			func(ctx context.Context, c *Call, in *listMembersInput) (*Body[List[Member]], error) {
				items, next, err := s.Store.ListMembers(ctx, c.Tenant.ID, in.page())
				if err != nil {
					return nil, storeErr(err, "members")
				}
				return listOf(items, next, memberView), nil
			}),
		newOp(s, Operation{ID: "addMember", Method: http.MethodPost, Path: "/api/v1/tenants/{id}/members", Summary: "Add a member by user id or email", Group: g, Access: tenantAccess(store.RoleAdmin, ScopeWrite), Status: http.StatusCreated},
			func(ctx context.Context, c *Call, in *addMemberInput) (*Body[Member], error) {
				b := in.Body
				role := store.Role(b.Role)
				if role == "" {
					role = store.RoleMember
				}
				if err := mayManageRole(c, role); err != nil {
					return nil, err
				}
				if (b.UserID == "") == (b.Email == "") {
					return nil, Invalid("user_id", "give exactly one of user_id and email")
				}
				var out store.Member
				err := s.Store.Tx(ctx, func(tx store.Tx) error {
					var u store.User
					var err error
					if b.UserID != "" {
						u, err = tx.GetUser(ctx, b.UserID)
					} else {
						u, err = tx.UserByEmail(ctx, b.Email)
					}
					if errors.Is(err, store.ErrNotFound) {
						return NotFound("user")
					}
					if err != nil {
						return storeErr(err, "user")
					}
					m, err := tx.AddMember(ctx, store.Membership{TenantID: c.Tenant.ID, UserID: u.ID, Role: role, InvitedBy: c.Caller.UserID})
					if err != nil {
						return storeErr(err, "membership")
					}
					out = store.Member{Membership: m, User: u}
					return audit(ctx, tx, c, c.Tenant.ID, "member.add", "user:"+u.ID, map[string]string{"role": string(role)})
				})
				s.forgetMembers()
				if err != nil {
					return nil, err
				}
				return &Body[Member]{Body: memberView(out)}, nil
			}),
		newOp(s, Operation{ID: "changeMemberRole", Method: http.MethodPatch, Path: "/api/v1/tenants/{id}/members/{userId}", Summary: "Change a member's role (never leaves a tenant without owner)", Group: g, Access: tenantAccess(store.RoleAdmin, ScopeWrite)},
			func(ctx context.Context, c *Call, in *changeRoleInput) (*Body[Member], error) {
				var out store.Member
				err := s.Store.Tx(ctx, func(tx store.Tx) error {
					cur, err := tx.GetMember(ctx, c.Tenant.ID, in.UserID)
					if err != nil {
						return storeErr(err, "member")
					}
					if err := mayManageRole(c, cur.Role, store.Role(in.Body.Role)); err != nil {
						return err
					}
					m, err := tx.UpdateMemberRole(ctx, c.Tenant.ID, in.UserID, store.Role(in.Body.Role))
					if err != nil {
						return storeErr(err, "member")
					}
					from := cur.Role
					cur.Membership = m
					out = cur
					return audit(ctx, tx, c, c.Tenant.ID, "member.change_role", "user:"+in.UserID, map[string]string{"from": string(from), "to": in.Body.Role})
				})
				s.forgetMembers()
				if err != nil {
					return nil, err
				}
				return &Body[Member]{Body: memberView(out)}, nil
			}),
		newOp(s, Operation{ID: "removeMember", Method: http.MethodDelete, Path: "/api/v1/tenants/{id}/members/{userId}", Summary: "Remove a member (never the last owner)", Group: g, Access: tenantAccess(store.RoleAdmin, ScopeWrite), Status: http.StatusNoContent},
			func(ctx context.Context, c *Call, in *memberInput) (*Empty, error) {
				err := s.Store.Tx(ctx, func(tx store.Tx) error {
					cur, err := tx.GetMember(ctx, c.Tenant.ID, in.UserID)
					if err != nil {
						return storeErr(err, "member")
					}
					if err := mayManageRole(c, cur.Role); err != nil {
						return err
					}
					if err := tx.RemoveMember(ctx, c.Tenant.ID, in.UserID); err != nil {
						return storeErr(err, "member")
					}
					return audit(ctx, tx, c, c.Tenant.ID, "member.remove", "user:"+in.UserID, nil)
				})
				s.forgetMembers()
				if err != nil {
					return nil, err
				}
				return &Empty{}, nil
			}),
	}
}
